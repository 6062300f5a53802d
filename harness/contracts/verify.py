"""Provider side: one pact verified against its provider running in the topology. pact-python's Verifier runs in a
child process (harness.contracts.worker); provider states and messages are served to it over HTTP by this process
(a state-change URL costs ~0.02 s per interaction), or states by the provider itself (`contracts.state_url`).

Every pact ends in exactly one verdict: verified, failed, error (with the reason) or excluded (with the reason).
"""

from __future__ import annotations

import base64
import dataclasses
import difflib
import json
import re
import threading
import time
from collections.abc import Collection, Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from harness.contracts.names import mapping_hint, service_for
from harness.contracts.pactfiles import PactFile, interaction_states, is_message, is_sync_message
from harness.contracts.states import Message, Registry, StateRun, produce
from harness.contracts.worker import VerifierJob, VerifierOutcome, VerifierWorker
from harness.errors import (
    EXIT_FAILED,
    HarnessError,
    MalformedPact,
    MissingMessageProducer,
    MissingProviderStates,
    PactVerifierError,
    UnknownProvider,
)
from harness.runtime.topology import Topology

Verdict = Literal["verified", "failed", "error", "excluded"]


@dataclass(frozen=True)
class InteractionResult:
    """One interaction as the Pact core judged it. `problems`: its mismatches or errors, one line each; `label`: its
    name, unique in the pact (PactFile.labels: the description, with its states where descriptions repeat)."""

    description: str
    passed: bool
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    label: str = ""


@dataclass(frozen=True)
class PactResult:
    """The verdict of one pact file. `consumer`/`provider` are the names the pact writes (None when unreadable);
    `consumer_service`/`provider_service` the services they map to (None: not a service of the topology).
    `reason`: why an error or an exclusion; `error`: the error (its `exit_code` says bad input or environment)."""

    path: Path
    verdict: Verdict
    consumer: str | None = None
    provider: str | None = None
    consumer_service: str | None = None
    provider_service: str | None = None
    interaction_count: int = 0
    interactions: list[InteractionResult] = field(default_factory=list)
    report: str = ""  # the verifier's report, without ANSI codes
    provider_log: str = ""  # what the provider wrote during this verification
    seconds: float = 0.0
    reason: str = ""
    error: HarnessError | None = None
    labels: list[str] = field(default_factory=list)  # the interactions it was to judge (all, or those selected)

    @property
    def passed(self) -> bool:
        return self.verdict == "verified"

    @property
    def ok(self) -> bool:
        """Verified, or excluded with a reason: nothing to fix."""
        return self.verdict in ("verified", "excluded")

    @property
    def edge(self) -> str:
        if self.consumer is None or self.provider is None:
            return self.path.name
        return f"{self.consumer}->{self.provider}"

    @property
    def exit_code(self) -> int:
        if self.verdict == "error":
            return self.error.exit_code if self.error is not None else EXIT_FAILED
        return EXIT_FAILED if self.verdict == "failed" else 0


def error_result(pact: PactFile, spec: Any, error: HarnessError, seconds: float = 0.0, report: str = "",
                 provider_log: str = "", interactions: list[InteractionResult] | None = None,
                 labels: list[str] | None = None) -> PactResult:
    """An error verdict; `interactions`: those the verifier did judge (their items keep their own verdict)."""
    return PactResult(pact.path, "error", pact.consumer, pact.provider, service_for(spec, pact.consumer),
                      service_for(spec, pact.provider), len(pact.interactions), interactions or [], report=report,
                      provider_log=provider_log, seconds=seconds, reason=str(error), error=error,
                      labels=labels if labels is not None else [label for label, _ in pact.labels()])


def provider_not_a_service(pact: PactFile, spec: Any) -> UnknownProvider:
    return UnknownProvider(f"{pact.path.name}: its provider '{pact.provider}' is not a service of topology "
                           f"'{spec.name}'{mapping_hint(spec, pact.provider)}; services: "
                           f"{', '.join(spec.services)}", provider=pact.provider, pact=pact.path.name)


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
                if _handler(registry.states, provider, pact.provider, state) is None:
                    missing.append(f"provider state {state!r} of {pact.edge} ({pact.path.name}) has no handler"
                                   + _elsewhere(registry.states, state, spec))
        for description in dict.fromkeys(i["description"] for i in pact.interactions if is_message(i)):
            if _handler(registry.messages, provider, pact.provider, description) is None:
                missing.append(f"message producer {description!r} of {pact.edge} ({pact.path.name}) is missing"
                               + _elsewhere(registry.messages, description, spec))
    return missing


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


