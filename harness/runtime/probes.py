"""Readiness probes, run from this machine against the published ports (on 127.0.0.1, or a remote engine's host), or
inside the container."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.error
import urllib.request

import docker.errors
from docker.models.containers import Container

from harness.model.parts import ReadyProbe

CANCEL_POLL = 0.1  # seconds between looks at the cancel event while a probe's command runs
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column


class Abandoned(Exception):
    """The wait for a command in a container (a probe's, a hook's) was given up because the start was cancelled or
    the removal forced; the command is left to end with its container (Docker has no call to stop an exec; removing
    the container ends it)."""


def probe_once(probe: ReadyProbe, container: Container, host_port: dict[int, int],
               log_since: float | None = None, host: str = "127.0.0.1", limit: float | None = None,
               cancelled: threading.Event | None = None) -> str | None:
    """One attempt: None when the service is ready, else what was seen instead.

    `log_since` (a time.time() value) makes a log probe count only lines written since then (after a restart).
    `host` is where the published ports (`host_port`: container port -> port on `host`) are reached.
    `limit`: seconds a command may run to pass (a healthcheck's timeout, as Docker counts a slower run as failed);
    None: no limit.

    Raises:
        Abandoned: `cancelled` was set while the command ran (within CANCEL_POLL seconds).
    """
    if probe.http:
        url = f"http://{url_host(host)}:{host_port[probe.http.port]}{probe.http.path}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (OSError, ValueError, http.client.HTTPException) as error:  # refused, reset, cut off mid-answer
            reason = getattr(error, "reason", error)
            return f"no HTTP answer ({str(reason) or type(reason).__name__})"
        return None if status == probe.http.status else f"status {status}"
    if probe.tcp:
        accepts = tcp_accepts(host_port[probe.tcp], host, container, probe.tcp)
        return None if accepts else f"nothing accepts connections on port {probe.tcp}"
    if probe.log is not None:
        options = {"since": log_since} if log_since else {}
        seen = container.logs(stdout=True, stderr=True, **options).decode("utf-8", "replace").count(probe.log)
        return None if seen >= probe.times else f"line seen {seen} of {probe.times} time(s)"
    code = exec_within(container, probe.command, limit, cancelled)
    if code is None:
        return f"still running after {limit:g} s (the healthcheck's timeout)"
    return None if code == 0 else f"exit code {code}"


def exec_within(container: Container, command: str | list[str] | None, limit: float | None = None,
                cancelled: threading.Event | None = None) -> int | None:
    """The command's exit code (its output is discarded), or None when it runs longer than `limit` seconds (None:
    no limit). Either way a command still running is left to end in the container: Docker has no call to stop an
    exec. Docker's errors are raised.

    Raises:
        Abandoned: `cancelled` was set while the command ran (a cancelled start does not wait for it).
    """
    outcome: list[int | Exception] = []

    def run() -> None:
        try:
            outcome.append(container.exec_run(command).exit_code)
        except Exception as error:  # noqa: BLE001 - handed to the caller (or dropped when it gave up waiting)
            outcome.append(error)

    worker = threading.Thread(target=run, name="probe-command", daemon=True)
    worker.start()
    deadline = None if limit is None else time.monotonic() + limit
    while not outcome and (deadline is None or time.monotonic() < deadline):
        if cancelled is not None and cancelled.is_set():
            raise Abandoned()
        worker.join(CANCEL_POLL if deadline is None else max(0.0, min(CANCEL_POLL, deadline - time.monotonic())))
    if not outcome:
        return None
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]


def url_host(host: str) -> str:
    """`host` as written in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def tcp_accepts(port: int, host: str = "127.0.0.1", container: Container | None = None,
                container_port: int | None = None) -> bool:
    """Whether a server accepts connections on published `port` of `host` (this machine, or a remote engine's).

    Docker's userland proxy accepts on the host port even when nothing listens in the container, and closes the
    connection once its own connection to the container is refused — later under load than any fixed wait. So
    the listener is looked for inside `container` first, on `container_port`, as Testcontainers' host-port wait
    does (`listening`); then a connection through the published port must stay open for a moment (or get a
    greeting): where the tables cannot be read (an image without `cat`), that alone is the sign."""
    inside = listening(container, container_port) if container is not None and container_port is not None else None
    if inside is False:
        return False
    try:
        with socket.create_connection((host, port), timeout=1) as connection:
            connection.settimeout(0.15)  # (closed at once: the proxy's refusal, or a server that died on accepting)
            try:
                return connection.recv(1) != b""
            except TimeoutError:
                return True
    except OSError:
        return False


def listening(container: Container, port: int) -> bool | None:
    """Whether a TCP socket of `container` listens on `port` on an address other than loopback (one the published
    port reaches), from the kernel's tables of its network namespace (`/proc/net/tcp`, `/proc/net/tcp6`, read by
    `cat` in the container); None when that cannot be told (no `cat` in the image, Docker refused the exec)."""
    try:
        result = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"])
    except docker.errors.APIError:
        return None
    if result.exit_code in (126, 127):  # no `cat` to run (its error is the output)
        return None
    output = result.output.decode("ascii", "replace") if isinstance(result.output, bytes) else ""
    rows = [line.split() for line in output.splitlines()[1:]]
    if not any(len(row) > 3 and ":" in row[1] for row in rows):
        return None  # (cat missing: the exec's error, not the tables)
    for row in rows:
        if len(row) > 3 and row[3] == LISTEN and ":" in row[1]:
            address, _, hex_port = row[1].partition(":")
            if int(hex_port, 16) == port and not _loopback(address):
                return True
    return False


def _loopback(address: str) -> bool:
    """An address of /proc/net/tcp(6) (hex, in the kernel's byte order) in 127.0.0.0/8 or ::1."""
    if len(address) == 8:
        return address[6:] == "7F"  # the first byte comes last
    return address == "00000000000000000000000001000000" or address.startswith("0000000000000000FFFF0000") \
        and address[30:] == "7F"  # ::1, or ::ffff:127.x.x.x
