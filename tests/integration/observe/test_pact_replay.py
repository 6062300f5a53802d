"""Each call is judged as its consumer sent it (issue 26, found by the t26c trial), against the real engine: calls of
one kind (method, path, query names, status, response type) that differ only in a query value, their Content-Type,
a header or a gzip body are each replayed to Pact's mock server as sent, in either order, with the same verdicts:
the capture never lends one call's query, headers or body to another."""

from __future__ import annotations

import gzip
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

ORDER = '{"qty": 2}'
JSON = {"X-Pass-Content-Type": "application/json"}
# (call, body, headers shop passes on, covered by Pact?): Pact's mock server's verdicts on these very requests
CALLS = [
    ("GET/orders?status=closed", b"", {"X-Pass-X-Tenant": "acme"}, True),
    ("GET/orders?status=pending", b"", {"X-Pass-X-Tenant": "acme"}, False),  # another query value
    ("GET/orders?status=closed", b"", {"X-Pass-X-Tenant": "ACME"}, False),  # the header's regex refuses it
    ("GET/orders?status=closed", b"", {}, False),  # the header missing
    ("POST/orders", ORDER.encode(), JSON, True),
    ("POST/orders", ORDER.encode(), {"X-Pass-Content-Type": "text/plain"}, False),
    ("POST/orders", ORDER.encode(), {}, False),  # no Content-Type at all (none is added by the replay)
    ("POST/orders", gzip.compress(ORDER.encode(), mtime=0), {**JSON, "X-Pass-Content-Encoding": "gzip"}, False),
]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TopologySpec, Topology]]:
    folder = tmp_path_factory.mktemp("f26c") / "observe-pact"
    shutil.copytree(TOPOLOGIES / "observe-pact", folder)
    topology = folder / "topology.yaml"
    topology.write_text(topology.read_text().replace("name: f26b-observe-pact", "name: f26c-observe-replay"))
    pact = Pact("shop", "catalog").with_specification("V4")
    (pact.upon_receiving("closed orders").with_request("GET", "/orders").with_query_parameter("status", "closed")
     .with_header("X-Tenant", match.regex("acme", regex=r"^[a-z]+$")).will_respond_with(200))
    (pact.upon_receiving("an order").with_request("POST", "/orders")
     .with_body({"qty": match.int(2)}, "application/json").will_respond_with(201))
    pact.write_file(folder / "contracts")
    spec = load_topology(topology)
    with Topology.start(spec) as started:
        yield spec, started


def observed(shop: tuple[TopologySpec, Topology], calls: list[tuple[str, bytes, dict[str, str], bool]]
             ) -> tuple[ObserveResult, GateVerdict]:
    spec, topology = shop
    run = ObserveRun(spec, topology)
    run.start()
    try:
        for made, body, headers, _ in calls:
            answer = requests.post(f"{topology['shop'].url}/call/{made}", data=body or None, headers=headers,
                                   timeout=60)
            assert answer.status_code == 200, answer.text
    finally:
        result = run.finish()
    [strict] = gate_verdicts(result, "", None, True)
    return result, strict


@pytest.mark.parametrize("order", ["as listed", "reversed"])
def test_each_call_is_judged_as_sent_whatever_the_order(shop, order: str) -> None:  # noqa: ANN001
    calls = CALLS if order == "as listed" else CALLS[::-1]
    result, strict = observed(shop, calls)
    edge = result.edge("shop", "catalog")
    assert edge is not None
    assert (edge.calls, edge.covered, edge.uncovered) == (8, 2, 6)
    assert {(o.operation, o.calls) for o in edge.top_uncovered} == {("GET /orders -> 200", 3),
                                                                    ("POST /orders -> 201", 3)}
    assert edge.never_exercised == ()  # each interaction took the call that Pact matches
    # three reasons each, the one shown the same in either order; never a header that was not sent
    assert {o.operation: o.says for o in edge.top_uncovered} == {
        "GET /orders -> 200": "Pact: Expected a header 'X-Tenant' but was missing (1 of 3 reasons)",
        "POST /orders -> 201": "Pact: Expected a header 'Content-Type' but was missing (1 of 3 reasons)"}
    assert strict.outcome == "failed"
    assert strict.summary == ("observed coverage, strict: 6 call(s) between services uncovered, 0 breaking the "
                              "provider's document")
    [gets] = [c for c in result.observation.calls if c.consumer == "shop" and c.method == "GET"]
    [posts] = [c for c in result.observation.calls if c.consumer == "shop" and c.method == "POST"]
    assert sorted(s.query for s in gets.bodies) == ["status=closed"] * 3 + ["status=pending"]
    assert len(posts.bodies) == 4  # one kind of call, four requests


def test_pacts_reasons_quote_each_request(shop) -> None:  # noqa: ANN001
    result, _ = observed(shop, [CALLS[2], CALLS[3], CALLS[3]])  # the missing header: said for the most calls
    edge = result.edge("shop", "catalog")
    assert edge is not None and (edge.calls, edge.covered) == (3, 0)
    [get] = edge.top_uncovered
    assert get.says == "Pact: Expected a header 'X-Tenant' but was missing (1 of 2 reasons)"
    result, _ = observed(shop, [CALLS[6]])  # no Content-Type
    edge = result.edge("shop", "catalog")
    assert edge is not None and edge.covered == 0
    [post] = edge.top_uncovered
    assert post.says == "Pact: Expected a header 'Content-Type' but was missing"