def _handler(table: dict[tuple[str, str], Any], service: str, pact_name: str, key: str) -> Any:
    """A handler registered under the provider's service name, or under the name the pact gives it."""
    return table.get((service, key)) or table.get((pact_name, key))


def verify_pact(topology: Topology, pact: PactFile, registry: Registry,
                worker: VerifierWorker | None = None, only: Collection[str] | None = None) -> PactResult:
    """Verify `pact` against its provider in `topology` (names mapped by harness.contracts.names), in one run of
    pact-python's Verifier.

    Args:
        worker: the process that runs the verifier; a new one (~0.5 s to start) when None.
        only: labels (PactFile.labels) of the interactions to verify (the Verifier's description filter; other
            interactions of the same description are verified too); None: every interaction.
    Returns:
        The verdict: verified, failed (mismatches, per interaction) or error (the provider is not a service of
        the topology; the verifier refused its configuration or ran no interaction; the worker died).
    Raises:
        MissingMessageProducer, MissingProviderStates: a message or state of the pact has no handler.
    """
    spec = topology.spec
    labels = [label for label, _ in pact.labels() if only is None or label in only]
    provider_name = service_for(spec, pact.provider)
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
    _require_handlers(pact, registry, provider_name, own_states=state_path is not None)
    started, log_since = time.monotonic(), time.time()
    with _provider_side(registry, topology, pact, provider_name) as (port, failures), \
            (nullcontext(worker) if worker else VerifierWorker()) as running:
        job = VerifierJob(
            provider=pact.provider, pact_path=str(pact.path), host=provider.host if pact.has_http else LOCAL,
            http_url=provider.url if pact.has_http else None,
            message_port=port if pact.has_messages else None, message_path=MESSAGE_PATH,
            state_url=f"{provider.url}{state_path}" if state_path else f"http://{LOCAL}:{port}{STATE_PATH}",
            descriptions=None if only is None else tuple(dict.fromkeys(
                description for label, description in pact.labels() if label in labels)))
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


def _require_handlers(pact: PactFile, registry: Registry, provider: str, own_states: bool) -> None:
    for interaction in pact.interactions:
        if is_message(interaction) and _handler(registry.messages, provider, pact.provider,
                                                interaction["description"]) is None:
            raise MissingMessageProducer(
                f"no message producer for {interaction['description']!r} of {pact.edge} ({pact.path.name})",
                hint=f"register one with @message_producer({interaction['description']!r}, provider={provider!r}) "
                     "in a states module listed under `contracts.states`", description=interaction["description"],
                provider=provider)
    if not own_states:
        check_states_for = [s.name for s in pact.states() if _handler(registry.states, provider, pact.provider,
                                                                       s.name) is None]
        if check_states_for:
            raise MissingProviderStates(
                f"no handler for provider state(s) {', '.join(map(repr, dict.fromkeys(check_states_for)))} of "
                f"{pact.edge} ({pact.path.name})",
                hint=f"register them with @provider_state(NAME, provider={provider!r}) in a states module listed "
                     "under `contracts.states`, or set `contracts.state_url` for the provider")


def _judge(pact: PactFile, spec: Any, outcome: VerifierOutcome, seconds: float, log: str,
           provider: str, failures: dict[str, str] | None = None, labels: list[str] | None = None) -> PactResult:
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
    interactions = _labelled(pact, [_with_handler_failures(i, pact, failures or {})
                                    for i in _interactions(outcome.results)])
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


