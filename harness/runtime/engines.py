"""A topology across several Docker engines (`engines:` of the topology): a client per engine, checked to be in one
Docker Swarm (the first is its manager), the run's attachable overlay network on the manager, and the removal of a
run from every engine. One engine (no `engines:`) never comes here.

The swarm only joins the networks: each service is a plain container of its engine (not a swarm service), so its
logs, exec, stop/start and published ports are those of one engine. Ports are published in host mode on the
service's engine (the swarm's routing mesh needs ip_vs, which not every kernel has)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import docker
import docker.errors
import requests.exceptions

from harness.engine_source import Engine, context_engine
from harness.errors import DockerError, DockerUnavailable, RemoteMount, TopologyFileError
from harness.model.topology import EngineSpec, TopologySpec
from harness.runtime import labels as L
from harness.runtime.engine import (
    CALL_SECONDS,
    CHECK_SECONDS,
    LOOPBACK,
    _connect_timed_out,
    _reason,
    _timed_out,
    engine_address,
    explain,
    remote_engine,
    resolve_engine,
)
from harness.runtime.images import built_names, prepare_images, substitute
from harness.runtime.swarm import ensure_swarm
from harness.runtime.volumes import create_volumes

if TYPE_CHECKING:
    from harness.runtime.topology import Progress, Topology

GONE_SECONDS = 30
Spawn = Callable[[Callable[[str], dict[str, str]], str], "Future[dict[str, str]]"]  # the start's thread maker

__all__ = ["RunEngine", "connect_engines", "create_overlay", "engine_parts", "file_engines", "kept_network",
           "prepare_everywhere", "published_host", "refuse_binds_on_remote_engines", "refuse_remote_binds",
           "remove_everywhere", "volumes_everywhere"]


@dataclass(frozen=True)
class RunEngine:
    """One engine of a topology across several: `name` (of `engines:`), `address` (DOCKER_HOST form), its
    client, `host` (where this machine reaches its published ports) and `publish_on` (the address of its machine
    ports are published on: loopback for a local engine, every interface of a remote one)."""

    name: str
    address: str
    client: docker.DockerClient
    host: str
    publish_on: str

    @property
    def remote(self) -> bool:
        return self.host not in LOOPBACK

    @property
    def where(self) -> str:
        return f"engine '{self.name}' ({self.address})"


def file_engines(spec: TopologySpec) -> list[Engine]:
    """The engine of each of `spec.engines`, in order, from the file's values alone (no call).

    Raises:
        TopologyFileError: a `host:` that names a Docker context that does not exist here (at its file:line).
    """
    return [_engine(spec, spec_engine) for spec_engine in spec.engines]


def _engine(spec: TopologySpec, engine: EngineSpec) -> Engine:
    """The engine of `engine`'s host. Raises TopologyFileError (the file's line): a Docker context that does not
    exist here, or cannot be read (a value of the file, not the state of an engine)."""
    if "://" in engine.host:
        return Engine(engine.host, f"engines of topology {spec.name}")
    try:
        return context_engine(engine.host, f"engine '{engine.name}' of topology {spec.name}")
    except DockerUnavailable as error:
        index = [e.name for e in spec.engines].index(engine.name)
        raise TopologyFileError(spec.engine_host_at(engine.name), f"engines[{index}].host: {error.message}",
                                hint=error.hint) from None


def connect_engines(spec: TopologySpec, say: Callable[[str], None] | None = None) -> dict[str, RunEngine]:
    """Every engine of `spec.engines`, in order (the first is the manager), each answering within CHECK_SECONDS,
    and all in the manager's swarm (made so first when `spec.swarm` asks: runtime/swarm.py).

    Raises:
        DockerUnavailable: an engine does not answer (the message names it, its address and what to do), an engine
            that is not the swarm's manager or not in its swarm.
        TopologyFileError: a `host:` that names a Docker context that does not exist here (at its file:line).
    """
    engines: dict[str, RunEngine] = {}
    resolved = file_engines(spec)  # the file's values, before any call
    for spec_engine, engine in zip(spec.engines, resolved, strict=True):
        where = f"engine '{spec_engine.name}' ({engine.address})"
        try:
            client = docker.from_env(timeout=CHECK_SECONDS, environment=engine.docker_environment())
            client.ping()
        except (docker.errors.DockerException, OSError, requests.exceptions.RequestException) as exc:
            problem = (f"does not answer: no connection within {CHECK_SECONDS} s (timed out)"
                       if _connect_timed_out(exc)
                       else f"accepted the connection but did not answer within {CHECK_SECONDS} s" if _timed_out(exc)
                       else f"does not answer: {_reason(exc)}")
            raise DockerUnavailable(f"{where} of topology {spec.name} {problem}.",
                                    hint="Start that engine, or fix its address under `engines:` in the topology "
                                         "file.", address=engine.address) from None
        client.api.timeout = CALL_SECONDS
        host = published_host(engine.address)
        engines[spec_engine.name] = RunEngine(spec_engine.name, engine.address, client, host,
                                              "127.0.0.1" if host in LOOPBACK else "0.0.0.0")  # noqa: S104 - remote
    ensure_swarm(spec, list(engines.values()), spec.swarm, say)  # checked, or made on request (runtime/swarm.py)
    return engines


def published_host(address: str) -> str:
    """Where this machine reaches the ports an engine at `address` (DOCKER_HOST form) publishes: the host of a
    tcp/ssh address, else (a socket) 127.0.0.1."""
    parts = urlsplit(address)
    host = parts.hostname if parts.scheme in ("tcp", "ssh", "http", "https") and parts.hostname else None
    return host or "127.0.0.1"


def create_overlay(manager: RunEngine, name: str, run_labels: dict[str, str]) -> list[str]:
    """The run's network: attachable (plain containers join it, on any engine of the swarm), with the run's labels.
    Returns [name].

    Raises:
        DockerError: the manager refused it.
    """
    try:
        manager.client.networks.create(name, driver="overlay", attachable=True, labels=run_labels,
                                       check_duplicate=True)
    except docker.errors.APIError as error:
        raise DockerError(f"could not create the overlay network {name} on {manager.where}: {explain(error)}",
                          operation="create network",
                          hint="Check that the engine is the swarm's manager (`docker node ls` there).") from None
    return [name]


def remove_everywhere(engines: Iterable[RunEngine], run_id: str, again: str = "harness down --topology FILE") -> int:
    """Remove run `run_id` (containers, then networks and volumes) from every engine, the manager last.

    Returns:
        The number of containers removed.

    Raises:
        DockerError: an engine did not answer (what the others ran is removed all the same; what it runs is removed
            by the next start or `again`, the command that removes the rest, once it answers), or one refused.
    """
    removed = 0
    manager, *workers = list(engines)
    gone: list[RunEngine] = []
    kept = False
    for engine in workers:
        try:
            removed += _remove_from_worker(engine.client, run_id)
        except requests.exceptions.ConnectionError:
            gone.append(engine)
    try:
        removed += remove_on_manager(manager.client, run_id, patient=not gone)
        _until_gone(manager.client, run_id, [engine.client for engine in workers if engine not in gone])
    except requests.exceptions.ConnectionError:
        gone.insert(0, manager)
    except docker.errors.APIError as error:
        if not gone:
            raise network_kept(manager.where, run_id, error, again) from None
        kept = True  # the network still has the endpoints of a container on an engine that is gone
    if gone:
        names = ", ".join(engine.where for engine in gone)
        left = _still_listed([engine for engine in [manager, *workers] if engine not in gone], run_id)
        why = (kept_network(", ".join(f"'{engine.name}'" for engine in gone)) if kept else
               "a swarm's network is removed from its engines by the manager only" if gone[0] is manager else "")
        said = (f"; still listed: {'; '.join(left)}" + (f" ({why})" if why else "")) if left else \
            "; the engines that answered list nothing of it"
        raise DockerError(f"run {run_id} could not be removed from {names}: no answer{said}",
                          operation="remove", run=run_id,
                          hint=f"Start {'that engine' if len(gone) == 1 else 'those engines'} again and run `{again}` "
                               "(or the next start): it removes what is left of the run, on every engine.")
    return removed


IN_USE = "is in use by task"  # Docker's words when the swarm lists a task of a container attached to a network
TASK_LISTED = ("the swarm still listed a task of a container attached to it: an engine reports the containers "
               "removed there to the manager a moment later, and one that stopped answering not before it is back")


def remove_on_manager(client: docker.DockerClient, run_id: str, patient: bool) -> int:
    """L.remove_run on the swarm's manager: the number of its containers removed. When `patient` (every engine
    answered), the overlay network is tried again (up to GONE_SECONDS) while the swarm still lists a task of a
    container just removed from a worker (TASK_LISTED; seen after an engine that had gone away answered again).

    Raises:
        docker.errors.APIError: the manager refused, or still listed such a task after GONE_SECONDS.
    """
    label = {"label": f"{L.RUN}={run_id}"}
    containers = len(L.listed(lambda: client.containers.list(all=True, filters=label, sparse=True)))
    deadline = time.monotonic() + GONE_SECONDS
    while True:
        try:
            L.remove_run(client, run_id)
            return containers
        except docker.errors.APIError as error:
            if not patient or IN_USE not in str(error) or time.monotonic() >= deadline:
                raise
        time.sleep(0.5)


def network_kept(where: str, run_id: str, error: docker.errors.APIError, again: str) -> DockerError:
    """The manager `where` (every engine answering) refused to remove run `run_id`'s overlay network, said in words
    with the command that removes what is left (`again`)."""
    return DockerError(f"run {run_id}: {where} did not remove the run's overlay network: {explain(error)}"
                       + (f" ({TASK_LISTED})" if IN_USE in str(error) else ""), operation="remove", run=run_id,
                       hint=f"Run `{again}` again in a minute: it removes what is left of the run.")


def kept_network(gone: str) -> str:
    """Why a swarm manager refuses to remove a run's overlay network after `gone` (engine names) stopped answering,
    in words (Docker says "rpc error: code = FailedPrecondition desc = network ... is in use by task ...")."""
    return (f"the manager keeps the run's overlay network while it lists a container of {gone} attached to it; the "
            "network goes once that engine answers again and the run is removed there")


def _still_listed(engines: Iterable[RunEngine], run_id: str) -> list[str]:
    """What each of `engines` still lists of run `run_id` ("engine 'e1' (...): network NAME, 2 container(s)"); an
    engine that stopped answering meanwhile lists nothing here."""
    label = {"label": f"{L.RUN}={run_id}"}
    found = []
    for engine in engines:
        client = engine.client
        try:
            networks = [network.name for network in L.listed(functools.partial(client.networks.list, filters=label))]
            containers = L.listed(functools.partial(client.containers.list, all=True, filters=label, sparse=True))
        except (docker.errors.APIError, requests.exceptions.ConnectionError):
            continue
        things = [f"network {name}" for name in networks] + ([f"{len(containers)} container(s)"] if containers else [])
        if things:
            found.append(f"{engine.where}: {', '.join(things)}")
    return found


def _until_gone(client: docker.DockerClient, run_id: str, workers: Iterable[docker.DockerClient] = ()) -> None:
    """Wait (up to GONE_SECONDS in all) until the manager, then each of `workers`, no longer lists the run's overlay
    network: the swarm removes it from the cluster at once, from each engine's own list a moment later; a run is
    gone when nothing of it is listed anywhere. A worker that stops answering meanwhile is not waited for."""
    deadline = time.monotonic() + GONE_SECONDS
    label = {"label": f"{L.RUN}={run_id}"}
    for index, engine in enumerate([client, *workers]):
        try:
            while L.listed(functools.partial(engine.networks.list, filters=label)) and time.monotonic() < deadline:
                time.sleep(0.1)
        except requests.exceptions.ConnectionError:
            if index == 0:
                raise


def _remove_from_worker(client: docker.DockerClient, run_id: str) -> int:
    """The run's containers and volumes on a worker; its overlay network is the manager's to remove (a worker
    refuses: "This node is not a swarm manager")."""
    label = {"label": f"{L.RUN}={run_id}"}
    containers = L.listed(lambda: client.containers.list(all=True, filters=label, sparse=True))
    L.remove_containers(containers)
    for volume in L.listed(lambda: client.volumes.list(filters=label)):
        try:
            volume.remove()
        except docker.errors.NotFound:
            pass
    return len(containers)


def engine_parts(topology: Topology) -> list[tuple[docker.DockerClient, TopologySpec]]:
    """(client, the spec with the services its engine runs) per engine; the one engine's: the whole spec."""
    if not topology.engines:
        return [(topology.client, topology.spec)]
    return [(engine.client, part) for engine, part in _parts(topology)]


