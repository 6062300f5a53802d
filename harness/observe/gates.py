"""The gates on observed coverage (`--observe-fail-under PCT`, `--observe-strict`): each given gate is one verdict,
a JUnit case and a pytest item of its own. Only calls between services count: those from outside the topology (the
tests, the harness) are not a consumer's contract.

    fail-under PCT   failed when the kinds of calls between services (edge, method, path template, status) whose every
                     call an interaction covers are fewer than PCT percent of all the kinds (an edge without a pact
                     covers none): a kind counts once however often it was called, so that calls outside the tests
                     (a timer) or retries do not move the verdict with the session's length; kinds without a
                     response are left out (a call in flight when the capture is read). An error when no call
                     between services was observed (there is nothing to measure) or the capture could not be read
    strict           failed when any call between services is uncovered or breaks its provider's OpenAPI document
                     (a call awaiting its response when the capture is read, its connection open, is neither: which
                     answer comes depends on the moment of the read; its request is judged against the document);
                     else an error when a call's bodies could not be judged against the document (cut at the
                     capture's limit, ...: it cannot be called allowed), when no call between services was
                     observed (as fail-under), or the capture could not be read
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.errors import EXIT_ENVIRONMENT, EXIT_FAILED, EXIT_PASSED
from harness.observe.coverage import TOP
from harness.verdict import Outcome

if TYPE_CHECKING:
    from harness.observe.coverage import EdgeCoverage
    from harness.observe.run import ObserveResult

FAIL_UNDER, STRICT = "fail-under", "strict"


@dataclass(frozen=True)
class GateVerdict:
    """One gate's verdict (harness.verdict.Judged). `name`: "observed coverage >= 80%" or "observed coverage,
    strict"; `summary`: its one line; `details`: the edges that decided it, one a line, and what limits the result."""

    gate: str  # FAIL_UNDER or STRICT
    name: str
    outcome: Outcome
    summary: str
    details: str = ""

    @property
    def verdict(self) -> str:
        return self.outcome

    @property
    def reason(self) -> str:
        return "" if self.outcome == "passed" else self.summary

    @property
    def exit_code(self) -> int:
        return {"passed": EXIT_PASSED, "failed": EXIT_FAILED}.get(self.outcome, EXIT_ENVIRONMENT)


def gate_verdicts(result: ObserveResult | None, problem: str, fail_under: float | None,
                  strict: bool) -> list[GateVerdict]:
    """The verdict of each gate given (none: []). `result`: what was observed, None when `problem` says why nothing
    could be (then each gate is an error with it)."""
    gates: list[GateVerdict] = []
    if fail_under is not None:
        name = f"observed coverage >= {fail_under:g}%"
        gates.append(GateVerdict(FAIL_UNDER, name, "error", f"{name}: not judged: {problem}") if result is None
                     else _fail_under(result, fail_under, name))
    if strict:
        name = "observed coverage, strict"
        gates.append(GateVerdict(STRICT, name, "error", f"{name}: not judged: {problem}") if result is None
                     else _strict(result, name))
    return gates


def _between(result: ObserveResult) -> list[EdgeCoverage]:
    return [edge for edge in result.edges if not edge.outside and edge.calls]


def _limits(result: ObserveResult) -> list[str]:
    """What limits the verdict, said under it (a service whose capture was lost, calls not checked against a
    document, packets dropped), each once."""
    notes = [note for edge in result.edges if not edge.outside for note in edge.notes] + result.notes
    return [f"note: {note}" for note in dict.fromkeys(notes)]


NOTHING = ("not judged: no call between services was observed (nothing to measure; do the tests make the services "
           "call each other?)")


def _fail_under(result: ObserveResult, percent: float, name: str) -> GateVerdict:
    edges = _between(result)
    kinds = [(edge, operation, covered) for edge in edges for operation, covered in edge.answered_operations]
    if not kinds:
        nothing = NOTHING if not edges else ("not judged: no call between services was answered (nothing to "
                                             "measure: every call observed between services had no response)")
        return GateVerdict(FAIL_UNDER, name, "error", f"{name}: {nothing}", "\n".join(_limits(result)))
    covered = sum(1 for _, _, all_covered in kinds if all_covered)
    total = round(100 * covered / len(kinds), 1)
    lines = []
    for edge in edges:
        own = [(operation, all_covered) for e, operation, all_covered in kinds if e is edge]
        if own:
            done = sum(1 for _, all_covered in own if all_covered)
            missed = [operation for operation, all_covered in own if not all_covered]
            lines.append((done / len(own), f"{edge.consumer} -> {edge.provider}: {done} of {len(own)} kind(s) "
                          "covered" + ("" if edge.pacts else " (no pact)")
                          + (f"; uncovered: {_named(missed)}" if missed else "")))
    outcome: Outcome = "passed" if total >= percent else "failed"
    verb = "at least" if outcome == "passed" else "under"
    return GateVerdict(FAIL_UNDER, name, outcome, f"{name}: {covered} of {len(kinds)} kinds of calls between "
                       f"services (edge, method, path template, status) covered by a pact interaction in every call "
                       f"({total:g}%), {verb} {percent:g}%",
                       "\n".join([*(line for _, line in sorted(lines)), *_limits(result)]))


