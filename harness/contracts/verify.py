"""Provider side: every pact verified against its provider running in the topology, with provider states served
to the Pact verifier over HTTP (a state-change URL costs ~0.02 s per interaction; Python callables ~1 s)."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from harness.contracts.pactfiles import PactFile
from harness.contracts.states import Registry, StateRun
from harness.errors import MissingProviderStates
from harness.runtime.topology import Topology

Status = Literal["verified", "failed"]



@dataclass(frozen=True)
class PactResult:
    pact: PactFile
    status: Status
    report: str  # the verifier's report, without ANSI codes
    provider_log: str  # what the provider wrote during this verification
    seconds: float

    @property
    def passed(self) -> bool:
        return self.status == "verified"


def check_states(pacts: list[PactFile], registry: Registry) -> None:
    """Fail with the whole list of states (and message producers) that nothing handles."""
    missing: list[str] = []
    for pact in pacts:
        for state in dict.fromkeys(s.name for s in pact.states()):
            if registry.state(pact.provider, state) is None:
                missing.append(f"  - provider state {state!r} of {pact.edge} ({pact.path.name})")
        for interaction in pact.interactions:
            if _is_message(interaction) and registry.message(pact.provider, interaction["description"]) is None:
                missing.append(f"  - message producer {interaction['description']!r} of {pact.edge} "
                               f"({pact.path.name})")
    if missing:
        raise MissingProviderStates(
            f"{len(missing)} provider state(s) or message producer(s) used in the pacts have no handler:\n"
            + "\n".join(missing)
            + "\nRegister them with @provider_state(NAME, provider=...) / @message_producer(DESCRIPTION, "
            "provider=...) in a states module listed under `contracts.states` in the topology file.")


def verify_pact(topology: Topology, pact: PactFile, registry: Registry) -> PactResult:
    from pact import Verifier

    provider = topology[pact.provider]
    verifier = Verifier(pact.provider, host="127.0.0.1").set_coloured_output(enabled=False)
    if pact.has_http:
        verifier.add_transport(url=provider.url)
    started = time.monotonic()
    log_since = time.time()
    with _provider_side(registry, topology, pact.provider) as port:
        if pact.has_messages:
            verifier.add_transport(protocol="message", port=port, path=MESSAGE_PATH)
        verifier.state_handler(f"http://127.0.0.1:{port}{STATE_PATH}", body=True, teardown=True)
        verifier.add_source(str(pact.path))
        try:
            with _quiet_stdout():
                verifier.verify()
            status: Status = "verified"
        except Exception:  # noqa: BLE001 - the verifier raises a plain error; its report says what failed
            status = "failed"
    return PactResult(pact, status, verifier.output(strip_ansi=True), _log_of(provider, log_since),
                      time.monotonic() - started)


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """The verifier's native code prints its report (with colours) straight to fd 1; we show it ourselves."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _is_message(interaction: dict[str, Any]) -> bool:
    return str(interaction.get("type", "")).startswith("Asynchronous") or "contents" in interaction


def _produce(registry: Registry, topology: Topology, provider: str, description: str) -> tuple[bytes, str]:
    """The message the real producer makes for an interaction, and its content type."""
    producer = registry.message(provider, description)
    if producer is None:  # check_states() makes this unreachable for the pacts it was given
        raise KeyError(f"no message producer for {description!r} of {provider}")
    body = producer(topology, {})
    if isinstance(body, (dict, list)):
        return json.dumps(body).encode(), "application/json"
    return (body if isinstance(body, bytes) else str(body).encode()), "text/plain"


def _log_of(service: Any, since: float) -> str:
    try:
        return service.logs(since=since)
    except Exception as error:  # noqa: BLE001 - a message about a log never hides the verification result
        return f"(log unavailable: {error})"


STATE_PATH = "/_pact/state"
MESSAGE_PATH = "/_pact/message"


@contextmanager
def _provider_side(registry: Registry, topology: Topology, provider: str) -> Iterator[int]:
    """An HTTP server on 127.0.0.1 for the Pact verifier: state changes, and messages from the real producers."""
    runs: dict[str, StateRun] = {}

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
        handler = registry.state(provider, name)
        if handler is None:
            raise KeyError(f"no handler for provider state {name!r} of {provider}")
        runs[key] = StateRun(handler, topology, params)
        return runs[key].values or {}

    class ProviderSide(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            try:
                if self.path == MESSAGE_PATH:
                    self._answer(200, *_produce(registry, topology, provider, body.get("description", "")))
                else:
                    self._answer(200, json.dumps(change_state(body)).encode(), "application/json")
            except Exception as error:  # noqa: BLE001 - reported to the verifier, which fails the interaction
                what = body.get("description") or body.get("state")
                message = {"error": f"{what!r} failed: {type(error).__name__}: {error}"}
                self._answer(500, json.dumps(message).encode(), "application/json")

        def _answer(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), ProviderSide)
    # a short poll interval: shutdown() waits for it, once per verification
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), name="harness-pact-provider", daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        for run in runs.values():
            run.teardown()
