"""An edge's observed traffic in one line, as the console, `contract-matrix.json` (`observed.summary`) and
`contract-matrix.html` say it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.runtime.observe import EARLY

if TYPE_CHECKING:
    from harness.observe.coverage import EdgeCoverage


def edge_line(edge: EdgeCoverage) -> str:
    """`gateway -> dataservice: 12 calls, 10 covered (83.3%), 2 uncovered, 1 interaction never exercised, ...`."""
    parts = [f"{edge.calls} HTTP call(s)"] if edge.calls or not (edge.not_inspected or edge.stopped) else []
    if edge.calls and edge.pacts and not edge.outside:
        parts.append(f"{edge.covered} covered ({edge.percent:g}%), {edge.uncovered} uncovered, "
                     f"{edge.operations_covered} of {edge.operations} operation(s) covered")
    elif edge.calls and not edge.outside:
        parts.append("no pact covers this edge")
    if edge.never_exercised:
        parts.append(f"{len(edge.never_exercised)} interaction(s) never exercised")
    if edge.breaking:
        parts.append(f"{edge.breaking} breaking the provider's document")
    if edge.not_judged:
        parts.append(f"{edge.not_judged} not judged against the provider's document")
    if edge.in_flight:
        parts.append(f"{edge.in_flight} in flight when read (not judged for coverage)")
    if edge.faulted:
        parts.append(f"{edge.faulted} made under a fault")
    if edge.refused:
        parts.append(f"{edge.refused} connection(s) refused by cut() (no HTTP passed: not calls)")
    if edge.dropped:
        parts.append(f"{edge.dropped} packet(s) dropped by cut() (each retry counts; no HTTP passed: not calls)")
    if edge.lost:
        parts.append(f"{edge.lost} packet(s) dropped by loss() (sent again by TCP: its calls are counted)")
    for flow in edge.not_inspected:
        kind = f"connection(s) {flow.protocol}" if flow.protocol == EARLY else f"{flow.protocol} connection(s)"
        parts.append(f"{flow.connections} {kind} on port {flow.port} ({flow.bytes} bytes, not inspected)")
    return f"{edge.consumer} -> {edge.provider}: " + ", ".join(parts)
