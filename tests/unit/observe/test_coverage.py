"""Coverage per edge from observed calls (pure logic: the calls are given, the document and pact are files)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from harness.contracts.drift.documents import load_document
from harness.contracts.matrix import edge_matrix
from harness.contracts.pactfiles import read_pact
from harness.errors import OpenAPIUnavailable
from harness.model.loader import load_topology
from harness.observe import edge_coverage
from harness.report.observe import edge_line
from harness.runtime.observe import OUTSIDE, Observation, ObservedCall, ObservedFlow
from harness.runtime.observe_records import BodySample

APP = Path(__file__).parents[2] / "topologies" / "observe-app"


def call(path: str, status: int = 200, method: str = "GET", count: int = 1, body: str = "", consumer: str = "shop",
         provider: str = "stock", truncated: bool = False, query: str = "",
         bodies: tuple[BodySample, ...] | None = None, unsampled: int = 0) -> ObservedCall:
    bodies = (BodySample("", body, count, response_truncated=truncated, query=query),) if bodies is None else bodies
    return ObservedCall(consumer, provider, 8000, method, path, (), status,
                        "application/json" if body or bodies else "", count, 0.01 * count, 0.01, 0, len(body),
                        bodies=bodies, unsampled=unsampled)


@pytest.fixture(scope="module")
def spec():  # noqa: ANN201
    return load_topology(APP / "topology.yaml")


@pytest.fixture(scope="module")
def stock_document():  # noqa: ANN201
    return load_document(yaml.safe_load((APP / "stock.yaml").read_text()), "stock.yaml")


def coverage_of(spec, calls, documents, flows=(), pacts=None, lost=None):  # noqa: ANN001, ANN201
    pacts = [read_pact(APP / "contracts" / "shop-stock.json")] if pacts is None else pacts
    return edge_coverage(spec, Observation(list(calls), list(flows), lost or {}), pacts, documents)


def test_a_call_is_covered_by_an_interaction_of_the_same_method_template_and_status(spec, stock_document) -> None:
    [edge] = coverage_of(spec, [call("/items/1", count=4, body='{"id": 1, "name": "pear"}'),
                                call("/items/1", status=404, body='{"error": "gone"}')], {"stock": stock_document})
    assert (edge.calls, edge.covered, edge.uncovered, edge.percent) == (5, 4, 1, 80.0)
    assert [(o.operation, o.calls) for o in edge.top_uncovered] == [("GET /items/{id} -> 404", 1)]
    assert edge.never_exercised == ("shop-stock.json: an item deleted",)
    assert edge.label == "observed: 5, covered 80%"
    assert (edge.operations, edge.operations_covered) == (2, 1)  # the same whatever the number of calls
    assert edge_line(edge) == "shop -> stock: 5 HTTP call(s), 4 covered (80%), 1 uncovered, 1 of 2 operation(s) " \
                              "covered, 1 interaction(s) never exercised, 1 breaking the provider's document"


def test_the_three_most_frequent_uncovered_operations_are_named(spec, stock_document) -> None:
    calls = [call("/items/1/price", count=5, body='{"price": 3}'), call("/items/1", method="DELETE", status=500),
             call("/items/3", status=404, count=2), call("/nowhere", count=3)]
    [edge] = coverage_of(spec, calls, {"stock": stock_document})
    assert [(o.operation, o.calls) for o in edge.top_uncovered] == [
        ("GET /items/{id}/price -> 200", 5), ("GET /nowhere -> 200", 3), ("GET /items/{id} -> 404", 2)]
    assert edge.uncovered == 11


def test_every_uncovered_operation_is_in_the_json_and_folded_on_the_page_the_console_names_three(
        spec, stock_document, tmp_path) -> None:
    from harness.report.matrix import matrix_text, observed_html, write_reports

    calls = [call("/items/1/price", count=5, body='{"price": 3}'), call("/items/1", method="DELETE", status=500),
             call("/items/3", status=404, count=2), call("/nowhere", count=3), call("/elsewhere", count=1)]
    [edge] = coverage_of(spec, calls, {"stock": stock_document})
    assert [(o.operation, o.calls) for o in edge.uncovered_operations] == [  # ties: in text order
        ("GET /items/{id}/price -> 200", 5), ("GET /nowhere -> 200", 3), ("GET /items/{id} -> 404", 2),
        ("DELETE /items/{id} -> 500", 1), ("GET /elsewhere -> 200", 1)]
    edges = edge_matrix(spec, [], coverage=[edge])
    text = matrix_text(edges, "t", width=200)
    assert "shop->stock uncovered: GET /items/{id} -> 404: 2 call(s)" in text
    assert "uncovered: DELETE /items" not in text and "/elsewhere" not in text
    assert "shop->stock uncovered: and 2 more operation(s) (every one with its calls in contract-matrix.json)" in text
    as_json, as_html = write_reports(edges, tmp_path, "t")
    [cell] = [e["observed"] for e in json.loads(as_json.read_text())["edges"] if e["provider"] == "stock"]
    assert [text.split(": ")[0:2] for text in cell["uncovered"]] == [
        ["GET /items/{id}/price -> 200", "5 call(s)"], ["GET /nowhere -> 200", "3 call(s)"],
        ["GET /items/{id} -> 404", "2 call(s)"], ["DELETE /items/{id} -> 500", "1 call(s)"],
        ["GET /elsewhere -> 200", "1 call(s)"]]
    [stock] = [e for e in edges if e.provider == "stock"]
    folded = ("<li><details><summary>shop-&gt;stock uncovered: and 2 more operation(s) (every one with its calls in "
              "contract-matrix.json)</summary><ul><li>DELETE /items/{id} -&gt; 500: 1 call(s)")
    assert folded in observed_html(stock) and folded in as_html.read_text()


def test_calls_the_document_does_not_allow_are_counted_with_what_it_says(spec, stock_document) -> None:
    calls = [call("/items/3", status=404, count=2, body='{"error": "no"}'),
             call("/items/4", body='{"id": "four"}'),  # a body against its schema
             call("/items/5", body='{"id": "fi', truncated=True),  # cut by the capture's limit: not judged
             call("/items/6", body='{"id": 6, "name": "kiwi"}')]
    [edge] = coverage_of(spec, calls, {"stock": stock_document})
    assert edge.breaking == 3
    assert [(o.operation, o.calls) for o in edge.top_breaking] == [("GET /items/{id} -> 404", 2),
                                                                  ("GET /items/{id} -> 200", 1)]
    assert edge.top_breaking[0].says == "GET /items/{id} documents 200"
    assert "integer" in edge.top_breaking[1].says
    assert edge.not_judged == 1  # the cut body: counted and said, never allowed
    assert [(o.operation, o.calls, o.says) for o in edge.top_not_judged] == [
        ("GET /items/{id} -> 200", 1, "body over 1 MiB, the capture's limit")]


def test_every_distinct_body_of_a_kind_of_call_is_judged_not_only_the_first(spec, stock_document) -> None:
    bodies = (BodySample("", '{"id": 1, "name": "apple"}', 5), BodySample("", '{"id": null, "name": "apple"}', 2),
              BodySample("", '{"id": 1, "name": "apple"}', 1, response_truncated=True))
    [edge] = coverage_of(spec, [call("/items/1", count=9, bodies=bodies, unsampled=1)], {"stock": stock_document})
    # (the unsampled call's request is not known: Pact cannot judge it, so it is not covered)
    assert (edge.calls, edge.covered, edge.breaking, edge.not_judged) == (9, 8, 2, 2)
    assert edge.top_breaking[0].says == "None is not of type 'integer'"  # (one fault, said once)
    assert edge.top_not_judged[0].says == "more different requests and bodies than the capture keeps"  # the first reason said


def test_a_compressed_body_is_judged_once_its_encoding_is_undone(spec, stock_document) -> None:
    import gzip

    broken = gzip.compress(b'{"id": "one"}').decode("latin-1")
    bodies = (BodySample("", broken, 1, response_encoding="gzip"), BodySample("", "x", 1, response_encoding="br"))
    [edge] = coverage_of(spec, [call("/items/1", count=2, bodies=bodies)], {"stock": stock_document})
    assert (edge.breaking, edge.not_judged) == (1, 1)
    assert "'one' is not of type 'integer'" in edge.top_breaking[0].says
    assert edge.top_not_judged[0].says == "body in an encoding the harness does not undo (br)"


def test_a_body_on_a_status_documented_without_content_is_allowed_as_schemathesis_allows_it(spec,
                                                                                           stock_document) -> None:
    # DELETE /items/{id} documents 204 with no content: schemathesis' default checks pass a body there
    [edge] = coverage_of(spec, [call("/items/1", method="DELETE", status=204, body='{"deleted": true}')],
                         {"stock": stock_document})
    assert (edge.covered, edge.breaking, edge.not_judged, edge.unchecked) == (1, 0, 0, 0)


def test_the_query_is_matched_as_pacts_mock_server_matches_it(spec, stock_document, tmp_path: Path) -> None:
    # the pact's GET /items/1 has no query: Pact's mock server refuses one with "Unexpected query parameter"
    [edge] = coverage_of(spec, [call("/items/1", query="currency=usd", body='{"id": 1}')], {"stock": stock_document})
    assert (edge.covered, edge.uncovered) == (0, 1)
    pact = json.loads((APP / "contracts" / "shop-stock.json").read_text())
    pact["interactions"][0]["request"]["query"] = {"currency": ["eur"], "page": ["1"]}
    pact["interactions"][0]["request"]["matchingRules"] = {"query": {"page": {"matchers": [
        {"match": "regex", "regex": r"\d+"}]}}}
    (tmp_path / "shop-stock.json").write_text(json.dumps(pact))
    with_query = [read_pact(tmp_path / "shop-stock.json")]
    calls = [call("/items/1", query="page=7&currency=eur", body='{"id": 1}'),  # the rule takes any page number
             call("/items/2", query="currency=eur", body='{"id": 2}'),  # page missing
             call("/items/3", query="currency=usd&page=1", body='{"id": 3}'),  # another value
             call("/items/4", query="currency=eur&page=x", body='{"id": 4}')]  # against the rule
    [edge] = coverage_of(spec, calls, {"stock": stock_document}, pacts=with_query)
    assert (edge.covered, edge.uncovered) == (1, 3)


def test_without_a_document_the_path_itself_or_the_pacts_path_regex_matches(spec, tmp_path: Path) -> None:
    pact = json.loads((APP / "contracts" / "shop-stock.json").read_text())
    del pact["interactions"][0]["request"]["matchingRules"]
    (tmp_path / "exact" / "shop-stock.json").parent.mkdir()
    (tmp_path / "exact" / "shop-stock.json").write_text(json.dumps(pact))
    pact["interactions"][0]["request"]["matchingRules"] = {"path": {"matchers": [{"match": "regex",
                                                                                  "regex": r"/items/\d+"}]}}
    (tmp_path / "shop-stock.json").write_text(json.dumps(pact))
    unavailable = OpenAPIUnavailable("service 'stock': no document")
    exact = coverage_of(spec, [call("/items/1"), call("/items/2")], {"stock": unavailable},
                        pacts=[read_pact(tmp_path / "exact" / "shop-stock.json")])[0]
    assert (exact.covered, exact.uncovered) == (1, 1)
    assert exact.notes == ("calls not checked against stock's OpenAPI document: service 'stock': no document",)
    by_regex = coverage_of(spec, [call("/items/1"), call("/items/2")], {"stock": unavailable},
                           pacts=[read_pact(tmp_path / "shop-stock.json")])[0]
    assert (by_regex.covered, by_regex.uncovered) == (2, 0)


def test_an_edge_with_traffic_and_no_pact_and_connections_not_inspected(spec) -> None:
    flows = [ObservedFlow("shop", "redis", 6379, "other", 3, 51), ObservedFlow("shop", "redis", 6379, "none", 1, 0),
             ObservedFlow("shop", "stock", 8000, "http", 2, 900)]
    edges = coverage_of(spec, [call("/items/1")], {}, flows=flows, pacts=[])
    redis, stock = edges
    assert (redis.consumer, redis.provider, redis.calls, redis.label) == ("shop", "redis", 0,
                                                                          "observed: 3 conn, not inspected")
    assert [(n.port, n.protocol, n.connections, n.bytes) for n in redis.not_inspected] == [(6379, "other", 3, 51)]
    assert stock.label == "observed: 1, no pact"
    assert stock.notes == ("calls not checked against an OpenAPI document: service 'stock' has no `openapi:`",)


def test_calls_from_outside_are_apart_and_no_edge_of_the_matrix(spec, stock_document) -> None:
    edges = coverage_of(spec, [call("/order/1", consumer=OUTSIDE, provider="shop"), call("/items/1")],
                        {"stock": stock_document}, flows=[ObservedFlow("shop", "redis", 6379, "other", 1, 17)],
                        lost={"shop": "it was restarted during the run"})
    outside = next(e for e in edges if e.consumer == OUTSIDE)
    assert outside.outside and outside.calls == 1
    matrix = edge_matrix(spec, [], coverage=edges)
    assert [(e.consumer, e.provider, e.status) for e in matrix] == [("shop", "redis", "no pact"),
                                                                    ("shop", "stock", "not verified")]
    stock = matrix[1]
    assert stock.interactions == 2  # its pact's, though not verified in this run
    assert stock.observed is not None and stock.observed.never_exercised == ("shop-stock.json: an item deleted",)
    assert "shop: it was restarted during the run" in stock.observed.notes
    assert dataclasses.asdict(matrix[0])["observed"]["not_inspected"] == ("port 6379 other: 1 connection(s), 17 bytes",)


def test_calls_made_under_a_fault_are_counted_and_named_apart(spec, stock_document) -> None:
    faulted = dataclasses.replace(call("/items/1/price", count=2, body='{"price": 3}'), faulted=True)
    [edge] = coverage_of(spec, [call("/items/1/price", body='{"price": 3}'), faulted,
                                dataclasses.replace(call("/items/1", body='{"id": 1, "name": "pear"}'), faulted=True)],
                         {"stock": stock_document})
    assert (edge.calls, edge.covered, edge.faulted) == (4, 1, 3)
    assert [(o.operation, o.calls) for o in edge.top_uncovered] == [
        ("GET /items/{id}/price -> 200 (under a fault)", 2), ("GET /items/{id}/price -> 200", 1)]
    from harness.report.matrix import observed_lines

    [cell] = edge_matrix(spec, [], coverage=[edge])
    assert "shop->stock under a fault: 3 of its 4 call(s) were made while a fault was on this edge" in \
        observed_lines(cell)


def test_connections_a_cut_stopped_are_said_on_their_edge_and_are_not_calls(spec, stock_document) -> None:
    from harness.report.matrix import observed_lines
    from harness.report.observe import edge_line

    flows = [ObservedFlow("shop", "stock", 0, "refused by cut()", 2, 0),
             ObservedFlow("shop", "redis", 0, "refused by cut()", 1, 0),
             ObservedFlow("shop", "stock", 0, "dropped by cut()", 7, 0),
             ObservedFlow("shop", "redis", 0, "dropped by loss()", 4, 0)]
    redis, stock = coverage_of(spec, [call("/items/2", body='{"id": 2, "name": "pear"}')], {"stock": stock_document},
                               flows=flows)
    assert (stock.calls, stock.covered, stock.uncovered, stock.refused, stock.not_inspected) == (1, 1, 0, 2, ())
    assert (redis.calls, redis.refused, redis.lost, redis.label) == (
        0, 1, 4, "observed: none, 1 refused by cut(), 4 packet(s) dropped by loss()")
    # the cell says what a cut stopped whether or not HTTP calls passed too; a drop counts packets
    assert (stock.dropped, stock.label) == (7, "observed: 1, covered 100%, 2 refused by cut(), 7 packet(s) dropped by cut()")
    assert edge_line(redis) == "shop -> redis: 1 connection(s) refused by cut() (no HTTP passed: not calls), 4 " \
                               "packet(s) dropped by loss() (sent again by TCP: its calls are counted)"
    assert edge_line(stock).endswith(", 2 connection(s) refused by cut() (no HTTP passed: not calls), 7 packet(s) "
                                     "dropped by cut() (each retry counts; no HTTP passed: not calls)")
    cell = next(e for e in edge_matrix(spec, [], coverage=[redis, stock]) if e.provider == "stock")
    assert cell.observed is not None and dataclasses.asdict(cell)["observed"]["refused"] == 2
    assert dataclasses.asdict(cell)["observed"]["dropped"] == 7
    assert "shop->stock refused by cut(): 2 connection(s) refused by a cut on this edge: not calls, neither covered " \
           "nor uncovered" in observed_lines(cell)
    assert "shop->stock dropped by cut(): 7 TCP packet(s) dropped by a cut on this edge (each retry of a connection " \
           "counts): not calls, neither covered nor uncovered" in observed_lines(cell)
    cell = next(e for e in edge_matrix(spec, [], coverage=[redis, stock]) if e.provider == "redis")
    assert dataclasses.asdict(cell)["observed"]["lost"] == 4
    assert "shop->redis dropped by loss(): 4 packet(s) dropped by a loss on this edge (TCP sends them again: the " \
           "calls that got through are counted, under a fault)" in observed_lines(cell)


def test_the_observations_of_xdist_workers_add_up_per_edge(spec, stock_document) -> None:
    from harness.observe import merge_observations

    first = Observation([call("/items/1", body='{"id": 1, "name": "apple"}')],
                        [ObservedFlow("shop", "redis", 6379, "other", 1, 17)], {}, dropped_packets=1)
    second = Observation([call("/items/1", count=2, body='{"id": 1, "name": "pear"}'), call("/items/1/price")],
                         [ObservedFlow("shop", "redis", 6379, "other", 2, 34)], {"shop": "restarted"}, overflow=3)
    merged = merge_observations([first, second])
    assert (merged.dropped_packets, merged.overflow, merged.lost) == (1, 3, {"shop": "restarted"})
    redis, stock = edge_coverage(spec, merged, [read_pact(APP / "contracts" / "shop-stock.json")],
                                 {"stock": stock_document})
    assert (stock.calls, stock.covered, stock.uncovered) == (4, 3, 1)
    assert [(n.connections, n.bytes) for n in redis.not_inspected] == [(3, 51)]  # one count per port and protocol


def test_a_request_without_its_response_is_replayed_and_its_request_judged(spec, stock_document) -> None:
    [edge] = coverage_of(spec, [call("/items/1", status=0, count=2), call("/items/1/price", status=0)],
                         {"stock": stock_document})
    assert (edge.calls, edge.covered, edge.breaking, edge.unchecked, edge.unanswered) == (3, 2, 0, 0, 3)
    assert edge.notes == ("3 call(s) without a response seen: their requests judged against stock's document, no "
                          "response to judge",)
    assert [(o.operation, o.calls) for o in edge.top_uncovered] == [("GET /items/{id}/price -> no response", 1)]
    assert (edge.operations, edge.operations_covered) == (2, 1)


def test_a_call_seen_only_by_its_providers_capture_is_not_judged_for_that_reason(spec, stock_document) -> None:
    """Two calls of one kind with two bodies at the provider, one of them before the consumer's capture ran (the
    table of `harness up --observe` was printed before it started): which body it had is not known; said so, not
    "more ... than the capture keeps" (that capture kept both)."""
    early = dataclasses.replace(call("/items/1", bodies=(), count=1, unsampled=1), provider_only=True)
    later = call("/items/1", body='{"id": 1, "name": "pear"}')
    [edge] = coverage_of(spec, [later, early], {"stock": stock_document})
    assert (edge.calls, edge.covered, edge.not_judged) == (2, 1, 1)
    assert [(o.operation, o.calls, o.says) for o in edge.not_judged_operations] == [
        ("GET /items/{id} -> 200", 1, "seen only by stock's capture (shop's was not running yet), which of its "
                                      "requests is not known")]
    [edge] = coverage_of(spec, [later, dataclasses.replace(early, provider_only=False)], {"stock": stock_document})
    assert edge.not_judged_operations[0].says == "more different requests and bodies than the capture keeps"


def test_the_kinds_of_calls_with_a_response_and_the_document_that_judged_them(spec, stock_document) -> None:
    calls = [call("/items/1", count=7, body='{"id": 1, "name": "pear"}'), call("/items/2", status=404),
             call("/items/3", status=0, bodies=(BodySample("", "", 1),))]
    [edge] = coverage_of(spec, calls, {"stock": stock_document})
    assert edge.answered_operations == (("GET /items/{id} -> 200", True), ("GET /items/{id} -> 404", False))
    assert edge.document == "stock.yaml"
    from harness.report.matrix import observed_lines

    [matrix_edge] = [e for e in edge_matrix(spec, [], [], coverage=[edge]) if e.observed is not None]
    assert matrix_edge.observed is not None and matrix_edge.observed.document == "stock.yaml"  # the JSON's
    assert observed_lines(matrix_edge)[-1] == \
        "shop->stock document: the calls were judged against stock's OpenAPI document stock.yaml"  # console, page
    [edge] = coverage_of(spec, calls, {"stock": OpenAPIUnavailable("stock was down")})
    assert edge.document == ""
