"""What a provider really answered is judged against its document as written (pure logic: the calls are given): a
response without a required property breaks it (as `st run`'s response_schema_conformance says; a null where the
schema does not allow one is one finding, as it says), a request whose
answer never came is still judged, every finding of an operation is said, the harness's own calls (its fetch of a
document, the Pact verifier's, schemathesis') are not the tests', and a call only its provider's capture saw is said on its edge."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import pytest

from harness.contracts.drift.documents import load_document
from harness.contracts.drift.sources import OWN_CALL
from harness.contracts.matrix import edge_matrix
from harness.model.loader import load_topology
from harness.observe import edge_coverage
from harness.observe.gates import gate_verdicts
from harness.observe.run import observe_result
from harness.report.matrix import matrix_notes, observed_html
from harness.report.observe import observed_text
from harness.runtime import call_marks as marks
from harness.runtime.observe import OUTSIDE, Observation, ObservedCall
from harness.runtime.observe_records import BodySample

APP = Path(__file__).parents[2] / "topologies" / "observe-app"
PROFILE = {"type": "object", "required": ["id", "bio"],
           "properties": {"id": {"type": "integer"}, "bio": {"type": "string"}}}
DOCUMENT = {
    "openapi": "3.0.3", "info": {"title": "stock", "version": "1"},
    "paths": {"/items/{id}": {"get": {
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
                       {"name": "X-Tenant", "in": "header", "required": True, "schema": {"type": "string"}},
                       {"name": "lang", "in": "query", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the item", "content": {"application/json": {"schema": PROFILE}}}}}}}}


def call(body: str = '{"id": 1, "bio": "pear"}', status: int = 200, query: str = "lang=en",
         headers: tuple[tuple[str, str], ...] = (("X-Tenant", "acme"),), consumer: str = "shop") -> ObservedCall:
    sample = BodySample("", body, 1, query=query, request_headers=(("Host", "stock:8000"), *headers))
    return ObservedCall(consumer, "stock", 8000, "GET", "/items/1", ("lang",) if query else (), status,
                        "application/json" if status else "", 1, 0.01, 0.01, 0, len(body), bodies=(sample,))


@pytest.fixture(scope="module")
def spec():  # noqa: ANN201
    return load_topology(APP / "topology.yaml")


@pytest.fixture(scope="module")
def document():  # noqa: ANN201
    return load_document(DOCUMENT, "stock.yaml")


def test_an_answer_without_the_properties_its_schema_requires_breaks_the_document(spec, document) -> None:
    [allowed] = edge_coverage(spec, Observation([call()], [], {}), [], {"stock": document})
    assert allowed.breaking == 0
    [edge] = edge_coverage(spec, Observation([call('{"uid": 1, "about": 7}')], [], {}), [], {"stock": document})
    assert edge.breaking == 1
    assert edge.breaking_operations[0].findings == ("'bio' is a required property", "'id' is a required property")


def test_a_null_where_the_schema_is_not_nullable_is_one_finding_as_schemathesis_says_it(spec, document) -> None:
    # openapi-schema-validator says it twice ("None for not nullable", then the type error); schemathesis'
    # response_schema_conformance says "null is not of type 'string'" once, and jsonschema "None is not of type"
    [edge] = edge_coverage(spec, Observation([call('{"id": 1, "bio": null}')], [], {}), [], {"stock": document})
    assert edge.breaking_operations[0].findings == ("None is not of type 'string'",)
    [both] = edge_coverage(spec, Observation([call('{"id": null, "bio": null}')], [], {}), [], {"stock": document})
    assert both.breaking_operations[0].findings == ("None is not of type 'integer'", "None is not of type 'string'")
    [whole] = edge_coverage(spec, Observation([call("null")], [], {}), [], {"stock": document})
    assert whole.breaking_operations[0].findings == ("None is not of type 'object'",)


def test_a_request_without_its_answer_is_judged_against_the_document(spec, document) -> None:
    [edge] = edge_coverage(spec, Observation([call("", status=0, query="")], [], {}), [], {"stock": document})
    assert (edge.calls, edge.breaking, edge.unchecked, edge.unanswered) == (1, 1, 0, 1)
    [operation] = edge.breaking_operations
    assert (operation.operation, operation.says) == ("GET /items/{id} -> no response",
                                                     "required query parameter 'lang'")
    result = observe_result(spec, Observation([call("", status=0, query="")], [], {}),
                            {"stock": (DOCUMENT, "stock.yaml", None)}, APP / "contracts")
    [gate] = gate_verdicts(result, "", None, True)
    assert gate.outcome == "failed"  # (never "checked against none": stock has a document)
    assert "shop -> stock: 1 call(s) breaking stock's OpenAPI document: GET /items/{id} -> no response (1): " \
           "required query parameter 'lang'" in gate.details.splitlines()


def test_every_finding_of_an_operation_is_in_the_matrix_json_the_console_says_the_first(spec, document) -> None:
    calls = [call('{"id": 1}', query="", headers=())]
    [edge] = edge_coverage(spec, Observation(calls, [], {}), [], {"stock": document})
    [operation] = edge.breaking_operations
    assert operation.findings == ("'bio' is a required property", "required header parameter 'X-Tenant'",
                                  "required query parameter 'lang'")
    assert operation.says == "'bio' is a required property (1 of 3 findings)"
    [matrix_edge] = [e for e in edge_matrix(spec, [], coverage=[edge]) if e.provider == "stock"]
    every = "GET /items/{id} -> 200: 1 call(s): 'bio' is a required property; required header parameter " \
        "'X-Tenant'; required query parameter 'lang'"
    assert matrix_edge.observed is not None and matrix_edge.observed.breaks == (every,)  # (contract-matrix.json)
    assert "shop->stock breaks the document: GET /items/{id} -> 200: 1 call(s): 'bio' is a required property " \
        "(1 of 3 findings)" in matrix_notes([matrix_edge])  # (the console: one short line)
    assert html.escape(every) in observed_html(matrix_edge)  # (the pages: every finding)


def test_the_harness_s_own_calls_are_not_calls_of_the_tests_each_kind_on_its_own_line(spec) -> None:
    # the capture agent names the caller of a marked request (runtime.call_marks): its document fetch, the Pact
    # verifier's requests (--pact-verify), schemathesis' (--fuzz); unmarked, they are the tests'
    theirs = call("{}", consumer=OUTSIDE)
    own, verifier, fuzz = (dataclasses.replace(theirs, count=n, caller=who, bodies=()) for n, who in (
        (1, marks.DOCUMENT), (4, marks.VERIFIER), (30, marks.FUZZ)))
    result = observe_result(spec, Observation([theirs, own, verifier, fuzz], [], {}), {}, APP)
    [edge] = result.edges
    assert (edge.consumer, edge.calls) == (OUTSIDE, 1)
    assert (result.own_calls, result.verifier_calls, result.fuzz_calls) == (1, 4, 30)
    text = observed_text(result)
    assert "the harness's own calls (fetching OpenAPI documents): 1, not counted\n" \
           "the Pact verifier's requests (--pact-verify): 4, not counted\n" \
           "schemathesis' requests (fuzzing): 30, not counted\n" in text
    alone = observe_result(spec, Observation([own], [], {}), {}, APP)
    assert (alone.edges, alone.own_calls) == ([], 1)


def test_a_marked_call_between_services_is_counted_and_not_judged(spec) -> None:
    # (a service passing a schemathesis header on: its capture keeps no body of it, so it cannot be judged)
    marked = dataclasses.replace(call("{}"), caller=marks.FUZZ, bodies=(), count=2)
    result = observe_result(spec, Observation([marked], [], {}), {"stock": (DOCUMENT, "stock.yaml", None)},
                            APP / "contracts")
    [edge] = result.edges
    assert (edge.consumer, edge.calls, edge.covered, edge.not_judged, result.fuzz_calls) == ("shop", 2, 0, 2, 0)


def test_what_marks_a_request_as_the_harness_s() -> None:  # (the headers as the agent has them: names lower case)
    assert marks.caller([("accept", "*/*"), ("user-agent", "pact_verifier/1.4.7"),
                         ("x-pytest-topology", "pact-verifier")]) == marks.VERIFIER
    assert marks.caller([("user-agent", "schemathesis/4.32.5"), ("x-schemathesis-testcaseid", "Ab3")]) == marks.FUZZ
    assert marks.caller(dict([marks.FUZZ_AUTH]).items()) == marks.FUZZ
    assert marks.caller([OWN_CALL]) == marks.DOCUMENT
    assert marks.caller([("user-agent", "schemathesis/4.32.5"), ("host", "x")], "GET", "/schemathesis-probe") \
        == marks.FUZZ  # (its probes of the API: no test case id)
    assert marks.caller([], "HEAD", "/") == marks.FUZZ  # its liveness check after a reset (a raw socket)
    assert marks.caller([("host", "x")], "HEAD", "/") == marks.caller([], "GET", "/") == ""
    assert marks.caller([("user-agent", "python-requests/2.32"), ("x-pytest-topology", "something else")]) == ""
    assert marks.caller([]) == ""


def test_what_the_tests_calls_break_is_said_under_their_line(spec, document) -> None:
    from harness.observe.run import ObserveResult

    edges = edge_coverage(spec, Observation([call('{"id": 1}', consumer=OUTSIDE)], [], {}), [], {"stock": document})
    text = observed_text(ObserveResult(edges=edges))
    assert "  (tests) -> stock: 1 HTTP call(s), 1 breaking the provider's document\n" \
           "    breaks the document: GET /items/{id} -> 200: 1 call(s): 'bio' is a required property\n" in text


def test_calls_only_the_provider_s_capture_saw_are_said_on_their_edge(spec, document) -> None:
    observation = Observation([call()], [], {}, provider_only={("shop", "stock"): 2})
    [edge] = edge_coverage(spec, observation, [], {"stock": document})
    assert edge.notes == ("2 call(s) seen only by stock's capture, counted: shop's capture was not running yet when "
                          "they were made (each service's capture starts on its own: at the session's start, and after "
                          "a restart in the service's new namespace)",)
    [cell] = [e.observed for e in edge_matrix(spec, [], coverage=[edge]) if e.provider == "stock"]
    assert cell is not None and cell.notes == edge.notes  # (in contract-matrix.json)
