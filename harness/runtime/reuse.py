"""Kept runs and runs other sessions share: use one as it is when its file has not changed (its signatures), update
it as `docker compose up` does when it has (only the services whose containers changed are replaced; undone if that
fails), finish one whose start did not finish, or start a new one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress

import docker
import docker.errors
from docker.models.containers import Container

from harness.errors import HarnessError, HookFailed
from harness.model.plan import joined_to, restarted_by, restarted_in_namespace
from harness.model.service import run_network
from harness.model.topology import TopologySpec, down_hint
from harness.runtime import labels as L
from harness.runtime import restarts
from harness.runtime.containers import MountRef
from harness.runtime.engine import connect, explain
from harness.runtime.engine_check import refuse_unmet
from harness.runtime.engine_runs import remove_run_anywhere, runs_across
from harness.runtime.engines import RunEngine, connect_engines
from harness.runtime.interrupts import InterruptsDeferred
from harness.runtime.keptrun import build_or_say, clients_of, rebuilt
from harness.runtime.runlocks import closed_on_error, deciding, using_kept_run
from harness.runtime.scaling import pre_stop_surplus, remove_replicas, surplus_of
from harness.runtime.service import Service
from harness.runtime.signature import RunDifference, run_difference
from harness.runtime.starter import Starter, run_start
from harness.runtime.topology import Progress, Topology
from harness.runtime.transfer import local_builder
from harness.runtime.update_lines import say_update


@contextmanager
def reused_or_started(spec: TopologySpec, progress: Progress | None,
                      say: Callable[[str], None]) -> Iterator[Topology]:
    """See `Topology.reused_or_started`."""
    spec.refuse_start()  # as Compose's `up`, also when a kept run would be used as it is
    client, engines = _connected(spec, say)
    found: Topology | None = None
    using = using_kept_run(spec, say)  # held while this block uses a kept run: one session at a time
    with closed_on_error(using), deciding(spec, say):
        run = _newest_run(client, spec, engines)
        difference = _difference(client, spec, run, engines) if run is not None else None
        if run is not None and difference is not None and run.kept:
            difference = rebuilt(spec, client, run, engines, difference, progress, say,
                                 lambda: _difference(client, spec, run, engines))
        changes = difference.lines() if difference is not None else []
        if run is not None and not changes:
            say(f"using the running topology {spec.name} (run {run.run_id})")
            _say_orphans(difference, say, spec)
            found = Topology(spec, client, run.run_id, keep=True, containers=run.containers, engines=engines)
            for note in restarts.unfinished_hooks(found):
                say(note)
        elif (run is not None and difference is not None and networks_updatable(spec, difference) and run.kept
              and L.started_fully(client, run.run_id)):
            found = update(spec, client, run, difference, progress, say, engines)  # only what changed is replaced
        elif run is not None:
            say(f"the running topology {spec.name} (run {run.run_id}) {differs(spec)} ({'; '.join(changes)}): "
                + ("restarting it" if run.kept else "starting a new one beside it"))
            if run.kept:
                remove_run_anywhere(client, run)
                found = Topology.start(spec, progress=progress, keep=True)
                say(f"restarted topology {spec.name} (run {found.run_id}); it stays running")
        else:
            say(f"starting topology {spec.name} from {spec.identity} (`harness up --detach` first to reuse one)")
    if found is not None:
        with using:
            yield found
        return
    using.close()  # a run of this block's own: nobody else's to wait for
    with _own_run(spec, progress, say) as topology:
        yield topology


@contextmanager
def _own_run(spec: TopologySpec, progress: Progress | None, say: Callable[[str], None]) -> Iterator[Topology]:
    """A run started for the block and removed at its end."""
    topology = Topology.start(spec, progress=progress)
    try:
        yield topology
    finally:
        try:
            topology.close()
        except HookFailed as failed:  # removed anyway: said, the block's own verdict (verify, fuzz) stands
            say(f"note: topology {spec.name} was removed, but a pre_stop hook failed: {failed}")


def attach(spec: TopologySpec, say: Callable[[str], None]) -> Topology | None:
    """See `Topology.attach`."""
    client, engines = _connected(spec, say)
    run = _newest_run(client, spec, engines)
    if run is None:
        return None
    difference = _difference(client, spec, run, engines)
    changes = difference.lines()
    if changes:
        say(f"the running topology {spec.name} (run {run.run_id}) {differs(spec)}: {'; '.join(changes)}")
        return None
    _say_orphans(difference, say, spec)
    return Topology(spec, client, run.run_id, keep=True, containers=run.containers, engines=engines)


def attach_run(spec: TopologySpec, run_id: str) -> Topology | None:
    """See `Topology.attach_run`: across engines, its containers on every engine (pytest-xdist's workers attach to
    the run another one started)."""
    client, engines = _connected(spec)
    runs = runs_across(engines, spec.identity) if engines else L.list_runs(client, spec.identity)
    run = next((run for run in runs if run.run_id == run_id and run.containers), None)
    return None if run is None else Topology(spec, client, run.run_id, keep=True, containers=run.containers,
                                             engines=engines)


def _say_orphans(difference: RunDifference | None, say: Callable[[str], None], spec: TopologySpec) -> None:
    """What Compose warns of when it uses a project as it is: orphan containers, volumes that differ from the file."""
    if difference is not None and (orphans := difference.orphans()):
        say(orphans)
    if difference is not None and (volumes := difference.kept_volumes(_down_files(spec))):
        say(volumes)


def differs(spec: TopologySpec) -> str:
    """Why a run is not used as it is: what `spec`'s file gives now is not what it was started from (the file, or a
    variable it takes from the environment or `.env`: the lines that follow name the settings)."""
    return (f"differs from what {spec.identity} gives now (the file, or a variable it takes from the environment or "
            ".env)")


def _down_files(spec: TopologySpec) -> str:
    """`harness down --topology FILE...` of `spec`'s runs, with what selects the engine (harness.hints)."""
    return down_hint(spec)


