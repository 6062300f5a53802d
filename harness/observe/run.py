"""The observation of one run, for both front-ends: `start()` with the topology (the capture in every service's
namespace), `finish()` at the end (what was seen, matched to pacts and documents; the helpers removed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.contracts.drift.adapter import Document
from harness.contracts.drift.documents import load_document
from harness.contracts.drift.sources import find_document, running_fetcher
from harness.contracts.pactfiles import PactFile, UnreadablePact, scan_pacts
from harness.errors import MalformedPact, OpenAPIUnavailable
from harness.observe.coverage import EdgeCoverage, edge_coverage
from harness.runtime.observe import Observation, TopologyObservation

if TYPE_CHECKING:
    from harness.model.topology import TopologySpec
    from harness.runtime.topology import Topology


@dataclass
class ObserveResult:
    """Coverage per edge (`edges`), what the capture saw (`observation`), and `notes`: what limits the result (pact
    files that could not be read, packets not inspected), each a sentence."""

    edges: list[EdgeCoverage] = field(default_factory=list)
    observation: Observation = field(default_factory=Observation)
    notes: list[str] = field(default_factory=list)

    def edge(self, consumer: str, provider: str) -> EdgeCoverage | None:
        return next((e for e in self.edges if e.consumer == consumer and e.provider == provider), None)


class ObserveRun:
    """Observation of `topology` (running); pacts from `pacts` (default: the topology's pact folder)."""

    def __init__(self, spec: TopologySpec, topology: Topology, pacts: Path | None = None) -> None:
        self.spec = spec
        self.topology = topology
        self.pacts = pacts or (spec.base_dir / spec.contracts.pacts)
        self._capture = TopologyObservation(topology)

    def start(self) -> None:
        """Raises ObserveError: the capture could not start (see TopologyObservation.start)."""
        try:
            self._capture.start()
        except BaseException:
            self._capture.stop()
            raise

    def finish(self) -> ObserveResult:
        """What was seen, per edge; the helpers are removed (also when reading fails)."""
        try:
            observation = self._capture.read()
        finally:
            self._capture.stop()
        result = ObserveResult(observation=observation)
        pacts: list[PactFile] = []
        try:
            for found in scan_pacts(self.pacts):
                if isinstance(found, UnreadablePact):
                    result.notes.append(f"{found.path}: not counted ({found.error.message})")
                else:
                    pacts.append(found)
        except MalformedPact as error:
            result.notes.append(f"no pact counted: {error.message}")
        providers = {c.provider for c in observation.calls} | {p for p in self.spec.services}
        documents: dict[str, Document | OpenAPIUnavailable] = {}
        fetch = running_fetcher(self.spec, self.topology)
        for provider in sorted(providers):
            service = self.spec.services.get(provider)
            if service is None or not service.openapi:
                continue
            try:
                data, source, file = find_document(self.spec, provider, fetch)
                documents[provider] = load_document(data, source, file)
            except OpenAPIUnavailable as error:
                documents[provider] = error
        result.edges = edge_coverage(self.spec, observation, pacts, documents)
        if observation.dropped_packets:
            result.notes.append(f"{observation.dropped_packets} packet(s) dropped by the kernel before the capture "
                                "read them: calls on those connections may be missing")
        if observation.overflow:
            result.notes.append(f"{observation.overflow} call(s) counted only: too many kinds of calls to keep apart")
        return result
