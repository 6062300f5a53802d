"""A call is covered only when Pact matches its request to an interaction of the edge's pact (issue 26): the
decision is Pact's mock server's (pact-python), on a pact pact-python wrote; the shapes of the t26b trial."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from pact import Pact, match

from harness.contracts.drift.documents import load_document
from harness.contracts.pactfiles import read_pact
from harness.model.loader import load_topology
from harness.observe import edge_coverage, pactmatch
from harness.report.observe import edge_line
from harness.runtime.observe import Observation, ObservedCall
from harness.runtime.observe_records import BodySample

APP = Path(__file__).parents[2] / "topologies" / "observe-app"


@pytest.fixture(scope="module")
def spec():  # noqa: ANN201
    return load_topology(APP / "topology.yaml")


@pytest.fixture(scope="module")
def pact_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pacts")
    pact = Pact("shop", "stock").with_specification("V4")
    pact.upon_receiving("no product").with_request("GET", "/products/999").will_respond_with(404)
    (pact.upon_receiving("a product").with_request("GET", match.regex("/products/1", regex=r"^/products/[1-9][0-9]?$"))
     .will_respond_with(200))
    (pact.upon_receiving("a page of products").with_request("GET", "/products")
     .with_query_parameter("limit", match.regex("2", regex=r"^\d+$")).will_respond_with(200))
    (pact.upon_receiving("an order").with_request("POST", "/orders")
     .with_body({"qty": match.int(2)}, "application/json").will_respond_with(201))
    (pact.upon_receiving("an order refused").given("no stock").with_request("POST", "/orders")
     .with_body({"qty": match.int(2)}, "application/json").will_respond_with(409))
    pact.write_file(folder)
    return folder / "shop-stock.json"


def call(method: str, path: str, status: int, *requests: str, query: str = "", count: int = 1,
         truncated: bool = False) -> ObservedCall:
    headers = (("Content-Type", "application/json"),) if requests else ()
    bodies = tuple(BodySample(body, "", count, request_truncated=truncated, query=query, request_headers=headers)
                   for body in requests or ("",))
    return ObservedCall("shop", "stock", 8000, method, path, (), status, "", count * len(bodies), 0.01, 0.01, 0, 0,
                        bodies=bodies)


def coverage(spec, pact_file, *calls, documents=None):  # noqa: ANN001, ANN002, ANN201
    [edge] = edge_coverage(spec, Observation(list(calls), [], {}), [read_pact(pact_file)], documents or {})
    return edge


def test_a_path_pact_does_not_match_is_uncovered_with_pacts_reason(spec, pact_file) -> None:
    edge = coverage(spec, pact_file, call("GET", "/products/500", 404), call("GET", "/products/999", 404),
                    call("GET", "/products/7", 200))
    assert (edge.calls, edge.covered, edge.uncovered) == (3, 2, 1)  # /products/7: the path's regex takes it
    [uncovered] = edge.top_uncovered
    assert (uncovered.operation, uncovered.calls) == ("GET /products/500 -> 404", 1)
    assert uncovered.says == "Pact: request not found"


def test_a_request_body_pact_refuses_is_uncovered_with_the_first_mismatch(spec, pact_file) -> None:
    edge = coverage(spec, pact_file, call("POST", "/orders", 201, '{"qty": 5}', '{"qty": 2, "note": "gift"}'),
                    call("POST", "/orders", 409, '{"qty": "abc"}'))
    assert (edge.calls, edge.covered, edge.uncovered) == (3, 1, 2)
    assert {o.operation: o.says for o in edge.top_uncovered} == {
        "POST /orders -> 201": "Pact: Expected a Map with keys [qty] but received one with keys [note, qty]",
        "POST /orders -> 409": "Pact: Expected 'abc' (String) to be an integer"}
    # an operation with an uncovered call is not covered: the figures agree
    assert (edge.operations, edge.operations_covered) == (2, 0)
    assert "1 covered (33.3%), 2 uncovered, 0 of 2 operation(s) covered" in edge_line(edge)


def test_the_status_chooses_among_interactions_with_the_same_request(spec, pact_file) -> None:
    edge = coverage(spec, pact_file, call("POST", "/orders", 409, '{"qty": 3}'))
    assert (edge.covered, edge.uncovered) == (1, 0)
    assert "shop-stock.json: an order refused" not in edge.never_exercised
    assert "shop-stock.json: an order" in edge.never_exercised  # (201: not called)
    edge = coverage(spec, pact_file, call("POST", "/orders", 500, '{"qty": 3}'))
    assert edge.top_uncovered[0].says == "no interaction answers 500"


def test_an_unexpected_query_parameter_leaves_the_operation_uncovered(spec, pact_file) -> None:
    edge = coverage(spec, pact_file, call("GET", "/products", 200, query="limit=7"),
                    call("GET", "/products", 200, query="limit=7&sort=name"))
    assert (edge.covered, edge.uncovered, edge.operations, edge.operations_covered) == (1, 1, 1, 0)
    assert edge.top_uncovered[0].says == "Pact: Unexpected query parameter 'sort' received"


def test_a_request_body_not_captured_is_not_judged_never_covered(spec, pact_file) -> None:
    edge = coverage(spec, pact_file, call("POST", "/orders", 201, '{"qty": 5', truncated=True))
    assert (edge.calls, edge.covered, edge.uncovered, edge.not_judged) == (1, 0, 0, 1)
    assert edge.top_not_judged[0].says.startswith("request body over 1 MiB")
    assert (edge.operations, edge.operations_covered) == (1, 0)


def test_a_break_says_what_came_back_and_first_of_how_many(spec) -> None:
    document = load_document(yaml.safe_load((APP / "stock.yaml").read_text()), "stock.yaml")
    plain = dataclasses.replace(call("GET", "/items/1", 200), content_type="text/plain",
                                bodies=(BodySample("", "pear", 1),))
    [edge] = edge_coverage(spec, Observation([plain], [], {}), [read_pact(APP / "contracts" / "shop-stock.json")],
                           {"stock": document})
    assert edge.top_breaking[0].says == "answered text/plain; the document's content types: application/json"
    several = dataclasses.replace(call("GET", "/items/1", 200), content_type="application/json", bodies=(
        BodySample("", '{"id": null, "name": "apple"}', 1), BodySample("", '{"id": "x", "name": "apple"}', 1)))
    [edge] = edge_coverage(spec, Observation([several], [], {}), [read_pact(APP / "contracts" / "shop-stock.json")],
                           {"stock": document})
    assert edge.breaking == 2 and edge.top_breaking[0].says.endswith(" (1 of 2 findings)")
    # (each body's fault is said, in contract-matrix.json and on the page: the null id once, as schemathesis says it)
    assert edge.top_breaking[0].findings == ("'x' is not of type 'integer'", "None is not of type 'integer'")


JSON = (("Content-Type", "application/json"),)


def test_each_refused_request_gets_its_own_reason_from_one_server(pact_file) -> None:
    interactions = json.loads(pact_file.read_text())["interactions"]
    gift = pactmatch.Request("POST", "/orders", "", JSON, '{"qty": 2, "note": "gift"}')
    text = pactmatch.Request("POST", "/orders", "", JSON, '{"qty": "abc"}')
    fine = pactmatch.Request("POST", "/orders", "", JSON, '{"qty": 4}')
    verdicts = pactmatch.judge(interactions, {(gift, 201): None, (text, 201): None, (fine, 201): None})
    assert verdicts[(gift, 201)].why == "Pact: Expected a Map with keys [qty] but received one with keys [note, qty]"
    assert verdicts[(text, 201)].why == "Pact: Expected 'abc' (String) to be an integer"
    [matched] = verdicts[(fine, 201)].matched
    assert interactions[matched]["description"] == "an order"  # (409's "an order refused" is not asked)


def test_the_request_is_replayed_with_its_own_headers_and_none_added(tmp_path: Path) -> None:
    pact = Pact("shop", "users").with_specification("V4")
    (pact.upon_receiving("a user").with_request("GET", "/users/ann")
     .with_header("Authorization", match.regex("Bearer abc", regex=r"^Bearer [a-z]+$"))
     .with_header("X-Api-Version", "1").will_respond_with(200))
    (pact.upon_receiving("a login").with_request("POST", "/login")
     .with_body("user=ann", "application/x-www-form-urlencoded").will_respond_with(200))
    pact.write_file(tmp_path)
    interactions = json.loads((tmp_path / "shop-users.json").read_text())["interactions"]
    sent = (("Host", "users:8000"), ("Authorization", "Bearer abc"), ("X-Api-Version", "1"))
    fine = pactmatch.Request("GET", "/users/ann", "", sent, "")
    version = pactmatch.Request("GET", "/users/ann", "", (*sent[:2], ("X-Api-Version", "2")), "")
    secret = pactmatch.Request("GET", "/users/ann", "", (("Authorization", "Bearer S3CRET-token"),
                                                         ("X-Api-Version", "1")), "")
    anonymous = pactmatch.Request("GET", "/users/ann", "", sent[2:], "")
    form = pactmatch.Request("POST", "/login", "", (), "user=ann")  # (no Content-Type sent: none replayed)
    verdicts = pactmatch.judge(interactions, {(r, 200): None for r in (fine, version, secret, anonymous, form)})
    assert verdicts[(fine, 200)].matched and not verdicts[(version, 200)].matched
    assert verdicts[(version, 200)].why == "Pact: Mismatch with header 'X-Api-Version': Expected '2' to be equal to '1'"
    assert not verdicts[(secret, 200)].matched and "S3CRET" not in verdicts[(secret, 200)].why
    assert "***" in verdicts[(secret, 200)].why
    assert verdicts[(anonymous, 200)].why == "Pact: Expected a header 'Authorization' but was missing"
    assert verdicts[(form, 200)].why == "Pact: Expected a header 'Content-Type' but was missing"