def kept_or_started(spec: TopologySpec, progress: Progress | None, say: Callable[[str], None], owner: str | None,
                    held: bool) -> Topology:
    """See `Topology.kept_or_started`."""
    spec.refuse_start()  # as Compose's `up -d`, also when the kept run is used as it is
    client, engines = _connected(spec, say)
    # no session uses it while this one decides (the same order of the two locks everywhere: no deadlock)
    with nullcontext() if held else using_kept_run(spec, say), deciding(spec, say):
        kept = [run for run in _live_runs(client, spec, engines) if run.topology == spec.name and run.kept]
        if kept:
            difference = rebuilt(spec, client, kept[0], engines, _difference(client, spec, kept[0], engines),
                                 progress, say, lambda: _difference(client, spec, kept[0], engines))
            changes = difference.lines()
            started = L.started_fully(client, kept[0].run_id)
            if not changes:
                say(f"reusing the running topology {spec.name} (run {kept[0].run_id})")
                _say_orphans(difference, say, spec)
                topology = Topology(spec, client, kept[0].run_id, keep=True, containers=kept[0].containers,
                                    engines=engines)
                topology.reused = True
                for note in restarts.unfinished_hooks(topology):
                    say(note)
                unready = None if started else _finish_start(topology, say)
                if unready is None:
                    return topology
                say(f"the kept topology {spec.name} (run {kept[0].run_id}) is not ready ({unready}): "
                    "restarting it")
            elif started and len(kept) == 1 and networks_updatable(spec, difference):  # as `docker compose up`:
                # only what changed is replaced; a changed network is made again, its containers restarted on it
                return update(spec, client, kept[0], difference, progress, say, engines)
            elif all(c.startswith("not running:") for c in changes) and not started:
                say(f"the kept topology {spec.name} (run {kept[0].run_id}) did not finish its start (the "
                    f"session that started it ended first; {'; '.join(changes)}): restarting it")
            else:
                say(f"the kept topology {spec.name} (run {kept[0].run_id}) {differs(spec)} ({'; '.join(changes)}): "
                    "restarting it")
            for run in kept:
                remove_run_anywhere(client, run)
        else:
            say(f"starting topology {spec.name} from {spec.identity}; once ready, it stays running for the next "
                "session (a failed start removes what it made)")
        return Topology.start(spec, progress=progress, keep=True, owner=owner)