def _parts(topology: Topology) -> list[tuple[RunEngine, TopologySpec]]:
    """`engine_parts` of a topology across engines, with each RunEngine."""
    parts = []
    for engine in topology.engines.values():
        services = {n: s for n, s in topology.spec.services.items() if topology.spec.engine_of(n) == engine.name}
        if services:
            parts.append((engine, topology.spec.model_copy(update={"services": services})))
    return parts


def prepare_everywhere(topology: Topology, progress: Progress = lambda event: None,
                       spawn: Spawn | None = None) -> tuple[dict[str, str], dict[str, Future[str]]]:
    """`prepare_images` on each engine for its services. Across engines with a builder (this machine's engine,
    transfer.py): the FROM bases there first (the builds need them), then on each engine an `image:` missing there
    copied from the builder before any pull: the engines at once, each in a thread of `spawn` (the start's: its
    failure fails the start), so that the copies go on while the builds run.

    Returns:
        service -> the image to run (for services with `image:` and no `build:`, substitutes applied), and service
        -> a future of it, done once that image is on the service's engine.

    Raises:
        ImageMissing: (here, or from a future of an engine) every image neither there, nor copied, nor pullable.
    """
    builder = topology.builder
    if builder is not None:
        prepare_images(builder, topology.spec.model_copy(update={"services": {
            name: service for name, service in topology.spec.services.items() if service.build}}))
    if not topology.engines:  # a remote engine is named as such (DOCKER_HOST=tcp://...)
        where = f"the remote Docker engine ({resolve_engine().where})" if remote_engine() else ""
        images = prepare_images(topology.client, topology.spec, where=where)
        return images, {name: _done(image) for name, image in images.items()}
    built = built_names(topology.spec)  # an `image:` a build of another engine's service gives is built, not pulled
    subs = topology.spec.image_substitutes
    images = {name: service.image if service.image in built else substitute(service.image, subs)
              for name, service in topology.spec.services.items() if service.build is None and service.image}
    ready: dict[str, Future[str]] = {}
    for engine, part in _parts(topology):
        def prepare(_: str, engine: RunEngine = engine, part: TopologySpec = part) -> dict[str, str]:
            return prepare_images(engine.client, part, source=builder, bases=builder is None, built=built,
                                  where=engine.where, copied=_copy_progress(topology, progress))
        names = [name for name in part.services if name in images]
        if spawn is None or not names:
            prepare("")
            ready.update({name: _done(images[name]) for name in names})
            continue
        copies = spawn(prepare, names[0])
        for name in names:
            ready[name] = Future()
            copies.add_done_callback(functools.partial(_image_ready, ready[name], images[name]))
    return images, ready


