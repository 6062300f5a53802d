"""Which provider states and message producers handle a pact's interactions (registered in the states modules), and
the errors that say which are missing, checked before anything starts."""

from __future__ import annotations

import difflib
import inspect
from pathlib import Path
from typing import Any

from harness.contracts.names import service_for
from harness.contracts.pactfiles import PactFile, is_message
from harness.contracts.states import Registry
from harness.errors import MissingMessageProducer, MissingProviderStates


def missing_handlers(pacts: list[PactFile], registry: Registry, spec: Any) -> list[str]:
    """Every provider state and message producer the pacts use that nothing handles, one line each (with a pointer
    to a handler registered under a name that is not a service). States of a provider with `contracts.state_url`
    are the provider's own business; pacts whose provider is not a service are skipped (a problem of their own)."""
    missing: list[str] = []
    for pact in pacts:
        provider = service_for(spec, pact.provider)
        if provider is None:
            continue
        if provider not in spec.contracts.state_url:
            for state in dict.fromkeys(s.name for s in pact.states()):
                if handler(registry.states, provider, pact.provider, state) is None:
                    missing.append(f"provider state {state!r} of {pact.edge} ({pact.path.name}) has no handler"
                                   + _elsewhere(registry.states, state, spec))
        for description in dict.fromkeys(i["description"] for i in pact.interactions if is_message(i)):
            if handler(registry.messages, provider, pact.provider, description) is None:
                missing.append(f"message producer {description!r} of {pact.edge} ({pact.path.name}) is missing"
                               + _elsewhere(registry.messages, description, spec))
    return missing


def unused_state_handlers(spec: Any, registry: Registry) -> list[str]:
    """A note per provider state handler of a provider with `contracts.state_url`: the Verifier sends that provider's
    states to its own endpoint, so the handler never runs (its setup would be silently missing)."""
    notes = []
    for (provider, state), function in registry.states.items():
        service = service_for(spec, provider)
        if service is not None and service in spec.contracts.state_url:
            where = getattr(inspect.unwrap(function), "__code__", None)
            at = f" ({Path(where.co_filename).name}:{where.co_firstlineno})" if where is not None else ""
            notes.append(f"the handler of provider state {state!r} for {service}{at} is not used: "
                         f"`contracts.state_url` sends {service}'s provider states to its own endpoint "
                         f"{spec.contracts.state_url[service]}; remove one of them")
    return notes


MISSING_HANDLERS_HINT = (
    "Register provider states and message producers with @provider_state(NAME, provider=...) / "
    "@message_producer(DESCRIPTION, provider=...) in a states module listed under `contracts.states` in the topology "
    "file, or give the provider its own state-change endpoint with `contracts.state_url`.")


def _elsewhere(table: dict[tuple[str, str], Any], key: str, spec: Any) -> str:
    """A handler of that name registered for a provider that is not a service (a typo in `provider=`), said."""
    strays = [provider for provider, name in table if name == key and service_for(spec, provider) is None]
    if not strays:
        return ""
    near = difflib.get_close_matches(strays[0], list(spec.services), n=1)
    return (f": one is registered for provider {strays[0]!r}, which is not a service of topology '{spec.name}'"
            + (f" (did you mean {near[0]!r}?)" if near else f"; services: {', '.join(spec.services)}"))


def handler(table: dict[tuple[str, str], Any], service: str, pact_name: str, key: str) -> Any:
    """A handler registered under the provider's service name, or under the name the pact gives it."""
    return table.get((service, key)) or table.get((pact_name, key))


def require_handlers(pact: PactFile, registry: Registry, provider: str, own_states: bool) -> None:
    for interaction in pact.interactions:
        if is_message(interaction) and handler(registry.messages, provider, pact.provider,
                                                interaction["description"]) is None:
            raise MissingMessageProducer(
                f"no message producer for {interaction['description']!r} of {pact.edge} ({pact.path.name})",
                hint=f"register one with @message_producer({interaction['description']!r}, provider={provider!r}) "
                     "in a states module listed under `contracts.states`", description=interaction["description"],
                provider=provider)
    if not own_states:
        check_states_for = [s.name for s in pact.states() if handler(registry.states, provider, pact.provider,
                                                                       s.name) is None]
        if check_states_for:
            raise MissingProviderStates(
                f"no handler for provider state(s) {', '.join(map(repr, dict.fromkeys(check_states_for)))} of "
                f"{pact.edge} ({pact.path.name})",
                hint=f"register them with @provider_state(NAME, provider={provider!r}) in a states module listed "
                     "under `contracts.states`, or set `contracts.state_url` for the provider")

