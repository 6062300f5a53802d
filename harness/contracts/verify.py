"""Provider side: one pact verified against its provider running in the topology. pact-python's Verifier runs in a
child process (harness.contracts.worker); provider states and messages are served to it over HTTP by this process
(a state-change URL costs ~0.02 s per interaction), or states by the provider itself (`contracts.state_url`).

Every pact ends in exactly one verdict: verified, failed, error (with the reason) or excluded (with the reason).
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Collection
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from typing import Any

from harness.contracts.handlers import require_handlers
from harness.contracts.names import mapping_hint, service_for
from harness.contracts.pactfiles import PactFile, interaction_states, is_message, is_sync_message
from harness.contracts.provider_side import (
    LOCAL,
    MESSAGE_PATH,
    STATE_CHANGE_LIMIT_S,
    STATE_PATH,
    HandlerErrors,
    message_key,
    provider_side,
    state_key,
)
from harness.contracts.results import InteractionResult, PactResult, error_result
from harness.contracts.states import Registry
from harness.contracts.worker import VerifierJob, VerifierOutcome, VerifierWorker
from harness.errors import MalformedPact, PactVerifierError, UnknownProvider
from harness.runtime.call_marks import PACT_VERIFIER
from harness.runtime.topology import Topology


def provider_not_a_service(pact: PactFile, spec: Any) -> UnknownProvider:
    return UnknownProvider(f"{pact.path.name}: its provider '{pact.provider}' is not a service of topology "
                           f"'{spec.name}'{mapping_hint(spec, pact.provider)}; services: "
                           f"{', '.join(spec.services)}", provider=pact.provider, pact=pact.path.name)


def verify_pact(topology: Topology, pact: PactFile, registry: Registry, worker: VerifierWorker | None = None,
                only: Collection[str] | None = None, marked: bool = False) -> PactResult:
    """Verify `pact` against its provider in `topology` (names mapped by harness.contracts.names), in one run of
    pact-python's Verifier.

    Args:
        worker: the process that runs the verifier; a new one (~0.5 s to start) when None.
        only: labels (PactFile.labels) of the interactions to verify (the Verifier's description filter; other
            interactions of the same description are verified too); None: every interaction.
        marked: every request of the verifier carries the header `X-Pytest-Topology: pact-verifier` (pact-python's
            add_custom_header), so that --observe counts them apart from the tests' calls; off, the requests are the
            plain Verifier's.
    Returns:
        The verdict: verified, failed (mismatches, per interaction) or error (the provider is not a service of
        the topology; the verifier refused its configuration or ran no interaction; the worker died).
    Raises:
        MissingMessageProducer, MissingProviderStates: a message or state of the pact has no handler.
    """
    spec = topology.spec
    labels = [label for label, _ in pact.labels() if only is None or label in only]
    provider_name = service_for(spec, pact.provider)
    if provider_name is not None and provider_name in spec.services and spec.services[provider_name].replicas == 0:
        return error_result(pact, spec, UnknownProvider(
            f"{pact.path.name}: its provider '{provider_name}' has 0 replicas in topology '{spec.name}': no container "
            "of it runs to verify the pact against (as under Docker Compose); give it a replica",
            provider=pact.provider, pact=pact.path.name), labels=labels)
    if provider_name is None or provider_name not in topology:
        return error_result(pact, spec, provider_not_a_service(pact, spec), labels=labels)
    unverifiable = unverifiable_reason(pact)
    if unverifiable is not None:
        return error_result(pact, spec, unverifiable, labels=labels)
    provider = topology[provider_name]
    if pact.has_http and pact.has_messages and provider.host != LOCAL:
        return error_result(pact, spec, PactVerifierError(
            f"{pact.path.name}: HTTP and message interactions in one pact cannot be verified on a remote engine: "
            f"pact-python's Verifier gives every transport one host, and the messages are produced on this machine "
            f"while the provider answers at {provider.host}",
            hint="verify this pact against a local Docker engine, or split it into an HTTP pact and a message pact",
            location=str(pact.path)), labels=labels)
    state_path = spec.contracts.state_url.get(provider_name)
    require_handlers(pact, registry, provider_name, own_states=state_path is not None)
    started, log_since = time.monotonic(), time.time()
    with provider_side(registry, topology, pact, provider_name, STATE_CHANGE_LIMIT_S) as (port, failures), \
            (nullcontext(worker) if worker else VerifierWorker()) as running:
        job = VerifierJob(
            provider=pact.provider, pact_path=str(pact.path), host=provider.host if pact.has_http else LOCAL,
            http_url=provider.url if pact.has_http else None,
            message_port=port if pact.has_messages else None, message_path=MESSAGE_PATH,
            state_url=f"{provider.url}{state_path}" if state_path else f"http://{LOCAL}:{port}{STATE_PATH}",
            request_timeout_ms=int(STATE_CHANGE_LIMIT_S * 1000),
            descriptions=None if only is None else tuple(dict.fromkeys(
                description for label, description in pact.labels() if label in labels)),
            headers=(PACT_VERIFIER,) if marked else ())
        try:
            outcome = running.run(job)
        except BrokenProcessPool as broken:
            running.close()  # the next run starts a new worker
            outcome = VerifierOutcome(False, False, config_error=f"the verifier process died ({broken})")
    seconds = time.monotonic() - started
    log = topology.masker(_log_of(provider, log_since))  # a service may log a secret it was given
    return _judge(pact, spec, outcome, seconds, log, provider_name, failures, labels)


def unverifiable_reason(pact: PactFile) -> MalformedPact | None:
    """What pact-python's Verifier cannot verify although the pact is well formed: a synchronous message with other
    than one response (pact_ffi 0.5 checks the first response only and then fails the interaction on a content
    type it does not find; with none there is nothing to check)."""
    counts = {i["description"]: len(i.get("response") or []) for i in pact.interactions if is_sync_message(i)}
    odd = {description: n for description, n in counts.items() if n != 1}
    if not odd:
        return None
    shown = ", ".join(f"{description!r} has {n}" for description, n in odd.items())
    return MalformedPact(
        f"{pact.path.name}: synchronous message(s) with other than one response ({shown}): pact-python's Verifier "
        "checks exactly one response per synchronous message and cannot verify these",
        hint="split the interaction into one per response, or exclude the pact under `contracts.exclude` with a "
             "reason", location=str(pact.path))


def _judge(pact: PactFile, spec: Any, outcome: VerifierOutcome, seconds: float, log: str,
           provider: str, failures: HandlerErrors | None = None, labels: list[str] | None = None) -> PactResult:
    labels = labels if labels is not None else [label for label, _ in pact.labels()]
    if not outcome.executed:
        error = PactVerifierError(
            f"{pact.path.name}: pact-python's Verifier could not verify it: {outcome.config_error}",
            hint="a pact needs at least one HTTP or message interaction the verifier can run; "
                 "regenerate it with the consumer tests, or exclude it under `contracts.exclude` with a reason"
            if "transport" in (outcome.config_error or "").lower()  # pact-python: "No transports have been set"
            else "pact-python refused the setup the harness gave it for this pact: if the pact is valid, please "
                 "report it to pytest-topology with the pact file and this message")
        return error_result(pact, spec, error, seconds, outcome.output, log, labels=labels)
    interactions = _with_handler_failures(_labelled(pact, _interactions(outcome.results)), pact,
                                          failures or HandlerErrors(STATE_CHANGE_LIMIT_S))
    judged = {i.label for i in interactions}
    unjudged = [label for label in labels if label not in judged]
    if outcome.passed and unjudged:  # a pass that did not look at everything is no pass
        error = PactVerifierError(f"{pact.path.name}: the Pact verifier passed it without verifying "
                                  f"{', '.join(map(repr, unjudged))}")
        return error_result(pact, spec, error, seconds, outcome.output, log, interactions, labels)
    if not outcome.passed and not interactions:
        error = PactVerifierError(f"{pact.path.name}: the Pact verifier ran no interaction: "
                                  f"{_first_error(outcome)}")
        return error_result(pact, spec, error, seconds, outcome.output, log, labels=labels)
    return PactResult(pact.path, "verified" if outcome.passed else "failed", pact.consumer, pact.provider,
                      service_for(spec, pact.consumer), provider, len(pact.interactions), interactions,
                      outcome.output, log, seconds, labels=labels)


def _labelled(pact: PactFile, interactions: list[InteractionResult]) -> list[InteractionResult]:
    """Each judged interaction with its label: the core names interactions by description only, and verifies them in
    the pact's order, so the n-th result of a description is the n-th interaction of that description."""
    waiting: dict[str, list[str]] = {}
    for label, description in pact.labels():
        waiting.setdefault(description, []).append(label)
    labelled = []
    for interaction in interactions:
        queue = waiting.get(interaction.description)
        labelled.append(dataclasses.replace(interaction, label=queue.pop(0) if queue else interaction.description))
    return labelled


