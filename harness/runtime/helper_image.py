"""The images of the harness's helper containers (fault helper, observation helper): built once from the local
python:3.11-slim with Debian packages, tagged by the hash of their Dockerfile and files, so a changed agent gets a new
image and an unchanged one is never rebuilt."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
import threading

import docker
import docker.errors

from harness.runtime import labels as L
from harness.runtime.engine import explain, project_script

BASE_IMAGE = "python:3.11-slim"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_build_lock = threading.Lock()


class HelperBuildFailed(Exception):
    """The build failed: `log` holds its lines (the caller raises its own error with the last of them)."""

    def __init__(self, log: list[str]) -> None:
        super().__init__("\n".join(log[-30:]))
        self.log = log


def build_failed_text(what: str, packages: str, log: list[str], where: str) -> str:
    """The message for a helper image (`what`: "the fault helper image") that did not build on `where` (an engine as
    messages name it): the end of its log, and what the build needs there. This repository's script to make the base
    image is named only when run inside it (a pip user has no such script)."""
    tail = "\n".join(f"  | {_ANSI.sub('', line)}" for line in log[-30:])  # apt colours its warnings
    script = project_script("ensure-base-images.sh")
    ours = f"; in this repository `bash {script}` makes it" if script else ""
    return (f"{what} (FROM {BASE_IMAGE}, with Debian's {packages}) did not build on {where}. Last lines of the "
            f"build log:\n{tail}\nThe build needs {BASE_IMAGE} on {where} (`docker pull {BASE_IMAGE}` or `docker "
            f"load` it there{ours}) and a Debian mirror reachable from its containers.")


def helper_image(client: docker.DockerClient, name: str, dockerfile: str, files: dict[str, bytes]) -> str:
    """The tag `pytest-topology/<name>:<hash of dockerfile and files>`, built from them when missing.

    Raises:
        HelperBuildFailed: the build failed.
    """
    digest = hashlib.sha256(dockerfile.encode() + b"".join(b"\0" + n.encode() + b"\0" + d
                                                           for n, d in sorted(files.items()))).hexdigest()[:16]
    tag = f"pytest-topology/{name}:{digest}"
    with _build_lock:
        try:
            client.images.get(tag)
            return tag
        except docker.errors.ImageNotFound:
            pass
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for file, data in {"Dockerfile": dockerfile.encode(), **files}.items():
                info = tarfile.TarInfo(file)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        context.seek(0)
        log: list[str] = []
        try:
            for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                                          labels={f"{L.PREFIX}.context": name}, decode=True):
                if "error" in chunk:
                    log.append(str(chunk["error"]).rstrip())
                    raise HelperBuildFailed(log)
                line = str(chunk.get("stream") or "").rstrip()
                if line:
                    log.append(line)
        except docker.errors.APIError as error:
            log.append(explain(error))
            raise HelperBuildFailed(log) from None
    return tag
