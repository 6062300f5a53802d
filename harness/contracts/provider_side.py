"""The provider side of a verification: an HTTP server on this machine that the Pact verifier calls for state
changes and for messages, answered by the registered state handlers and the real message producers."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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

def _state_params(body: dict[str, Any]) -> dict[str, Any]:
    """The params of every provider state the verifier sends with a message request, merged."""
    params: dict[str, Any] = {}
    for state in body.get("providerStates") or []:
        if isinstance(state, dict):
            params.update(state.get("params") or {})
    return params


@contextmanager
def provider_side(registry: Registry, topology: Topology, pact: PactFile,
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
        found = handler(registry.states, provider, pact.provider, name)
        if found is None:
            raise MissingProviderStates(f"no handler for provider state {name!r} of {provider}")
        runs[key] = StateRun(found, topology, params, registry.loop)
        return runs[key].values or {}

    def reply(body: dict[str, Any]) -> tuple[bytes, str, dict[str, Any]]:
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
