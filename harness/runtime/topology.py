"""A running topology: its networks (one private network unless the file declares networks), a container per service
(per replica: `replicas: N`, Compose's `scale`);
what a test does with it (services by name, URLs, faults per edge, restore, close), and the ways to get one
(`Topology.start`, `attach`, `kept_or_started`, ...).

Starting is in starter.py (dependency order, concurrently); kept and shared runs (use as they are, update, finish) in
reuse.py. Any failure (or Ctrl-C) removes everything the run created, found by its run label.
"""

from __future__ import annotations

import difflib
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from harness.errors import DockerError, HarnessError, UnknownService
from harness.hints import with_engine
from harness.model.plan import StartPlan
from harness.model.secrets import Masker
from harness.model.topology import TopologySpec, down_hint
from harness.runtime import control, hooks, networks, observe, restarts
from harness.runtime import labels as L
from harness.runtime.engine import engine_address, explain, service_host
from harness.runtime.engines import RunEngine, remove_everywhere
from harness.runtime.faults import Edge, TopologyFaults
from harness.runtime.interrupts import InterruptsDeferred
from harness.runtime.service import ExecResult, Service
from harness.runtime.swarm import leave_made_swarm
from harness.runtime.transfer import local_builder

if TYPE_CHECKING:
    from harness.model.builder import TopologyBuilder

LOG_LINES_OF_THE_DEAD = 20
__all__ = ["ExecResult", "Progress", "Service", "StartEvent", "Topology"]
EventKind = Literal["building", "built", "cached", "copying", "copied", "starting", "waiting", "ready", "completed",
                    "failed", "note"]  # note: a line about the run (`detail`), of no service


@dataclass(frozen=True)
class StartEvent:
    service: str
    kind: EventKind
    seconds: float = 0.0
    detail: str = ""


Progress = Callable[[StartEvent], None]


