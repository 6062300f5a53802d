"""Images of a topology across several engines (runtime/engines.py): built on this machine's engine and copied to
each engine that runs them (`docker save` streamed into `docker load`; no registry).

Why this machine's engine builds: the engines of a swarm may have no route out (a Dockerfile's `pip install` or
`apt-get` would fail there), the harness's build cache (the content tag) is on this machine's engine, and an image is
built once, not once per engine. An engine that already has the image (same image id: `docker load` keeps it) gets
no copy, only the missing tags. When no engine answers on this machine, each engine builds what it runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import docker
import docker.errors
import docker.utils

from harness.errors import DockerUnavailable
from harness.runtime.engine import connect

__all__ = ["copy_image", "has_image", "local_builder"]

SAVE_CHUNK = 1 << 20  # bytes of the `docker save` stream sent on at a time (the image is never held whole)


def local_builder() -> docker.DockerClient | None:
    """This machine's engine (the one a topology without `engines:` uses: DOCKER_HOST, the Docker context, ...) when
    it answers, else None."""
    try:
        return connect()
    except DockerUnavailable:
        return None


def has_image(client: docker.DockerClient, name: str) -> bool:
    """Whether `client`'s engine has image `name` (an invalid reference: no; the caller's pull says why)."""
    try:
        client.images.get(name)
        return True
    except docker.errors.APIError:
        return False


def copy_image(source: docker.DockerClient, target: docker.DockerClient, name: str,
               names: Sequence[str] = (), copying: Callable[[], None] = lambda: None) -> bool:
    """Make image `name` of `source` an image of `target`, tagged `name` and `names`: loaded from `source`'s
    `docker save` stream, unless `target` has that image id already (then only tagged). `copying` is called when a
    copy begins (it may take a while: progress says so). Returns whether it was copied.

    Raises:
        docker.errors.ImageNotFound: `source` has no image `name`.
        docker.errors.APIError: an engine refused (e.g. no room left for the layers).
    """
    image = source.images.get(name)
    try:
        loaded = target.images.get(image.id)
        copied = False
    except docker.errors.ImageNotFound:
        copying()
        target.images.load(source.api.get_image(name, chunk_size=SAVE_CHUNK))
        loaded = target.images.get(image.id)
        copied = True
    for tag in dict.fromkeys([name, *names]):
        if tag != image.id:
            repository, version = docker.utils.parse_repository_tag(tag)
            loaded.tag(repository, version or "latest")
    return copied
