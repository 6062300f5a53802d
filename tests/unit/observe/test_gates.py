"""The gates on observed coverage (--observe-fail-under, --observe-strict): pure logic on given coverage."""

from __future__ import annotations

import dataclasses

from harness.observe.coverage import EdgeCoverage, OperationCount
from harness.observe.gates import gate_verdicts
from harness.observe.run import ObserveResult
from harness.verdict import exit_code

FULL = EdgeCoverage("gateway", "tokendealer", calls=4, covered=4, pacts=("contracts/g-t.json",),
                    answered_operations=(("POST /token -> 200", True),))
GAP = EdgeCoverage("gateway", "dataservice", calls=10, covered=7, uncovered=3, pacts=("contracts/g-d.json",),
                   uncovered_operations=(OperationCount("DELETE /runs/{id} -> 204", 3),),
                   answered_operations=(("DELETE /runs/{id} -> 204", False), ("GET /runs -> 200", True),
                                        ("GET /runs/{id} -> 200", True), ("POST /runs -> 201", True)))
BREAKS = EdgeCoverage("worker", "strava", calls=2, covered=2, breaking=1, pacts=("contracts/w-s.json",),
                      breaking_operations=(OperationCount("GET /activities -> 500", 1, "GET /activities documents 200"),))
NO_PACT = EdgeCoverage("worker", "gateway", calls=2, covered=0, uncovered=2,
                       uncovered_operations=(OperationCount("GET /health -> 200", 2),),
                       answered_operations=(("GET /health -> 200", False),))
TESTS = EdgeCoverage("(tests)", "gateway", calls=50, outside=True)


def test_no_gate_no_verdict() -> None:
    assert gate_verdicts(ObserveResult(edges=[GAP]), "", None, False) == []


def test_fail_under_counts_the_kinds_of_calls_between_services_only() -> None:
    [gate] = gate_verdicts(ObserveResult(edges=[FULL, GAP, TESTS]), "", 80, False)  # the tests' 50 calls: apart
    assert (gate.name, gate.outcome) == ("observed coverage >= 80%", "passed")
    assert gate.summary == ("observed coverage >= 80%: 4 of 5 kinds of calls between services (edge, method, path "
                            "template, status) covered by a pact interaction in every call (80%), at least 80%")
    [gate] = gate_verdicts(ObserveResult(edges=[FULL, GAP, TESTS]), "", 81, False)
    assert gate.outcome == "failed"


def test_fail_under_fails_below_and_names_the_weakest_edges_first() -> None:
    [gate] = gate_verdicts(ObserveResult(edges=[FULL, GAP, NO_PACT], notes=["3 packet(s) dropped"]), "", 90, False)
    assert gate.outcome == "failed" and exit_code([gate]) == 1
    assert gate.summary == ("observed coverage >= 90%: 4 of 6 kinds of calls between services (edge, method, path "
                            "template, status) covered by a pact interaction in every call (66.7%), under 90%")
    assert gate.details.splitlines() == [
        "worker -> gateway: 0 of 1 kind(s) covered (no pact); uncovered: GET /health -> 200",
        "gateway -> dataservice: 3 of 4 kind(s) covered; uncovered: DELETE /runs/{id} -> 204",
        "gateway -> tokendealer: 1 of 1 kind(s) covered",
        "note: 3 packet(s) dropped"]


def test_fail_under_does_not_move_with_how_often_an_uncovered_call_repeats() -> None:
    """A timer worker outside any test calls again and again as the session lasts: 3 calls in one run, 300 in
    another; the verdict stays (a share of calls moved with it: the same tests passed, then failed)."""
    timer = [dataclasses.replace(NO_PACT, consumer="notifier", provider="payments", calls=calls, uncovered=calls,
                                 uncovered_operations=(OperationCount("POST /notify -> 200", calls),),
                                 answered_operations=(("POST /notify -> 200", False),)) for calls in (3, 300)]
    short, long = (gate_verdicts(ObserveResult(edges=[FULL, GAP, edge]), "", 66.6, False)[0] for edge in timer)
    assert short.outcome == long.outcome == "passed"
    assert short.summary == long.summary == (
        "observed coverage >= 66.6%: 4 of 6 kinds of calls between services (edge, method, path template, status) "
        "covered by a pact interaction in every call (66.7%), at least 66.6%")


def test_fail_under_leaves_out_the_kinds_without_a_response() -> None:
    """A call in flight when the capture is read has no response in one run and one in the next: its kind
    (`-> no response`) is not measured (coverage.py leaves it out of answered_operations)."""
    waiting = EdgeCoverage("worker", "gateway", calls=1, uncovered=1, unanswered=1, pacts=("p",))
    [gate] = gate_verdicts(ObserveResult(edges=[FULL, waiting]), "", 100, False)
    assert gate.outcome == "passed" and gate.summary.startswith("observed coverage >= 100%: 1 of 1 kinds")
    [gate] = gate_verdicts(ObserveResult(edges=[waiting]), "", 50, False)
    assert gate.outcome == "error"
    assert gate.summary == ("observed coverage >= 50%: not judged: no call between services was answered (nothing "
                            "to measure: every call observed between services had no response)")


def test_fail_under_with_no_call_between_services_is_an_error_not_a_pass() -> None:
    [gate] = gate_verdicts(ObserveResult(edges=[TESTS]), "", 50, False)
    assert gate.outcome == "error" and exit_code([gate]) == 3
    assert gate.summary.startswith("observed coverage >= 50%: not judged: no call between services was observed")


