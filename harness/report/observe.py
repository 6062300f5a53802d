"""The observed traffic of a run as people read it: one line per edge (calls, covered, uncovered, interactions never
exercised, calls breaking the provider's document, connections not inspected), the calls from outside the topology
(the tests) apart with what of them breaks the document, the harness's own calls, and what limits the result. The
details of each edge are under the contract matrix (report.matrix.observed_lines)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.observe.summary import edge_line

if TYPE_CHECKING:
    from harness.observe import ObserveResult

__all__ = ["edge_line", "observed_text"]


def observed_text(result: ObserveResult) -> str:
    """Plain text, one line per edge between services, then the calls from outside, then the notes."""
    between = [e for e in result.edges if not e.outside]
    lines = [edge_line(e) for e in between] or ["no call between services was observed"]
    outside = [e for e in result.edges if e.outside]
    if outside:
        lines.append("from outside the topology (the tests, the harness; not between services, not counted):")
        for edge in outside:  # (no edge of the matrix: what breaks the document is said here)
            lines.append(f"  {edge_line(edge)}")
            lines += [f"    breaks the document: {o.operation}: {o.calls} call(s): {o.says}" for o in edge.top_breaking]
            more = len(edge.breaking_operations) - len(edge.top_breaking)
            lines += [f"    breaks the document: and {more} more operation(s)"] if more else []
    if result.own_calls:
        lines.append(f"the harness's own calls (fetching OpenAPI documents): {result.own_calls}, not counted")
    if result.verifier_calls:
        lines.append(f"the Pact verifier's requests (--pact-verify): {result.verifier_calls}, not counted")
    if result.fuzz_calls:
        lines.append(f"schemathesis' requests (fuzzing): {result.fuzz_calls}, not counted")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"
