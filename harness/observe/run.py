"""The observation of one run, for both front-ends: `start()` with the topology (the capture in every service's
namespace), `finish()` at the end (what was seen, matched to pacts and documents; the helpers removed)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.contracts.drift.adapter import Document
from harness.contracts.drift.documents import load_document
from harness.contracts.drift.sources import find_document, running_fetcher
from harness.contracts.pactfiles import PactFile, UnreadablePact, scan_pacts
from harness.errors import MalformedPact, OpenAPIUnavailable
from harness.observe.coverage import EdgeCoverage, edge_coverage
from harness.runtime.call_marks import DOCUMENT, FUZZ, VERIFIER
from harness.runtime.observe import OUTSIDE, Observation, ObservedCall, TopologyObservation

if TYPE_CHECKING:
    from harness.model.topology import TopologySpec
    from harness.runtime.topology import Topology


@dataclass
class ObserveResult:
    """Coverage per edge (`edges`), what the capture saw (`observation`), and `notes`: what limits the result (pact
    files that could not be read, packets not inspected), each a sentence. Left out of the edges and of the tests'
    calls (harness.runtime.call_marks): `own_calls`, the harness's fetches of a provider's OpenAPI document;
    `verifier_calls`, pact-python's Verifier's requests (--pact-verify, its state changes included);
    `fuzz_calls`, schemathesis' requests (--fuzz, with the tokens asked for them)."""

    edges: list[EdgeCoverage] = field(default_factory=list)
    observation: Observation = field(default_factory=Observation)
    notes: list[str] = field(default_factory=list)
    own_calls: int = 0
    verifier_calls: int = 0
    fuzz_calls: int = 0

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
        self._documents: Future[RawDocuments] | None = None  # fetched from start() on, while the tests run
        self._loaded: dict[str, Document | OpenAPIUnavailable] = {}  # ... and loaded (each of those fetched)

    def start(self) -> None:
        """Raises ObserveError: the capture could not start (see TopologyObservation.start). The providers'
        documents are fetched meanwhile, while the tests run (not at the session's end, where it waited)."""
        try:
            self._capture.start()
        except BaseException:
            self._capture.stop()
            raise
        self._fetch_documents()

    def attach(self) -> None:
        """Read the helpers another process started on this topology (pytest-xdist: the worker that started the
        shared topology); `finish()` reads and removes them. Raises ObserveError: there are none."""
        self._capture.attach()
        self._fetch_documents()

    def _fetch_documents(self) -> None:
        if self._documents is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="observe-documents")
            self._documents = pool.submit(self._fetch_and_load)
            pool.shutdown(wait=False)  # (the thread ends with its one job; read() waits for it)

    def _fetch_and_load(self) -> RawDocuments:
        """The documents, and each loaded (its OpenAPI validation: 0.7 s a document on a loaded machine) for
        finish(), so that the session's end does not wait for it."""
        raw = self.documents()
        self._loaded = loaded_documents(raw)
        return raw

    def documents(self, providers: list[str] | None = None) -> RawDocuments:
        """Each provider's OpenAPI document as found (raw: it can be sent to another process), or why none; every
        service with `openapi:` (or `providers`), fetched side by side (each a GET to the running service, or a
        file)."""
        fetch = running_fetcher(self.spec, self.topology)
        wanted = providers if providers is not None else \
            [name for name, service in sorted(self.spec.services.items()) if service.openapi]

        def one(provider: str) -> tuple[Any, str, Path | None] | str:
            try:
                return find_document(self.spec, provider, fetch)
            except OpenAPIUnavailable as error:
                return error.message

        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=len(wanted), thread_name_prefix="observe-document") as pool:
            return dict(zip(wanted, pool.map(one, wanted), strict=True))

    def finish(self) -> ObserveResult:
        """What was seen, per edge; the helpers are removed (also when reading fails), or left on a kept run (`end`)."""
        observation, documents = self.read()
        return observe_result(self.spec, observation, documents, self.pacts, self._loaded)

    def read(self) -> tuple[Observation, RawDocuments]:
        """What the capture saw (the helpers removed, or on a kept run left for the next session: `end`) and each
        provider's OpenAPI document as found (raw, so that it can be sent to another process: pytest-xdist's
        controller)."""
        try:
            observation = self._capture.read()
        finally:
            self._capture.end()
        if self._documents is None:
            return observation, self.documents()
        documents = self._documents.result()
        missed = [provider for provider, found in documents.items() if isinstance(found, str)]
        # (a provider a test had stopped, or not yet answering: asked again now, as before)
        return observation, {**documents, **self.documents(missed)} if missed else documents


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
        for ends, count in observation.provider_only.items():
            merged.provider_only[ends] = merged.provider_only.get(ends, 0) + count
        merged.uncompared += observation.uncompared
    return merged


