"""Removal of images the harness made and no longer needs: built images beyond the newest N of each build context,
and local tag aliases made for image substitution. An image any container uses (running or not) is kept.

Listing uses Docker's list endpoints only (no inspect per image): another session may remove an image meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from harness.runtime import labels as L

KEEP_PER_CONTEXT = 3
BUILT = f"{L.PREFIX}.built"  # of a built image: time.time_ns() of its build (Docker's Created is in whole seconds)
BUILT_PREFIX = "pytest-topology/"


def prune_images(client: docker.DockerClient, keep: int = KEEP_PER_CONTEXT,
                 wanted: Callable[[str], bool] = lambda context: True, substitutes: bool = True,
                 substitute_tags: Callable[[str], bool] = lambda tag: True) -> list[str]:
    """Remove the tags of built images beyond the newest `keep` of each build context for which `wanted(context)`
    holds, and (with `substitutes`) the tags of unused substitute aliases for which `substitute_tags(tag)` holds.
    Returns the tags removed.

    Raises:
        docker.errors.APIError: the engine refused to list images (a refusal to remove one tag is skipped).
    """
    in_use = {c.get("ImageID") for c in client.api.containers(all=True)}
    by_context: dict[str, list[dict]] = {}
    for image in client.api.images(filters={"label": L.CONTEXT}):
        context = (image.get("Labels") or {}).get(L.CONTEXT, "")
        if wanted(context):
            by_context.setdefault(context, []).append(image)
    doomed: list[dict] = []
    for images in by_context.values():
        images.sort(key=_built_at, reverse=True)
        doomed += [image for image in images[keep:] if image["Id"] not in in_use]
    if substitutes:
        doomed += [image for image in client.api.images(filters={"label": L.SUBSTITUTE})
                   if image["Id"] not in in_use]
    removed = []
    for image in doomed:
        for tag in image.get("RepoTags") or []:
            substitute = L.SUBSTITUTE in (image.get("Labels") or {})
            if (substitute and substitute_tags(tag)) or (not substitute and tag.startswith(BUILT_PREFIX)):
                try:
                    client.api.remove_image(tag)
                    removed.append(tag)
                except docker.errors.APIError:  # gone already, or a container started from it meanwhile
                    continue
    return removed


def under(folder: Path) -> Callable[[str], bool]:
    """Build contexts inside `folder`. A label that is not an absolute path (the fault helper's "fault-helper") names
    no folder: it is never under the current one."""
    return lambda context: Path(context).is_absolute() and Path(context).resolve().is_relative_to(folder.resolve())


def _built_at(image: dict) -> int:
    labels = image.get("Labels") or {}
    try:
        return int(labels[BUILT])
    except (KeyError, ValueError):
        return int(image.get("Created") or 0) * 1_000_000_000
