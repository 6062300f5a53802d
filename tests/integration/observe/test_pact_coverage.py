"""Covered means what Pact's mock server means (issue 26, found by the t26b trial), against the real engine: shop
calls catalog from its own container; the edge's pact is written by pact-python (tests/topologies/observe-pact).
A path the pact does not have, a request body with a key more or a value of another type are uncovered, with Pact's
own words, and fail --observe-strict; what Pact takes is covered."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import requests
from pact import Pact, match

from harness.model.loader import load_topology
from harness.model.topology import TopologySpec
from harness.observe import ObserveResult, ObserveRun, gate_verdicts
from harness.observe.gates import GateVerdict
from harness.runtime.topology import Topology

from ..conftest import TOPOLOGIES


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TopologySpec, Topology]]:
    folder = tmp_path_factory.mktemp("f26b") / "observe-pact"
    shutil.copytree(TOPOLOGIES / "observe-pact", folder)
    pact = Pact("shop", "catalog").with_specification("V4")
    pact.upon_receiving("no product").with_request("GET", "/products/999").will_respond_with(404)
    (pact.upon_receiving("a product").with_request("GET", match.regex("/products/1", regex=r"^/products/[1-9]$"))
     .will_respond_with(200))
    (pact.upon_receiving("an order").with_request("POST", "/orders")
     .with_body({"qty": match.int(2)}, "application/json").will_respond_with(201))
    pact.write_file(folder / "contracts")
    spec = load_topology(folder / "topology.yaml")
    with Topology.start(spec) as topology:
        yield spec, topology


def observed(shop: tuple[TopologySpec, Topology], *calls: tuple[str, str]) -> tuple[ObserveResult, GateVerdict]:
    """The coverage and the strict gate of the calls shop makes to catalog (("POST/orders", JSON body or ""))."""
    spec, topology = shop
    run = ObserveRun(spec, topology)
    run.start()
    try:
        for made, body in calls:
            answer = requests.post(f"{topology['shop'].url}/call/{made}", data=body or None, timeout=60,
                                   headers={"Content-Type": "application/json"} if body else {})
            assert answer.status_code == 200, answer.text
    finally:
        result = run.finish()
    [strict] = gate_verdicts(result, "", None, True)
    return result, strict


def test_what_pact_refuses_is_uncovered_and_fails_strict(shop) -> None:  # noqa: ANN001
    result, strict = observed(shop, ("GET/products/500", ""), ("POST/orders", '{"qty": 2, "note": "gift"}'),
                              ("POST/orders", '{"qty": "abc"}'))
    edge = result.edge("shop", "catalog")
    assert edge is not None and (edge.calls, edge.covered, edge.uncovered) == (3, 0, 3)
    assert {(o.operation, o.calls, o.says) for o in edge.top_uncovered} == {
        ("GET /products/500 -> 404", 1, "Pact: request not found"),
        # two calls, two reasons: one of them, whatever the order of the calls (ties: text order)
        ("POST /orders -> 201", 2, "Pact: Expected 'abc' (String) to be an integer (1 of 2 reasons)")}
    assert (edge.operations, edge.operations_covered) == (2, 0)
    assert strict.outcome == "failed"
    assert strict.summary == ("observed coverage, strict: 3 call(s) between services uncovered, 0 breaking the "
                              "provider's document")
    assert "POST /orders -> 201 (2): Pact: Expected 'abc' (String) to be an integer (1 of 2 reasons)" in strict.details


def test_what_pact_takes_is_covered_and_passes_strict(shop) -> None:  # noqa: ANN001
    result, strict = observed(shop, ("GET/products/999", ""), ("GET/products/4", ""), ("POST/orders", '{"qty": 7}'))
    edge = result.edge("shop", "catalog")
    assert edge is not None and (edge.calls, edge.covered, edge.uncovered) == (3, 3, 0)
    assert (edge.operations, edge.operations_covered, edge.never_exercised) == (3, 3, ())
    assert strict.outcome == "passed", strict.details
