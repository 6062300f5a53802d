"""Topology file -> validated TopologySpec. Reads our YAML format or a docker-compose file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.errors import TopologyFileError
from harness.spec.model import TopologySpec
from harness.spec.source import load_yaml
from harness.spec.validate import validate

COMPOSE_FILE = re.compile(r"^(docker-)?compose([.-].*)?\.ya?ml$")


def is_compose_file(file: Path, data: Any) -> bool:
    """Compose by its usual file name, or by keys only compose files have at the top."""
    if COMPOSE_FILE.match(file.name):
        return True
    return isinstance(data, dict) and bool({"version", "networks", "volumes"} & set(data))


def load_topology(file: str | Path) -> TopologySpec:
    """Load and validate a topology file (this project's YAML format) or a docker-compose file.

    Args:
        file: path of the file; relative build contexts, mounts and `openapi:` files are resolved against its folder.

    Returns:
        The validated `TopologySpec` (references, dependency cycles and names checked).

    Raises:
        TopologyFileError: unreadable file, invalid YAML, an unknown key, a bad value, an unknown service in
            `depends_on`/`consumes`, a dependency cycle; the message starts with `file:line`.
    """
    path = Path(file)
    data, source = load_yaml(path)
    if is_compose_file(path, data):
        from harness.spec.compose import compose_to_topology

        data, source = compose_to_topology(data, source)
    if not isinstance(data, dict):
        raise TopologyFileError(f"{path.name}:1", "a topology file is a mapping with a 'services' key")
    data = {key: value for key, value in data.items() if not str(key).startswith("x-")}  # YAML anchors live there
    return validate(data, source, file=path.resolve())