class Topology:
    """A running topology. `topology["dataservice"].url`; use as a context manager or call `close()`."""

    def __init__(self, spec: TopologySpec, client: docker.DockerClient, run_id: str, *, keep: bool,
                 containers: Iterable[Container] = (), engines: dict[str, RunEngine] | None = None) -> None:
        """The one constructor: every way to get a Topology (`start`, `attach`, `kept_or_started`, ...) comes here.

        Args:
            run_id: the run's id (its label on every container, network and volume).
            keep: the run stays after this process ends (until `harness down`).
            containers: those of a run already running, as listed: each becomes the Service its label names (one of
                a service no longer in `spec`, or of no service, e.g. a fault helper, is left out). A new run has
                none yet: the starter adds each service as it starts.
            engines: of a topology across engines (runtime/engines.py); `client` is the first's (the manager).
        """
        self.spec = spec
        self.client = client
        self.engines = engines or {}
        # across engines: this machine's engine builds what they run (services, helpers) and copies it (transfer.py)
        self.builder: docker.DockerClient | None = local_builder() if self.engines else None
        self.run_id = run_id
        self.network = _network_name(spec, run_id)  # not a container's: one a test left disconnected is on none
        # network of the topology -> its name on the engine (`network` is `default`'s)
        self.networks = networks.engine_names(spec, run_id, self.network)
        self.keep = keep
        self.services: dict[str, Service] = {}
        self.reused = False  # a kept run of an earlier session (Topology.kept_or_started), not started now
        self.faults = TopologyFaults(self)  # faults per edge: .active(), .clear(), .history
        # called with what a test is about to do that others using the run see ("stop service 'db'", "fault a -> b:
        # cut ..."), before it is done; the pytest plugin refuses it on a run its xdist workers share, outside a test
        # that holds the run alone (harness/pytest/xdist.py)
        self.disturbing: Callable[[str], None] = lambda what: None
        for first, *others in _replicas(self, containers).values():
            first.others = others
            self._add(first)

    def client_of(self, service: str) -> docker.DockerClient:
        """The client of the engine that runs `service` (the one engine's, without `engines:`)."""
        return self.engines[str(self.spec.engine_of(service))].client if self.engines else self.client

    def host_of(self, service: str) -> str:
        """Where this machine reaches the published ports of `service`: its engine's host."""
        return self.engines[str(self.spec.engine_of(service))].host if self.engines else service_host()

    def edge(self, consumer: str, provider: str) -> Edge:
        """Faults on the calls `consumer` makes to `provider` (any two services of the topology), e.g.
        `with topology.edge("gateway", "dataservice").delay(ms=1500): ...`; see harness.runtime.faults.

        Raises:
            UnknownService: a name that is not a running service (with the near miss). InvalidFault: the same name
                twice.
        """
        return self.faults.edge(consumer, provider)

    def _add(self, service: Service) -> None:
        """Register a running service and give it its faults (`service.faults`), which follow its restarts."""
        self.services[service.name] = service
        for replica in service.replicas:  # a start adds replicas 2..N after it (starter.py sets theirs)
            replica.topology = self
        service._faults = self.faults.edge(service.name, None)  # noqa: SLF001 - the topology wires its services
        service.on_start.append(lambda started: observe.service_started(self, started))  # --observe follows it
        service.on_start.append(self.faults.service_started)

    def __getitem__(self, name: str) -> Service:
        """The running service `name`.

        Raises:
            UnknownService: `name` is not a running service of this topology (a KeyError too), with the near miss; or
                a service of 0 replicas (no container of it runs).
        """
        try:
            return self.services[name]
        except KeyError:
            known = [n for n in self.spec.services if n in self.services]  # file order, not start order
            if name in self.spec.services and self.spec.services[name].replicas == 0:
                raise UnknownService(name, known, self.spec.name, no_replica=True) from None
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            raise UnknownService(str(name), known, self.spec.name, close[0] if close else None) from None

    def __iter__(self) -> Iterator[Service]:
        """The running services, in the order of the topology file."""
        return iter([self.services[name] for name in self.spec.services if name in self.services])

    def __contains__(self, name: object) -> bool:
        return name in self.services

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def urls(self) -> dict[str, str]:
        """Service name -> base URL, for the services that publish a port."""
        return {s.name: s.url for s in self if s.ports}

    def close(self) -> None:
        """Run the services' pre_stop hooks (all at once, each within its service's stop_grace_period, default 10
        s), then remove every container, network and volume of this run (at once), whatever the hooks did.

        Raises:
            HookFailed: a pre_stop hook failed or did not end in time (one line per hook; the run is removed).
            DockerError: the engine refused to remove something (the message names it and what to do).
            KeyboardInterrupt: Ctrl-C or SIGTERM meanwhile, once everything is removed (hooks.down: they force it,
                as Compose's second Ctrl-C: the hooks are no longer waited for).
        """
        clients = [engine.client for engine in self.engines.values()] or [self.client]
        failures, _ = hooks.down([(client, self.run_id) for client in clients], self.spec, self._remove)
        if failures:
            raise self.masker.error(hooks.combined(failures))

    def _remove(self) -> None:
        """Remove the run's containers, networks, volumes (on each engine) at once. Raises DockerError."""
        try:
            with InterruptsDeferred(f"removing topology {self.spec.name}"):  # nothing is left behind
                if self.engines:
                    remove_everywhere(self.engines.values(), self.run_id, down_hint(self.spec))
                    leave_made_swarm([engine.client for engine in self.engines.values()])  # --topology-swarm
                else:
                    L.remove_run(self.client, self.run_id)
        except requests.exceptions.ConnectionError:  # the one engine stopped answering (one line, not a traceback)
            raise _unanswered(self.spec.name, self.run_id) from None
        except docker.errors.APIError as error:
            raise DockerError(f"could not remove topology {self.spec.name} (run {self.run_id}): "
                              f"{explain(error)}", operation="remove", run=self.run_id,
                              hint=f"Run `{with_engine(f'harness down --run {self.run_id}')}` to retry, or "
                                   f"`{with_engine(f'docker ps -a --filter label={L.RUN}={self.run_id}')}` to see what "
                                   "is left."
                              ) from None

    def restore(self, only_left: bool = False) -> list[str]:
        """Put every service back as started (in dependency order): unpause, reconnect to its networks, start
        (waiting for its probe) what is stopped, paused, disconnected or dead, restart what is still in a network
        namespace its `network_mode` or `ipc` `service:X` no longer has. One Docker list call (per engine) if nothing
        is wrong.

        Args:
            only_left: only the services this process left stopped, paused, ... (`Service.left`): a topology shared
                with other processes (pytest-xdist workers) may have a service stopped on purpose by another one.

        Returns:
            One line per service not as started: what it was left as (one that died by itself: its exit code and
            last log lines), and what was done.

        Raises:
            ServiceExited, ServiceNotReady: a service did not come back; DockerError: it is gone from the engine.
        """
        return _restore(self, only_left)

    @functools.cached_property
    def masker(self) -> Masker:
        """Hides this topology's secrets in what is printed of it (errors, progress, log sections)."""
        return Masker(self.spec)

    @classmethod
    def start(cls, spec: TopologySpec | TopologyBuilder | str | Path, progress: Progress | None = None,
              keep: bool = False, owner: str | None = None, shared: bool = False) -> Topology:
        """Start every service of `spec` on new networks of its own, in dependency order, and wait until each is ready.

        Args:
            spec: a TopologySpec (from `load_topology(file)`, `TopologySpec(...)` or `harness.topology(...).spec`),
                a builder from `harness.topology(...)`, or a topology/compose file path (relative to the current
                folder), read as `load_topology` reads it.
            progress: called with a StartEvent per step (building, built/cached, starting, waiting, ready, failed);
                `seconds` in events are wall-clock durations (time.monotonic).
            keep: leave it running after this process ends (until `harness down`).
            owner: the process whose end makes it a leftover (labels.owner_id; default: this one).
            shared: other sessions may use it while it runs (`harness verify`, `fuzz`, `fault`), as `harness up`'s;
                a kept run always is. Otherwise it is this session's own.

        Returns:
            The running Topology; `close()` it (or use it as a context manager) to remove it.

        Raises:
            DockerUnavailable, ImageMissing, BuildFailed, DockerError: the engine, an image, a build.
            ServiceExited, ServiceNotReady: a service died or did not pass its probe within its `timeout` (seconds).
            Anything created is removed before the error is raised (also on KeyboardInterrupt).
            TopologyFileError: a builder or file that is not a valid topology.
            NotATopology: `spec` is none of the above.
        """
        from harness.runtime.starter import start  # it builds on this module: imported when used

        if not isinstance(spec, TopologySpec):
            from harness.errors import NotATopology
            from harness.model.builder import as_spec

            try:
                spec = as_spec(spec, Path.cwd())
            except NotATopology as error:
                raise NotATopology(error.found, where="Topology.start") from None
        return start(spec, progress, keep, owner, shared)

    @classmethod
    @contextmanager
    def reused_or_started(cls, spec: TopologySpec, progress: Progress | None = None,
                          say: Callable[[str], None] = lambda text: None) -> Iterator[Topology]:
        """The running topology of `spec`'s file (`harness up --detach`) if it was started from the same spec and
        images; else one started for this block and removed at its end. A kept run of an older version of the file
        is updated (reuse.update: only the services whose containers changed are replaced; a run whose start did not
        finish is replaced whole); a run of another live session is never touched. `say` gets one
        line telling which (for the console), and one for each pre_stop hook that failed when a run of this block's
        own was removed (the block's verdict stands). A kept run is used by one session at a time
        (`using_kept_run`): this waits while another uses it, and holds it until the block ends."""
        from harness.runtime.reuse import reused_or_started  # it builds on this module: imported when used

        with reused_or_started(spec, progress, say) as topology:
            yield topology

    @classmethod
    def attach(cls, spec: TopologySpec, say: Callable[[str], None] = lambda text: None) -> Topology | None:
        """The topology of `spec`'s file already running (started by `harness up` or `--topology-keep`), if it was
        started from the same spec and images; None otherwise (`say` is told why a running one is not used).

        Raises:
            DockerUnavailable: no engine answers.
        """
        from harness.runtime.reuse import attach  # it builds on this module: imported when used

        return attach(spec, say)

    @classmethod
    def kept_or_started(cls, spec: TopologySpec, progress: Progress | None = None,
                        say: Callable[[str], None] = lambda text: None, owner: str | None = None,
                        held: bool = False) -> Topology:
        """The kept run of `spec`'s file (`harness up --detach`, `--topology-keep`, an earlier `--topology-reuse`) if
        it was started from the same spec and images; a kept run of an older version of the file is updated, as
        `docker compose up` does: only the services whose containers changed are replaced (reuse.update; `say` is
        told what happens to each service); else a new kept run is started. Runs of other live sessions that are
        not kept are never used: their owner removes them when it ends. A kept run whose start did not finish (its
        session ended first) is used once each of its services is ready, else replaced whole. A kept run is changed
        only when no session uses it (`using_kept_run`, held while deciding; `held`: the caller's session holds it
        already).

        Raises:
            As `start`.
        """
        from harness.runtime.reuse import kept_or_started  # it builds on this module: imported when used

        return kept_or_started(spec, progress, say, owner, held)

    @classmethod
    def attach_run(cls, spec: TopologySpec, run_id: str) -> Topology | None:
        """The run `run_id` of `spec`'s file (started by another process of this session), or None if it is gone;
        across engines, with its containers on each of them (an engine that does not answer: DockerUnavailable)."""
        from harness.runtime.reuse import attach_run  # it builds on this module: imported when used

        return attach_run(spec, run_id)