def _strict(result: ObserveResult, name: str) -> GateVerdict:
    edges = _between(result)
    calls = sum(edge.calls for edge in edges)
    if not calls:
        return GateVerdict(STRICT, name, "error", f"{name}: {NOTHING}", "\n".join(_limits(result)))
    lines, unjudged = [], []
    for edge in edges:
        if edge.uncovered:
            what = "no pact covers this edge" if not edge.pacts else "no interaction covers them"
            lines.append(f"{edge.consumer} -> {edge.provider}: {edge.uncovered} uncovered call(s) ({what}): "
                         + _named([f"{o.operation} ({o.calls})" + (f": {o.says}" if edge.pacts and o.says else "")
                                   for o in edge.uncovered_operations]))
        if edge.breaking:
            lines.append(f"{edge.consumer} -> {edge.provider}: {edge.breaking} call(s) breaking {edge.provider}'s "
                         "OpenAPI document: " + _named([f"{o.operation} ({o.calls}): {o.says}"
                                                        for o in edge.breaking_operations]))
        if edge.in_flight:
            unjudged.append(f"{edge.consumer} -> {edge.provider}: {edge.in_flight} call(s) in flight when read: not "
                            "judged for coverage: " + _named([f"{o.operation} ({o.calls})"
                                                              for o in edge.in_flight_operations]))
        if edge.not_judged:
            unjudged.append(f"{edge.consumer} -> {edge.provider}: {edge.not_judged} call(s) not judged: " + _named(
                [f"{o.operation} ({o.calls}): {o.says}" for o in edge.not_judged_operations]))
    uncovered = sum(edge.uncovered for edge in edges)
    breaking = sum(edge.breaking for edge in edges)
    not_judged = sum(edge.not_judged for edge in edges)
    unchecked = sum(edge.unchecked for edge in edges)
    details = "\n".join([*lines, *unjudged, *_limits(result)])
    if lines:
        return GateVerdict(STRICT, name, "failed", f"{name}: {uncovered} call(s) between services uncovered, "
                           f"{breaking} breaking the provider's document"
                           + (f", {not_judged} not judged against it" if not_judged else ""), details)
    if not_judged:
        return GateVerdict(STRICT, name, "error", f"{name}: not judged: {not_judged} of {calls} call(s) between "
                           "services could not be judged against their provider's document (the others are covered "
                           "and allowed)", details)
    in_flight = sum(edge.in_flight for edge in edges)
    if in_flight == calls:
        return GateVerdict(STRICT, name, "error", f"{name}: not judged: every one of {calls} call(s) between "
                           "services was in flight when the capture was read (nothing to judge for coverage)", details)
    calls, unchecked = calls - in_flight, unchecked - sum(e.in_flight for e in edges if not e.document)
    allowed, unanswered = calls - unchecked, sum(edge.unanswered for edge in edges)
    checked = "allowed by its provider's document" if not unchecked else \
        f"{allowed} allowed by their provider's document, {unchecked} checked against none (their provider has no " \
        "document: see the notes)"
    if unanswered:
        checked += f"; {unanswered} of them without a response (their requests judged, no response to judge)"
    if in_flight:
        checked += f"; {in_flight} more in flight when the capture was read: not judged for coverage"
    return GateVerdict(STRICT, name, "passed", f"{name}: every one of {calls} call(s) between services covered by a "
                       f"pact interaction{',' if unchecked else ' and'} {checked}", details)


def _named(texts: list[str]) -> str:
    """The TOP first of `texts`, and how many more (every one is in contract-matrix.json)."""
    more = f"; and {len(texts) - TOP} more (every one in contract-matrix.json)" if len(texts) > TOP else ""
    return "; ".join(texts[:TOP]) + more
