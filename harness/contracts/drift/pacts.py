"""The pacts of a topology checked against their providers' documents: one verdict per pact file (clean, drift,
error, not applicable), each provider's document found and loaded once."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from harness.contracts.drift.adapter import Document
from harness.contracts.drift.checks import check_interaction
from harness.contracts.drift.documents import load_document
from harness.contracts.drift.interactions import is_http
from harness.contracts.drift.results import CLEAN, DRIFT, ERROR, NOT_APPLICABLE, InteractionDrift, PactDrift
from harness.contracts.drift.sources import find_document
from harness.contracts.names import mapping_hint, service_for
from harness.contracts.pactfiles import PactFile, read_pact
from harness.errors import MalformedPact, OpenAPIUnavailable
from harness.model.topology import TopologySpec


def pact_files(folder: Path) -> list[Path]:
    """The `*.json` files of the pact folder, sorted. Raises MalformedPact when there is no such folder."""
    if not folder.is_dir():
        raise MalformedPact(f"no pact folder at {folder}: run the consumer tests first (they write pacts there), "
                            "or point --pacts at the folder that holds them")
    return sorted(folder.glob("*.json"))


def check_pact(topology: TopologySpec, file: Path, documents: dict[str, Document | OpenAPIUnavailable],
               fetch: Callable[[str, str], tuple[str, str]] | None = None) -> PactDrift:
    """The drift verdict of one pact file; `documents` caches each provider's document (or why it has none)."""
    started = time.perf_counter()
    try:
        pact = read_pact(file)
    except MalformedPact as error:
        return PactDrift(file, "?", "?", ERROR, reason=str(error), seconds=time.perf_counter() - started)
    result = _check(topology, pact, documents, fetch)
    result.seconds = time.perf_counter() - started
    return result


def _check(topology: TopologySpec, pact: PactFile, documents: dict[str, Document | OpenAPIUnavailable],
           fetch: Callable[[str, str], tuple[str, str]] | None) -> PactDrift:
    result = PactDrift(pact.path, pact.consumer, pact.provider, ERROR, labels=[label for label, _ in pact.labels()])
    provider = service_for(topology, pact.provider)  # `pact_name:` / `contracts.names` map pact names to services
    if provider is None:
        result.reason = (f"provider '{pact.provider}' is not a service of topology {topology.name}"
                         + mapping_hint(topology, pact.provider) + f"; services: {', '.join(topology.services)}")
        return result
    if not topology.services[provider].openapi:
        result.verdict = NOT_APPLICABLE
        result.reason = f"provider '{provider}' declares no `openapi:` in the topology: no document to check"
        return result
    if not pact.interactions:  # an error, as for the verifier: an empty pact checks nothing
        result.reason = "the pact has no interactions: nothing to check against OpenAPI; regenerate it with the " \
                        "consumer tests"
        return result
    if not any(is_http(i) for i in pact.interactions):
        result.verdict = NOT_APPLICABLE
        result.reason = "a message pact: no HTTP request to check against OpenAPI"
        result.interactions = [InteractionDrift(i["description"], NOT_APPLICABLE, reason=result.reason)
                               for i in pact.interactions]
        return result
    if provider not in documents:
        try:
            data, source, file = find_document(topology, provider, fetch)
            documents[provider] = load_document(data, source, file)
        except OpenAPIUnavailable as error:
            documents[provider] = error
    document = documents[provider]
    if isinstance(document, OpenAPIUnavailable):
        result.reason = str(document)
        return result
    result.source = document.source
    result.interactions = [check_interaction(document, i) for i in pact.interactions]
    result.verdict = DRIFT if any(i.verdict == DRIFT for i in result.interactions) else CLEAN
    return result


def check_files(topology: TopologySpec, files: Iterable[Path],
                fetch: Callable[[str, str], tuple[str, str]] | None = None) -> list[PactDrift]:
    """The drift verdict of each of `files` (the pacts of a verification, for the matrix's drift column), each
    provider's document read once. Never raises: a check that breaks is that pact's error verdict, so the drift
    column can never stop or change a verification."""
    documents: dict[str, Document | OpenAPIUnavailable] = {}
    results = []
    for file in files:
        try:
            results.append(check_pact(topology, file, documents, fetch))
        except Exception as error:  # noqa: BLE001 - see above: an error verdict with the cause, never a crash
            results.append(PactDrift(file, "?", "?", ERROR,
                                     reason=f"the drift check failed: {type(error).__name__}: {error}"))
    return results


def check_topology(topology: TopologySpec, pacts: Path | None = None, provider: str | None = None,
                   fetch: Callable[[str, str], tuple[str, str]] | None = None) -> Iterable[PactDrift]:
    """The drift verdict of every pact file in `pacts` (default: the topology's `contracts.pacts`), or those of
    `provider`, in file order (harness.contracts.drift.run.DriftRun: raises as its files())."""
    from harness.contracts.drift.run import DriftOptions, DriftRun

    return DriftRun(topology, DriftOptions(pacts, provider), fetch).run()


def provider_of(file: Path) -> str | None:
    try:
        return read_pact(file).provider
    except MalformedPact:
        return None  # kept: an unreadable pact gets its error verdict whatever the filter
