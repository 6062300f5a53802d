"""Engines in no swarm (issue #27): refused with one error naming the engine and the option, or joined on request
(`--topology-swarm join|join-and-leave`), and the swarm left as the option says; a swarm the harness did not make is
never left or changed. Two dockerd in network namespaces of this test's own, started without a swarm."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import DockerUnavailable
from harness.runtime.swarm import GWBRIDGE, MADE
from harness.runtime.topology import StartEvent
from tests.integration.engines.conftest import NAME, pair_topology
from tests.integration.engines.test_across_engines import harness, harness_on, killed_run, left


def states(clients: list[docker.DockerClient]) -> list[str]:
    return [client.info()["Swarm"]["LocalNodeState"] for client in clients]


def networks(clients: list[docker.DockerClient]) -> list[list[str]]:
    """`docker network ls` of each engine: the names."""
    return [sorted(network.name for network in client.networks.list()) for client in clients]


def leave(client: docker.DockerClient) -> None:
    """What Docker's documentation says to do after `docker swarm leave`: remove docker_gwbridge."""
    client.swarm.leave(force=True)
    for network in client.networks.list(names=[GWBRIDGE]):
        network.remove()


def test_engines_in_no_swarm_are_refused_or_joined_on_request_and_left_as_the_option_says(
        pair: Any, tmp_path: Path) -> None:
    file = pair_topology(tmp_path, pair.urls, front_depends=True)
    clients = [docker.DockerClient(base_url=url, timeout=120) for url in pair.urls]
    manager, worker = (f"engine 'e{i}' ({url})" for i, url in enumerate(pair.urls))
    before = networks(clients)
    assert before == [["host", "none"], ["host", "none"]]

    # without the option: one error naming the engine and the option; nothing changed
    with pytest.raises(DockerUnavailable) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value) == (
        f"{manager}, the first of topology {NAME}'s engines, is not a Docker Swarm manager (swarm: inactive); its "
        "overlay network joins the engines.\nLet the harness make the swarm (--topology-swarm join (or "
        f"join-and-leave)), or make it one (`docker -H {pair.urls[0]} swarm init --advertise-addr ADDRESS`) and join "
        "the others (`docker swarm join-token worker` says how), or put a manager first under `engines:`.")
    assert states(clients) == ["inactive", "inactive"]

    # an engine in another swarm is refused before anything is changed, and its swarm is left as it is
    clients[1].swarm.init(advertise_addr=pair.addresses[1])
    theirs = clients[1].swarm.attrs["ID"]
    with pytest.raises(DockerUnavailable) as raised:
        Topology.start(load_topology(file).with_swarm("join"))
    assert str(raised.value) == (
        f"{worker} of topology {NAME} is in another swarm (swarm: active), not that of {manager}: the harness never "
        f"leaves or changes a swarm it did not make.\nLeave that swarm there yourself (`docker -H {pair.urls[1]} "
        "swarm leave --force`), or name other engines under `engines:`.")
    assert states(clients) == ["inactive", "active"]
    clients[1].swarm.reload()
    assert clients[1].swarm.attrs["ID"] == theirs
    leave(clients[1])
    assert networks(clients) == before

    # join-and-leave from the CLI: made for the run (init, join), names resolve across the engines, and left with it
    up = harness_on(pair.urls[0], "up", "--detach", "--topology-swarm", "join-and-leave", str(file))
    assert up.returncode == 0, up.stderr
    assert ("note: engines 'e0', 'e1' made into a swarm by the harness, managed by 'e0' (--topology-swarm "
            "join-and-leave: left with their last run)") in up.stderr.splitlines()  # said, as leaving it is
    assert states(clients) == ["active", "active"]
    clients[0].swarm.reload()
    assert clients[0].swarm.attrs["Spec"]["Labels"] == {MADE: "leave"}
    front = clients[1].containers.list(filters={"label": "org.pytest-topology.service=front"})[0]
    call = front.exec_run(["python", "-c", "import urllib.request; urllib.request.urlopen('http://backend:8000/', "
                                           "timeout=30)"])
    assert call.exit_code == 0, call.output
    down = harness("down", str(file))
    assert down.returncode == 0, down.stderr
    assert ("engines 'e0', 'e1' left the swarm the harness made for them (--topology-swarm join-and-leave: their "
            "last run is gone)") in down.stdout
    assert states(clients) == ["inactive", "inactive"]
    assert [left(client, file) for client in clients] == [[], []]
    assert networks(clients) == before  # nor what the swarm made there (docker_gwbridge, ingress)
    again = harness("down", "--topology", str(file))  # the swarm is gone: removing needs none
    assert (again.returncode, again.stdout, again.stderr) == (
        0, f"removed 0 container(s) of topology {NAME} from 2 engines\n", "")

    # after a SIGKILL: `harness down --all` on the manager removes the run from both and leaves the swarm it made
    killed_run(file, clients[0], "--topology-swarm", "join-and-leave")
    assert states(clients) == ["active", "active"]
    down = harness_on(pair.urls[0], "down", "--all")
    assert (down.returncode, down.stdout.strip(), down.stderr) == (
        0, "removed 2 container(s) from 2 engines\nengines 'e0', 'e1' left the swarm the harness made for them (--topology-swarm "
           "join-and-leave: their last run is gone)", "")
    assert states(clients) == ["inactive", "inactive"]
    assert [left(client, file) for client in clients] == [[], []]
    assert networks(clients) == before

    # join: made, and kept for the next runs, which need no option
    events: list[StartEvent] = []
    with Topology.start(load_topology(file).with_swarm("join"), progress=events.append):
        pass
    assert [e.detail for e in events if e.kind == "note"] == [
        "engines 'e0', 'e1' made into a swarm by the harness, managed by 'e0' (--topology-swarm join: it stays after "
        "the run; `docker swarm leave` on each engine ends it)"]
    assert states(clients) == ["active", "active"]
    with Topology.start(load_topology(file)) as running:
        assert running["front"].host == pair.addresses[1]
    assert states(clients) == ["active", "active"]
    for client in reversed(clients):  # left as a user leaves it: docker_gwbridge stays
        client.swarm.leave(force=True)
    had = networks(clients)
    assert had == [sorted(["host", "none", GWBRIDGE])] * 2

    # a docker_gwbridge that was there before the harness made the swarm is not the harness's to remove
    with Topology.start(load_topology(file).with_swarm("join-and-leave")):
        pass
    assert states(clients) == ["inactive", "inactive"]
    assert networks(clients) == had
    for client in clients:
        client.networks.get(GWBRIDGE).remove()

    # a swarm the harness did not make is never joined (that would add a node to it), with join or join-and-leave:
    # one error naming the engine, the swarm and what to do; nothing changed
    clients[0].swarm.init(advertise_addr=pair.addresses[0])
    theirs = clients[0].swarm.attrs["ID"]
    for mode in ("join", "join-and-leave"):
        with pytest.raises(DockerUnavailable) as raised:
            Topology.start(load_topology(file).with_swarm(mode))
        assert str(raised.value) == (
            f"{worker} of topology {NAME} is in no swarm, and that of {manager} (swarm {theirs[:12]}) was not made by "
            f"the harness: --topology-swarm {mode} makes a swarm only when none of the engines is in one, and never "
            f"changes a swarm it did not make.\nJoin it to that swarm yourself (`docker -H {pair.urls[0]} swarm "
            f"join-token worker` prints the command; run it against {pair.urls[1]}), then use --topology-swarm "
            "existing (the default).")
        assert states(clients) == ["active", "inactive"]
        assert [node.id for node in clients[0].nodes.list()] == [clients[0].info()["Swarm"]["NodeID"]]
    assert [left(client, file) for client in clients] == [[], []]
