"""A call awaiting its response when the capture is read (its connection still open) is in flight: whether its answer
comes before the read depends on the moment, not on the tests, so it is neither covered nor uncovered (its request is
still judged against the document), and --observe-strict gives the same verdict whether it was in flight or not. A
call whose connection closed without an answer is no such call: it stays uncovered."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from harness.contracts.drift.documents import load_document
from harness.contracts.matrix import CoverageCell
from harness.contracts.pactfiles import read_pact
from harness.model.loader import load_topology
from harness.observe import edge_coverage
from harness.observe.gates import gate_verdicts
from harness.observe.run import ObserveResult
from harness.runtime.observe import Observation, ObservedCall
from harness.runtime.observe_records import BodySample, observed_call

APP = Path(__file__).parents[2] / "topologies" / "observe-app"
ANSWERED = ObservedCall("shop", "stock", 8000, "GET", "/items/1", (), 200, "application/json", 1, 0.01, 0.01, 0, 25,
                        bodies=(BodySample("", '{"id": 1, "name": "pear"}', 1),))
AWAITED = dataclasses.replace(ANSWERED, path="/items/2", status=0, content_type="", response_bytes=0,
                              bodies=(BodySample("", "", 1),), in_flight=True)


@pytest.fixture(scope="module")
def spec():  # noqa: ANN201
    return load_topology(APP / "topology.yaml")


@pytest.fixture(scope="module")
def document():  # noqa: ANN201
    return load_document(yaml.safe_load((APP / "stock.yaml").read_text()), "stock.yaml")


def strict(spec, calls, document):  # noqa: ANN001, ANN201
    edges = edge_coverage(spec, Observation(list(calls), [], {}), [read_pact(APP / "contracts" / "shop-stock.json")],
                          {"stock": document})
    [gate] = gate_verdicts(ObserveResult(edges=edges), "", None, True)
    return edges, gate


def test_a_call_in_flight_at_the_read_is_neither_covered_nor_uncovered(spec, document) -> None:
    [edge], _ = strict(spec, [ANSWERED, AWAITED], document)
    assert (edge.calls, edge.covered, edge.uncovered, edge.in_flight) == (2, 1, 0, 1)
    assert [(o.operation, o.calls) for o in edge.in_flight_operations] == [
        ("GET /items/{id} -> no response (in flight when read)", 1)]
    assert (edge.operations, edge.operations_covered) == (1, 1)  # (its kind comes and goes with the read's moment)
    assert "1 call(s) in flight when the capture was read (their connection open, no response yet): not judged " \
           "for coverage, their requests judged against stock's document" in edge.notes
    assert edge.summary.endswith("1 in flight when read (not judged for coverage)")
    assert CoverageCell.of(edge).in_flight == ("GET /items/{id} -> no response (in flight when read): 1 call(s)",)


def test_strict_gives_the_same_verdict_whether_the_read_came_before_the_answer_or_after(spec, document) -> None:
    _, answered = strict(spec, [dataclasses.replace(ANSWERED, count=2, bodies=(BodySample("", ANSWERED.bodies[0]
                                                                                            .response_body, 2),))],
                         document)
    _, awaited = strict(spec, [ANSWERED, AWAITED], document)
    assert (answered.outcome, awaited.outcome) == ("passed", "passed")
    assert awaited.summary == ("observed coverage, strict: every one of 1 call(s) between services covered by a pact "
                               "interaction and allowed by its provider's document; 1 more in flight when the capture "
                               "was read: not judged for coverage")
    assert "shop -> stock: 1 call(s) in flight when read: not judged for coverage: GET /items/{id} -> no response " \
           "(in flight when read) (1)" in awaited.details.splitlines()


def test_a_call_its_provider_never_answered_before_the_connection_closed_still_fails_strict(spec, document) -> None:
    # (a request without its response matches an interaction of any status: this one's request, none)
    closed = dataclasses.replace(AWAITED, path="/items/2/price", in_flight=False)
    [edge], gate = strict(spec, [ANSWERED, closed], document)
    assert (edge.uncovered, edge.in_flight) == (1, 0)
    assert [o.operation for o in edge.uncovered_operations] == ["GET /items/{id}/price -> no response"]
    assert gate.outcome == "failed"
    assert gate.summary == "observed coverage, strict: 1 call(s) between services uncovered, 0 breaking the " \
                           "provider's document"
    [edge], gate = strict(spec, [ANSWERED, dataclasses.replace(closed, in_flight=True)], document)
    assert (edge.uncovered, edge.in_flight, gate.outcome) == (0, 1, "passed")


def test_the_request_of_a_call_in_flight_is_still_judged_against_the_document(spec, document) -> None:
    unknown = dataclasses.replace(AWAITED, path="/nowhere")
    [edge], gate = strict(spec, [ANSWERED, unknown], document)
    assert (edge.uncovered, edge.in_flight, edge.breaking) == (0, 1, 1)
    assert gate.outcome == "failed"
    assert [o.operation for o in edge.breaking_operations] == ["GET /nowhere -> no response (in flight when read)"]


def test_only_calls_in_flight_between_services_are_an_error_not_a_pass(spec, document) -> None:
    _, gate = strict(spec, [AWAITED], document)
    assert gate.outcome == "error"
    assert gate.summary == ("observed coverage, strict: not judged: every one of 1 call(s) between services was in "
                            "flight when the capture was read (nothing to judge for coverage)")


def test_the_capture_s_record_says_whether_the_call_was_in_flight() -> None:
    record = {"port": 8000, "method": "GET", "path": "/items/2", "status": 0, "count": 1, "seconds": 0.0,
              "max_seconds": 0.0, "request_bytes": 0, "response_bytes": 0}
    assert observed_call(("shop", "stock"), {**record, "in_flight": True}).in_flight
    assert not observed_call(("shop", "stock"), record).in_flight  # (a record of an older capture: closed)