def _image_ready(future: Future[str], image: str, copies: Future[dict[str, str]]) -> None:
    """`future` done with `image` once the copies of its engine are (or with their error)."""
    error = copies.exception()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(image)


def _done(value: str) -> Future[str]:
    future: Future[str] = Future()
    future.set_result(value)
    return future


def _copy_progress(topology: Topology, progress: Progress) -> Callable[[str, list[str], float | None], None]:
    """`prepare_images`' `copied` as start events of the first service that needs the image: "copying" when a copy
    begins, "copied" (with its seconds) when it is done."""
    from harness.runtime.topology import StartEvent  # it builds on this module: imported when used

    def copied(image: str, services: list[str], seconds: float | None) -> None:
        service = services[0] if services else image
        engine = topology.spec.engine_of(service) if service in topology.spec.services else None
        where = f"{image} to engine '{engine}'" if engine else image
        progress(StartEvent(service, "copying", detail=where) if seconds is None
                 else StartEvent(service, "copied", seconds, where))
    return copied


def volumes_everywhere(topology: Topology, run_labels: dict[str, str]) -> dict[str, str]:
    """The run's named volumes, on the engine of the services that use them (one: validate.py)."""
    named: dict[str, str] = {}
    for client, part in engine_parts(topology):
        if any(service.volumes for service in part.services.values()):
            named.update(create_volumes(client, part, topology.run_id, run_labels))
    return named


