"""Removal of images the harness made and no longer needs: of each build context, the images no container uses
beyond the newest N tagged ones (untagged ones always: nothing finds them again), and local tag aliases made for image
substitution. An image any container uses (running or not) is kept, and a context that a session is building or
starting from (`imagelocks.using_contexts`) is left alone.

Listing uses Docker's list endpoints only (no inspect per image): another session may remove an image meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors

from harness.runtime import labels as L
from harness.runtime.imagelocks import pruning

KEEP_PER_CONTEXT = 3
BUILT = f"{L.PREFIX}.built"  # of a built image: time.time_ns() of its build (Docker's Created is in whole seconds)
BUILT_PREFIX = "pytest-topology/"
NO_TAG = "<none>:<none>"  # what older engines list as the tag of an untagged image


@dataclass
class Pruned:
    """What a prune did: `removed` tags and untagged images ("untagged image sha256:<12 hex>"), and the build
    contexts it left alone because a session was building or starting from them (`busy`)."""

    removed: list[str] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)


def prune_images(client: docker.DockerClient, keep: int = KEEP_PER_CONTEXT,
                 wanted: Callable[[str], bool] = lambda context: True, substitutes: bool = True,
                 substitute_tags: Callable[[str], bool] = lambda tag: True) -> Pruned:
    """For each build context for which `wanted(context)` holds and that no session builds or starts from now:
    remove the images no container uses, but the newest `keep` that carry a content tag (their content tags only:
    an `image:` name given in a topology file stays, as `docker compose` leaves it). With `substitutes`, also the
    tags of unused substitute aliases for which `substitute_tags(tag)` holds.

    Raises:
        docker.errors.APIError: the engine refused to list images (a refusal to remove one is skipped).
    """
    result = Pruned()
    contexts = sorted({(image.get("Labels") or {}).get(L.CONTEXT, "")
                       for image in client.api.images(filters={"label": L.CONTEXT})})
    for context in filter(wanted, contexts):
        with pruning(context) as alone:
            if not alone:
                result.busy.append(context)
                continue
            # listed again now that no session of this machine can build or start from the context
            images = client.api.images(filters={"label": f"{L.CONTEXT}={context}"})
            in_use = {c.get("ImageID") for c in client.api.containers(all=True)}
            result.removed += _remove_unused(client, images, in_use, keep)
    if substitutes:
        in_use = {c.get("ImageID") for c in client.api.containers(all=True)}
        for image in client.api.images(filters={"label": L.SUBSTITUTE}):
            if image["Id"] not in in_use:
                result.removed += _untag(client, [tag for tag in _tags(image) if substitute_tags(tag)])
    return result


def _remove_unused(client: docker.DockerClient, images: list[dict[str, Any]], in_use: set[str], keep: int) -> list[str]:
    """Of one context's images: the untagged ones and those beyond the newest `keep` content-tagged ones, unused."""
    tagged = sorted((image for image in images if any(t.startswith(BUILT_PREFIX) for t in _tags(image))),
                    key=_built_at, reverse=True)
    kept = {image["Id"] for image in tagged[:keep]}
    removed = []
    for image in images:
        if image["Id"] in kept or image["Id"] in in_use:
            continue
        if not _tags(image):
            try:  # not forced: Docker refuses while a container uses it
                client.api.remove_image(image["Id"])
                removed.append(f"untagged image {image['Id'][:19]}")
            except docker.errors.APIError:  # gone already, or a container was created from it meanwhile
                continue
        else:
            removed += _untag(client, [tag for tag in _tags(image) if tag.startswith(BUILT_PREFIX)])
    return removed


def _untag(client: docker.DockerClient, tags: list[str]) -> list[str]:
    removed = []
    for tag in tags:
        try:  # the last tag of an image removes the image (not forced: Docker refuses while a container uses it)
            client.api.remove_image(tag)
            removed.append(tag)
        except docker.errors.APIError:
            continue
    return removed


def _tags(image: dict[str, Any]) -> list[str]:
    return [tag for tag in image.get("RepoTags") or [] if tag != NO_TAG]


def under(folder: Path) -> Callable[[str], bool]:
    """Build contexts inside `folder`. A label that is not an absolute path (the fault helper's "fault-helper") names
    no folder: it is never under the current one."""
    return lambda context: Path(context).is_absolute() and Path(context).resolve().is_relative_to(folder.resolve())


def _built_at(image: dict[str, Any]) -> int:
    labels = image.get("Labels") or {}
    try:
        return int(labels[BUILT])
    except (KeyError, ValueError):
        return int(image.get("Created") or 0) * 1_000_000_000
