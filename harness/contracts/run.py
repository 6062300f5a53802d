"""Which pacts a run verifies, and verifying them one after another against a running topology (no printing:
front-ends print each result as it comes, through harness.report)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from harness.contracts.pactfiles import PactFile, load_pacts
from harness.contracts.states import Registry, load_states
from harness.contracts.verify import PactResult, check_states, verify_pact
from harness.errors import HarnessError
from harness.runtime.topology import Topology
from harness.spec.model import TopologySpec


def select_pacts(spec: TopologySpec, folder: Path | None = None, provider: str | None = None,
                 consumer: str | None = None) -> tuple[list[PactFile], Registry]:
    """The pacts to verify (all of the folder, less filters) and the handlers of their states.

    Raises:
        MalformedPact: the folder is missing or a pact file cannot be read.
        HarnessError: no pact is left after the filters.
        StatesModuleError, MissingProviderStates: a states module does not load, or a state has no handler.
    """
    pacts = load_pacts(folder or spec.base_dir / spec.contracts.pacts)
    pacts = [p for p in pacts if (not provider or p.provider == provider) and (not consumer or p.consumer == consumer)]
    if not pacts:
        raise HarnessError("no pact to verify" + (f" for provider {provider}" if provider else "")
                           + (f" from consumer {consumer}" if consumer else "")
                           + f" in {folder or spec.base_dir / spec.contracts.pacts}")
    registry = load_states([spec.base_dir / f for f in spec.contracts.states])
    check_states([p for p in pacts if p.provider in spec.services], registry)
    return pacts, registry


def verify_all(topology: Topology, pacts: list[PactFile], registry: Registry) -> Iterator[PactResult]:
    """Each pact whose provider and consumer are services of the topology, verified in turn."""
    for pact in pacts:
        if pact.provider not in topology or pact.consumer not in topology.spec.services:
            continue
        yield verify_pact(topology, pact, registry)