def refuse_binds_on_remote_engines(spec: TopologySpec, engines: dict[str, RunEngine]) -> None:
    """`refuse_remote_binds` for a topology across engines: a bind mount of a service on a remote engine."""
    binds = [(name, m) for name, service in spec.services.items() for m in service.mounts
             if not m.copied and engines[str(spec.engine_of(name))].remote]
    if binds:
        listed = ", ".join(f"service '{name}' on {engines[str(spec.engine_of(name))].where}: {m.source} -> "
                           f"{m.target}" for name, m in binds)
        raise RemoteMount(
            f"topology {spec.name}: a bind mount would name a path on its engine's machine, not on this one: {listed}",
            hint="Declare each as a copy in the topology file, uploaded before the service starts: "
                 "`mounts: [{source: ..., target: ..., copy: true}]`; or place the service on a local engine.",
            services=sorted({name for name, _ in binds}), engine=engines[str(spec.engine_of(binds[0][0]))].address)


def refuse_remote_binds(spec: TopologySpec) -> None:
    """A bind mount names a path on the engine's machine: with a remote engine, it is refused before anything starts
    unless it is declared a copy (`copy: true`)."""
    engine = remote_engine()
    if engine is None:
        return
    binds = [(name, m) for name, service in spec.services.items() for m in service.mounts if not m.copied]
    if binds:
        listed = ", ".join(f"service '{name}': {m.source} -> {m.target}" for name, m in binds)
        raise RemoteMount(
            f"topology {spec.name}: the Docker engine is remote ({resolve_engine().where}), and a bind "
            f"mount would name a path on its machine ({engine}), not on this one: {listed}",
            hint="Declare each as a copy in the topology file, uploaded before the service starts: "
                 "`mounts: [{source: ..., target: ..., copy: true}]`; or use a local engine.",
            services=sorted({name for name, _ in binds}), engine=engine_address())
