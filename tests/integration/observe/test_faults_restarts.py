"""Observation with faults and restarts, against the real engine (tests/topologies/observe-app, through the Python
API: an order of the shop makes two calls to the stock)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import docker
import pytest
import requests

from harness.model.loader import load_topology
from harness.observe import ObserveResult, ObserveRun
from harness.runtime import labels as L
from harness.runtime.faults import Edge
from harness.runtime.observe import OBSERVES
from harness.runtime.topology import Topology

from ..conftest import TOPOLOGIES


@contextmanager
def observed_shop(tmp_path: Path) -> Iterator[tuple[Topology, ObserveRun]]:
    """A copy of the observe-app topology, started, with its observation started (each test finishes it)."""
    shutil.copytree(TOPOLOGIES / "observe-app", tmp_path / "shop")
    spec = load_topology(tmp_path / "shop" / "topology.yaml")
    with Topology.start(spec) as topology:
        run = ObserveRun(spec, topology)
        run.start()
        yield topology, run


def order(topology: Topology, item: int = 1) -> None:
    assert requests.get(topology["shop"].url + f"/order/{item}", timeout=30).json()["price"]["price"] == 3 * item


def test_calls_under_a_fault_are_marked_and_a_restarted_consumer_is_observed_again(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    with observed_shop(tmp_path) as (topology, run):
        try:
            order(topology)  # 2 calls, no fault
            with topology.edge("shop", "stock").delay(ms=50):
                order(topology)  # 2 calls under the fault
            order(topology)  # and none after it
            topology["shop"].restart()  # a new namespace: a new capture there, the old one read too
            order(topology, 2)
        finally:
            result = run.finish()
        assert docker_client.containers.list(all=True, filters={"label": [OBSERVES, f"{L.RUN}={topology.run_id}"]}) \
            == []
    stock = result.edge("shop", "stock")
    assert stock is not None
    assert (stock.calls, stock.covered, stock.faulted) == (8, 4, 2)
    assert [(o.operation, o.calls) for o in stock.top_uncovered] == [
        ("GET /items/{id}/price -> 200", 3), ("GET /items/{id}/price -> 200 (under a fault)", 1)]
    assert not any("started again" in note for note in stock.notes)


def test_a_consumer_started_again_under_a_fault_is_observed_with_its_calls_marked_at_once(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    # the shop's new capture starts while the shop gets ready, and its new fault agent puts the fault back meanwhile:
    # the capture takes the fault's marks whichever of the two comes first, and the calls made as soon as restart()
    # returns are seen
    with observed_shop(tmp_path) as (topology, run):
        try:
            with topology.edge("shop", "stock").delay(ms=50):
                topology["shop"].restart()
                order(topology)  # 2 calls under the fault, right after the restart
            order(topology, 2)  # 2 calls, no fault
        finally:
            result = run.finish()
    stock = result.edge("shop", "stock")
    assert stock is not None
    assert (stock.calls, stock.faulted) == (4, 2)
    assert not any("started again" in note for note in stock.notes)


def test_calls_a_cut_refuses_send_no_http_and_are_counted_on_their_edge(tmp_path: Path) -> None:
    # a refused connection sends no packet out of the namespace, so the capture sees nothing: the fault agent counts
    # the TCP packets its cut stopped, told to the capture as the cut ends (its helper stops) or read with the capture
    with observed_shop(tmp_path) as (topology, run):
        with topology.edge("shop", "stock").cut():
            for _ in range(3):  # the shop's first call to the stock is refused: its order breaks
                with pytest.raises(requests.RequestException):
                    order(topology)
        order(topology)  # 2 calls after the cut
        with topology.edge("shop", "redis").cut():  # still in place when the capture is read
            with pytest.raises(requests.RequestException):
                order(topology)  # 2 calls to the stock, then the count in Redis is refused
            result = run.finish()  # (the helpers are removed by Topology's end on a failure before)
    stock, redis = result.edge("shop", "stock"), result.edge("shop", "redis")
    assert stock is not None and redis is not None
    assert (stock.calls, stock.uncovered, stock.refused) == (4, 2, 3)  # refused: not calls, not uncovered
    assert (redis.calls, redis.refused) == (0, 1)
    assert redis.label.endswith(", 1 refused by cut()")


def order_with_redis_faulted(topology: Topology, run: ObserveRun,
                             fault: Callable[[Edge], AbstractContextManager[object]]) -> ObserveResult:
    """One order under `fault` on shop -> redis (2 calls to the stock, then the count in Redis hangs until shop's
    timeout: the order fails), one without; what the run observed."""
    try:
        with fault(topology.edge("shop", "redis")), pytest.raises(requests.RequestException):
            order(topology)
        order(topology)
    finally:
        result = run.finish()
    return result


def test_packets_a_dropping_cut_stopped_are_said_as_packets_on_their_edge(tmp_path: Path) -> None:
    # a dropped connection is tried again by its client until it gives up (shop: 5 s): the count is of packets
    with observed_shop(tmp_path) as (topology, run):
        result = order_with_redis_faulted(topology, run, lambda edge: edge.cut(mode="drop"))
    stock, redis = result.edge("shop", "stock"), result.edge("shop", "redis")
    assert stock is not None and redis is not None
    assert (stock.calls, stock.refused, stock.dropped) == (4, 0, 0)
    assert redis.refused == 0 and redis.dropped >= 1  # (the SYN and its retries within 5 s)
    assert redis.label.endswith(f", {redis.dropped} packet(s) dropped by cut()"), redis.label


def test_packets_a_loss_dropped_are_counted_on_their_edge_as_a_cut_s_are(tmp_path: Path) -> None:
    # a loss of 100% for a window drops every packet of it (the SYN and its retries until shop's timeout); its DROP
    # rule's own counter is read as a cut's counting rule is, so the count is > 0 whatever the timing
    with observed_shop(tmp_path) as (topology, run):
        result = order_with_redis_faulted(topology, run, lambda edge: edge.loss(percent=100))
    stock, redis = result.edge("shop", "stock"), result.edge("shop", "redis")
    assert stock is not None and redis is not None
    assert (stock.calls, stock.lost, stock.dropped, stock.refused) == (4, 0, 0, 0)
    assert (redis.lost, redis.dropped, redis.refused) >= (1, 0, 0) and redis.dropped == redis.refused == 0
    assert redis.label.endswith(f", {redis.lost} packet(s) dropped by loss()"), redis.label
