"""A kept run's service whose replica count alone changed, scaled as `docker compose up` scales it: the running
replicas kept, those beyond the count added (starter.py) or the highest-numbered removed (here)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import docker.errors
from docker.models.containers import Container

from harness.model.topology import TopologySpec
from harness.runtime import hooks
from harness.runtime import labels as L
from harness.runtime.hooks import grace
from harness.runtime.topology import Topology
from harness.runtime.volumes import anonymous_volume


def surplus_of(spec: TopologySpec, run: L.Run, scaled: dict[str, int]) -> list[Container]:
    """The containers of `run` a scale down removes: of each service of `scaled` (-> its count in the run), those
    beyond its count in the file, highest replica numbers first, as `docker compose up` picks them."""
    surplus = []
    for name, count in scaled.items():
        replicas = sorted((c for c in run.containers if L.labels_of(c).get(L.SERVICE) == name), key=L.replica_of,
                          reverse=True)
        surplus += replicas[:max(0, count - spec.services[name].replicas)]
    return surplus


def pre_stop_surplus(spec: TopologySpec, run: L.Run, surplus: list[Container], say: Callable[[str], None]) -> None:
    """The pre_stop hooks of the replicas a scale down removes, as Compose runs them when it stops one; before the
    run is touched.

    Raises:
        HookFailed: a hook failed (the run is left as it was, as `docker compose up` leaves that replica running).
    """
    failures = hooks.pre_stop_all([(name, spec.services[name], c) for c in surplus
                                   if (name := L.labels_of(c).get(L.SERVICE, "")) in spec.services])
    if failures:
        say(f"a pre_stop hook of a replica that the update of topology {spec.name} (run {run.run_id}) removes "
            "failed: the run is left as it was, as `docker compose up` leaves a replica whose hook failed running")
        raise hooks.combined(failures)


def remove_replicas(topology: Topology, containers: list[Container], graceful: bool = True) -> None:
    """Stop (within their stop_grace_period, as Compose stops what it removes; not `graceful`: at once, a failed
    update's own) and remove the replica `containers`, with their anonymous volumes: a replica of that number added
    later starts with empty ones, as under Compose (which leaves the old ones unused on the engine)."""
    spec = topology.spec

    def one(container: Container) -> None:
        name = L.labels_of(container).get(L.SERVICE, "")
        wait = int(grace(spec.services[name])) if graceful and name in spec.services else 0
        with suppress(docker.errors.APIError):  # stopped or gone already
            container.stop(timeout=wait)

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(containers)))) as pool:
        list(pool.map(one, containers))
    L.remove_containers(containers)  # with what Docker made for the image's VOLUMEs
    for container in containers:
        name, number = L.labels_of(container).get(L.SERVICE, ""), L.replica_of(container)
        if name in spec.services:
            L.remove_unused_volumes(topology.client_of(name), [
                anonymous_volume(spec, name, number, index, topology.run_id)
                for index, volume in enumerate(spec.services[name].volumes) if not volume.source])
