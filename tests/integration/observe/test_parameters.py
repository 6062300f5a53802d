"""Real calls against the parameters their provider's document declares, on the real engine (observe-app: an order of
the shop calls the stock's GET /items/{id}, then GET /items/{id}/price?currency=eur): a required header the shop does
not send, and a query value the document does not allow, break the document, and fail the strict gate."""

from __future__ import annotations

import shutil
from pathlib import Path

import requests
import yaml

from harness.model.loader import load_topology
from harness.observe import ObserveRun, gate_verdicts
from harness.runtime.topology import Topology

from ..conftest import TOPOLOGIES


def test_a_required_header_missing_and_a_query_value_not_allowed_break_the_provider_s_document(
        tmp_path: Path) -> None:
    shutil.copytree(TOPOLOGIES / "observe-app", tmp_path / "shop")
    document = yaml.safe_load((tmp_path / "shop" / "stock.yaml").read_text())
    document["paths"]["/items/{id}"]["get"]["parameters"] = [
        {"name": "X-Tenant", "in": "header", "required": True, "schema": {"type": "string"}}]
    document["paths"]["/items/{id}/price"]["parameters"][1] = {
        "name": "currency", "in": "query", "required": True, "schema": {"type": "string", "enum": ["usd"]}}
    (tmp_path / "shop" / "stock.yaml").write_text(yaml.safe_dump(document))
    spec = load_topology(tmp_path / "shop" / "topology.yaml")
    with Topology.start(spec) as topology:
        run = ObserveRun(spec, topology)
        run.start()
        try:
            for _ in range(2):
                answer = requests.get(topology["shop"].url + "/order/1", timeout=30)
                assert answer.json()["price"] == {"price": 3}, answer.text
        finally:
            result = run.finish()
    edge = result.edge("shop", "stock")
    assert edge is not None and (edge.calls, edge.breaking) == (4, 4)
    assert {(o.operation, o.calls, o.says) for o in edge.top_breaking} == {
        ("GET /items/{id} -> 200", 2, "required header parameter 'X-Tenant'"),
        ("GET /items/{id}/price -> 200", 2, "query parameter 'currency': 'eur' is not one of ['usd']")}
    [strict] = gate_verdicts(result, "", None, True)
    assert strict.outcome == "failed"
    assert "shop -> stock: 4 call(s) breaking stock's OpenAPI document: GET /items/{id} -> 200 (2): required header " \
           "parameter 'X-Tenant'; GET /items/{id}/price -> 200 (2): query parameter 'currency': 'eur' is not one of " \
           "['usd']" in strict.details, strict.details
