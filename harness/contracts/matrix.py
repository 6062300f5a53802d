"""The edge matrix: consumer x provider, from the pacts, their results and the edges the topology declares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.contracts.pactfiles import PactFile
from harness.contracts.verify import PactResult
from harness.spec.model import TopologySpec

EdgeStatus = Literal["verified", "failed", "not verified", "no pact", "not in topology"]


@dataclass(frozen=True)
class Edge:
    consumer: str
    provider: str
    status: EdgeStatus
    pact: str | None = None
    interactions: int = 0
    seconds: float = 0.0


def edge_matrix(spec: TopologySpec, pacts: list[PactFile], results: list[PactResult]) -> list[Edge]:
    """Every pact's edge with its result, and every `consumes` edge of the topology that has no pact."""
    by_path = {r.pact.path: r for r in results}
    edges: dict[tuple[str, str], Edge] = {}
    for pact in pacts:
        result = by_path.get(pact.path)
        if pact.consumer not in spec.services or pact.provider not in spec.services:
            status: EdgeStatus = "not in topology"
        else:
            status = result.status if result else "not verified"
        edges[(pact.consumer, pact.provider)] = Edge(pact.consumer, pact.provider, status, str(pact.path),
                                                     len(pact.interactions), result.seconds if result else 0.0)
    for name, service in spec.services.items():
        for provider in service.consumes:
            edges.setdefault((name, provider), Edge(name, provider, "no pact"))
    return sorted(edges.values(), key=lambda e: (e.consumer, e.provider))
