"""Labels on everything the harness creates, and removal of what crashed runs left behind.

Each container and network carries the run id, the topology's identity (its resolved file and its name) and its
owner (host, pid and the pid's start time). A resource whose owner process is gone is a leftover and is removed at
the next start; `keep=true` (harness up --detach, --topology-keep) protects a run until `harness down`.

Listing reads labels from Docker's list endpoints only (no inspect per object): another session may remove its
objects between a list and an inspect, and that must not break this one.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume

T = TypeVar("T")

PREFIX = "org.pytest-topology"
RUN = f"{PREFIX}.run"
OWNER = f"{PREFIX}.owner"
KEEP = f"{PREFIX}.keep"
SHARED = f"{PREFIX}.shared"  # "true": offered to other sessions (harness up, kept runs); else private to its owner
TOPOLOGY = f"{PREFIX}.topology"
FILE = f"{PREFIX}.file"
SERVICE = f"{PREFIX}.service"
REPLICA = f"{PREFIX}.container-number"  # of a service's container: 1..N, as Compose's label of that name
SIGNATURE = f"{PREFIX}.signature"  # of a service: hash of its spec and its image's id (see signature.py)
NETWORK = f"{PREFIX}.network"  # of a network a topology declares: its name in the file
NETWORK_DEFINITION = f"{PREFIX}.network-definition"  # of such a network: hash of its definition (networks.py)
VOLUME = f"{PREFIX}.volume"  # of a named volume of a run: its name in the file
VOLUME_DEFINITION = f"{PREFIX}.volume-definition"  # of such a volume: hash of its driver and options (volumes.py)
MOUNTED = f"{PREFIX}.mounted"  # of a service's container: what its bind mounts held when it was created (mounted.py)
PORTS = f"{PREFIX}.ports"  # of a service: {"container port": host port} as JSON, chosen before it was created
CONTEXT = f"{PREFIX}.context"  # of a built image: its build context (absolute path)
SUBSTITUTE = f"{PREFIX}.substitute"  # of a local tag alias made by image substitution
ENGINES = f"{PREFIX}.engines"  # of every object of a run across engines: [[name, host], ...] (engine_runs.py)
ZERO_REPLICAS = f"{PREFIX}.zero-replicas"  # of the started mark: the services of 0 replicas then (comma-separated)
STARTED = f"{PREFIX}.started"  # of an empty volume: the run's start finished (every service was ready)
POST_START = f"{PREFIX}.post-start-pending"  # of an empty volume: a container's post_start hooks began and did
# not complete; its value is the owner_id of the process running them (hooks.py)
CONTAINER = f"{PREFIX}.container"  # of such a volume: the container's id
ANONYMOUS_VOLUME = re.compile(r"[0-9a-f]{64}")  # the name Docker gives a volume it makes for an image's VOLUME


def owner_id(pid: int | None = None) -> str:
    pid = pid or os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    """Field 22 of /proc/PID/stat, "?" when the process is gone or has ended and awaits its parent (a zombie: state
    Z or X, field 3)."""
    try:  # the command name (field 2) may contain spaces, so split after ')'
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return "?" if fields[0] in ("Z", "X") else fields[19]
    except (OSError, IndexError):
        return "?"


def owner_alive(owner: str) -> bool:
    """Whether the process of `owner` (an owner_id) still runs; True when this machine cannot tell (another host,
    an owner label of another form)."""
    return owner_gone(owner) is not True


def owner_gone(owner: str) -> bool | None:
    """True when the process of `owner` (an owner_id) has ended, False when it runs, None when this machine cannot
    tell (it ran on another host, or the label has another form)."""
    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return None  # not ours to judge
    return _start_time(int(pid_text)) != started


def owner_process(owner: str) -> str:
    """`owner` (an owner_id) as people say it: "process 1234", or "process 1234 on host ci-7" for another host; a
    label of another form as it is ("unknown" when empty)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if not pid.isdigit():
        return owner or "unknown"
    return f"process {pid}" + ("" if host == socket.gethostname() else f" on host {host}")


def run_labels(run_id: str, topology: str, file: str | Path, keep: bool, owner: str | None = None,
               shared: bool = False) -> dict[str, str]:
    """Labels of every object of a run; `file` is the topology file (resolved: it is the topology's identity;
    several compose files: `TopologySpec.identity`, their paths joined by ',');
    `owner` (an owner_id) is this process unless given (pytest-xdist: the controller, which outlives its workers);
    `shared`: other sessions may use it (`harness up`; a kept run always is)."""
    return {RUN: run_id, OWNER: owner or owner_id(), KEEP: str(keep).lower(), TOPOLOGY: topology, FILE: str(file),
            SHARED: str(keep or shared).lower()}


