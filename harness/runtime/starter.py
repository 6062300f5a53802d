"""Starting a run: the networks, the volumes, every build at once, then each service in its own thread as soon as its
dependencies are ready (an update of a kept run starts only what it replaces). Any failure (or Ctrl-C) cancels the
rest and removes what the start made."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
import uuid
from collections.abc import Callable, Collection
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import replace
from typing import Any, TypeVar

import docker
import docker.errors

from harness.errors import DockerError, HarnessError
from harness.model.plan import StartPlan
from harness.model.secrets import Masker
from harness.model.service import bound_again
from harness.model.topology import TopologySpec
from harness.runtime import hooks, networks, outside, publish, readiness
from harness.runtime import labels as L
from harness.runtime.api_socket import with_api_socket
from harness.runtime.containers import CopyRef, MountRef, service_container
from harness.runtime.engine import connect, explain, publish_address, publish_note, remote_engine
from harness.runtime.engine_check import refuse_unmet
from harness.runtime.engine_runs import Removed, engines_label, remove_leftovers_anywhere
from harness.runtime.engines import (
    RunEngine,
    connect_engines,
    create_overlay,
    engine_parts,
    prepare_everywhere,
    refuse_binds_on_remote_engines,
    refuse_remote_binds,
    volumes_everywhere,
)
from harness.runtime.imagelocks import using_contexts
from harness.runtime.images import (
    Context,
    PlannedBuild,
    build_image,
    context_label,
    planned_builds,
    tidy,
)
from harness.runtime.interrupts import InterruptsDeferred
from harness.runtime.mounted import mounted_record
from harness.runtime.probes import Abandoned
from harness.runtime.publish import PORT_ATTEMPTS, REMOTE_PORT_ATTEMPTS, ports_to_publish, start_again, start_hint
from harness.runtime.readiness import StartCancelled
from harness.runtime.service import Service
from harness.runtime.signature import image_id_of, placed, service_signature
from harness.runtime.swarm import leave_made_swarm
from harness.runtime.topology import Progress, StartEvent, Topology, docker_name
from harness.runtime.transfer import copy_image
from harness.runtime.volumes import service_mounts

T = TypeVar("T")


def start(spec: TopologySpec, progress: Progress | None, keep: bool, owner: str | None, shared: bool) -> Topology:
    """A new run of `spec`, started: see `Topology.start`."""
    spec.refuse_start()  # before the engine is asked anything, as Compose's `up`
    engines: dict[str, RunEngine] = {}
    if spec.engines:  # several engines joined by a swarm overlay network (runtime/engines.py)
        say = (lambda text: progress(StartEvent("", "note", detail=text))) if progress is not None else None
        engines = connect_engines(spec, say)
        client = next(iter(engines.values())).client
        try:
            refuse_binds_on_remote_engines(spec, engines)
            removed = Removed()
            for engine in engines.values():  # dead runs on any of them, removed from every engine they ran on
                removed += remove_leftovers_anywhere(engine.client, leave=False)  # this run uses their swarm
            if removed.containers and say is not None:
                say(f"removed {removed.containers} container(s){removed.across} of runs whose process ended "
                    "(a SIGKILL, a crash)")
        except BaseException:  # the run does not exist yet: a swarm made to be left with it is left now
            leave_made_swarm([engine.client for engine in engines.values()])
            raise
    else:
        client = connect()
        refuse_remote_binds(spec)
        remove_leftovers_anywhere(client)  # a dead run across engines too (an engine gone: its part waits)
    run_id = uuid.uuid4().hex[:10]
    run_labels = {**L.run_labels(run_id, spec.name, spec.identity, keep, owner, shared), **engines_label(spec)}
    topology = Topology(spec, client, run_id, keep=keep, engines=engines)  # across engines: its builder builds
    if progress is not None and not engines and (note := publish_note()):  # one engine: where ports are published
        progress(StartEvent("", "note", detail=note))
    # a start that fails removes what it made without pre_stop hooks: the run was never handed to a test
    run_start(Starter(topology, run_labels, progress), undo=topology._remove)
    return topology


def run_start(starter: Starter, undo: Callable[[], None]) -> None:
    """Start what `starter` starts; the run is then marked as started. On any failure (or Ctrl-C) `undo` removes
    what it made: the whole run (`Topology.close`), as a failed start leaves nothing running; but for an update of a
    kept run, only what the update made (reuse.undo_update): the kept services stay running with their data and named
    volumes, as `docker compose up` leaves them when a recreated service fails."""
    topology = starter.topology
    try:
        starter.run()
        # a later session reuses a kept run as it is only if this start finished; `harness ps` says which runs
        # are still starting, or were left by an owner that died while starting them
        L.mark_started(topology.client, starter.run_labels, [n for n, s in starter.spec.services.items()
                                                            if not s.replicas])
    except BaseException as error:
        # a further Ctrl-C cuts neither short: creations in flight land (within one Docker call each, cancelled),
        # then everything is removed; it is raised after that
        with InterruptsDeferred(f"removing topology {topology.spec.name}"):
            try:
                starter.stop()
            finally:
                undo()
        if isinstance(error, HarnessError):
            topology.masker.error(error)  # a probe command, a log line or Docker's message may carry a secret
        raise


class Starter:
    """Builds images and starts services, each in its own thread, as soon as what it needs is ready."""

    def __init__(self, topology: Topology, run_labels: dict[str, str], progress: Progress | None,
                 kept: dict[str, Service] | None = None, restarting: Collection[str] = (),
                 inherited: dict[tuple[str, int], list[MountRef]] | None = None,
                 scaling: dict[str, int] | None = None) -> None:
        self.topology = topology
        self.updating = kept is not None  # a running run: its networks are there (unless new in the file)
        self.kept = kept or {}  # services of a run being updated, left running: only the others are started
        self.restarting = restarting  # of the kept: started again once their dependencies are ready
        self.inherited = inherited or {}  # (service, replica) -> anonymous volumes of the container it replaces
        self.scaling = scaling or {}  # of the kept: service -> its count now, replicas added beyond the running ones
        self.spec = topology.spec
        self.run_labels = run_labels
        self.progress = _masked(progress, topology.masker)
        self.cancelled = threading.Event()
        self.lock = threading.Lock()
        self.images: dict[str, Future[str]] = {}
        self.ready: dict[str, Future[Service | None]] = {}  # None: a service of 0 replicas
        self.network_created: Future[object] = Future()
        self.volumes_created: Future[dict[str, str]] = Future()  # volume name in the file -> name in the engine
        self.spawned: set[Future[Any]] = set()  # futures with a thread behind them (the others never complete)
        self.built_as: dict[str | None, dict[str, Future[str]]] = {}  # engine -> `image:` beside `build:` -> build
        self.built_now: set[tuple[docker.DockerClient, Context]] = set()  # the contexts of the images this start built
        self.failures: list[BaseException] = []  # in the order they happened; the first is reported

    def run(self) -> None:
        # every key an engine is too old for, in one message, before anything is built or created; a note for each
        for client, part in engine_parts(self.topology):  # it drops (a volume's subpath: Compose passes it too)
            for ignored in refuse_unmet(self.spec, client.api.api_version, services=set(part.services)):
                self.progress(StartEvent("", "note", detail=ignored))
        builds = planned_builds(self.spec)
        # No prune removes an image of these contexts until every container of this start exists (imagelocks).
        with using_contexts(context_label(build.context) for build in builds):
            self._run(builds)
        for client in {client for client, _ in self.built_now}:  # old images of what was built, unless in use
            tidy(client, sorted((context for on, context in self.built_now if on is client), key=str))

    def _run(self, builds: list[PlannedBuild]) -> None:
        # Every image is checked (and missing ones pulled or copied) first, on each engine while the builds run:
        # one error names all that are missing (on one engine).
        run_images, copied = prepare_everywhere(self.topology, self.progress, self._spawn)
        builder = self.topology.builder  # across engines: the engine that builds (transfer.py), else None
        # Everything that does not depend on readiness starts at once: the network, the volumes, every build.
        self.network_created = self._spawn(self._create_networks, "network")
        self.volumes_created = self._spawn(self._create_volumes, "volumes")
        starting = [name for name in self.spec.services if name not in self.kept]
        for build in builds:  # one per distinct build: the services that share it run one image, built once
            runs_it = [name for name in starting if name in build.services or run_images.get(name) in build.names]
            if not runs_it:
                continue  # every service that runs it is kept as it is (an update of a kept run)
            # across engines: built once by the builder, copied to each engine that runs it (no registry to share
            # it through); without a builder, built on each of them
            made = None if builder is None else self._spawn(functools.partial(
                self._build, build, builder, [n for n in build.services if n in runs_it]), runs_it[0])
            for engine in dict.fromkeys(self.spec.engine_of(name) for name in runs_it):
                on = [name for name in build.services if self.spec.engine_of(name) == engine]
                first = next(name for name in runs_it if self.spec.engine_of(name) == engine)
                client = self.topology.client_of(first)
                future = self._spawn(functools.partial(self._build, build, client, on) if made is None else
                                     functools.partial(self._copy, made, build, client), first)
                self.images.update(dict.fromkeys(on, future))
                self.built_as.setdefault(engine, {}).update(dict.fromkeys(build.names, future))
        for name, image in run_images.items():  # an image another service builds is ready when that build is
            self.images[name] = self.built_as.get(self.spec.engine_of(name), {}).get(image) or copied[name]
        for level in StartPlan.from_spec(self.spec).levels:
            for name in level:
                if name in self.scaling:
                    self.ready[name] = self._spawn(self._scale, name)
                elif name in self.restarting and name in self.kept:  # 0 replicas: no container to restart
                    self.ready[name] = self._spawn(self._restart, name)
                else:
                    self.ready[name] = _done(self.kept[name]) if name in self.kept else self._spawn(self._start, name)
        try:
            wait(self.ready.values(), return_when=FIRST_EXCEPTION)
            if self.failures:
                raise self.failures[0]
        except BaseException:
            self.cancelled.set()
            raise

    def stop(self) -> None:
        """Cancel, and wait for the threads creating the network and containers (so that teardown sees them).
        They end within one Docker call once cancelled; a thread that still creates something after this removes
        it itself, and what a killed process leaves is reaped by the next start (its owner is dead)."""
        self.cancelled.set()
        creating = [self.network_created, self.volumes_created, *self.ready.values()]
        wait([future for future in creating if future in self.spawned], timeout=60)

    def _await(self, future: Future[T]) -> T:
        """The future's result, or StartCancelled as soon as the start is cancelled."""
        while not future.done():
            if self.cancelled.is_set():
                raise StartCancelled()
            wait([future], timeout=0.05)
        if future.exception() is not None:
            raise StartCancelled()  # the failure itself is reported by the thread that had it
        return future.result()

    def _spawn(self, work: Callable[[str], T], name: str) -> Future[T]:
        future: Future[T] = Future()
        self.spawned.add(future)

        def body() -> None:
            try:
                try:
                    future.set_result(work(name))
                except docker.errors.APIError as error:  # any Docker refusal not said better where it happened
                    # a container that stopped or went away is why Docker refused: its exit code and log say more
                    raise self._ended(name) or DockerError(
                        f"service '{name}': the Docker engine refused: {explain(error)}", service=name,
                        operation="start", hint=start_hint(error)) from None
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                if not isinstance(exc, StartCancelled):
                    with self.lock:
                        self.failures.append(exc)
                    self.cancelled.set()
                    headline = (str(exc).splitlines() or [""])[0].split(". ")[0]  # the first: the caller says it
                    self.progress(StartEvent(name, "failed", detail="" if self.failures[0] is exc else headline))
                future.set_exception(exc)

        threading.Thread(target=body, name=f"harness-{name}", daemon=True).start()
        return future

    def _ended(self, name: str) -> HarnessError | None:
        """Why service `name`'s container, once created, no longer runs (Service.ended); None if it runs or was not
        created yet."""
        with self.lock:
            service = self.topology.services.get(name)
        try:
            return service.ended() if service is not None else None
        except docker.errors.APIError:
            return None

    def _create_networks(self, _: str) -> object:
        """The run's networks (an update of a kept run: those it does not have yet)."""
        if self.topology.engines:  # one attachable overlay network, on the swarm's manager (an update: it is there)
            manager = next(iter(self.topology.engines.values()))
            return [] if self.updating else create_overlay(manager, self.topology.network, self.run_labels)
        existing: set[str] = set()
        if self.updating:
            label = {"label": f"{L.RUN}={self.topology.run_id}"}
            existing = {n.name for n in L.listed(lambda: self.topology.client.networks.list(filters=label))}
        return networks.create(self.topology.client, self.spec, self.topology.networks, self.run_labels, existing)

    def _create_volumes(self, _: str) -> dict[str, str]:
        return volumes_everywhere(self.topology, self.run_labels)

    def _mounts(self, name: str, image: str, replica: int) -> list[MountRef]:
        named = self._await(self.volumes_created) if self.spec.services[name].volumes else {}
        return service_mounts(self.topology.client_of(name), self.spec, name, image, self.topology.run_id,
                              self.run_labels, named, self.inherited.get((name, replica), []), replica)

    def _build(self, build: PlannedBuild, client: docker.DockerClient, services: list[str], name: str) -> str:
        """Build (or find) `build`'s image with `client` (the engine of `services`, its services there); progress is
        said as `name`'s (the first service that runs it), and the outcome for each of `services`."""
        started = time.monotonic()
        tag, built = build_image(client, build.context, build.build, service=name,
                                 on_start=lambda: self.progress(StartEvent(name, "building")),
                                 on_line=lambda line: self.progress(StartEvent(name, "building", detail=line)),
                                 names=build.names, project_dir=build.project_dir)
        if built:
            self.built_now.add((client, build.context))
        for service in services:
            if service not in self.kept:
                self.progress(StartEvent(service, "built" if built else "cached", time.monotonic() - started, tag))
        return tag

    def _copy(self, made: Future[str], build: PlannedBuild, client: docker.DockerClient, name: str) -> str:
        """`made`'s image (built by the builder), copied to `client`'s engine (that of `name`) unless there."""
        tag, started = self._await(made), time.monotonic()
        where = f"{tag} to engine '{self.spec.engine_of(name)}'"
        if copy_image(self.topology.builder or client, client, tag, build.names,
                      copying=lambda: self.progress(StartEvent(name, "copying", detail=where))):
            self.built_now.add((client, build.context))
            self.progress(StartEvent(name, "copied", time.monotonic() - started, where))
        return tag

    def _restart(self, name: str) -> Service:
        """Start a kept service again (stopped while a dependency was replaced) once its dependencies are ready."""
        service = self.kept[name]
        for dependency in service.spec.depends_on:
            self._await(self.ready[dependency])
        self._await(self.network_created)
        for replica in service.replicas:
            networks.reconnect(self.topology.client_of(name), replica.container, replica.networks)
        started = time.monotonic()
        self.progress(StartEvent(name, "starting"))
        since = time.time()  # a log probe counts only the lines of this start
        for replica in service.replicas:
            replica.start(wait=False)
        for replica in service.replicas:
            replica.wait_ready(started, self.cancelled, log_since=since)
        self.progress(StartEvent(name, "ready", time.monotonic() - started, service.url if service.ports else ""))
        return service

    def _scale(self, name: str) -> Service:
        """Add replicas to a kept service up to its count now (restarted first if it is to be), numbered after the
        highest running, as `docker compose up` scales up: the running ones are kept as they are."""
        service = self._restart(name) if name in self.restarting else self.kept[name]
        for dependency in service.spec.depends_on:
            self._await(self.ready[dependency])
        self._await(self.network_created)
        started = time.monotonic()
        self.progress(StartEvent(name, "starting"))
        client = self.topology.client_of(name)
        running = client.api.inspect_container(service.container.id)  # the image and signature it runs: unchanged
        image, signature = running["Config"]["Image"], running["Config"]["Labels"][L.SIGNATURE]
        after, count = max(r.number for r in service.replicas), self.scaling[name] - len(service.replicas)
        for number in range(after + 1, after + 1 + count):
            replica = _replica(self, name, number, image, signature)
            with self.lock:
                service.others.append(replica)
        for replica in service.others[-count:]:  # ready when every replica is, as at a start
            replica.wait_ready(started, self.cancelled)
        self.progress(StartEvent(name, "ready", time.monotonic() - started, f"{self.scaling[name]} replicas"))
        return service

    def _start(self, name: str) -> Service | None:
        spec = self.spec.services[name]
        if spec.replicas == 0:  # as Docker Compose: no container, and a service that depends on it starts without it
            self.progress(StartEvent(name, "ready", detail="0 replicas: no container, as under Docker Compose"))
            return None
        image = str(self._await(self.images[name]))
        self._await(self.network_created)
        for dependency in spec.depends_on:
            self._await(self.ready[dependency])
        started = time.monotonic()
        self.progress(StartEvent(name, "starting"))
        client = self.topology.client_of(name)
        signature = placed(service_signature(spec, image_id_of(client, image), self.spec.base_dir), self.spec, name)
        # replica 1 first: it is the Service that `topology[name]` gives; then the others, as Compose numbers them
        first = _replica(self, name, 1, image, signature)
        with self.lock:
            self.topology._add(first)
        for number in range(2, spec.replicas + 1):
            first.others.append(_replica(self, name, number, image, signature))
        if spec.job or first.probe:
            self.progress(StartEvent(name, "waiting", detail=readiness.awaited(first)))
        # ready when every replica is, as `docker compose up --wait` waits for each container
        outcome = [replica.wait_ready(started, self.cancelled) for replica in first.replicas][0]  # or it raised
        readiness.say_unanswered(first.replicas, lambda line: self.progress(StartEvent("", "note", detail=line)))
        shown = first.url if first.ports else ""
        if spec.replicas > 1:
            shown = f"{shown} ({spec.replicas} replicas; this is replica 1)" if shown else f"{spec.replicas} replicas"
        self.progress(StartEvent(name, "completed" if outcome == "completed" else "ready", time.monotonic() - started,
                                 "exited 0" if outcome == "completed" else shown))
        return first