def _replicas(topology: Topology, containers: Iterable[Container]) -> dict[str, list[Service]]:
    """Service of `topology` -> its replicas from their running `containers`, replica 1 first (a container of a
    service no longer in the spec, or of no service, e.g. a fault helper, is left out)."""
    replicas: dict[str, list[Service]] = {}
    for container in sorted(containers, key=L.replica_of):
        name = L.labels_of(container).get(L.SERVICE, "")
        if name in topology.spec.services:
            replicas.setdefault(name, []).append(_attached(topology, name, container))
    return replicas


def _by_service(clients: list[docker.DockerClient], run_id: str) -> dict[tuple[str | None, int], Container]:
    """(service name, replica number) -> the container of run `run_id` that runs it, as listed (across engines: each
    on its own)."""
    label = {"label": f"{L.RUN}={run_id}"}
    return {(L.labels_of(c).get(L.SERVICE), L.replica_of(c)): c for client in clients
            for c in L.listed(functools.partial(client.containers.list, all=True, filters=label, sparse=True))}


def _attached(topology: Topology, name: str, container: Container) -> Service:
    """Service `name` of `topology` from its running container (its published ports read from the container)."""
    spec = topology.spec
    service = Service(name, spec.services[name], container, L.published_ports(container),
                      networks.attachments(spec, name, topology.networks), host=topology.host_of(name),
                      no_ports=spec.no_ports_reason(name), number=L.replica_of(container))
    service.udp_ports = L.published_by_protocol(container, "udp")
    service.sctp_ports = L.published_by_protocol(container, "sctp")
    return service


