"""The contract matrix as data: one edge per pact file with its verdict, and every `consumes` edge of the topology
that has no pact. Consumers that are not services (a browser app, a mobile app, a client library) are edges too,
marked `outside`."""

from __future__ import annotations

from dataclasses import dataclass

from harness.contracts.names import mapping_hint
from harness.contracts.verify import PactResult
from harness.spec.model import TopologySpec

EdgeStatus = str  # a Verdict ("verified", "failed", "error", "excluded") or "no pact"


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


def edge_matrix(spec: TopologySpec, results: list[PactResult]) -> list[Edge]:
    """Every pact's edge with its verdict, and every `consumes` edge of the topology that has no pact."""
    edges: list[Edge] = []
    for result in results:
        consumer = result.consumer_service or result.consumer or "?"
        provider = result.provider_service or result.provider or "?"
        outside = result.consumer is not None and result.consumer_service is None
        reason = result.reason
        if outside and not reason:
            hint = mapping_hint(spec, result.consumer or "")
            reason = f"consumer '{result.consumer}' is not a service of the topology{hint}" if hint else ""
        edges.append(Edge(consumer, provider, result.verdict, str(result.path), result.interaction_count,
                          round(result.seconds, 3), outside, reason,
                          tuple(i.description for i in result.interactions if not i.passed)))
    covered = {(e.consumer, e.provider) for e in edges}
    for name, service in spec.services.items():
        for provider in service.consumes:
            if (name, provider) not in covered:
                edges.append(Edge(name, provider, "no pact"))
    return sorted(edges, key=lambda e: (e.consumer, e.provider, e.pact or ""))
