"""The observed traffic of a run as people read it: one line per edge (calls, covered, uncovered, interactions never
exercised, calls breaking the provider's document, connections not inspected), the calls from outside the topology
(the tests) apart, and what limits the result. The details of each edge are under the contract matrix
(report.matrix.observed_lines)."""

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
        lines += [f"  {edge_line(edge)}" for edge in outside]
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"
