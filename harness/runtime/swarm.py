"""The Docker Swarm that joins a topology's engines (issue #27): checked, or made on request (`--topology-swarm`).

- `existing` (the default): the first engine must manage a swarm and every other be a node of it.
- `join`: when none of the engines is in a swarm, one is made: `swarm init` on the first, `swarm join` (as a worker)
  on the others; the swarm stays for the next runs, and an engine added later is joined to it (the harness made it).
- `join-and-leave`: the same, and a swarm the harness made (`init`) is left by its engines once the last run across
  them is removed (by `close()`, `harness down`, or the next start after a SIGKILL).

A swarm the harness did not make is never left or changed (no engine is joined to it: joining adds a node to it),
and an engine in another swarm is refused before anything is done: the swarm a harness made carries the label MADE
("keep" or "leave"). What joining made on an engine goes with the swarm it leaves: the `ingress` network (Docker
removes it, at times after `swarm leave` returned: the harness waits for that), and `docker_gwbridge` (Docker keeps
it: the harness removes it when it was not there before the engine joined, a label of its node says so, and nothing
uses it)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
import requests.exceptions

from harness.errors import DockerUnavailable
from harness.runtime import labels as L
from harness.runtime.engine import explain

if TYPE_CHECKING:
    from harness.model.topology import TopologySpec
    from harness.runtime.engines import RunEngine

MODES = ("existing", "join", "join-and-leave")
MADE = f"{L.PREFIX}.swarm"  # of a swarm the harness made: "leave" (with its last run) or "keep"
PORT = 2377  # the swarm's control port (Docker's default)
GWBRIDGE = "docker_gwbridge"  # the bridge a node of a swarm makes (once it has an overlay sandbox), kept by a leave
MADE_GWBRIDGE = f"{L.PREFIX}.gwbridge"  # on a node of a swarm made to be left: its GWBRIDGE came with the swarm
JOINED = f"{L.PREFIX}.engine"  # on a node the harness joined to a swarm made to be left: its engine's address
SETTLE_SECONDS = 30  # the most a leave waits for an engine that joined a moment ago to finish setting up (~3 s)
# the most waited after a leave for Docker to remove `ingress`: `swarm leave` waits 5 s for that and returns, the
# removal going on (moby's DaemonLeavesCluster); GWBRIDGE cannot be removed before (ingress' sandbox is on it)
RELEASE_SECONDS = 60

__all__ = ["GWBRIDGE", "JOINED", "MADE", "MADE_GWBRIDGE", "MODES", "ensure_swarm", "leave_made_swarm"]


def _swarm(client: docker.DockerClient) -> dict[str, Any]:
    return dict(client.info().get("Swarm") or {})


def ensure_swarm(spec: TopologySpec, engines: Sequence[RunEngine], mode: str,
                 say: Callable[[str], None] | None = None) -> None:
    """Check that `engines` form one swarm whose manager is the first; with `mode` join or join-and-leave, make
    those in no swarm part of it first (everything is checked before anything is changed), and `say` one line
    about it (as `harness down` says a swarm left).

    Raises:
        DockerUnavailable: an engine that is not in the swarm (mode existing: the message names the option that
            joins it), one in another swarm or not its manager (never changed), or one that refused to init or join
            (what this call made is undone).
    """
    manager, *others = engines
    joining = mode in ("join", "join-and-leave")
    option = "--topology-swarm join (or join-and-leave)"
    state = _swarm(manager.client)
    managed = state.get("LocalNodeState") == "active" and bool(state.get("ControlAvailable"))
    local = state.get("LocalNodeState") or "inactive"
    if not managed and (local != "inactive" or not joining):
        hint = {"inactive": f"Let the harness make the swarm ({option}), or make it one (`docker -H {manager.address} "
                            "swarm init --advertise-addr ADDRESS`) and join the others (`docker swarm join-token "
                            "worker` says how), or put a manager first under `engines:`.",
                "active": "It is a worker of a swarm, which the harness does not change: put that swarm's manager "
                          "first under `engines:`."}
        raise DockerUnavailable(
            f"{manager.where}, the first of topology {spec.name}'s engines, is not a Docker Swarm manager (swarm: "
            f"{local}); its overlay network joins the engines.",
            hint=hint.get(local, f"Its swarm is {local}, which the harness does not change: fix it there (`docker -H "
                                 f"{manager.address} info`), or put a manager first under `engines:`."),
            address=manager.address)
    nodes = {node.id for node in manager.client.nodes.list()} if managed else set()
    to_join = []
    for engine in others:
        node = _swarm(engine.client)
        if node.get("NodeID") and node.get("NodeID") in nodes:
            continue
        where = f"{engine.where} of topology {spec.name}"
        if node.get("LocalNodeState") == "inactive" and joining and managed and _made(manager.client) is None:
            raise DockerUnavailable(  # joining a node to a swarm changes it: only the harness's own are joined
                f"{where} is in no swarm, and that of {manager.where} (swarm {_swarm_id(manager.client)}) was not "
                f"made by the harness: --topology-swarm {mode} makes a swarm only when none of the engines is in one, "
                "and never changes a swarm it did not make.",
                hint=f"Join it to that swarm yourself (`docker -H {manager.address} swarm join-token worker` prints "
                     f"the command; run it against {engine.address}), then use --topology-swarm existing (the "
                     "default).",
                address=engine.address)
        if node.get("LocalNodeState") == "inactive" and joining:
            to_join.append(engine)
            continue
        if node.get("LocalNodeState") == "inactive":
            yourself = (f"`docker -H {manager.address} swarm join-token worker` prints the command; run it against "
                        f"{engine.address}")
            raise DockerUnavailable(
                f"{where} is not a node of the swarm of {manager.where}: the overlay network cannot reach it.",
                # the harness joins engines only to a swarm it made (above): to another, the user joins them
                hint=f"Let the harness join it ({option}), or join it yourself: {yourself}."
                     if _made(manager.client) is not None else
                     f"Join it to that swarm yourself ({yourself}): the harness did not make that swarm and never "
                     "changes it (--topology-swarm join refuses).",
                address=engine.address)
        raise DockerUnavailable(
            f"{where} is in another swarm (swarm: {node.get('LocalNodeState')}), not that of {manager.where}: the "
            "harness never leaves or changes a swarm it did not make.",
            hint=f"Leave that swarm there yourself (`docker -H {engine.address} swarm leave"
                 # a manager leaves only by force (and a last manager's leaving ends that swarm)
                 f"{' --force' if node.get('ControlAvailable') else ''}`), or name other engines under `engines:`.",
            address=engine.address)
    joined = ([] if managed else [manager]) + to_join
    bare = [engine for engine in joined if not _gwbridge(engine.client)]  # before anything is changed
    if not managed:
        _init(spec, manager, "leave" if mode == "join-and-leave" else "keep")
    for engine in to_join:
        _join(spec, manager, engine, undo_manager=not managed, joined=to_join[:to_join.index(engine)], bare=bare)
    if joined and _made(manager.client) == "leave":  # whoever leaves it finds them, and what the swarm made there
        _mark_nodes(manager, joined, bare)
    if say is not None and (to_join or not managed):
        kept = ("join-and-leave: left with their last run" if mode == "join-and-leave" else
                "join: it stays after the run; `docker swarm leave` on each engine ends it")
        names = ", ".join(f"'{engine.name}'" for engine in joined)
        say(f"engines {names} made into a swarm by the harness, managed by '{manager.name}' (--topology-swarm {kept})"
            if not managed else
            f"engines {names} joined the swarm of '{manager.name}' (--topology-swarm {mode})")


def _init(spec: TopologySpec, manager: RunEngine, made: str) -> None:
    try:  # the address the other engines reach it at (a local engine: Docker chooses)
        manager.client.swarm.init(advertise_addr=manager.host if manager.remote else None, labels={MADE: made})
    except docker.errors.APIError as error:
        raise DockerUnavailable(f"{manager.where} of topology {spec.name} refused to make a swarm (`swarm init`): "
                                f"{explain(error)}",
                                hint=f"Make it one yourself (`docker -H {manager.address} swarm init --advertise-addr "
                                     "ADDRESS`, an address the other engines reach it at).",
                                address=manager.address) from None


def _join(spec: TopologySpec, manager: RunEngine, engine: RunEngine, undo_manager: bool,
          joined: list[RunEngine], bare: list[RunEngine]) -> None:
    """`engine` joins `manager`'s swarm as a worker; when it refuses, what was made for this run is undone (the
    engines joined before it leave, and the manager too when it was made now, each without the GWBRIDGE it had not
    before: `bare`) and the refusal raised."""
    state = _swarm(manager.client)
    address = state.get("NodeAddr") or manager.host
    try:
        manager.client.swarm.reload()
        token = manager.client.swarm.attrs["JoinTokens"]["Worker"]
        engine.client.swarm.join(remote_addrs=[f"{address}:{PORT}"], join_token=token,
                                 advertise_addr=engine.host if engine.remote else None)
    except docker.errors.APIError as error:
        _until_settled([manager.client, *(undone.client for undone in joined)])
        for undone in joined:
            _leave(undone.client)
        if undo_manager:
            _leave(manager.client, force=True)
        left = [undone.client for undone in [*joined, *([manager] if undo_manager else [])]]
        _remove_gwbridges(left, [undone.client for undone in [*joined, engine, *([manager] if undo_manager else [])]
                                 if undone in bare])
        raise DockerUnavailable(f"{engine.where} of topology {spec.name} refused to join the swarm of "
                                f"{manager.where} (at {address}:{PORT}): {explain(error)}",
                                hint=f"Check that {engine.address}'s machine reaches {address}:{PORT} (TCP), and 7946 "
                                     "and 4789/udp between the engines; or join it yourself.",
                                address=engine.address) from None


def _leave(client: docker.DockerClient, force: bool = False) -> None:
    try:
        client.swarm.leave(force=force)
    except (docker.errors.APIError, requests.exceptions.ConnectionError):
        pass  # left already, or gone: nothing of this run is in it any more


def leave_made_swarm(clients: Sequence[docker.DockerClient | None]) -> bool:
    """After a run across engines was removed (`clients`: its engines', the manager first; None: one that did not
    answer): when the manager's swarm was made by the harness to be left (MADE "leave"), no run across engines is
    left on the manager, and each of its nodes is one of these engines or one the harness joined to it for another
    run (JOINED: reached at its address), every one of them leaves it (the workers first), and the GWBRIDGE the swarm
    made on an engine (its node has MADE_GWBRIDGE) is removed from it. A swarm the harness did not make, with a node
    someone else joined, or with a node that does not answer, is left alone. Returns whether the swarm was left."""
    manager, *workers = clients
    if manager is None or any(worker is None for worker in workers):
        return False  # an engine that did not answer would be stranded in a swarm with no manager
    try:
        labels = ((manager.swarm.attrs.get("Spec") or {}).get("Labels") or {}) if _managed(manager) else {}
        if labels.get(MADE) != "leave":
            return False
        in_use = {"label": L.ENGINES}
        if L.listed(lambda: manager.networks.list(filters=in_use)) or L.listed(
                lambda: manager.containers.list(all=True, filters=in_use, sparse=True)):
            return False  # another run across engines still uses it
        listed = manager.nodes.list()
        ours = {str(_swarm(client).get("NodeID")): client for client in clients if client is not None}
        for node in listed:
            if node.id not in ours and (other := _joined_engine(node)) is None:
                return False  # a node the harness did not join (not its swarm alone any more), or one gone
            if node.id not in ours:
                ours[node.id] = other
    except (docker.errors.APIError, requests.exceptions.ConnectionError):
        return False
    bridged = [ours[node.id] for node in listed
               if MADE_GWBRIDGE in ((node.attrs.get("Spec") or {}).get("Labels") or {})]
    _until_settled([manager, *(client for client in ours.values() if client is not manager)])
    leaving = [client for client in ours.values() if client is not manager]
    for worker in leaving:
        _leave(worker)
    _leave(manager, force=True)  # the last manager leaves only by force
    _remove_gwbridges([*leaving, manager], bridged)
    return True


def _joined_engine(node: Any) -> docker.DockerClient | None:  # noqa: ANN401 - docker-py's Node
    """A client of the engine of `node`, a node the harness joined to its swarm (its JOINED label: the engine's
    address), when that engine answers it as that node; else None."""
    from harness.runtime.engine import CALL_SECONDS, CHECK_SECONDS

    address = ((node.attrs.get("Spec") or {}).get("Labels") or {}).get(JOINED)
    if not address:
        return None
    try:
        client = docker.DockerClient(base_url=address, timeout=CHECK_SECONDS)
        if _swarm(client).get("NodeID") != node.id:
            return None  # another engine at that address now
    except (docker.errors.DockerException, requests.exceptions.RequestException):
        return None
    client.api.timeout = CALL_SECONDS
    return client


def _remove_gwbridges(left: Sequence[docker.DockerClient], bridged: Sequence[docker.DockerClient]) -> None:
    """Once Docker has removed `ingress` from the engines that `left` a swarm (up to RELEASE_SECONDS in all), remove
    GWBRIDGE from those of them it came with (`bridged`)."""
    deadline = time.monotonic() + RELEASE_SECONDS
    for client in left:
        while _ingress_left(client) and time.monotonic() < deadline:
            time.sleep(0.2)
    for client in bridged:
        _remove_gwbridge(client)


def _ingress_left(client: docker.DockerClient) -> bool:
    """Whether the engine still has the `ingress` network of a swarm, or its sandbox on GWBRIDGE (no answer: no)."""
    try:
        if any(network.name == "ingress" for network in client.networks.list(names=["ingress"])):
            return True
        return "ingress-sbox" in (client.api.inspect_network(GWBRIDGE).get("Containers") or {})
    except docker.errors.NotFound:
        return False
    except (docker.errors.APIError, requests.exceptions.ConnectionError):
        return False  # an engine that stopped answering: nothing to wait for


def _until_settled(clients: Sequence[docker.DockerClient]) -> None:
    """Wait (up to SETTLE_SECONDS in all) until each engine of a swarm (the manager first) has its sandbox on the
    swarm's `ingress` network, which Docker sets up a few seconds after an engine made or joined the swarm: an
    engine that leaves before that keeps `ingress` and GWBRIDGE, which it then refuses to remove ("not a swarm
    manager", "active endpoints"). A swarm without `ingress` (removed by someone) has nothing to wait for."""
    deadline = time.monotonic() + SETTLE_SECONDS
    try:
        if not any(network.attrs.get("Ingress") for network in clients[0].networks.list(names=["ingress"])):
            return
        for client in clients:
            while not _ingress_ready(client) and time.monotonic() < deadline:
                time.sleep(0.2)
    except (docker.errors.APIError, requests.exceptions.ConnectionError):
        return  # an engine that stopped answering: leaving says the rest


def _ingress_ready(client: docker.DockerClient) -> bool:
    for name in ("ingress", GWBRIDGE):
        try:
            attached = client.api.inspect_network(name).get("Containers") or {}
        except docker.errors.NotFound:
            return False
        if "ingress-sbox" not in attached:
            return False
    return True


def _made(client: docker.DockerClient) -> str | None:
    """MADE of the swarm `client` manages: "leave", "keep", or None (one the harness did not make, or no answer)."""
    try:
        client.swarm.reload()
    except (docker.errors.APIError, requests.exceptions.ConnectionError):
        return None
    return ((client.swarm.attrs.get("Spec") or {}).get("Labels") or {}).get(MADE)


def _swarm_id(client: docker.DockerClient) -> str:
    """The short ID of the swarm `client` manages (as `docker swarm` commands print it)."""
    return str((client.swarm.attrs or {}).get("ID") or "?")[:12]


def _gwbridge(client: docker.DockerClient) -> bool:
    """Whether the engine has GWBRIDGE (Docker's `name` filter matches a part of a name)."""
    return any(network.name == GWBRIDGE for network in L.listed(lambda: client.networks.list(names=[GWBRIDGE])))


def _mark_nodes(manager: RunEngine, joined: Sequence[RunEngine], bare: Sequence[RunEngine]) -> None:
    """On the node of each of `joined` (engines the harness made into or joined to the swarm it made to be left):
    JOINED, the engine's address, on a worker's (a later run's leave reaches it by that: it may not be one of that
    run's engines), and MADE_GWBRIDGE on those of `bare` (no GWBRIDGE before they joined: it is removed when they
    leave, by whichever process leaves it). A node whose labels cannot be set keeps the swarm and its GWBRIDGE, as
    after a plain `docker swarm join`."""
    for engine in joined:
        try:
            node = manager.client.nodes.get(str(_swarm(engine.client).get("NodeID")))
            labels = {**(node.attrs["Spec"].get("Labels") or {}),
                      **({JOINED: engine.address} if engine is not manager else {}),
                      **({MADE_GWBRIDGE: "true"} if engine in bare else {})}
            node.update({**node.attrs["Spec"], "Labels": labels})
        except (docker.errors.APIError, requests.exceptions.ConnectionError):
            pass


def _remove_gwbridge(client: docker.DockerClient) -> None:
    """Remove GWBRIDGE from an engine that left the swarm which made it, unless something still uses it (a container
    attached to it: Docker refuses; it stays, as Docker leaves it)."""
    try:
        for network in client.networks.list(names=[GWBRIDGE]):
            if network.name == GWBRIDGE:  # as above
                network.remove()
    except (docker.errors.APIError, requests.exceptions.ConnectionError):
        pass


def _managed(client: docker.DockerClient) -> bool:
    state = _swarm(client)
    if state.get("LocalNodeState") != "active" or not state.get("ControlAvailable"):
        return False
    client.swarm.reload()
    return True
