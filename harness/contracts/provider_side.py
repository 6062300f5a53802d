"""The provider side of a verification: an HTTP server on this machine that the Pact verifier calls for state
changes and for messages, answered by the registered state handlers and the real message producers."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.contracts.handlers import handler
from harness.contracts.messages import encode_message, request_message
from harness.contracts.pactfiles import PactFile, is_sync_message
from harness.contracts.states import Registry, StateRun, produce
from harness.errors import MissingMessageProducer, MissingProviderStates
from harness.runtime.topology import Topology

LOCAL = "127.0.0.1"  # the state and message server: on this machine, where the verifier runs
STATE_PATH = "/_pact/state"
MESSAGE_PATH = "/_pact/message"
# The Pact core gives state changes and provider requests one timeout (its HTTP client's: pact-python's default 5 s).
# A state handler (a `docker exec` per step) may take longer than that on a loaded machine, and must not fail for
# it: the verifier is given this much (harness.contracts.worker.VerifierJob.request_timeout_ms).
STATE_CHANGE_LIMIT_S = 120


def state_key(name: str, params: dict[str, Any] | None) -> str:
    """What a state setup is known by: its name and params (the verifier sends no interaction with it)."""
    return json.dumps(["state", name, params or {}], sort_keys=True)


def message_key(description: str) -> str:
    return json.dumps(["message", description])


@dataclass
class _Call:
    """One state setup or message the verifier asked for: `what` (the handler and its params), when it started and
    ended (monotonic s; None: still running), its error, and the verifier's calls again after it stopped waiting."""

    what: str
    started: float
    ended: float | None = None
    error: str | None = None
    again: list[_Call] = field(default_factory=list)


class HandlerErrors:
    """What went wrong with each state setup and message the verifier asked for, per state_key / message_key in the
    order it asked. The verifier runs the interactions one after another, so the n-th interaction with a state (name
    and params) is the n-th setup of it: one interaction's error is never shown for another's (two interactions may
    share a state name with other params). A call the verifier stopped waiting for (`limit` s, its request timeout)
    is said with how long it took, and a call of the same key after it is its retry, not another interaction's."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self._calls: dict[str, list[_Call]] = {}
        self._lock = threading.Lock()

    def start(self, key: str, what: str) -> _Call:
        call = _Call(what, time.monotonic())
        with self._lock:
            calls = self._calls.setdefault(key, [])
            if calls and (calls[-1].ended or call.started) - calls[-1].started >= self.limit:
                calls[-1].again.append(call)  # the verifier's retry of the call it stopped waiting for
            else:
                calls.append(call)
        return call

    def take(self, key: str) -> str | None:
        """What went wrong with the next call of `key` not taken yet (None: nothing, or no call made)."""
        with self._lock:
            calls = self._calls.get(key)
            call = calls.pop(0) if calls else None
        if call is None:
            return None
        said = [text for text in (self._said(c) for c in [call, *call.again]) if text]
        return "; called again: ".join(said) or None

    def _said(self, call: _Call) -> str | None:
        took = (call.ended or time.monotonic()) - call.started
        late = None
        if took >= self.limit:
            late = (f"{call.what} took {took:.1f} s" if call.ended is not None else
                    f"{call.what} was still running after {took:.1f} s when the verification ended") + (
                f", longer than the Pact verifier waits for it ({self.limit:g} s, its request timeout): make the "
                "handler faster")
        return "; ".join(text for text in (call.error, late) if text) or None


def _params(body: dict[str, Any]) -> str:
    """` {"id": 3}`: a state setup's params as it was called with them ("" when none)."""
    params = body.get("params")
    return f" {json.dumps(params, sort_keys=True)}" if params else ""


def _state_params(body: dict[str, Any]) -> dict[str, Any]:
    """The params of every provider state the verifier sends with a message request, merged."""
    params: dict[str, Any] = {}
    for state in body.get("providerStates") or []:
        if isinstance(state, dict):
            params.update(state.get("params") or {})
    return params


@contextmanager
def provider_side(registry: Registry, topology: Topology, pact: PactFile, provider: str,
                  limit: float = STATE_CHANGE_LIMIT_S) -> Iterator[tuple[int, HandlerErrors]]:
    """An HTTP server on 127.0.0.1 for the Pact verifier: state changes, and messages from the real producers.
    Yields its port and the outcomes of the handlers (HandlerErrors). `limit`: how long (s) the verifier waits for
    an answer (its request timeout); a handler that takes longer is said to, with how long it took."""
    runs: dict[str, StateRun] = {}
    failures = HandlerErrors(limit)

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
        found = handler(registry.states, provider, pact.provider, name)
        if found is None:
            raise MissingProviderStates(f"no handler for provider state {name!r} of {provider}")
        runs[key] = StateRun(found, topology, params, registry.loop)
        return runs[key].values or {}

    def reply(body: dict[str, Any]) -> tuple[bytes, str | None, dict[str, Any]]:
        description = body.get("description", "")
        producer = handler(registry.messages, provider, pact.provider, description)
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
            message = self.path == MESSAGE_PATH
            name = body.get("description") if message else body.get("state")
            key = message_key(str(name)) if message else state_key(str(name), body.get("params"))
            counted = message or (bool(name) and body.get("action", "setup") == "setup")
            what = f"message producer {name!r}" if message else f"provider state {name!r}{_params(body)}"
            call = failures.start(key, what) if counted else None
            try:
                if message:
                    data, content_type, metadata = reply(body)
                    encoded = base64.b64encode(json.dumps(metadata).encode()).decode()
                    answer: tuple[int, bytes, str | None, dict[str, str]] = (
                        200, data, content_type, {"Pact-Message-Metadata": encoded})
                else:
                    answer = (200, json.dumps(change_state(body)).encode(), "application/json", {})
            except Exception as raised:  # noqa: BLE001 - reported to the verifier, which fails the interaction
                if call is not None:
                    call.error = f"{what} raised {type(raised).__name__}: {raised}"
                # a 4xx, not a 500: the core retries a 5xx with back-off for about 127 s before failing the same way
                answer = (400, json.dumps({"error": f"{name!r} failed: {type(raised).__name__}: {raised}"}).encode(),
                          "application/json", {})
            if call is not None:
                call.ended = time.monotonic()
            try:
                self._answer(*answer)
            except OSError:  # the verifier stopped waiting (BrokenPipeError): HandlerErrors says how long it took
                pass

        def _answer(self, status: int, data: bytes, content_type: str | None, headers: dict[str, str]) -> None:
            self.send_response(status)
            if content_type:  # pact-python's message without a content type: none, as its Verifier sends
                self.send_header("Content-Type", content_type)
            for name, value in headers.items():
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