def loaded_documents(raw: RawDocuments) -> dict[str, Document | OpenAPIUnavailable]:
    """Each document of `raw` loaded (parsed, validated), or why it cannot be."""
    documents: dict[str, Document | OpenAPIUnavailable] = {}
    for provider, document in raw.items():
        try:
            documents[provider] = OpenAPIUnavailable(document) if isinstance(document, str) \
                else load_document(*document)
        except OpenAPIUnavailable as error:
            documents[provider] = error
    return documents


def observe_result(spec: TopologySpec, observation: Observation, raw: RawDocuments, pacts_folder: Path,
                   loaded: dict[str, Document | OpenAPIUnavailable] | None = None) -> ObserveResult:
    """The coverage per edge of `observation`, against the pacts of `pacts_folder` and the documents `raw`
    (`loaded`: those of them already loaded, from the very same raw document; the others are loaded here)."""
    callers: dict[str, int] = {}  # the calls the harness made or had made (their mark: runtime.call_marks), by kind
    for call in observation.calls:
        if call.consumer == OUTSIDE and call.caller:
            callers[call.caller] = callers.get(call.caller, 0) + call.count
    observation = dataclasses.replace(observation, calls=[
        call if not call.caller else _unmarked(call) for call in observation.calls
        if not (call.consumer == OUTSIDE and call.caller)])
    result = ObserveResult(observation=observation, own_calls=callers.get(DOCUMENT, 0),
                           verifier_calls=callers.get(VERIFIER, 0), fuzz_calls=callers.get(FUZZ, 0))
    pacts: list[PactFile] = []
    try:
        for found in scan_pacts(pacts_folder):
            if isinstance(found, UnreadablePact):
                result.notes.append(f"{found.path}: not counted ({found.error.message})")
            else:
                pacts.append(found)
    except MalformedPact as error:
        result.notes.append(f"no pact counted: {error.message}")
    # (a document loaded early stands; one that failed early was fetched again: loaded now)
    documents: dict[str, Document | OpenAPIUnavailable] = {
        p: d for p, d in (loaded or {}).items() if p in raw and isinstance(d, Document)}
    documents.update(loaded_documents({p: d for p, d in raw.items() if p not in documents}))
    result.edges = edge_coverage(spec, observation, pacts, documents)
    if observation.dropped_packets:
        result.notes.append(f"{observation.dropped_packets} packet(s) dropped by the kernel before the capture "
                            "read them: calls on those connections may be missing")
    if observation.uncompared:
        result.notes.append(f"{observation.uncompared} call(s) seen in their provider's namespace not compared with "
                            "their consumer's capture (too many calls to keep each one's identity): a call only the "
                            "provider's capture saw may be missing")
    if observation.overflow:
        result.notes.append(f"{observation.overflow} call(s) counted only: too many kinds of calls to keep apart")
    return result


def _unmarked(call: ObservedCall) -> ObservedCall:
    """A marked call between services (a service passing on a header of the tests' tools, from an address its
    provider's capture did not know): a call like any, but its bodies were not kept, so it is not judged."""
    return dataclasses.replace(call, caller="", unsampled=call.count - sum(sample.count for sample in call.bodies))
