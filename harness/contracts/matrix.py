"""The contract matrix as data: one edge per pact file with its verdict and its drift against the provider's OpenAPI
document, and every `consumes` edge of the topology that has no pact. Consumers that are not services (a browser
app, a mobile app, a client library) are edges too, marked `outside`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.contracts.names import mapping_hint
from harness.contracts.results import PactResult
from harness.model.topology import TopologySpec

EdgeStatus = str  # a Verdict ("verified", "failed", "error", "excluded") or "no pact"


@dataclass(frozen=True)
class DriftCell:
    """A pact's drift against its provider's OpenAPI document (harness.contracts.drift), for the matrix. `verdict`:
    clean | drift | error | not applicable; `count`: the drifts found; `first`: the first one named (interaction,
    JSON pointer, what the spec says, what the pact says); `reason`: why an error or not applicable; `source`: where
    the document came from. It never changes the edge's verification verdict."""

    verdict: str
    count: int = 0
    first: str = ""
    reason: str = ""
    source: str = ""  # where the OpenAPI document came from (a file, or served by the running topology)

    @classmethod
    def of(cls, result: Any) -> DriftCell:
        """From a drift.PactDrift."""
        findings = result.findings
        first = ""
        if findings:
            description, finding = findings[0]
            first = f"'{description}' {finding.pointer}: {finding.spec_says} (the pact says {finding.pact_says})"
        return cls(result.verdict, len(findings), first, result.reason, result.source)

    @property
    def label(self) -> str:
        """What a matrix cell shows: "drift: clean", "drift: 2", "drift: error", "drift: n/a"."""
        shown = {"drift": str(self.count), "not applicable": "n/a"}.get(self.verdict, self.verdict)
        return f"drift: {shown}"


@dataclass(frozen=True)
class Edge:
    """`consumer`/`provider`: the service names (or the pact's names when they are not services). `outside`: the
    consumer is not a service of the topology. `reason`: why an error or an exclusion; `failed`: the descriptions
    of the interactions that failed."""

    consumer: str
    provider: str
    status: EdgeStatus
    pact: str | None = None
    interactions: int = 0
    seconds: float = 0.0
    outside: bool = False
    reason: str = ""
    failed: tuple[str, ...] = ()
    drift: DriftCell | None = None  # None: drift was not checked in this run (or no pact)
    cached_from: str = ""  # verified by an earlier run (the verdict cache), at this ISO time; "": by this run
    source: str = ""  # where a pact not from the folder came from (a broker's URL, consumer version, selector)
    pending: bool = False  # pending at the broker: a failure does not fail the run


def edge_matrix(spec: TopologySpec, results: list[PactResult], drift: Iterable[Any] | None = None) -> list[Edge]:
    """Every pact's edge with its verdict (and its drift, from the drift.PactDrift of the same file when `drift`
    has one), and every `consumes` edge of the topology that has no pact."""
    drifts = {_key(d.path): DriftCell.of(d) for d in drift or ()}
    edges: list[Edge] = []
    for result in results:
        consumer = result.consumer_service or result.consumer or "?"
        provider = result.provider_service or result.provider or "?"
        outside = result.consumer is not None and result.consumer_service is None
        reason = result.reason
        if not reason and 0 < len(result.labels) < result.interaction_count:  # -k, --lf: not a pass of the pact
            reason = (f"only {len(result.labels)} of its {result.interaction_count} interactions were verified (the "
                      "others were not selected)")
        if result.pending and result.verdict == "failed" and not reason:
            reason = "pending at the broker: its failure does not fail the run"
        if outside and not reason:
            hint = mapping_hint(spec, result.consumer or "")
            reason = f"consumer '{result.consumer}' is not a service of the topology{hint}" if hint else ""
        edges.append(Edge(consumer, provider, result.verdict, str(result.path), result.interaction_count,
                          round(result.seconds, 3), outside, reason,
                          tuple(i.description for i in result.interactions if not i.passed),
                          drifts.get(_key(result.path)), result.cached_from, result.source, result.pending))
    covered = {(e.consumer, e.provider) for e in edges}
    for name, service in spec.services.items():
        for provider in service.consumes:
            if (name, provider) not in covered:
                edges.append(Edge(name, provider, "no pact"))
    return sorted(edges, key=lambda e: (e.consumer, e.provider, e.pact or ""))


def _key(path: Path) -> Path:
    return Path(path).resolve()