def update(spec: TopologySpec, client: docker.DockerClient, run: L.Run, difference: RunDifference,
           progress: Progress | None, say: Callable[[str], None],
           engines: dict[str, RunEngine] | None = None) -> Topology:
    """The kept run `run`, updated to `spec` as `docker compose up` updates a project: the containers of the
    services that changed are replaced (their named volumes kept), and those whose `network_mode` or `volumes_from`
    names one of them recreated after it; a service whose replica count alone changed gets the replicas beyond it
    added or its highest-numbered removed (its others kept); services new in the file are started, those no longer
    in it left running (orphans, as Compose leaves them); every other container is kept as it is, with its data (also
    one that depends on a replaced service: Docker Compose does not replace dependents either; one whose
    `restart_on_replace` names a replaced service is stopped first and started again once that is ready). The run
    keeps its id and labels.

    Raises:
        As `Topology.start`; what the update started is removed then, and the rest of the run is left as it was (with
        its data), still kept and marked as started. Across engines (`engines`, `client` the manager's), each service
    is built and started on its engine; a service placed on another engine is replaced there.
    """
    engines = engines or {}
    for engine_client, services in clients_of(spec, client, engines):  # before a build or a container is touched
        refuse_unmet(spec, engine_client.api.api_version, services=services)
    builder = local_builder() if engines else None  # across engines: it builds, the start copies (transfer.py)
    images = [n for n, what in difference.changed.items() if what == ["image"] and spec.services[n].build]
    why = (f": the image{'s' if len(images) > 1 else ''} built for {', '.join(images)} changed (its build context)"
           if len(images) == len(difference.changed) and not difference.added and not difference.networks
           else f" {differs(spec)}")
    say(f"the kept topology {spec.name} (run {run.run_id}){why}: updating it as `docker compose up` does (only a "
        "service whose container changed is replaced)")
    scaled = difference.scaled  # only their count changed: kept, as Compose keeps them; the replicas beyond the
    changed = [n for n in difference.changed if n not in scaled]  # count added or removed, nothing replaced
    build_or_say(spec, client, run, engines, changed, progress, say, builder)
    # recreated after the one whose namespace or volumes it joins, when that one's container is new (also one that
    # was missing: removed outside the harness), as Compose recreates them
    joined = joined_to(spec, [*changed, *difference.added])
    replaced = {*changed, *joined}
    remade = [n for n in difference.networks if n in spec.networks]  # changed, or new in the file
    restarting = [*restarted_by(spec, replaced),
                  *(name for name in on_networks(spec, remade, run) if name not in replaced)]
    restarting = list(dict.fromkeys(restarting))
    # those in the namespace of one restarted are restarted with it (restarts.py): said, not started again here
    with_them = [*restarted_in_namespace(spec, restarting, replaced)]
    say_update(spec, difference, say, on_networks(spec, remade, run))
    surplus = surplus_of(spec, run, scaled)
    pre_stop_surplus(spec, run, surplus, say)  # as Compose stops a replica it removes; one that fails: nothing changed
    zero = L.zero_replicas(client, run.run_id)  # its services of 0 replicas, marked again if the update fails
    L.unmark_started(client, run.run_id)  # until it is whole again: a session killed meanwhile leaves it unfinished
    labels = L.run_labels_of(run.containers[0])
    before = {c.id for c in run.containers}  # a failed update removes the replicas it added to a scaled service
    topology = Topology(spec, client, run.run_id, keep=True, engines=engines,
                        containers=[c for c in run.containers
                                    if L.labels_of(c).get(L.SERVICE) not in replaced and c not in surplus])
    topology.builder = builder
    for name in restarting:  # stopped before its dependency or network is replaced, started once that is ready
        for replica in topology[name].replicas if name in topology else []:  # (as Compose; pre_stop hooks run)
            if replica.status == "running":
                replica.stop()
    remove_replicas(topology, surplus)  # the highest-numbered beyond the count, as Compose scales down
    replacing = [c for c in run.containers if L.labels_of(c).get(L.SERVICE) in replaced]
    inherited = _anonymous_volumes(replacing)
    L.remove_containers(replacing, volumes=False)  # their anonymous volumes go to the new containers
    # as Compose: a network whose definition changed is removed (its kept containers disconnected first) and made
    # again by the start below, which connects them again before they start; one no longer in the file is removed
    _remove_networks(topology, run, [n for n in difference.networks if n not in spec.networks or n in remade])
    kept = set(topology.services)
    holding = list(dict.fromkeys(name for (name, _), volumes in inherited.items() if volumes))
    adding = {name: spec.services[name].replicas for name, count in scaled.items()
              if name in kept and spec.services[name].replicas > count}
    try:
        run_start(Starter(topology, labels, progress, kept=dict(topology.services), restarting=set(restarting),
                          inherited=inherited, scaling=adding),
                  undo=lambda: undo_update(topology, labels, kept, holding, zero, before))
    except BaseException:
        gone = [n for n in spec.services if n in replaced and spec.services[n].replicas]
        say(f"the update of topology {spec.name} (run {run.run_id}) did not finish: what it started was "
            f"removed; {', '.join(sorted(kept)) or 'nothing'} left as it was, with its data"
            + (f"; {', '.join(gone)}: the old container(s) were replaced, so none runs now" if gone else "")
            + f" (the run stays kept: fix the file and start again, or remove it: {_down_files(spec)})")
        raise
    finally:  # those the new containers did not take (the image has that VOLUME no more; a failed start)
        L.remove_unused_volumes(client, [m.source for mounts in inherited.values() for m in mounts])
    topology.reused = True
    done = [f"updated network(s) {', '.join(difference.networks)}"] if difference.networks else []
    done += [f"replaced {', '.join(changed)}"] if changed else []
    done += [f"scaled {name} from {count} to {spec.services[name].replicas} replica"
             + ("" if spec.services[name].replicas == 1 else "s") for name, count in scaled.items()]
    done += [f"recreated {', '.join(joined)}"] if joined else []
    done += [f"restarted {', '.join([*restarting, *with_them])}"] if restarting else []
    done += [f"started {', '.join(difference.added)}"] if difference.added else []
    done += [f"left {', '.join(difference.removed)} running (no longer in the file)"] if difference.removed else []
    say(f"updated topology {spec.name} (run {run.run_id}): {'; '.join(done)}; it stays running")
    return topology


