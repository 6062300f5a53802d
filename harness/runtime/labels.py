"""Labels on everything the harness creates, and removal of what crashed runs left behind.

Each container and network carries the run id and its owner (host, pid and the pid's start time). A resource whose
owner process is gone is a leftover and is removed at the next start; `keep=true` (harness up --detach,
--topology-keep) protects a topology until `harness down`.
"""

from __future__ import annotations

import os
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import docker.errors

PREFIX = "org.pytest-topology"
RUN = f"{PREFIX}.run"
OWNER = f"{PREFIX}.owner"
KEEP = f"{PREFIX}.keep"
TOPOLOGY = f"{PREFIX}.topology"
FILE = f"{PREFIX}.file"
SERVICE = f"{PREFIX}.service"


def owner_id(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    try:  # field 22 of /proc/PID/stat; the command name (field 2) may contain spaces, so split after ')'
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def owner_alive(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # not ours to judge
    return _start_time(int(pid_text)) == started


def run_labels(run_id: str, topology: str, file: Path, keep: bool) -> dict[str, str]:
    return {RUN: run_id, OWNER: owner_id(), KEEP: str(keep).lower(), TOPOLOGY: topology, FILE: str(file)}


def remove_run(client: docker.DockerClient, run_id: str) -> int:
    """Remove every container, then the networks and volumes, of one run. Returns the number of containers removed."""
    containers = client.containers.list(all=True, filters={"label": f"{RUN}={run_id}"}, sparse=True)
    _remove_containers(containers)
    for network in client.networks.list(filters={"label": f"{RUN}={run_id}"}):
        try:
            _ignore_gone(network.remove)
        except docker.errors.APIError:  # a container joined while we were removing: remove it too, then retry
            late = client.containers.list(all=True, filters={"label": f"{RUN}={run_id}"}, sparse=True)
            _remove_containers(late)
            containers += late
            _ignore_gone(network.remove)
    for volume in client.volumes.list(filters={"label": f"{RUN}={run_id}"}):  # named and anonymous volumes
        _ignore_gone(volume.remove)
    return len(containers)


def remove_leftovers(client: docker.DockerClient, include_kept: bool = False, topology: str | None = None) -> int:
    """Remove runs whose owner process is gone (or, with include_kept, every kept run too)."""
    runs: set[str] = set()
    for resource in [*client.containers.list(all=True, filters={"label": RUN}, sparse=True),
                     *client.networks.list(filters={"label": RUN}),
                     *client.volumes.list(filters={"label": RUN})]:
        labels = resource.attrs.get("Labels") or resource.attrs.get("Config", {}).get("Labels") or {}
        if topology and labels.get(TOPOLOGY) != topology:
            continue
        kept = labels.get(KEEP) == "true"
        if (include_kept and kept) or (not kept and not owner_alive(labels.get(OWNER, ""))):
            runs.add(labels[RUN])
    return sum(remove_run(client, run) for run in runs)


def find_runs(client: docker.DockerClient, topology: str | None = None) -> list[tuple[str, list]]:
    """Live runs (newest first) as (run id, containers), optionally of one topology."""
    runs: dict[str, list] = {}
    for container in inspected_containers(client, {"label": RUN}):
        labels = container.labels
        if topology and labels.get(TOPOLOGY) != topology:
            continue
        if labels.get(KEEP) == "true" or owner_alive(labels.get(OWNER, "")):
            runs.setdefault(labels[RUN], []).append(container)
    return sorted(runs.items(), key=lambda run: max(c.attrs["Created"] for c in run[1]), reverse=True)


def inspected_containers(client: docker.DockerClient, filters: dict) -> list:
    """Containers with their inspect data; one removed between the listing and its inspection (another run tearing
    down) is skipped rather than failing the whole listing, as docker-py's list() would."""
    found = []
    for sparse in client.containers.list(all=True, filters=filters, sparse=True):
        try:
            found.append(client.containers.get(sparse.id))
        except docker.errors.NotFound:
            pass
    return found


def published_ports(container) -> dict[int, int]:  # noqa: ANN001 - docker Container
    """TCP container port -> host port, from the container's inspect data."""
    bindings = container.attrs["HostConfig"].get("PortBindings") or {}
    return {int(key.split("/")[0]): int(value[0]["HostPort"]) for key, value in bindings.items()
            if value and key.endswith("/tcp")}


def _remove_containers(containers: list) -> None:
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(containers)))) as pool:
        list(pool.map(lambda c: _ignore_gone(lambda: c.remove(force=True, v=True)), containers))


def _ignore_gone(action) -> None:
    try:
        action()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc) and "No such" not in str(exc):
            raise