def run_labels_of(resource: Any) -> dict[str, str]:  # noqa: ANN401 - a docker Container or Network
    """The labels every object of `resource`'s run carries (run_labels), without those of its service."""
    labels = labels_of(resource)
    return {key: labels[key] for key in (RUN, OWNER, KEEP, TOPOLOGY, FILE, SHARED, ENGINES) if key in labels}


def recorded_engines(run: Run) -> str | None:
    """The ENGINES label of `run` (JSON, see engine_runs.py) from whichever of its objects carries it, None for a run
    on one engine: the objects are listed in no set order, and an object made by an older version (a helper) may
    lack it, so the first one found must not decide."""
    return next((value for resource in [*run.containers, *run.networks, *run.volumes]
                 if (value := labels_of(resource).get(ENGINES))), None)


def labels_of(resource: Any) -> dict[str, str]:  # noqa: ANN401 - a docker Container or Network, sparse or not
    attrs = resource.attrs
    return attrs.get("Labels") or (attrs.get("Config") or {}).get("Labels") or {}


@dataclass
class Run:
    """One run of a topology as Docker lists it. `containers` are sparse (list data only: id, labels, state)."""

    run_id: str
    topology: str
    file: str
    kept: bool
    owner: str
    shared: bool = False  # other sessions may use it: `harness up`, kept runs
    containers: list[Container] = field(default_factory=list)
    networks: list[Network] = field(default_factory=list)
    volumes: list[Volume] = field(default_factory=list)  # named volumes of the file (VOLUME), as listed
    started: bool = False  # its start finished (mark_started); False also for runs of harness versions before that

    @property
    def owner_alive(self) -> bool:
        return owner_alive(self.owner)

    @property
    def orphaned(self) -> bool:
        """Not kept, and its owner process has ended (it died before removing it): a leftover, removed by the next
        start, `harness down` or `harness down --run RUN`."""
        return not self.kept and not self.owner_alive

    @property
    def created(self) -> int:
        return max((int(c.attrs.get("Created") or 0) for c in self.containers), default=0)


def list_runs(client: docker.DockerClient, file: str | Path | None = None) -> list[Run]:
    """Every run on the engine (or of one topology file), newest first, with its containers and networks."""
    filters = {"label": [RUN, f"{FILE}={file}"] if file is not None else [RUN]}
    runs: dict[str, Run] = {}
    resources = [*listed(lambda: client.containers.list(all=True, filters=filters, sparse=True)),
                 *listed(lambda: client.networks.list(filters=filters)),
                 *listed(lambda: client.volumes.list(filters=filters))]  # a run may be down to its volumes
    for resource in resources:
        labels = labels_of(resource)
        kept = labels.get(KEEP) == "true"
        run = runs.setdefault(labels[RUN], Run(labels[RUN], labels.get(TOPOLOGY, "?"), labels.get(FILE, ""), kept,
                                               labels.get(OWNER, ""), kept or labels.get(SHARED) == "true"))
        if isinstance(resource, Container):
            run.containers.append(resource)
        elif isinstance(resource, Network):
            run.networks.append(resource)
        elif labels.get(STARTED) == "true":
            run.started = True
        elif VOLUME in labels:
            run.volumes.append(resource)
    return sorted(runs.values(), key=lambda run: run.created, reverse=True)


def find_runs(client: docker.DockerClient, file: str | Path | None = None) -> list[Run]:
    """Live runs (kept, or of a live owner) with at least one container, newest first, optionally of one file."""
    return [run for run in list_runs(client, file) if run.containers and (run.kept or run.owner_alive)]


def is_under(file: str, folder: Path) -> bool:
    """Whether a run's file label (one path, or several joined by ',') names a file under `folder` (the first:
    the project's)."""
    return Path(file.split(",")[0]).is_relative_to(folder.resolve()) if file else False


def mark_started(client: docker.DockerClient, labels: dict[str, str], zero: Collection[str] = ()) -> None:
    """Say on the engine that the run of `labels` finished its start: an empty volume with those labels (removed
    with the run), and the services of 0 replicas it has (`zero`). A kept run without it was left by a session
    that ended while starting it."""
    client.volumes.create(labels={**labels, STARTED: "true", ZERO_REPLICAS: ",".join(sorted(zero))})


def zero_replicas(client: docker.DockerClient, run_id: str) -> set[str]:
    """The services of 0 replicas that the run `run_id` had when it was last marked started (mark_started)."""
    marks = listed(lambda: client.volumes.list(filters={"label": [f"{RUN}={run_id}", f"{STARTED}=true"]}))
    return {name for mark in marks for name in (mark.attrs.get("Labels") or {}).get(ZERO_REPLICAS, "").split(",")
            if name}


