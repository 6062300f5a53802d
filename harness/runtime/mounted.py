"""What a service's bind mounts held when its container was created (a label on it), and what of it has changed since.

A process reads its mounted code and config files when it starts. A kept container is reused while its configuration
is the same, as Docker Compose reuses it (bind mounts are not in Compose's configuration hash, nor in the harness's
signature), so it runs what its mounts held when it was created, not what they hold now. What needs to know what runs
(a verification's verdict cache, results published for a commit: harness.contracts.run) compares the two.

In a read-only mount every file counts; in a read-write one only the files git tracks, when it is in a git checkout
(what a service writes into its own mount, a log or data, is not what it was started from). A mount from outside the
project (the git checkout the topology file is in, else its folder) is the machine's, not the project's code:
`/etc/localtime`, the Docker socket, `/proc`, `/` for a node exporter; it is not read (Docker Compose starts such a
service in a second; reading `/` would take minutes) and counts as unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from harness.model.service import ServiceSpec
from harness.runtime import labels as L
from harness.runtime.buildcontext import entry_digests

if TYPE_CHECKING:
    from harness.runtime.topology import Topology

LIMIT = 500  # entries recorded by name per mount; a bigger mount is recorded by one digest (its files not named)
NOT_RECORDED = "not recorded"  # a container created without the label (by an older harness): what it holds is unknown
MACHINE = "the machine's"  # a mount from outside the project: not read, the same whenever compared


def mounted_record(service: ServiceSpec, base_dir: Path) -> dict[str, str]:
    """The label a container of `service` is created with: what its bind mounts hold now, as JSON {source: {path
    in it: 16 hex digits} or one digest}; {} when it has no bind mount (`copy: true` ones are in its signature)."""
    held = _held_now(service, base_dir)
    return {L.MOUNTED: json.dumps(held, sort_keys=True, separators=(",", ":"))} if held else {}


def changed_mounted_files(topology: Topology) -> dict[str, list[str]]:
    """Service -> the mounted files (paths as the topology file reaches them: `catalog/app.py`) that differ from what
    they held when its container (any replica's) was created, or were added or removed since; only services with
    such files. A container without the record names its mounts' sources, "(not recorded)"."""
    changed: dict[str, list[str]] = {}
    for name, spec in topology.spec.services.items():
        if name not in topology or not any(not mount.copied for mount in spec.mounts):
            continue
        now = _held_now(spec, topology.spec.base_dir)
        found: list[str] = []
        for replica in topology[name].replicas:
            raw = L.labels_of(replica.container).get(L.MOUNTED)
            try:
                then = json.loads(raw) if raw else None
            except ValueError:
                then = None
            if not isinstance(then, dict):
                found += [f"{mount.source} ({NOT_RECORDED})" for mount in spec.mounts if not mount.copied]
                continue
            found += [path for mount in spec.mounts if not mount.copied for path in _differing(
                mount.source, then.get(mount.source), now.get(mount.source), (topology.spec.base_dir / mount.source))]
        if found:
            changed[name] = list(dict.fromkeys(found))
    return changed


def _differing(source: str, then: object, now: object, path: Path) -> list[str]:
    """The paths under the mount `source` (at `path`) whose record differs: the source itself for a mounted file, or
    for a mount recorded by one digest."""
    if then == now:
        return []
    if not isinstance(then, dict) or not isinstance(now, dict) or not path.is_dir():
        return [source]
    names = sorted(name for name in then.keys() | now.keys() if then.get(name) != now.get(name))
    return [os.path.normpath(os.path.join(source, name)) for name in names]


def _held_now(service: ServiceSpec, base_dir: Path) -> dict[str, object]:
    held: dict[str, object] = {}
    project: Path | None = None
    for mount in service.mounts:
        if mount.copied:
            continue
        source = base_dir / mount.source
        project = project or _project(base_dir)
        if not source.resolve().is_relative_to(project):
            held[mount.source] = MACHINE
            continue
        if not source.exists():  # the engine makes it an empty folder (create_host_path, Compose's short syntax)
            held[mount.source] = {}
            continue
        try:
            digests = entry_digests(source, None if mount.read_only else _tracked(source))
        except OSError as error:
            held[mount.source] = f"unreadable: {error.strerror}"
            continue
        held[mount.source] = digests if len(digests) <= LIMIT else hashlib.sha256(
            json.dumps(digests, sort_keys=True).encode()).hexdigest()[:16]
    return held


def _project(base_dir: Path) -> Path:
    """The git checkout `base_dir` is in (its top folder), else `base_dir`; resolved."""
    try:
        done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=base_dir, capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return base_dir.resolve()
    return Path(done.stdout.strip()).resolve() if done.returncode == 0 and done.stdout.strip() else base_dir.resolve()


def _tracked(source: Path) -> Callable[[str], bool] | None:
    """Whether git tracks a path under `source` (relative to it; a mounted file: its name); None outside a git
    checkout (every file counts then)."""
    folder = source if source.is_dir() else source.parent
    try:
        done = subprocess.run(["git", "ls-files", "-z", "--", "." if source.is_dir() else source.name], cwd=folder,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    tracked = {name for name in done.stdout.split("\0") if name}
    return tracked.__contains__
