"""A swarm the harness made (`--topology-swarm join|join-and-leave`) that a further engine joins (issue #27): three
dockerd in network namespaces of this test's own, in no swarm. A run on e0+e1 makes the swarm; a run of another
topology on e0+e2 joins e2 to it; the swarm stays (join), or is left by all three engines once the last run of either
topology is gone, whichever ends last (join-and-leave); nothing of the runs or the swarm is left."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import DockerUnavailable
from harness.runtime.swarm import MADE
from harness.runtime.topology import StartEvent
from tests.integration.engines.conftest import engines_in_no_swarm, pair_topology
from tests.integration.engines.test_swarm import leave, networks, states

BARE = [["host", "none"]] * 3  # `docker network ls` of an engine in no swarm


@pytest.fixture
def trio() -> Iterator[Any]:
    """Three engines in no swarm with python:3.11-slim, removed at the end whatever their swarm state."""
    yield from engines_in_no_swarm(3)


def files(folder: Path, urls: list[str]) -> tuple[Path, Path]:
    """Topology b27-first across e0+e1, and b27-further across e0+e2 (its front on e2 depends on its backend on e0,
    so its start calls across the overlay)."""
    (folder / "first").mkdir()
    (folder / "further").mkdir()
    return (pair_topology(folder / "first", urls[:2], name="b27-first"),
            pair_topology(folder / "further", [urls[0], urls[2]], name="b27-further", front_depends=True))


def across(running: Topology) -> int:
    """The exit code of a call from front (on e1 or e2) to backend (on e0) by its service name."""
    front = running["front"]
    return front.exec(["python", "-c", "import urllib.request; urllib.request.urlopen('http://backend:8000/', "
                                       "timeout=30)"]).exit_code


def notes(events: list[StartEvent]) -> list[str]:
    return [event.detail for event in events if event.kind == "note"]


def test_a_further_engine_joins_a_swarm_the_harness_made_and_leaves_it_as_the_option_says(
        trio: Any, tmp_path: Path) -> None:  # noqa: ANN401
    first, further = files(tmp_path, trio.urls)
    clients = [docker.DockerClient(base_url=url, timeout=120) for url in trio.urls]
    assert networks(clients) == BARE

    # join: e0+e1 made into a swarm that stays; e2 joins it for the other topology, and it stays too
    made: list[StartEvent] = []
    with Topology.start(load_topology(first).with_swarm("join"), progress=made.append) as running:
        assert across(running) == 0
    assert states(clients) == ["active", "active", "inactive"]
    with pytest.raises(DockerUnavailable) as refused:  # the default checks only, and says which option joins it
        Topology.start(load_topology(further))
    assert f"engine 'e1' ({trio.urls[2]}) of topology b27-further is not a node of the swarm of engine 'e0'" \
           in str(refused.value), refused.value
    assert states(clients) == ["active", "active", "inactive"]
    joined: list[StartEvent] = []
    with Topology.start(load_topology(further).with_swarm("join"), progress=joined.append) as running:
        assert across(running) == 0
    assert notes(joined) == ["engines 'e1' joined the swarm of 'e0' (--topology-swarm join)"]  # e2 is its 'e1'
    assert states(clients) == ["active", "active", "active"]
    assert len(clients[0].nodes.list()) == 3
    for client in reversed(clients):  # left as a user leaves it
        leave(client)
    assert networks(clients) == BARE

    # join-and-leave, in either order of ending: the swarm is left by the three once the last run is gone
    for last in (further, first):
        runs = {}
        for file in (first, further):
            runs[file] = Topology.start(load_topology(file).with_swarm("join-and-leave"))
            assert across(runs[file]) == 0
        clients[0].swarm.reload()
        assert clients[0].swarm.attrs["Spec"]["Labels"] == {MADE: "leave"}
        assert states(clients) == ["active", "active", "active"]
        runs.pop(first if last is further else further).close()
        assert states(clients) == ["active", "active", "active"]  # the other run still uses it
        runs.pop(last).close()
        assert states(clients) == ["inactive", "inactive", "inactive"], f"{last.parent.name} ended last"
        assert networks(clients) == BARE, f"{last.parent.name} ended last"  # no ingress, no docker_gwbridge
    assert all(client.containers.list(all=True) == [] for client in clients)
