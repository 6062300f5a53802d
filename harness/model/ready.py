"""Readiness probes for topologies built in Python: `ready.http(8000, "/health")`, `ready.tcp(6379)`,
`ready.log("Ready to accept connections")`, `ready.command(["pg_isready"])`. Each returns a `ReadyProbe`, the same
object the `ready:` key of a topology file becomes, checked by the same rules: a bad value raises TopologyFileError
located by the call (`ready.tcp(...): tcp: ...`)."""

from __future__ import annotations

from harness.model.base import checked
from harness.model.parts import ReadyProbe

__all__ = ["command", "http", "log", "tcp"]


def http(port: int, path: str = "/", status: int = 200, *, interval: float = 0.1) -> ReadyProbe:
    """Ready when GET `path` on container port `port` (published on 127.0.0.1) answers `status`. `interval` is in
    seconds between attempts (the first attempts come faster)."""
    return checked(ReadyProbe, {"http": {"port": port, "path": path, "status": status}, "interval": interval},
                   "ready.http(...)")


def tcp(port: int, *, interval: float = 0.1) -> ReadyProbe:
    """Ready when something in the container accepts connections on `port` (not just Docker's port proxy)."""
    return checked(ReadyProbe, {"tcp": port, "interval": interval}, "ready.tcp(...)")


def log(line: str, times: int = 1, *, interval: float = 0.1) -> ReadyProbe:
    """Ready when the container's log (stdout and stderr) holds `line` at least `times` times."""
    return checked(ReadyProbe, {"log": line, "times": times, "interval": interval}, "ready.log(...)")


def command(command: str | list[str], *, interval: float = 0.1) -> ReadyProbe:
    """Ready when `command` (a list: the program and its arguments; a string: run by a shell), run inside the
    container, exits 0."""
    return checked(ReadyProbe, {"command": command, "interval": interval}, "ready.command(...)")