def _replica(starter: Starter, name: str, number: int, image: str, signature: str) -> Service:
    """Create and start replica `number` of service `name` (its post_start hooks run); not waited for."""
    spec = starter.spec.services[name]
    mounts = starter._mounts(name, image, number)
    client = starter.topology.client_of(name)
    engine = starter.topology.engines.get(starter.spec.engine_of(name) or "")
    container_name = f"harness-{docker_name(starter.spec.name)}-{name}-{starter.topology.run_id}" + (
        "" if number == 1 else f"-{number}")
    copies = [CopyRef((starter.spec.base_dir / m.source).resolve(), m.target) for m in spec.mounts if m.copied]
    mounts, copies, environment = with_api_socket(starter.topology, name, mounts, copies,
                                                   spec.full_environment(starter.spec.base_dir))
    remote = engine.remote if engine is not None else remote_engine() is not None
    attempts = REMOTE_PORT_ATTEMPTS if remote else PORT_ATTEMPTS
    attached, mac_address = networks.mac_addresses(
        starter.spec, name, networks.attachments(starter.spec, name, starter.topology.networks), client.api.api_version)
    # as Docker: a container only on internal (or macvlan/ipvlan) networks gets no published port
    published = [] if starter.spec.no_ports_reason(name) else spec.published()
    host_network = spec.network_mode == "host"  # its ports are the engine machine's: none is published
    from_services = outside.from_services(starter.topology, name)
    for attempt in range(attempts):
        ports = {p: p[0] for p in published} if host_network else ports_to_publish(published, remote)
        more = {} if host_network or not published else publish.ports_bound_again(bound_again(spec), remote)
        tcp_ports = {str(port): host for (port, protocol), host in ports.items() if protocol == "tcp"}
        container = service_container(
            image=image, name=container_name, networks=attached, spec=spec,
            environment=environment,
            ports={} if host_network else ports, mounts=mounts,
            labels={**starter.run_labels, L.SERVICE: name, L.REPLICA: str(number), L.SIGNATURE: signature,
                    L.PORTS: json.dumps(tcp_ports), **mounted_record(spec, starter.spec.base_dir)},
            publish_on=engine.publish_on if engine is not None else publish_address(), copies=copies,
            client=client, mac_address=mac_address, docker_py=engine is not None, **from_services,
            bound_again=more)
        try:
            container.start()
            break
        except docker.errors.APIError as error:
            if start_again(error) and attempt + 1 < attempts:  # a port taken, a swarm attach timed out
                _remove_container(container_name, client)  # created, not started: free its name, ports
                continue
            replica = f" (replica {number})" if spec.replicas > 1 else ""
            raise publish.device_refusal(starter.spec, name, error) or DockerError(
                f"service '{name}'{replica}: Docker could not create or start its container: {explain(error)}",
                service=name, operation="start", hint=start_hint(error, name, spec, local=engine is None)) from None
    if starter.cancelled.is_set():  # the start was abandoned while this container was being created
        _remove_container(container_name, client)
        raise StartCancelled()
    try:  # a cancel does not wait for a hook (as for a probe's command): the removal of its container ends it
        hooks.post_start(name, spec, container.get_wrapped_container(), starter.cancelled)
    except Abandoned:
        raise StartCancelled() from None
    tcp = {port: host for (port, protocol), host in ports.items() if protocol == "tcp"}
    service = Service(name, spec, container.get_wrapped_container(), tcp, attached,
                      host=starter.topology.host_of(name),
                      no_ports=None if published else starter.spec.no_ports_reason(name), number=number)
    service.topology = starter.topology  # replicas 2..N are not added to it (Topology._add): the first is
    service.udp_ports = {port: host for (port, protocol), host in ports.items() if protocol == "udp"}
    service.sctp_ports = {port: host for (port, protocol), host in ports.items() if protocol == "sctp"}
    return service


def _remove_container(name: str, client: docker.DockerClient) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        client.containers.get(name).remove(force=True, v=True)


def _masked(progress: Progress | None, masker: Masker) -> Progress:
    """`progress` with the topology's secrets hidden (a probe command may carry one: compose interpolation)."""
    report = progress or (lambda event: None)
    return lambda event: report(replace(event, detail=masker(event.detail)) if event.detail else event)


def _done(value: T) -> Future[T]:
    future: Future[T] = Future()
    future.set_result(value)
    return future
