"""Reports that do not vary and name every finding: what the document says against an operation, whatever the order
of the calls; every breaking operation in the JSON and the page, three and "N more" in the console and the gate;
calls with nothing to judge them against not said "not judged" (pure logic: calls given, document and pact files)."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
import yaml

from harness.contracts.drift.documents import load_document
from harness.contracts.matrix import edge_matrix
from harness.contracts.pactfiles import read_pact
from harness.model.loader import load_topology
from harness.observe import ObserveResult, edge_coverage
from harness.observe.gates import gate_verdicts
from harness.report.matrix import matrix_text, observed_html, write_reports
from harness.report.observe import edge_line
from harness.runtime.observe import OUTSIDE, Observation, ObservedCall
from harness.runtime.observe_records import BodySample

APP = Path(__file__).parents[2] / "topologies" / "observe-app"
PACT = APP / "contracts" / "shop-stock.json"


def call(path: str, status: int = 200, method: str = "GET", count: int = 1, body: str = "",
         consumer: str = "shop", bodies: tuple[BodySample, ...] | None = None, unsampled: int = 0) -> ObservedCall:
    bodies = (BodySample("", body, count),) if bodies is None else bodies
    return ObservedCall(consumer, "stock", 8000, method, path, (), status, "application/json", count, 0.01 * count,
                        0.01, 0, len(body), bodies=bodies, unsampled=unsampled)


@pytest.fixture(scope="module")
def spec():  # noqa: ANN201
    return load_topology(APP / "topology.yaml")


@pytest.fixture(scope="module")
def document():  # noqa: ANN201
    return load_document(yaml.safe_load((APP / "stock.yaml").read_text()), "stock.yaml")


BREAKING = [call("/items/3", status=404, count=2, body='{"error": "no"}'), call("/nowhere", count=3),
            call("/elsewhere"), call("/items/1", method="DELETE", status=500), call("/items/4", body='{"id": "four"}')]


def test_what_the_document_says_against_an_operation_does_not_depend_on_the_order_of_its_bodies(spec, document) -> None:
    bodies = (BodySample("", '{"id": null, "name": "apple"}', 1), BodySample("", '{"id": "x", "name": "apple"}', 1))
    said = set()
    for order in (bodies, bodies[::-1]):
        [edge] = edge_coverage(spec, Observation([call("/items/1", count=2, bodies=order)], [], {}),
                               [read_pact(PACT)], {"stock": document})
        said.add((edge.top_breaking[0].says, edge.top_breaking[0].findings))
    # the first in text order, and every one in text order, either way
    assert said == {("'x' is not of type 'integer' (1 of 2 findings)",
                     ("'x' is not of type 'integer'", "None is not of type 'integer'"))}


def test_every_breaking_operation_is_in_the_json_and_folded_on_the_page_the_console_and_gate_name_three(
        spec, document, tmp_path) -> None:
    [edge] = edge_coverage(spec, Observation(BREAKING, [], {}), [read_pact(PACT)], {"stock": document})
    assert edge.breaking == 8
    assert [(o.operation, o.calls) for o in edge.breaking_operations] == [  # the most frequent first, ties in text order
        ("GET /nowhere -> 200", 3), ("GET /items/{id} -> 404", 2), ("DELETE /items/{id} -> 500", 1),
        ("GET /elsewhere -> 200", 1), ("GET /items/{id} -> 200", 1)]
    edges = edge_matrix(spec, [], coverage=[edge])
    text = matrix_text(edges, "t", width=250)
    assert "shop->stock breaks the document: DELETE /items/{id} -> 500: 1 call(s): DELETE /items/{id} documents 204" \
        in text
    assert "breaks the document: GET /elsewhere" not in text and "'four'" not in text
    assert "shop->stock breaks the document: and 2 more operation(s) (every one with its calls in " \
           "contract-matrix.json)" in text
    as_json, as_html = write_reports(edges, tmp_path, "t")
    [cell] = [e["observed"] for e in json.loads(as_json.read_text())["edges"] if e["provider"] == "stock"]
    assert cell["breaks"][3:] == [
        "GET /elsewhere -> 200: 1 call(s): no path of the document matches it (base path /; paths: /items/{id}, "
        "/items/{id}/price)", "GET /items/{id} -> 200: 1 call(s): 'four' is not of type 'integer'"]
    [stock] = [e for e in edges if e.provider == "stock"]
    folded = ("<li><details><summary>shop-&gt;stock breaks the document: and 2 more operation(s) (every one with its "
              "calls in contract-matrix.json)</summary><ul><li>GET /elsewhere -&gt; 200: 1 call(s)")
    assert folded in observed_html(stock) and folded in as_html.read_text()
    [gate] = gate_verdicts(ObserveResult(edges=[edge]), "", None, True)
    assert "DELETE /items/{id} -> 500 (1): DELETE /items/{id} documents 204; and 2 more (every one in " \
           "contract-matrix.json)" in gate.details


def test_the_page_has_each_edges_summary_line_as_the_console_and_json(spec, document, tmp_path) -> None:
    [edge] = edge_coverage(spec, Observation(BREAKING, [], {}), [read_pact(PACT)], {"stock": document})
    edges = edge_matrix(spec, [], coverage=[edge])
    as_json, as_html = write_reports(edges, tmp_path, "t")
    line = edge_line(edge)
    assert line.startswith("shop -> stock: 8 HTTP call(s), 1 covered (12.5%), 7 uncovered, 1 of 5 operation(s) "
                           "covered")
    [cell] = [e["observed"] for e in json.loads(as_json.read_text())["edges"] if e["provider"] == "stock"]
    assert cell["summary"] == line
    assert f"<li>{html.escape(line)}</li>" in as_html.read_text()


def test_the_tests_calls_to_a_service_without_a_document_are_not_said_not_judged(spec) -> None:
    many = call("/items/1", count=300, consumer=OUTSIDE, bodies=(BodySample("", "{}", 256),), unsampled=44)
    [edge] = edge_coverage(spec, Observation([many], [], {}), [], {})
    assert (edge.calls, edge.not_judged, edge.unchecked) == (300, 0, 300)
    assert edge_line(edge) == "(tests) -> stock: 300 HTTP call(s)"


def test_calls_past_the_capture_s_bounds_on_an_edge_with_a_pact_are_still_said_not_judged(spec) -> None:
    [edge] = edge_coverage(spec, Observation([call("/items/1", count=3, bodies=(), unsampled=3)], [], {}),
                           [read_pact(PACT)], {})
    assert (edge.covered, edge.not_judged) == (0, 3)
    assert edge.top_not_judged[0].says == "more different requests and bodies than the capture keeps"


def test_documents_loaded_while_the_tests_ran_give_the_same_coverage_and_a_failed_early_fetch_is_loaded_again(
        spec, document, tmp_path) -> None:
    from harness.errors import OpenAPIUnavailable
    from harness.observe.run import observe_result

    raw = {"stock": (yaml.safe_load((APP / "stock.yaml").read_text()), "stock.yaml", None)}
    alone = observe_result(spec, Observation(BREAKING, [], {}), raw, APP / "contracts")
    for early in ({"stock": document}, {"stock": OpenAPIUnavailable("stock was down when fetched")}):
        result = observe_result(spec, Observation(BREAKING, [], {}), raw, APP / "contracts", early)
        assert [e.summary for e in result.edges] == [e.summary for e in alone.edges]
        assert result.edges[0].breaking == 8 and not result.edges[0].notes