def undo_update(topology: Topology, run_labels: dict[str, str], kept: Collection[str],
                holding: Collection[str], zero: Collection[str] = (), before: Collection[str] = ()) -> None:
    """After a failed update: remove the containers the update made (the services it did not keep, and the
    replicas it added to a kept one: not among the container ids `before`), but stop those of `holding` instead
    (they took the anonymous volumes, e.g. a database's data, of the containers they replace: removed with the run,
    or taken over by the next update); then mark the run as started again, so that the next session updates it
    again instead of replacing it whole."""
    with InterruptsDeferred():
        listed = [c for client in [e.client for e in topology.engines.values()] or [topology.client]
                  for c in _containers(client, topology.run_id)]
        made = [c for c in listed if L.labels_of(c).get(L.SERVICE) not in kept]
        added = [c for c in listed if L.labels_of(c).get(L.SERVICE) in kept and before and c.id not in before]
        L.remove_containers([c for c in made if L.labels_of(c).get(L.SERVICE) not in holding])
        remove_replicas(topology, added, graceful=False)
        for service in (topology.services[n] for n in kept if n in topology.services):
            service.others = [r for r in service.others if not before or r.container.id in before]
        for container in [c for c in made if L.labels_of(c).get(L.SERVICE) in holding]:
            with suppress(docker.errors.APIError):  # stopped or gone already
                container.stop(timeout=0)
        for name in [n for n in topology.services if n not in kept]:
            topology.services.pop(name, None)
        L.mark_started(topology.client, run_labels, zero)


def _containers(client: docker.DockerClient, run_id: str) -> list[Container]:
    return L.listed(lambda: client.containers.list(all=True, filters={"label": f"{L.RUN}={run_id}"}))


def _finish_start(topology: Topology, say: Callable[[str], None]) -> str | None:
    """A kept run whose start did not finish (its session ended first): wait for each running service with a
    probe, as its start would have (its `timeout`). What `restore` starts again waits for itself. Returns None
    when every one is ready (the run is then marked as started), else why not (the first error's first line)."""
    say(f"topology {topology.spec.name} (run {topology.run_id}) has no mark that its start finished (the session "
        "that started it ended while starting it, or an older harness started it): waiting for its services to "
        "be ready")
    waiting = [replica for service in topology for replica in service.replicas
               if replica.probe is not None and not replica.spec.job and replica.status == "running"]
    with ThreadPoolExecutor(max_workers=max(1, len(waiting))) as pool:
        unready = next((why for why in pool.map(_ready_or_why, waiting) if why is not None), None)
    if unready is not None:
        return topology.masker(unready)  # a probe command may carry a secret
    L.mark_started(topology.client, L.run_labels_of(next(iter(topology)).container),
                   [n for n, s in topology.spec.services.items() if not s.replicas])
    return None


