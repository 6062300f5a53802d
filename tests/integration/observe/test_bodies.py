"""What the strict gate judges, against the real engine: every body of a kind of call (not only the first), a body
over the capture's limit said as not judged (never allowed), the query matched as Pact's mock server matches it, a
run with no call between services not passed, a body on a status documented without content allowed as
schemathesis allows it, an answer without the properties its document requires breaking it (as `st run` says), an
answer without a required header or with a header value against its schema breaking it (as openapi-core says), and
a request whose answer has not come when the capture is read judged all the same. One topology (tests/topologies/observe-bodies: orders calling catalog from its own
container, built from observe-app's folder), observed afresh for each case."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import requests

from harness.model.loader import load_topology
from harness.model.topology import TopologySpec
from harness.observe import ObserveResult, ObserveRun, gate_verdicts
from harness.observe.gates import GateVerdict
from harness.runtime.topology import Topology

from ..conftest import TOPOLOGIES


@pytest.fixture(scope="module")
def bookshop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TopologySpec, Topology]]:
    folder = tmp_path_factory.mktemp("observe-bodies") / "bookshop"
    shutil.copytree(TOPOLOGIES / "observe-bodies", folder)
    shutil.copytree(TOPOLOGIES / "observe-app", folder.parent / "observe-app")  # its build context: ../observe-app
    spec = load_topology(folder / "topology.yaml")
    with Topology.start(spec) as topology:
        yield spec, topology


def observed(bookshop: tuple[TopologySpec, Topology], *calls: str, how: str = "call") -> tuple[ObserveResult,
                                                                                            GateVerdict]:
    """The coverage and the strict gate of the calls orders makes to catalog (`GET/books/111`: method/path?query;
    `how="send"`: orders does not wait for their answers)."""
    spec, topology = bookshop
    run = ObserveRun(spec, topology)
    run.start()
    try:
        for made in calls:
            answer = requests.get(f"{topology['orders'].url}/{how}/{made}", timeout=60)
            assert answer.status_code == 200, answer.text
    finally:
        result = run.finish()
    [strict] = gate_verdicts(result, "", None, True)
    return result, strict


def test_strict_with_no_call_between_services_is_not_judged_not_passed(bookshop) -> None:  # noqa: ANN001
    result, strict = observed(bookshop)
    edge = result.edge("orders", "catalog")  # (its pact's edge: no call)
    assert edge is not None and edge.calls == 0
    assert (strict.outcome, strict.summary) == (
        "error", "observed coverage, strict: not judged: no call between services was observed (nothing to measure; "
                 "do the tests make the services call each other?)")


def test_a_body_over_the_capture_limit_is_said_not_judged_and_strict_is_an_error(bookshop) -> None:  # noqa: ANN001
    result, strict = observed(bookshop, "GET/books/long", "GET/books/222")
    edge = result.edge("orders", "catalog")
    assert edge is not None and (edge.calls, edge.covered, edge.breaking, edge.not_judged) == (2, 2, 0, 1)
    assert strict.outcome == "error"
    assert strict.summary == ("observed coverage, strict: not judged: 1 of 2 call(s) between services could not be "
                              "judged against their provider's document (the others are covered and allowed)")
    assert "orders -> catalog: 1 call(s) not judged: GET /books/{isbn} -> 200 " \
           "(1): body over 1 MiB, the capture's limit" in strict.details


def test_a_query_the_interaction_lacks_is_uncovered(bookshop) -> None:  # noqa: ANN001
    # Pact's mock server refuses GET /quote/111?currency=USD for the pact's GET /quote/111 (unexpected query)
    result, strict = observed(bookshop, "GET/quote/111", "GET/quote/111?currency=USD")
    edge = result.edge("orders", "catalog")
    assert edge is not None and (edge.calls, edge.covered, edge.uncovered) == (2, 1, 1)
    assert [(o.operation, o.calls) for o in edge.top_uncovered] == [("GET /quote/{isbn} -> 200", 1)]
    assert strict.outcome == "failed"
    assert strict.summary == ("observed coverage, strict: 1 call(s) between services uncovered, 0 breaking the "
                              "provider's document")


def test_every_body_is_judged_and_a_404_body_the_document_leaves_open_is_allowed(bookshop) -> None:  # noqa: ANN001
    # the same kind of call (GET /books/{isbn} -> 200, application/json) first allowed, then breaking (price null)
    result, strict = observed(bookshop, "GET/books/111", "GET/books/0", "POST/books/111/sold-out", "GET/books/111",
                              "GET/books/111")
    edge = result.edge("orders", "catalog")
    assert edge is not None and (edge.calls, edge.covered, edge.uncovered) == (5, 5, 0)
    assert (edge.breaking, edge.not_judged) == (2, 0)  # the 404's JSON body is no finding (schemathesis: none)
    assert [(o.operation, o.calls, o.findings) for o in edge.top_breaking] == [
        ("GET /books/{isbn} -> 200", 2, ("None is not of type 'number'",))]  # (one fault, once)
    assert strict.outcome == "failed"
    assert strict.summary == ("observed coverage, strict: 0 call(s) between services uncovered, 2 breaking the "
                              "provider's document")


def test_an_answer_without_the_properties_its_document_requires_breaks_it(bookshop) -> None:  # noqa: ANN001
    # catalog answers {"uid": 1, "about": 7} where its document requires isbn, title and price: `st run` says
    # "Response violates schema"; the pact's regex path covers the request
    result, strict = observed(bookshop, "GET/books/bare")
    edge = result.edge("orders", "catalog")
    assert edge is not None and (edge.calls, edge.covered, edge.breaking) == (1, 1, 1)
    assert [(o.operation, o.findings) for o in edge.breaking_operations] == [
        ("GET /books/{isbn} -> 200", ("'isbn' is a required property", "'price' is a required property",
                                      "'title' is a required property"))]
    assert strict.outcome == "failed"
    assert strict.summary == ("observed coverage, strict: 0 call(s) between services uncovered, 1 breaking the "
                              "provider's document")


def test_a_request_whose_answer_has_not_come_is_judged_against_the_document(bookshop) -> None:  # noqa: ANN001
    # GET /invoices without the query `user` the document requires; catalog answers only once released (after the
    # capture is read): the request was seen whole, so it is judged against the document; its connection open at
    # the read, it is in flight: not judged for coverage (neither covered nor uncovered: its answer comes by timing)
    spec, topology = bookshop
    try:
        result, strict = observed(bookshop, "GET/invoices", how="send")
    finally:
        requests.post(f"{topology['catalog'].url}/release", timeout=30)
    edge = result.edge("orders", "catalog")
    assert edge is not None and (edge.calls, edge.covered, edge.uncovered, edge.in_flight, edge.breaking,
                                 edge.unchecked, edge.unanswered) == (1, 0, 0, 1, 1, 0, 0)
    held = "GET /invoices -> no response (in flight when read)"
    assert [(o.operation, o.says) for o in edge.breaking_operations] == [(held, "required query parameter 'user'")]
    assert strict.outcome == "failed"
    assert f"orders -> catalog: 1 call(s) breaking catalog's OpenAPI document: {held} (1): " \
           "required query parameter 'user'" in strict.details.splitlines()
    assert f"orders -> catalog: 1 call(s) in flight when read: not judged for coverage: {held} (1)" \
           in strict.details.splitlines()


def test_an_answer_without_a_required_header_or_with_a_value_against_its_schema_breaks_the_document(
        bookshop) -> None:  # noqa: ANN001
    # POST /holds/{isbn} -> 202 with a new Location at each call (the two calls of 111 are one kind, allowed), none
    # for isbn 0 (its document requires one, by $ref), X-Hold-Count "many" for isbn 7 (its document says integer):
    # openapi-core's "Missing required header: Location" and its cast failure
    result, strict = observed(bookshop, "POST/holds/111", "POST/holds/111", "POST/holds/0", "POST/holds/7")
    edge = result.edge("orders", "catalog")
    assert edge is not None and (edge.calls, edge.breaking, edge.not_judged) == (4, 2, 0)
    assert sorted((o.operation, o.calls, o.findings) for o in edge.breaking_operations) == [
        ("POST /holds/{isbn} -> 202", 2, (
            "required response header 'Location'",
            "response header 'X-Hold-Count': Failed to cast value to integer type: many"))]
    assert strict.outcome == "failed"
    assert "orders -> catalog: 2 call(s) breaking catalog's OpenAPI document: POST /holds/{isbn} -> 202 (2): " \
           "required response header 'Location'" in strict.details