def _unanswered(topology: str, run_id: str) -> DockerError:
    """The error of a run on one engine that could not be removed: the engine stopped answering."""
    return DockerError(f"run {run_id} of topology {topology} could not be removed from the Docker engine "
                       f"({engine_address()}): no answer", operation="remove", run=run_id,
                       hint=f"Start the engine again and run `{with_engine(f'harness down --run {run_id}')}` (or the "
                            "next start of the topology): it removes what is left of the run.")


def _restore(topology: Topology, only_left: bool) -> list[str]:
    """`Topology.restore`."""
    listed = _by_service([engine.client for engine in topology.engines.values()] or [topology.client], topology.run_id)
    notes: list[str] = []
    restarted: list[Service] = []  # with a service it started (its network namespace): as started now
    order = [name for level in StartPlan.from_spec(topology.spec).levels for name in level if name in topology.services]
    for service in (replica for name in order for replica in topology.services[name].replicas):  # dependencies first
        if (only_left and service.left is None) or service in restarted:
            continue
        container = listed.get((service.name, service.number))
        if container is None:
            raise DockerError(f"service '{service.shown}' of topology {topology.spec.name} is gone from the engine "
                              "(its container was removed)", service=service.name, operation="restore",
                              hint="Something outside the test session removed it; run the tests again.")
        try:
            notes.extend(_restore_one(service, container, restarted))
        except HarnessError as error:  # its last log lines may carry a secret
            raise topology.masker.error(error) from None
    return [topology.masker(note) for note in notes]


