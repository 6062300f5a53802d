"""A build that only BuildKit can do (`ssh`, `secrets`, `additional_contexts`, `privileged`, `entitlements`,
`ulimits`, or a Dockerfile with `RUN --mount`, `COPY --chmod`, ...), or whose `shm_size` the two builders apply
differently, is run by Docker Compose itself: docker-py drives
the engine's classic builder, while `docker compose build` speaks BuildKit to the engine, so Docker Compose decides
what such a build does. The service's `build:` is written into a compose file of its own (every path absolute, every
`$` escaped) whose `image:` is the harness's content tag.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.engine_source import resolve_engine
from harness.model.compose_cli import compose
from harness.model.parts import BuildSpec

SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")  # Compose's rule for service names
# what the engine's builder says when it lacks a feature, and what that means for the user (measured on Docker 20.10)
ENGINE_LACKS = {
    "moby.buildkit.frontend.contexts": "the engine's BuildKit has no named contexts (`additional_contexts`, "
                                       "`COPY --from=NAME` of one): Docker Compose fails the same way on this engine; "
                                       "use a newer Docker engine, or copy from the build context instead",
    "is not allowed by build daemon configuration": "the engine does not grant that entitlement to builds (its "
                                                    "daemon.json `builder.entitlements`): Docker Compose fails the "
                                                    "same way on this engine; allow it there, or drop the key",
}


def compose_build(build: BuildSpec, context: Path | str, tag: str, labels: dict[str, str], *, service: str,
                  project_dir: Path, on_line: Callable[[str], None] | None = None) -> tuple[int, list[str]]:
    """Run `docker compose build` for `build` (its context `context`, absolute, or a URL) with Docker Compose's
    binary against the harness's engine, naming the image `tag` and labelling it with `labels` too. `project_dir` is
    the folder Compose reads `.env` from (an `environment:` secret may be there).

    Returns:
        (Compose's exit code, the lines it wrote), each line also given to `on_line`.

    Raises:
        ComposeUnavailable: no Docker Compose v2 binary.
    """
    name = service if SERVICE_NAME.match(service) else "service"
    document = {"name": "pytest-topology-build",
                "services": {name: {"image": tag, "build": _build_section(build, context, labels)}}}
    if build.secrets:
        document["secrets"] = {secret.source: ({"file": secret.file} if secret.file else
                                               {"environment": secret.environment}) for secret in build.secrets}
    environment = resolve_engine().cli_environment()
    environment["COMPOSE_BAKE"] = "false"  # no buildx here to bake with: Compose's own BuildKit client
    with tempfile.TemporaryDirectory(prefix="pytest-topology-build-") as folder:
        file = Path(folder) / "compose.yaml"
        file.write_text(yaml.safe_dump(_escaped(document), sort_keys=False))
        command = [compose().path, "--progress", "plain", "--project-directory", str(project_dir), "-f", str(file),
                   "build", name]
        log: list[str] = []
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=project_dir, env=environment) as process:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip()
                if line:
                    log.append(line)
                    if on_line:
                        on_line(line)
        return process.returncode, log


def engine_lacks(log: list[str]) -> str | None:
    """What the engine's builder lacks, said for the user, when Compose's log shows it (else None)."""
    text = "\n".join(log[-20:])
    return next((meaning for marker, meaning in ENGINE_LACKS.items() if marker in text), None)


def _build_section(build: BuildSpec, context: Path | str, labels: dict[str, str]) -> dict[str, Any]:
    """`build:` in Compose's own keys, every setting the harness has (defaults left out)."""
    section: dict[str, Any] = {"context": str(context)}
    if build.dockerfile_inline is not None:
        section["dockerfile_inline"] = build.dockerfile_inline
    else:
        section["dockerfile"] = build.dockerfile
    given = build.model_dump(mode="json", exclude_defaults=True, exclude={
        "context", "dockerfile", "dockerfile_inline", "platform", "secrets", "labels"})
    section.update(given)
    section["labels"] = {**build.labels, **labels}
    if build.platform:
        section["platforms"] = [build.platform]
    if build.secrets:
        section["secrets"] = [{"source": s.source, **({"target": s.target} if s.target else {})}
                              for s in build.secrets]
    return section


def _escaped(node: Any) -> Any:
    """Every `$` as `$$`: Compose interpolates the file it reads, and these values are final."""
    if isinstance(node, str):
        return node.replace("$", "$$")
    if isinstance(node, list):
        return [_escaped(item) for item in node]
    if isinstance(node, dict):
        return {key: _escaped(value) for key, value in node.items()}
    return node
