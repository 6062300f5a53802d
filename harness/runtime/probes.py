"""Readiness probes, run from this machine against the published ports (on 127.0.0.1, or a remote engine's host), or
inside the container."""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request

from docker.models.containers import Container

from harness.model.parts import ReadyProbe


def probe_once(probe: ReadyProbe, container: Container, host_port: dict[int, int],
               log_since: float | None = None, host: str = "127.0.0.1") -> str | None:
    """One attempt: None when the service is ready, else what was seen instead.

    `log_since` (a time.time() value) makes a log probe count only lines written since then (after a restart).
    `host` is where the published ports (`host_port`: container port -> port on `host`) are reached.
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
        return None if _tcp_accepts(host_port[probe.tcp], host) else f"nothing accepts connections on port {probe.tcp}"
    if probe.log is not None:
        options = {"since": log_since} if log_since else {}
        seen = container.logs(stdout=True, stderr=True, **options).decode("utf-8", "replace").count(probe.log)
        return None if seen >= probe.times else f"line seen {seen} of {probe.times} time(s)"
    result = container.exec_run(probe.command)  # waits for the command to end (output is discarded)
    return None if result.exit_code == 0 else f"exit code {result.exit_code}"


def url_host(host: str) -> str:
    """`host` as written in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host else host


def _tcp_accepts(port: int, host: str = "127.0.0.1") -> bool:
    # Docker's userland proxy accepts on the host port even when nothing listens in the container, and then closes
    # the connection at once. So a connection that stays open (or sends a greeting) is the sign of a listener.
    try:
        with socket.create_connection((host, port), timeout=1) as connection:
            connection.settimeout(0.15)
            try:
                return connection.recv(1) != b""
            except TimeoutError:
                return True
    except OSError:
        return False
