"""pact-python's Verifier in a child process. The Pact core prints its report straight to file descriptor 1;
pointing the fd of *this* process at /dev/null would swallow everything else printed meanwhile (pytest's output,
progress lines), so the verifier runs in one long-lived spawned worker whose own fd 1 is /dev/null. Jobs and
outcomes are plain data; state changes and messages are still served by the parent (harness.contracts.provider_side).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

EXECUTE_FAILED = "Failed to execute verifier"  # pact-python's message when the core reports failures


@dataclass(frozen=True)
class VerifierJob:
    """One pact file against one provider. `http_url`: the provider's base URL (None for message-only pacts);
    `message_port`/`message_path`: where messages are produced (on this machine); `state_url`: the state-change URL;
    `host`: the host of every transport (the core has one per provider): the engine's host, 127.0.0.1 when local."""

    provider: str
    pact_path: str
    host: str = "127.0.0.1"
    http_url: str | None = None
    message_port: int | None = None
    message_path: str | None = None
    state_url: str | None = None
    request_timeout_ms: int = 5_000  # pact-python's default; verify_pact gives provider_side.STATE_CHANGE_LIMIT_S
    descriptions: tuple[str, ...] | None = None  # only the interactions of these descriptions (None: all)
    headers: tuple[tuple[str, str], ...] = ()  # added to every request (--observe: the verifier's mark)


@dataclass(frozen=True)
class VerifierOutcome:
    """`executed`: the core ran (then `passed` is its verdict); `config_error`: pact-python refused the setup
    before running (e.g. "No transports have been set"). `results` is the core's JSON (`interactionResults`...)."""

    executed: bool
    passed: bool
    output: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    config_error: str | None = None


def _run_job(job: VerifierJob) -> VerifierOutcome:
    """Run one verification (in the worker process)."""
    from pact import Verifier

    try:
        verifier = Verifier(job.provider, host=job.host).set_coloured_output(enabled=False)
        verifier.set_request_timeout(job.request_timeout_ms)
        if job.headers:
            verifier.add_custom_headers(job.headers)
        if job.http_url:
            verifier.add_transport(url=job.http_url)
        if job.message_port is not None:
            verifier.add_transport(protocol="message", port=job.message_port, path=job.message_path)
        if job.state_url:
            verifier.state_handler(job.state_url, body=True, teardown=True)
        verifier.add_source(job.pact_path)
        if job.descriptions is not None:
            verifier.filter(description_pattern(job.descriptions))
    except Exception as error:  # noqa: BLE001 - any refusal of the setup is a configuration error
        return VerifierOutcome(False, False, config_error=f"{type(error).__name__}: {error}")
    try:
        verifier.verify()
        passed = True
    except RuntimeError as error:
        if not str(error).startswith(EXECUTE_FAILED):
            return VerifierOutcome(False, False, config_error=f"{type(error).__name__}: {error}")
        passed = False
    try:
        results = verifier.results
    except Exception:  # noqa: BLE001 - the results are a bonus; the output still says what happened
        results = {}
    return VerifierOutcome(True, passed, str(verifier.output(strip_ansi=True)), results)


def description_pattern(descriptions: tuple[str, ...]) -> str:
    """A regular expression (the Pact core's, Rust `regex` syntax) matching exactly these descriptions."""
    def literal(text: str) -> str:  # the characters the core's syntax gives a meaning to, escaped
        return "".join(f"\\{c}" if c in "\\.+*?()|[]{}^$#&-~" else c for c in text)

    return "^(?:" + "|".join(literal(d) for d in descriptions) + ")$"


def _silence_fd1() -> None:
    """Worker initializer: the core's prints go nowhere (the parent shows the output it returns), and the worker
    ends with its parent."""
    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    _exit_with_parent()


def _exit_with_parent(every: float = 0.5) -> None:
    """A parent killed outright (SIGKILL, OOM) cannot stop its worker, which would go on verifying against containers
    the next start reaps: a daemon thread ends this process once it has been re-parented. The core's calls release
    the GIL, so the thread runs during a verification too."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class VerifierWorker:
    """One spawned process that runs verifications one after another (start-up ~0.5 s, once per run).

        with VerifierWorker() as worker:
            outcome = worker.run(job)
    """

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def run(self, job: VerifierJob) -> VerifierOutcome:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_silence_fd1)
        return self._pool.submit(_run_job, job).result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> VerifierWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
