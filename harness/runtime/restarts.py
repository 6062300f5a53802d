"""What starting a service's container again takes with it. The containers in its network namespace
(`network_mode: service:NAME`) are restarted: that namespace went away with its stop, the start made a new one, and
Docker cannot move a running container into it (they would answer nothing on 127.0.0.1 but themselves). A restart
also restarts what `docker compose restart NAME` restarts: the services whose `depends_on` names it with
`restart: true`, in dependency order."""

from __future__ import annotations

import re
from contextlib import suppress
from typing import TYPE_CHECKING

import docker.errors

from harness.model.plan import in_namespace_of, restarted_with
from harness.runtime import control, hooks
from harness.runtime import labels as L

if TYPE_CHECKING:
    from harness.runtime.service import Service
    from harness.runtime.topology import Topology

# the states of a container still in the namespace it joined (one stopped joins the new one when it starts)
IN_OLD_NAMESPACE = ("running", "paused", "restarting")


def start(service: Service, wait: bool) -> list[Service]:
    """`Service.start`: start it, then restart the containers still in its old network namespace (and theirs).

    Returns:
        The replicas restarted with it, in the order restarted.
    """
    __tracebackhide__ = True
    control.start(service, wait)
    return _restart_joined(service, wait)


def restart(service: Service, wait: bool) -> list[Service]:
    """`Service.restart`: stop and start it, then each service `restarted_with` it (every replica), as `docker compose
    restart`: a stopped one is started too.

    Returns:
        The replicas restarted with it, in the order restarted.
    """
    __tracebackhide__ = True
    control.stop(service, 0)
    control.start(service, wait)
    topology = service.topology
    if topology is None:
        return []
    restarted = []
    for name in restarted_with(topology.spec, service.name):
        for replica in topology.services[name].replicas if name in topology.services else []:  # 0 replicas: none
            control.stop(replica, 0)
            control.start(replica, wait)
            restarted.append(replica)
    return restarted


def _restart_joined(service: Service, wait: bool) -> list[Service]:
    """Restart the containers that joined `service`'s namespace and are still in the old one (`IN_OLD_NAMESPACE`);
    Compose joins a service's first container, so only replica 1 has any."""
    __tracebackhide__ = True
    topology = service.topology
    if topology is None or service.number != 1:
        return []
    restarted = []
    for name in in_namespace_of(topology.spec, service.name):
        for replica in topology.services[name].replicas if name in topology.services else []:
            if replica.status in IN_OLD_NAMESPACE:  # part of a start: no disturbance of its own
                control.stop(replica, 0, disturbs=False)
                restarted += [replica, *start(replica, wait)]
    return restarted


def unfinished_hooks(topology: Topology) -> list[str]:
    """Restart each running replica of `topology` whose post_start hooks began and never completed (the process
    running them ended first: Ctrl-C or SIGTERM during a `restart()`, `start()` or restore, a killed session), so
    that they run again, as at any start (the abandoned one ends with its container's stop); the marks of hooks
    another live process runs now are left. One line each, saying so.

    Raises:
        HookFailed: a hook failed again. ServiceExited, ServiceNotReady, DockerError: as `Service.start`.
    """
    __tracebackhide__ = True
    notes = []
    for client in [engine.client for engine in topology.engines.values()] or [topology.client]:
        for mark in hooks.unfinished(client, topology.run_id):
            labels = mark.attrs.get("Labels") or {}
            runner = labels.get(L.POST_START, "")
            if L.owner_gone(runner) is False:  # running them now: not unfinished
                continue
            service = next((replica for replica in topology.services[labels.get(L.SERVICE, "")].replicas
                            if replica.container.id == labels.get(L.CONTAINER)), None) \
                if labels.get(L.SERVICE) in topology.services else None
            if service is None:  # its container was replaced or removed since: the mark is of nothing now
                with suppress(docker.errors.NotFound):
                    mark.remove()
            elif service.status in IN_OLD_NAMESPACE:  # one stopped runs them when it is started (restore)
                control.stop(service, 0)
                joined = start(service, wait=True)
                notes.append(f"{service.shown}: its post_start hook did not complete (the session running it, "
                             f"{L.owner_process(runner)}, ended first): restarted it, and its hooks ran again"
                             + (f"; restarted {', '.join(r.shown for r in joined)} in its network namespace"
                                if joined else ""))
    return notes


def left_behind(service: Service) -> tuple[Service, str] | None:
    """The service whose namespace `service` joined (`network_mode`, `ipc` or `pid` `service:X`: X's replica 1), and
    that key, if `service` is still in an old one of it: X's container was started again after it (by a session that
    ended before putting it back, by its restart policy, ...). None otherwise, or when it joins no service of the
    run. (A `pid` joiner never is: the kernel ends every process of a pid namespace whose first one ends; it is
    found exited.)"""
    topology = service.topology
    if topology is None:
        return None
    for key, name in service.spec.namespace_owners.items():
        owner = topology.services.get(name)
        if owner is None:
            continue
        try:
            service.container.reload()
            owner.container.reload()
        except docker.errors.NotFound:  # gone: restore says so
            return None
        if service.container.status not in IN_OLD_NAMESPACE or owner.container.status != "running":
            continue
        # Docker lets a container join only a running one: one in the namespace of now started after it
        if _started(service) < _started(owner):
            return owner, key
    return None


def killed_with(service: Service) -> Service | None:
    """The service whose pid namespace `service` joined (`pid: service:X`: X's replica 1) if `service` ended before X
    last started (with X's stop, which ends every process of that namespace): None otherwise."""
    topology, name = service.topology, service.spec.namespace_owners.get("pid", "")
    owner = topology.services.get(name) if topology is not None else None
    if owner is None:
        return None
    try:
        service.container.reload()
        owner.container.reload()
    except docker.errors.NotFound:
        return None
    return owner if _started(service, "FinishedAt") <= _started(owner) else None


def _started(service: Service, moment: str = "StartedAt") -> str:
    """When its container last started (Docker's StartedAt, UTC; or `moment`, e.g. FinishedAt), comparable as text:
    nanoseconds padded (Docker drops trailing zeros)."""
    text = str((service.container.attrs.get("State") or {}).get(moment) or "")
    whole, _, fraction = text.rstrip("Z").partition(".")
    return f"{whole}.{re.sub(r'[^0-9]', '', fraction):0<9}"
