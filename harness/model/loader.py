"""Topology file -> validated TopologySpec. Reads our YAML format or a docker-compose file (read by Compose)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.errors import OptionError, TopologyFileError
from harness.model.departures import departures
from harness.model.files import topology_files
from harness.model.secrets import interpolation_secrets
from harness.model.source import dotted_path, load_yaml
from harness.model.topology import TopologySpec
from harness.model.validate import alias_collisions, validate

COMPOSE_FILE = re.compile(r"^(docker-)?compose([.-].*)?\.ya?ml$")


def is_compose_file(file: Path, data: Any) -> bool:
    """Compose by its usual file name, or by keys only compose files have at the top."""
    if COMPOSE_FILE.match(file.name):
        return True
    return isinstance(data, dict) and bool({"version", "networks", "volumes", "include", "secrets", "configs"}
                                           & set(data))


def load_topology(file: str | Path | Sequence[str | Path], *, profiles: Sequence[str] = (),
                  env_file: str | Path | None = None, image_substitutes: dict[str, str] | None = None,
                  project_name: str | None = None) -> TopologySpec:
    """Load and validate a topology file (this project's YAML format) or a docker-compose file.

    Args:
        file: path of the file; relative build contexts, mounts and `openapi:` files are resolved against its folder.
            Several compose files (a list) are merged by Docker Compose (`-f a -f b`), paths resolving against the
            first file's folder; a folder is read as `docker compose` reads it without `-f` (model/files.py).
        profiles: compose profiles to enable (`--profile`; COMPOSE_PROFILES is read by Compose too).
        env_file: for a compose file, the file of interpolation variables instead of `.env` (`--env-file`).
        image_substitutes: image -> image to use instead, over the topology's own `image_substitutes`.
        project_name: the topology's name instead of the file's `name:` (`docker compose -p`; a compose file's
            `${COMPOSE_PROJECT_NAME}` is it too, as Compose interpolates it).

    Returns:
        The validated `TopologySpec` (references, dependency cycles and names checked); `spec.notes` holds lines
        for a person (compose keys ignored for a test run, Compose's warnings).

    Raises:
        TopologyFileError: unreadable file, invalid YAML, an unknown key, a bad value, an unknown service in
            `depends_on`/`consumes`, a dependency cycle; the message starts with `file:line` (Compose's own
            message for a compose file, at its line where it can be found).
        ComposeUnavailable: a compose file, and no Docker Compose v2 binary.
    """
    files, notes = topology_files([file] if isinstance(file, (str, Path)) else list(file))
    path = files[0]
    secrets: set[str] = set()
    read: list[Path] = []
    start_refusals: list[str] = []
    compose = bool(COMPOSE_FILE.match(path.name))
    if not compose:
        data, source = load_yaml(path)
        compose = is_compose_file(path, data)
    if len(files) > 1 and not compose:  # the others are Compose's to read (it merges them)
        raise TopologyFileError(
            str(path), f"several topology files are merged by Docker Compose, so they must be compose files; this "
                       f"one is in pytest-topology's own format ({len(files)} files given: "
                       f"{', '.join(f.name for f in files)}); give it alone")
    if compose:
        from harness.model.compose import load_compose, pop_secret_files, pop_start_refusals
        from harness.model.compose_cli import compose_inputs

        data, source, said = load_compose(files, profiles=tuple(profiles),
                                          env_file=Path(env_file) if env_file else None, project_name=project_name)
        notes += said
        secrets = interpolation_secrets(path, Path(env_file) if env_file else None) | pop_secret_files(data)
        start_refusals = pop_start_refusals(data)
        read = compose_inputs(files, Path(env_file) if env_file else None)
    if not isinstance(data, dict):
        raise TopologyFileError(f"{path.name}:1", "a topology file is a mapping with a 'services' key")
    data = {key: value for key, value in data.items() if not str(key).startswith("x-")}  # YAML anchors live there
    if project_name:  # a compose file's is Compose's already
        data["name"] = project_name
    spec = validate(data, source, file=path.resolve(), compose=compose)
    if compose:  # Compose accepts these (so the harness does), but they make calls reach the wrong container
        notes += [f"{dotted_path(where)}: {text.split(':')[0]}: Docker Compose accepts this, but the name reaches "
                  f"either container" for where, text in alias_collisions(spec)]
    given = [Path(file)] if isinstance(file, (str, Path)) else [Path(f) for f in file]
    spec = spec.with_image_substitutes(image_substitutes or {}, notes, secrets).with_files(files, read)
    spec._start_refusals = tuple(start_refusals)  # noqa: SLF001 - the loader's, as _notes
    spec._project_name = project_name or None  # noqa: SLF001
    return spec.with_departures(departures(given, spec.read_files, compose=compose, profiles=profiles,
                                           env_file=Path(env_file) if env_file else None,
                                           substitutes=image_substitutes or {}, env=os.environ,
                                           services=spec.services))


def parse_substitutes(values: Sequence[str], where: str = "--image-substitute") -> dict[str, str]:
    """['rabbitmq:latest=my-rabbit:3', 'docker.io/=mirror/'] -> {'rabbitmq:latest': 'my-rabbit:3', ...}.

    Raises:
        OptionError: an entry without '=' or with an empty side.
    """
    substitutes: dict[str, str] = {}
    for value in values:
        original, sep, replacement = value.strip().partition("=")
        if not sep or not original.strip() or not replacement.strip():
            raise OptionError(f"{where} {value!r}: expected IMAGE=SUBSTITUTE (e.g. rabbitmq:latest=my-rabbit:3, or "
                              "a registry prefix rule docker.io/=mirror.example/)")
        substitutes[original.strip()] = replacement.strip()
    return substitutes