def _ready_or_why(service: Service) -> str | None:
    try:
        service.wait_ready(time.monotonic())
    except HarnessError as error:
        return str(error).splitlines()[0]
    except docker.errors.APIError as error:
        return f"service '{service.name}': the Docker engine refused: {explain(error)}"
    return None


def _anonymous_volumes(containers: list[Container]) -> dict[tuple[str, int], list[MountRef]]:
    """(service, replica) -> the volumes Docker made for the VOLUMEs of its container's image (`containers` as
    listed): the replacing replica of the same number takes them, as under Compose."""
    found: dict[tuple[str, int], list[MountRef]] = {}
    for container in containers:
        for mount in container.attrs.get("Mounts") or []:
            if mount.get("Type") == "volume" and L.ANONYMOUS_VOLUME.fullmatch(mount.get("Name") or ""):
                found.setdefault((L.labels_of(container)[L.SERVICE], L.replica_of(container)), []).append(
                    MountRef("volume", mount["Name"], mount["Destination"], not mount.get("RW", True)))
    return found


def _newest_run(client: docker.DockerClient, spec: TopologySpec, engines: dict[str, RunEngine]) -> L.Run | None:
    """The newest live run of `spec`'s topology (same resolved file and same name) that other sessions may use: one
    of `harness up` or a kept one, never another session's own (a pytest run stops services and removes it)."""
    runs = [run for run in _live_runs(client, spec, engines) if run.topology == spec.name and run.shared]
    return runs[0] if runs else None


def _connected(spec: TopologySpec, say: Callable[[str], None] | None = None,
               ) -> tuple[docker.DockerClient, dict[str, RunEngine]]:
    """The engine's client and no engines; across engines: the manager's client and every engine (in its swarm;
    `say` says a swarm made or joined for it)."""
    if not spec.engines:
        return connect(), {}
    engines = connect_engines(spec, (lambda text: say(f"note: {text}")) if say is not None else None)  # as a start's
    return next(iter(engines.values())).client, engines


def _live_runs(client: docker.DockerClient, spec: TopologySpec, engines: dict[str, RunEngine]) -> list[L.Run]:
    """`labels.find_runs` of `spec`'s file; across engines, each run with its containers on every engine."""
    if not engines:
        return L.find_runs(client, spec.identity)
    return [run for run in runs_across(engines, spec.identity) if run.containers and (run.kept or run.owner_alive)]


def _difference(client: docker.DockerClient, spec: TopologySpec, run: L.Run,
                engines: dict[str, RunEngine]) -> RunDifference:
    return run_difference(client, spec, run, {name: engine.client for name, engine in engines.items()},
                          local_builder() if engines else None)


def networks_updatable(spec: TopologySpec, difference: RunDifference) -> bool:
    """Whether an update can follow `difference`'s network changes as Compose does (the networks the run made, or
    makes now): not when one of them is external in the file now, nor when the engines changed (the run is then
    replaced whole)."""
    return not difference.engines and not any(spec.networks[name].external for name in difference.networks
                                              if name in spec.networks)


def on_networks(spec: TopologySpec, networks: Collection[str], run: L.Run) -> list[str]:
    """The services of `run` attached to any of `networks` (file order): kept, they are restarted on them."""
    running = {L.labels_of(c).get(L.SERVICE) for c in run.containers}
    return [name for name in spec.services if name in running and any(network in _networks_of(spec, name)
                                                                       for network in networks)]


def _networks_of(spec: TopologySpec, name: str) -> Collection[str]:
    """The run's networks service `name` is on: its `networks:`, or the one its network_mode names (none for host,
    none, another container's namespace or a network outside the run)."""
    own = spec.services[name]
    if own.network_mode:
        network = run_network(own, spec.networks or {"default": None})
        return [network] if network else []
    return spec.service_networks(name)


def _remove_networks(topology: Topology, run: L.Run, names: Collection[str]) -> None:
    """Remove the run's networks `names` (names in the file), disconnecting the kept containers still on them."""
    for network in run.networks:
        if L.labels_of(network).get(L.NETWORK) not in names:
            continue
        for container in run.containers:  # the kept ones, and the orphans (services no longer in the file)
            with suppress(docker.errors.APIError):  # not on it, or removed (replaced)
                topology.client.api.disconnect_container_from_network(container.id, network.id, force=True)
        with suppress(docker.errors.NotFound):
            topology.client.api.remove_network(network.id)