def unmark_started(client: docker.DockerClient, run_id: str) -> None:
    """Take back the mark that the run `run_id` finished its start (it is being updated: some services are not
    there yet)."""
    for volume in listed(lambda: client.volumes.list(filters={"label": [f"{RUN}={run_id}", f"{STARTED}=true"]})):
        _ignore_gone(volume.remove)


def started_fully(client: docker.DockerClient, run_id: str) -> bool:
    return bool(listed(lambda: client.volumes.list(filters={"label": [f"{RUN}={run_id}", f"{STARTED}=true"]})))


def remove_run(client: docker.DockerClient, run_id: str) -> int:
    """Remove every container, then the networks and volumes, of one run. Returns the number of containers removed.

    Objects already gone (removed by another session) are skipped."""
    label = {"label": f"{RUN}={run_id}"}
    containers = listed(lambda: client.containers.list(all=True, filters=label, sparse=True))
    remove_containers(containers)
    for network in listed(lambda: client.networks.list(filters=label)):
        try:
            _ignore_gone(network.remove)
        except docker.errors.APIError:  # a container joined while we were removing: remove it too, then retry
            late = listed(lambda: client.containers.list(all=True, filters=label, sparse=True))
            remove_containers(late)
            containers += late
            _ignore_gone(network.remove)
    for volume in listed(lambda: client.volumes.list(filters=label)):  # named and anonymous volumes
        _ignore_gone(volume.remove)
    # an image's anonymous volume carried over to a replacing container (`Topology._updated`) is mounted by name
    # there, so `docker rm -v` leaves it
    remove_unused_volumes(client, [m["Name"] for c in containers for m in c.attrs.get("Mounts") or []
                                   if m.get("Type") == "volume" and ANONYMOUS_VOLUME.fullmatch(m.get("Name") or "")])
    return len(containers)


def remove_unused_volumes(client: docker.DockerClient, names: list[str]) -> None:
    """Remove the volumes `names` that no container uses (those in use or already gone are left)."""
    for name in dict.fromkeys(names):
        try:
            client.api.remove_volume(name)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as error:
            if error.status_code != 409:  # in use
                raise


def remove_leftovers(client: docker.DockerClient, include_kept: bool = False, file: str | Path | None = None,
                     under: Path | None = None) -> int:
    """Remove runs whose owner process is gone (and, with include_kept, kept runs too), optionally only those of
    one topology file or of topology files under one folder. Returns the number of containers removed."""
    removed = 0
    for run in list_runs(client, file):
        if under is not None and not is_under(run.file, under):
            continue
        if (include_kept and run.kept) or (not run.kept and not run.owner_alive):
            removed += remove_run(client, run.run_id)
    return removed


def inspected_containers(client: docker.DockerClient, filters: dict[str, Any]) -> list[Container]:
    """Containers with their inspect data; one removed between the listing and its inspection (another run tearing
    down) is skipped rather than failing the whole listing, as docker-py's list() would."""
    found = []
    for sparse in listed(lambda: client.containers.list(all=True, filters=filters, sparse=True)):
        try:
            found.append(client.containers.get(sparse.id))
        except docker.errors.NotFound:
            pass
    return found


def published_ports(container: Any) -> dict[int, int]:  # noqa: ANN401 - a docker Container, sparse or not
    """TCP container port -> host port, from the container's labels (or, for containers made before that label
    existed, from its inspect or list data)."""
    labels = labels_of(container)
    if PORTS in labels:
        return {int(port): int(host) for port, host in json.loads(labels[PORTS]).items()}
    bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings") or {}
    if bindings:
        return {int(key.split("/")[0]): int(value[0]["HostPort"]) for key, value in bindings.items()
                if value and key.endswith("/tcp")}
    return {int(p["PrivatePort"]): int(p["PublicPort"]) for p in container.attrs.get("Ports") or []
            if p.get("PublicPort") and p.get("Type", "tcp") == "tcp"}


def published_by_protocol(container: Any, protocol: str) -> dict[int, int]:  # noqa: ANN401 - a docker Container
    """`protocol` ("udp", "sctp") container port -> host port, from the container's inspect or list data."""
    bindings = (container.attrs.get("HostConfig") or {}).get("PortBindings")
    if bindings is not None:
        return {int(key.split("/")[0]): int(value[0]["HostPort"]) for key, value in bindings.items()
                if value and key.endswith(f"/{protocol}")}
    return {int(p["PrivatePort"]): int(p["PublicPort"]) for p in container.attrs.get("Ports") or []
            if p.get("PublicPort") and p.get("Type") == protocol}


