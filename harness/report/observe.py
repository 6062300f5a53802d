"""The observed traffic of a run as people read it: one line per edge (calls, covered, uncovered, interactions never
exercised, calls breaking the provider's document, connections not inspected), the calls from outside the topology
(the tests) apart, and what limits the result. The details of each edge are under the contract matrix
(report.matrix.observed_lines)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.observe import EdgeCoverage, ObserveResult


def observed_text(result: ObserveResult) -> str:
    """Plain text, one line per edge between services, then the calls from outside, then the notes."""
    between = [e for e in result.edges if not e.outside]
    lines = [edge_line(e) for e in between] or ["no call between services was observed"]
    for edge in (e for e in result.edges if e.outside):
        lines.append(f"{edge.consumer} -> {edge.provider}: {edge.calls} HTTP call(s) from outside the topology (the "
                     "tests, the harness): not between services, not counted")
    lines += [f"note: {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def edge_line(edge: EdgeCoverage) -> str:
    """`gateway -> dataservice: 12 calls, 10 covered (83.3%), 2 uncovered, 1 interaction never exercised, ...`."""
    parts = [f"{edge.calls} HTTP call(s)"]
    if edge.calls and edge.pacts:
        parts.append(f"{edge.covered} covered ({edge.percent:g}%), {edge.uncovered} uncovered")
    elif edge.calls:
        parts.append("no pact covers this edge")
    if edge.never_exercised:
        parts.append(f"{len(edge.never_exercised)} interaction(s) never exercised")
    if edge.breaking:
        parts.append(f"{edge.breaking} breaking the provider's document")
    for flow in edge.not_inspected:
        parts.append(f"{flow.connections} {flow.protocol} connection(s) on port {flow.port} ({flow.bytes} bytes, "
                     "not inspected)")
    return f"{edge.consumer} -> {edge.provider}: " + ", ".join(parts)
