"""Images for a topology: `build:` contexts tagged by a hash of their content (no rebuild when nothing changed),
`image:` names checked locally, else pulled with a short timeout."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from harness.errors import BuildFailed, ImageMissing
from harness.runtime.labels import PREFIX
from harness.spec.model import BuildSpec

SKIPPED_DIRS = {".git", "__pycache__", ".venv", ".pytest_cache", ".mypy_cache", "node_modules"}
BUILD_LOG_TAIL = 50


def build_tag(context: Path, build: BuildSpec) -> str:
    """`pytest-topology/<context folder>:<hash of files, Dockerfile and args>`."""
    digest = hashlib.sha256()
    ignored = _dockerignore(context)
    for file in sorted(_files(context)):
        relative = file.relative_to(context).as_posix()
        if _ignored(relative, ignored):
            continue
        digest.update(relative.encode() + b"\0" + file.read_bytes() + b"\0")
    digest.update(json.dumps([build.dockerfile, sorted(build.args.items())]).encode())
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in context.resolve().name.lower()) or "service"
    return f"pytest-topology/{name}:{digest.hexdigest()[:16]}"


def _files(root: Path):
    for path in root.iterdir():
        if path.is_dir() and not path.is_symlink():
            if path.name not in SKIPPED_DIRS:
                yield from _files(path)
        elif path.is_file() and not path.name.endswith(".pyc"):
            yield path


def _ignored(relative: str, patterns: list[str]) -> bool:
    """As in .dockerignore: a pattern that matches a folder excludes everything in it."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes for pattern in patterns)


def _dockerignore(context: Path) -> list[str]:
    file = context / ".dockerignore"
    if not file.is_file():
        return []
    lines = [line.strip() for line in file.read_text().splitlines()]
    return [p.rstrip("/") for p in lines if p and not p.startswith("#") and not p.startswith("!")]


def build_image(client: docker.DockerClient, context: Path, build: BuildSpec, *, service: str,
                on_start: Callable[[], None] | None = None,
                on_line: Callable[[str], None] | None = None) -> tuple[str, bool]:
    """Build unless an image with the content tag exists. Returns (tag, built_now)."""
    tag = build_tag(context, build)
    try:
        client.images.get(tag)
        return tag, False
    except docker.errors.ImageNotFound:
        pass
    if on_start:
        on_start()
    log: list[str] = []
    try:
        for chunk in client.api.build(path=str(context), dockerfile=build.dockerfile, tag=tag, buildargs=build.args,
                                      labels={f"{PREFIX}.context": str(context)}, rm=True, forcerm=True,
                                      decode=True):
            if "error" in chunk:
                log.append(str(chunk["error"]).rstrip())
                raise BuildFailed(_build_message(service, context, log))
            line = str(chunk.get("stream") or chunk.get("status") or "").rstrip()
            if line:
                log.append(line)
                if on_line:
                    on_line(line)
    except docker.errors.APIError as exc:
        log.append(str(exc))
        raise BuildFailed(_build_message(service, context, log)) from None
    return tag, True


def _build_message(service: str, context: Path, log: list[str]) -> str:
    tail = "\n".join(f"  | {line}" for line in log[-BUILD_LOG_TAIL:])
    return (f"service '{service}': docker build of {context} failed. Last {min(len(log), BUILD_LOG_TAIL)} lines of "
            f"the build log:\n{tail}\nFix the Dockerfile or the build context and run again.")


def ensure_image(client: docker.DockerClient, name: str, *, service: str, pull_timeout: float = 30.0) -> str:
    """An `image:` must exist locally; otherwise try one pull, bounded in time."""
    try:
        client.images.get(name)
        return name
    except docker.errors.ImageNotFound:
        pass
    started = time.monotonic()
    try:
        pull_client = docker.DockerClient(base_url=client.api.base_url, timeout=int(pull_timeout))
        pull_client.images.pull(name)
        return name
    except Exception as exc:  # noqa: BLE001 - any pull failure means the same thing to the user
        waited = time.monotonic() - started
        raise ImageMissing(
            f"service '{service}': image '{name}' is not in the local Docker engine and pulling it failed after "
            f"{waited:.1f} s ({str(exc).splitlines()[0][:160]}).\n"
            f"Build or load it first (on this project's machines: `bash fixtures/images/ensure-base-images.sh` "
            f"provides python:3.11-slim, postgres:15 and redis:7), or use `build:` instead of `image:`."
        ) from None