def _with_handler_failures(result: InteractionResult, pact: PactFile, failures: dict[str, str]) -> InteractionResult:
    """A failed interaction with the errors of its state handlers and message producer added: the core only says
    "the state change handler has failed" (answered with a 400), the handler's own message is what tells why."""
    if result.passed or not failures:
        return result
    interaction = pact.interaction(result.description) or {}
    names = [("provider state", s.name) for s in interaction_states(interaction)] + [
        ("message producer", result.description)]
    added = [f"{kind} {name!r} raised {failures[name]}" for kind, name in names if name in failures]
    return dataclasses.replace(result, problems=[*result.problems, *added])


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


LOCAL = "127.0.0.1"  # the state and message server: on this machine, where the verifier runs
STATE_PATH = "/_pact/state"
MESSAGE_PATH = "/_pact/message"


PACT_PYTHON_MESSAGE = frozenset({"contents", "metadata", "content_type"})  # pact-python's own `pact.types.Message`


def encode_message(produced: Any, declared: dict[str, Any] | None = None
                   ) -> tuple[bytes, str | None, dict[str, Any]]:
    """A producer's return value -> (body bytes, content type, metadata). `declared` is the pact's interaction:
    bytes take its content type when the producer names none (binary contents have no type of their own).

    pact-python's own message, `{"contents": bytes, "metadata": {...} | None, "content_type": str | None}`, is
    passed on as pact-python's Verifier passes it: the bytes as they are, the content type as given (None: none
    is sent) and added to the metadata as `contentType` when that has none.

    Raises:
        TypeError: pact-python's message shape with `contents` that are not bytes (pact-python refuses it too).
    """
    if _is_pact_python_message(produced):
        contents = produced["contents"]
        if not isinstance(contents, (bytes, bytearray)):
            raise TypeError(f"the producer returned pact-python's message shape ({{'contents', 'metadata', "
                            f"'content_type'}}) with contents of type {type(contents).__name__}; pact-python's "
                            "Verifier needs bytes there (e.g. json.dumps(body).encode()); or return the body "
                            "itself, or harness.contracts.Message(body, metadata)")
        metadata = dict(produced.get("metadata") or {})
        content_type = produced.get("content_type")
        if content_type and "contentType" not in metadata:
            metadata["contentType"] = content_type
        return bytes(contents), content_type, metadata
    if isinstance(produced, tuple) and len(produced) == 2 and isinstance(produced[1], dict):
        produced = Message(produced[0], produced[1])
    message = produced if isinstance(produced, Message) else Message(produced)
    metadata = dict(message.metadata)
    content_type = message.content_type or metadata.get("contentType") or metadata.get("content-type")
    body = message.body
    if isinstance(body, (bytes, bytearray)):
        data = bytes(body)
        content_type = content_type or _declared_type(declared) or "application/octet-stream"
    elif isinstance(body, str):
        data, content_type = body.encode(), content_type or "text/plain"
    else:
        data, content_type = json.dumps(body).encode(), content_type or "application/json"
    metadata.setdefault("contentType", content_type)
    return data, content_type, metadata


def _is_pact_python_message(produced: Any) -> bool:
    """pact-python's message dict: `contents` (bytes) and nothing but `metadata` and `content_type` beside it. A
    JSON body has no bytes in it; a dict with non-bytes contents is pact-python's shape only when it also has a
    `content_type` key (which a JSON message body that happens to have a `contents` field is not taken for)."""
    if not (isinstance(produced, dict) and "contents" in produced and set(produced) <= PACT_PYTHON_MESSAGE):
        return False
    return isinstance(produced["contents"], (bytes, bytearray)) or "content_type" in produced


def request_message(request: dict[str, Any] | None) -> Message:
    """The request of a synchronous message, as its producer gets it: `{"contents": {"content", "contentType",
    "encoded"}, "metadata"}` -> Message(body: dict/list for JSON, str for text, bytes when base64-encoded)."""
    request = request or {}
    metadata = dict(request.get("metadata") or {})
    contents = request.get("contents")
    if not (isinstance(contents, dict) and "content" in contents):
        return Message(contents, metadata)
    content, content_type = contents.get("content"), contents.get("contentType") or metadata.get("contentType")
    encoded = str(contents.get("encoded") or "").lower()
    if isinstance(content, str) and encoded == "base64":
        content = base64.b64decode(content)
    elif isinstance(content, str) and (encoded == "json" or "json" in str(content_type or "")):
        try:
            content = json.loads(content)
        except ValueError:
            pass  # a JSON content type with text that is not JSON: the producer sees the text
    return Message(content, metadata, content_type)