def _with_handler_failures(results: list[InteractionResult], pact: PactFile,
                           failures: HandlerErrors) -> list[InteractionResult]:
    """The failed interactions with the errors of their own state handlers and message producer added: the core only
    says "the state change handler has failed" (answered with a 400), the handler's own message is what tells why.
    `results` are labelled and in the order the verifier ran them, the order of the calls `failures` holds."""
    by_label = dict(zip((label for label, _ in pact.labels()), pact.interactions, strict=True))
    judged = []
    for result in results:
        interaction = by_label.get(result.label) or pact.interaction(result.description) or {}
        keys = [state_key(s.name, s.params) for s in interaction_states(interaction)]
        if is_message(interaction):
            keys.append(message_key(result.description))
        taken = [failures.take(key) for key in keys]  # a passed interaction's calls are taken too
        added = [error for error in taken if error]
        judged.append(result if result.passed or not added else
                      dataclasses.replace(result, problems=[*result.problems, *added]))
    return judged


def _first_error(outcome: VerifierOutcome) -> str:
    errors = outcome.results.get("errors") or []
    if errors:
        return _problems(errors[0].get("mismatch") or errors[0])[0]
    lines = [line.strip() for line in outcome.output.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _interactions(results: dict[str, Any]) -> list[InteractionResult]:
    found = []
    for item in results.get("interactionResults") or []:
        passed = str(item.get("result", "")).lower() == "ok"  # "OK" in pact_ffi 0.5
        found.append(InteractionResult(str(item.get("description", "")), passed,
                                       _duration(str(item.get("duration", ""))),
                                       [] if passed else _problems(item.get("mismatch"))))
    return found


def _duration(text: str) -> float:
    """The core's durations ("42ms", "1s", "1.2s", "350µs") in seconds."""
    match = re.fullmatch(r"([\d.]+)\s*(ms|s|µs|us|ns|m)?", text.strip())
    if not match:
        return 0.0
    scale = {"ms": 1e-3, "s": 1.0, "µs": 1e-6, "us": 1e-6, "ns": 1e-9, "m": 60.0}.get(match.group(2) or "s", 1.0)
    return float(match.group(1)) * scale


def _problems(mismatch: Any) -> list[str]:
    if not isinstance(mismatch, dict):
        return [str(mismatch)] if mismatch else ["failed"]
    if isinstance(mismatch.get("mismatches"), list):
        lines = []
        for item in mismatch["mismatches"]:
            text = item.get("mismatch") or item.get("message") or json.dumps(item)
            lines.append(f"{item['path']}: {text}" if item.get("path") else str(text))
        return lines or ["failed"]
    return [str(mismatch.get("message") or mismatch.get("error") or json.dumps(mismatch))]


def _log_of(service: Any, since: float) -> str:
    try:
        return re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", service.logs(since=since))
    except Exception as error:  # noqa: BLE001 - a message about a log never hides the verification result
        return f"(log unavailable: {error})"
