"""The observation of one run, for both front-ends: `start()` with the topology (the capture in every service's
namespace), `finish()` at the end (what was seen, matched to pacts and documents; the helpers removed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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


RawDocuments = dict[str, tuple[Any, str, Path | None] | str]  # provider -> (data, source, file), or why none


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

    def attach(self) -> None:
        """Read the helpers another process started on this topology (pytest-xdist: the worker that started the
        shared topology); `finish()` reads and removes them. Raises ObserveError: there are none."""
        self._capture.attach()

    def finish(self) -> ObserveResult:
        """What was seen, per edge; the helpers are removed (also when reading fails)."""
        observation, documents = self.read()
        return observe_result(self.spec, observation, documents, self.pacts)

    def read(self) -> tuple[Observation, RawDocuments]:
        """What the capture saw (the helpers removed) and each provider's OpenAPI document as found (raw, so that it
        can be sent to another process: pytest-xdist's controller)."""
        try:
            observation = self._capture.read()
        finally:
            self._capture.stop()
        providers = {c.provider for c in observation.calls} | set(self.spec.services)
        documents: RawDocuments = {}
        fetch = running_fetcher(self.spec, self.topology)
        for provider in sorted(providers):
            service = self.spec.services.get(provider)
            if service is None or not service.openapi:
                continue
            try:
                documents[provider] = find_document(self.spec, provider, fetch)
            except OpenAPIUnavailable as error:
                documents[provider] = error.message
        return observation, documents


def merge_observations(observations: list[Observation]) -> Observation:
    """One observation of several (pytest-xdist workers, each with its own topology): the calls and flows of all
    (coverage sums the counts of calls of one kind), the services lost in any, the packets counted in all."""
    merged = Observation()
    for observation in observations:
        merged.calls += observation.calls
        merged.flows += observation.flows
        for service, why in observation.lost.items():
            merged.lost.setdefault(service, why)
        merged.dropped_packets += observation.dropped_packets
        merged.joined_packets += observation.joined_packets
        merged.overflow += observation.overflow
        merged.provider_only += observation.provider_only
        merged.uncompared += observation.uncompared
    return merged


def observe_result(spec: TopologySpec, observation: Observation, raw: RawDocuments, pacts_folder: Path
                   ) -> ObserveResult:
    """The coverage per edge of `observation`, against the pacts of `pacts_folder` and the documents `raw`."""
    result = ObserveResult(observation=observation)
    pacts: list[PactFile] = []
    try:
        for found in scan_pacts(pacts_folder):
            if isinstance(found, UnreadablePact):
                result.notes.append(f"{found.path}: not counted ({found.error.message})")
            else:
                pacts.append(found)
    except MalformedPact as error:
        result.notes.append(f"no pact counted: {error.message}")
    documents: dict[str, Document | OpenAPIUnavailable] = {}
    for provider, document in raw.items():
        try:
            documents[provider] = OpenAPIUnavailable(document) if isinstance(document, str) \
                else load_document(*document)
        except OpenAPIUnavailable as error:
            documents[provider] = error
    result.edges = edge_coverage(spec, observation, pacts, documents)
    if observation.dropped_packets:
        result.notes.append(f"{observation.dropped_packets} packet(s) dropped by the kernel before the capture "
                            "read them: calls on those connections may be missing")
    if observation.provider_only:
        result.notes.append(f"{observation.provider_only} call(s) between services seen only in their provider's "
                            "namespace (their consumer's capture was not running yet: it was started again), counted")
    if observation.uncompared:
        result.notes.append(f"{observation.uncompared} call(s) seen in their provider's namespace not compared with "
                            "their consumer's capture (too many calls to keep each one's identity): a call only the "
                            "provider's capture saw may be missing")
    if observation.overflow:
        result.notes.append(f"{observation.overflow} call(s) counted only: too many kinds of calls to keep apart")
    return result