def _declared_type(interaction: dict[str, Any] | None) -> str | None:
    if not interaction:
        return None
    checked: dict[str, Any] = interaction
    if is_sync_message(interaction):  # the reply is what the verifier checks
        checked = (interaction.get("response") or [{}])[0]
    metadata = checked.get("metadata") or checked.get("metaData") or {}
    contents = checked.get("contents")
    if not isinstance(contents, dict):
        contents = {}
    return metadata.get("contentType") or metadata.get("content-type") or contents.get("contentType")


def _state_params(body: dict[str, Any]) -> dict[str, Any]:
    """The params of every provider state the verifier sends with a message request, merged."""
    params: dict[str, Any] = {}
    for state in body.get("providerStates") or []:
        if isinstance(state, dict):
            params.update(state.get("params") or {})
    return params


@contextmanager
def _provider_side(registry: Registry, topology: Topology, pact: PactFile,
                   provider: str) -> Iterator[tuple[int, dict[str, str]]]:
    """An HTTP server on 127.0.0.1 for the Pact verifier: state changes, and messages from the real producers.
    Yields its port and the errors of the handlers that raised (state name or message description -> error)."""
    runs: dict[str, StateRun] = {}
    failures: dict[str, str] = {}

    def change_state(body: dict[str, Any]) -> dict[str, Any]:
        name, params, action = body.get("state", ""), body.get("params") or {}, body.get("action", "setup")
        key = json.dumps([name, params], sort_keys=True)
        if not name:  # the verifier also calls for interactions without a state
            return {}
        if action == "teardown":
            run = runs.pop(key, None)
            if run:
                run.teardown()
            return {}
        handler = _handler(registry.states, provider, pact.provider, name)
        if handler is None:
            raise MissingProviderStates(f"no handler for provider state {name!r} of {provider}")
        runs[key] = StateRun(handler, topology, params, registry.loop)
        return runs[key].values or {}

    def reply(body: dict[str, Any]) -> tuple[bytes, str | None, dict[str, Any]]:
        description = body.get("description", "")
        producer = _handler(registry.messages, provider, pact.provider, description)
        if producer is None:
            raise MissingMessageProducer(f"no message producer for {description!r} of {provider}")
        interaction = pact.interaction(description)
        request = None
        if interaction is not None and is_sync_message(interaction):  # the verifier sends the pact's request
            request = request_message(body.get("request") or interaction.get("request"))
        return encode_message(produce(producer, topology, _state_params(body), registry.loop, request), interaction)

    class ProviderSide(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            try:
                if self.path == MESSAGE_PATH:
                    data, content_type, metadata = reply(body)
                    encoded = base64.b64encode(json.dumps(metadata).encode()).decode()
                    self._answer(200, data, content_type, {"Pact-Message-Metadata": encoded})
                else:
                    self._answer(200, json.dumps(change_state(body)).encode(), "application/json")
            except Exception as error:  # noqa: BLE001 - reported to the verifier, which fails the interaction
                what = body.get("description") or body.get("state")
                failures.setdefault(str(what), f"{type(error).__name__}: {error}")
                message = {"error": f"{what!r} failed: {type(error).__name__}: {error}"}
                # a 4xx, not a 500: the core retries a 5xx with back-off for about 127 s before failing the same way
                self._answer(400, json.dumps(message).encode(), "application/json")

        def _answer(self, status: int, data: bytes, content_type: str | None, headers: dict[str, str] | None = None
                    ) -> None:
            self.send_response(status)
            if content_type:  # pact-python's message without a content type: none, as its Verifier sends
                self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            pass

    server = ThreadingHTTPServer((LOCAL, 0), ProviderSide)
    # a short poll interval: shutdown() waits for it, once per verification
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="harness-pact-provider", daemon=True)
    thread.start()
    try:
        yield server.server_address[1], failures
    finally:
        server.shutdown()
        server.server_close()
        for run in runs.values():
            run.teardown()