def _restore_one(service: Service, container: Container, restarted: list[Service]) -> list[str]:
    """Put `service` back as started (see `Topology.restore`), from `container` as listed: what was done; the
    containers in its network namespace that starting it restarted are added to `restarted`."""
    state = L.container_status(container)
    if state in restarts.IN_OLD_NAMESPACE and (behind := restarts.left_behind(service)) is not None:
        owner, key = behind
        control.stop(service, 0, disturbs=False)
        joined = restarts.start(service, wait=True)
        restarted += joined
        return [f"{service.shown} was still in the {NAMESPACES[key]} {owner.shown} had before it last started "
                f"({key}: service:{owner.name}; {CUT_OFF[key]}): restarted it"
                + (f", and {', '.join(r.shown for r in joined)} in its namespace" if joined else "")]
    on = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    off = [a.network for a in service.networks if a.network not in on]
    left = service.left or ""
    notes = []
    if state == "paused":
        service.unpause()
        notes.append(f"{service.shown} was left {left or 'paused'}: unpaused it")
    if off and state != "exited":
        service.connect()
        notes.append(f"{service.shown} was left {left or 'disconnected from the network'}: reconnected it")
    if state in ("exited", "dead", "created"):
        status = str(container.attrs.get("Status", ""))
        code = re.search(r"\((-?\d+)\)", status)
        if service.spec.job and state == "exited" and code and code.group(1) == "0" and not left:
            return notes  # a job that ended well is as started: run again, it would redo its work
        tail, again = "", "started it again (ready in"
        if left.startswith(("stopped", "killed")):
            what = f"was left {left}"
        elif code and code.group(1) == "137" and (pid_owner := restarts.killed_with(service)) is not None:
            what = (f"was killed with the pid namespace of {pid_owner.shown} (pid: service:{pid_owner.name}; every "
                    f"process in it ends when {pid_owner.shown} stops)")
        elif code and code.group(1) == "0":  # a one-shot service: `docker compose up` runs it again
            what, again = "had exited (exit code 0)", "ran it again (in"
        else:  # not by this process: by itself, or by another (a session killed in the middle of a test)
            exit_code = code.group(1) if code else "?"
            # SIGKILL, SIGTERM: also the `.stop()` of a session that was killed (or the kernel's OOM killer)
            what = (f"was stopped or killed (exit code {exit_code})" if exit_code in ("137", "143")
                    else f"died (exit code {exit_code})")
            lines = service.logs(tail=LOG_LINES_OF_THE_DEAD).splitlines() or ["(the log is empty)"]
            tail = "; its last log lines:\n" + "\n".join(f"  | {line}" for line in lines)
        if off:
            service.connect()
        started = time.monotonic()
        joined = restarts.start(service, wait=True)
        restarted += joined
        notes.append(f"{service.shown} {what}: {again} {time.monotonic() - started:.1f} s)"
                     + (_joined_note(service, joined) if joined else "") + tail)
    return notes


def _joined_note(service: Service, joined: list[Service]) -> str:
    """What a start of `service` restarted with it: the containers that were in its namespaces (theirs went away)."""
    keys = sorted({next((k for k, v in r.spec.namespace_owners.items() if v == service.name), "network_mode")
                   for r in joined}, key=list(NAMESPACES).index)
    return (f"; restarted {', '.join(r.shown for r in joined)} in its {' and '.join(NAMESPACES[k] for k in keys)} "
            f"({'; '.join(f'{k}: service:{service.name}' for k in keys)}; theirs went away with its stop)")


NAMESPACES = {"network_mode": "network namespace", "ipc": "IPC namespace", "pid": "pid namespace"}
CUT_OFF = {"network_mode": "it reached nothing on 127.0.0.1 but itself", "ipc": "it shared no memory with it",
           "pid": "it saw none of its processes"}  # what a container left in an old namespace of another misses


def _network_name(spec: TopologySpec, run_id: str) -> str:
    """The private network of run `run_id` of `spec`'s topology."""
    return f"harness-{docker_name(spec.name)}-{run_id}"


def docker_name(text: str) -> str:
    """`text` as a part of a container or network name Docker accepts ([a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-_.")
    return cleaned or "topology"