def ports_text(tcp: dict[int, int], udp: dict[int, int], sctp: dict[int, int], host: str = "",
               again: dict[str, list[int]] | None = None) -> str:
    """"8000 -> 41234, 53/udp -> 40001": every published port, TCP without a suffix; "" when none. With `host`:
    "8000 -> HOST:41234" (a run across engines, whose services publish on several hosts). `again` ("8000/tcp" -> host
    ports, `further_bindings`): a port bound more than once is listed once per binding, as `docker compose ps` does."""
    at = f"{host}:" if host else ""
    again = again or {}
    return ", ".join(f"{c}{'' if kind == 'tcp' else '/' + kind} -> {at}{h}"
                     for kind, ports in (("tcp", tcp), ("udp", udp), ("sctp", sctp)) for c, first in ports.items()
                     for h in dict.fromkeys([first, *again.get(f"{c}/{kind}", [])]))


def further_bindings(container: Any) -> dict[str, list[int]]:  # noqa: ANN401 - a docker Container, sparse or not
    """"8000/tcp" -> the host ports of every binding of a container port bound more than once (`ports: ["8080:80",
    "8081:80"]` binds 80 twice), from Docker's data of the container (inspect or list); {} when none. A binding's
    IPv6 twin (the same host port on "::") is not another binding."""
    found: dict[str, list[int]] = {}
    ports = (container.attrs.get("NetworkSettings") or {}).get("Ports")
    if isinstance(ports, dict):  # inspect data
        pairs = [(key, b.get("HostPort")) for key, bindings in ports.items() for b in bindings or []]
    else:  # list data
        pairs = [(f"{p['PrivatePort']}/{p.get('Type', 'tcp')}", p.get("PublicPort"))
                 for p in container.attrs.get("Ports") or [] if "PrivatePort" in p]
    for key, host in pairs:
        if host and int(host) not in found.setdefault(key, []):
            found[key].append(int(host))
    return {key: hosts for key, hosts in found.items() if len(hosts) > 1}


def replica_of(container: Any) -> int:  # noqa: ANN401 - a docker Container, sparse or not
    """The replica number of a service's container (1 for containers made before the label existed)."""
    number = labels_of(container).get(REPLICA, "1")
    return int(number) if number.isdigit() else 1


def replica_name(service: str, number: int, replicas: int) -> str:
    """How a replica is shown (`harness ps`, log prefixes, notes): the service's name, or `NAME-N` (as Docker Compose
    shows a container: its service and number) when the service has more than one."""
    return f"{service}-{number}" if replicas > 1 or number > 1 else service


def containers_named(runs: list[Run], name: str) -> list[tuple[Run, Any]]:
    """(run, container) of service `name` in `runs`; else, `name` being a replica as `harness ps` shows it (`NAME-N`,
    `replica_name`), that replica's."""
    found = [(run, c) for run in runs for c in run.containers if labels_of(c).get(SERVICE) == name]
    service, _, number = name.rpartition("-")
    return found or [(run, c) for run in runs for c in run.containers
                     if number.isdigit() and labels_of(c).get(SERVICE) == service and replica_of(c) == int(number)]


def container_status(container: Any) -> str:  # noqa: ANN401 - a docker Container, sparse or not
    state = container.attrs.get("State")
    return str(state.get("Status") if isinstance(state, dict) else state or "?")


def shown_status(container: Any) -> str:  # noqa: ANN401 - a docker Container (inspected)
    """The state as tables show it: Docker's, with the exit code of an exited container ("exited (0)": a job that
    ended well; `docker compose ps -a` says "Exited (0)")."""
    state = container.attrs.get("State")
    status = container_status(container)
    code = state.get("ExitCode") if isinstance(state, dict) else \
        next(iter(re.findall(r"^Exited \((-?\d+)\)", str(container.attrs.get("Status", "")))), None)  # list data
    return f"exited ({code})" if status == "exited" and code is not None else status


def remove_containers(containers: list[Container], volumes: bool = True) -> None:
    """Remove `containers` at once (with their anonymous volumes, unless `volumes` is false); those already gone are
    skipped."""
    with ThreadPoolExecutor(max_workers=max(1, min(16, len(containers)))) as pool:
        list(pool.map(lambda c: _ignore_gone(lambda: c.remove(force=True, v=volumes)), containers))


def listed(listing: Callable[[], Iterable[T]]) -> list[T]:
    """A docker-py list call; objects vanishing while it runs (a NotFound from its own follow-up reads) mean that
    the list is taken again."""
    for _ in range(5):
        try:
            return list(listing())
        except docker.errors.NotFound:
            continue
    return list(listing())


def _ignore_gone(action: Callable[[], object]) -> None:
    try:
        action()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc) and "No such" not in str(exc):
            raise