def test_strict_fails_on_an_uncovered_call_or_a_call_breaking_the_document() -> None:
    [gate] = gate_verdicts(ObserveResult(edges=[FULL, GAP, BREAKS, NO_PACT, TESTS]), "", None, True)
    assert (gate.name, gate.outcome) == ("observed coverage, strict", "failed")
    assert gate.summary == ("observed coverage, strict: 5 call(s) between services uncovered, 1 breaking the "
                            "provider's document")
    assert gate.details.splitlines() == [
        "gateway -> dataservice: 3 uncovered call(s) (no interaction covers them): DELETE /runs/{id} -> 204 (3)",
        "worker -> strava: 1 call(s) breaking strava's OpenAPI document: GET /activities -> 500 (1): "
        "GET /activities documents 200",
        "worker -> gateway: 2 uncovered call(s) (no pact covers this edge): GET /health -> 200 (2)"]


def test_strict_passes_when_every_call_is_covered_and_allowed_with_its_limits_said() -> None:
    lost = EdgeCoverage("gateway", "tokendealer", calls=4, covered=4, pacts=("p",),
                        notes=("gateway: it was restarted during the run",))
    [gate] = gate_verdicts(ObserveResult(edges=[lost, TESTS]), "", None, True)
    assert gate.outcome == "passed" and exit_code([gate]) == 0
    assert gate.details == "note: gateway: it was restarted during the run"


def test_a_capture_that_failed_makes_each_gate_an_error_with_why() -> None:
    gates = gate_verdicts(None, "service 'gateway': the observation helper did not start", 80, True)
    assert [(g.name, g.outcome) for g in gates] == [("observed coverage >= 80%", "error"),
                                                    ("observed coverage, strict", "error")]
    assert gates[1].summary == ("observed coverage, strict: not judged: service 'gateway': the observation helper "
                                "did not start")


def test_the_fail_under_value_is_a_percentage_in_both_front_ends() -> None:
    import pytest

    from harness.options.table import OPTIONS

    option = next(o for o in OPTIONS if o.name == "observe_fail_under")
    assert (option.cli, option.pytest, option.ini) == (("--observe-fail-under",), "--observe-fail-under",
                                                       "topology_observe_fail_under")
    assert option.parse("87.5", "--observe-fail-under") == 87.5
    for text, expected in (("120", "a percentage from 0 to 100, not '120'"), ("most", "a number, not 'most'")):
        with pytest.raises(ValueError) as raised:
            option.parse(text, "--observe-fail-under")
        assert str(raised.value) == f"--observe-fail-under: {expected}"


def test_strict_with_no_call_between_services_is_the_same_error_as_fail_under() -> None:
    strict, under = gate_verdicts(ObserveResult(edges=[TESTS]), "", 50, True)[::-1]
    assert strict.outcome == under.outcome == "error" and exit_code([strict]) == 3
    assert strict.summary == ("observed coverage, strict: not judged: no call between services was observed "
                              "(nothing to measure; do the tests make the services call each other?)")
    assert strict.summary.split(": ", 1)[1] == under.summary.split(": ", 1)[1]


def test_strict_does_not_call_allowed_a_call_it_could_not_judge() -> None:
    cut = EdgeCoverage("gateway", "dataservice", calls=3, covered=3, pacts=("contracts/g-d.json",), not_judged=1,
                       not_judged_operations=(OperationCount("GET /runs -> 200", 1, "body over 1 MiB, the capture's limit"),))
    [gate] = gate_verdicts(ObserveResult(edges=[FULL, cut]), "", None, True)
    assert gate.outcome == "error" and exit_code([gate]) == 3
    assert gate.summary == ("observed coverage, strict: not judged: 1 of 7 call(s) between services could not be "
                            "judged against their provider's document (the others are covered and allowed)")
    assert gate.details == ("gateway -> dataservice: 1 call(s) not judged: "
                            "GET /runs -> 200 (1): body over 1 MiB, the capture's limit")
    [gate] = gate_verdicts(ObserveResult(edges=[GAP, cut]), "", None, True)  # a failure still says them
    assert gate.outcome == "failed" and gate.summary.endswith(", 1 not judged against it")


def test_strict_says_which_calls_no_document_was_there_to_check() -> None:
    unchecked = dataclasses.replace(FULL, provider="strava", unchecked=4,
                                    notes=("calls not checked against an OpenAPI document: service 'strava' has no "
                                           "`openapi:`",))
    [gate] = gate_verdicts(ObserveResult(edges=[FULL, unchecked]), "", None, True)
    assert gate.outcome == "passed"
    assert gate.summary == ("observed coverage, strict: every one of 8 call(s) between services covered by a pact "
                            "interaction, 4 allowed by their provider's document, 4 checked against none (their "
                            "provider has no document: see the notes)")


def test_strict_says_which_calls_had_no_response_their_requests_judged() -> None:
    waiting = dataclasses.replace(FULL, unanswered=1)
    [gate] = gate_verdicts(ObserveResult(edges=[waiting]), "", None, True)
    assert gate.outcome == "passed"
    assert gate.summary == ("observed coverage, strict: every one of 4 call(s) between services covered by a pact "
                            "interaction and allowed by its provider's document; 1 of them without a response (their "
                            "requests judged, no response to judge)")
