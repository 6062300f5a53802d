"""The observation agent's control socket (observe_agent.py; copied beside it into the helper image, so it imports
only the standard library): the abstract Unix socket `serve` answers on, one request per connection as JSON; the
fault agent's marks of servers under a fault over time and the counts of connections its cuts stopped; the kernel's
time of a packet."""

from __future__ import annotations

import json
import select
import socket
import struct
import time
from typing import Any

CONTROL = "\0pytest-topology-observe"  # abstract Unix sockets: one namespace per network namespace
FAULTS = "\0pytest-topology-faults"  # the fault agent's (fault_agent.py MARKS_SOCKET)
CONTROL_TIMEOUT = 30.0  # seconds a request to `serve` (or the fault agent) may take
REFUSED = "refused by cut()"  # the protocol of the flows of connections a cut stopped (counted by the fault agent)
DROPPED = "dropped by cut()"  # ... of the TCP packets a cut(mode="drop") stopped (retries counted: packets)
DROP_PREFIX = "drop/"  # (fault_agent.DROPPED: the fault agent's counts of a dropping cut, by "drop/" + server)
LOST = "dropped by loss()"  # ... of the packets a loss() dropped (its random DROP rule's own counter)
LOSS_PREFIX = "loss/"  # (fault_agent.LOST: the fault agent's counts of a loss, by "loss/" + server)
SO_TIMESTAMP = 29  # SOL_SOCKET: each packet's kernel time as ancillary data (struct timeval)


class Marks:
    """The servers under a fault over time: each change with the time `serve` took it, applied to the observer as
    packets of a later kernel time are handed to it."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, set[str]]] = []
        self.now: set[str] = set()

    def change(self, servers: list[str]) -> None:
        self.pending.append((time.time(), set(servers)))

    def until(self, moment: float) -> set[str]:
        """The servers marked at `moment` (changes up to then are applied, in order)."""
        while self.pending and self.pending[0][0] <= moment:
            self.now = self.pending.pop(0)[1]
        return self.now


class Refused:
    """The connections cuts stopped in this namespace since the capture started (server -> TCP packets), from what
    the fault agents say: each its totals so far, under its own id (an agent started again counts from 0), less
    those an agent had when the capture started."""

    def __init__(self) -> None:
        self.base: dict[str, dict[str, int]] = {}
        self.told: dict[str, dict[str, int]] = {}

    def start(self, agent: str, totals: dict[str, int]) -> None:
        self.base[agent] = dict(totals)
        self.take(agent, totals)

    def take(self, agent: str, totals: dict[str, int]) -> None:
        """The totals of `agent` now (they only grow: an older answer read later changes nothing)."""
        known = self.told.setdefault(agent, {})
        for server, total in totals.items():
            known[server] = max(known.get(server, 0), int(total))

    def now(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for agent, totals in self.told.items():
            for server, total in totals.items():
                counts[server] = counts.get(server, 0) + total - self.base.get(agent, {}).get(server, 0)
        return {server: count for server, count in sorted(counts.items()) if count > 0}


def refused_flow(server: str, count: int) -> dict[str, Any]:
    """The TCP packets to `server` ("*": a cut on every destination) a cut stopped, as a flow: no byte passed.
    A rejecting cut stops one per connection (`connections`: connections refused); a dropping one ("drop/" +
    server: protocol DROPPED) each of its client's retries (`connections`: packets dropped); a loss ("loss/" +
    server: protocol LOST) the packets its random drop took."""
    protocol = REFUSED
    for prefix, kind in ((DROP_PREFIX, DROPPED), (LOSS_PREFIX, LOST)):
        if server.startswith(prefix):
            server, protocol = server[len(prefix):], kind
    return {"client": "", "server": server, "port": 0, "protocol": protocol, "outgoing": True, "connections": count,
            "bytes": 0, "broken": 0, "unanswered": 0}


def stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP and len(data) >= 16:
            seconds, microseconds = struct.unpack("qq", data[:16])
            return float(seconds + microseconds / 1e6)
    return time.time()


def request_on(control: socket.socket) -> tuple[dict[str, Any], socket.socket] | None:
    """The next request on `control` and its connection (to answer on); None when it could not be read."""
    connection = control.accept()[0]
    connection.settimeout(CONTROL_TIMEOUT)
    try:
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
        request: dict[str, Any] = json.loads(b"".join(chunks))
        return request, connection
    except (OSError, ValueError):
        connection.close()
        return None


def reply(connection: socket.socket, reply: dict[str, Any]) -> None:
    try:
        connection.sendall(json.dumps(reply).encode())
    except OSError:
        pass  # the asker went away


def ask(request: dict[str, Any]) -> dict[str, Any]:
    """One request to `serve` of this namespace, its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(CONTROL_TIMEOUT)
        client.connect(CONTROL)
        client.sendall(json.dumps(request).encode())
        client.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := client.recv(1 << 20):
            chunks.append(chunk)
    answer: dict[str, Any] = json.loads(b"".join(chunks))
    return answer


def ask_fault_agent(control: socket.socket, marks: Marks,
                    refused: Refused) -> dict[str, Any]:
    """What the fault agent of this namespace, if there is one, says now: the servers its faults are on
    ("servers") and the TCP packets its cuts stopped ("refused"); {} when there is none. While it answers, its own
    requests to `control` are taken (it may be putting a fault in place, waiting for them)."""
    asking = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        asking.connect(FAULTS)
        asking.sendall(b'{"command": "marks"}')
        asking.shutdown(socket.SHUT_WR)
    except OSError:  # no fault agent here: no fault
        asking.close()
        return {}
    answer = b""
    deadline = time.monotonic() + CONTROL_TIMEOUT
    with asking:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([asking, control], [], [], deadline - time.monotonic())
            if asking in readable:  # first: marks sent to `control` at the same time are newer than this answer
                chunk = asking.recv(65536)
                if chunk:
                    answer += chunk
                    continue
                try:
                    said: dict[str, Any] = json.loads(answer)
                    return said
                except ValueError:
                    return {}  # the fault agent went away meanwhile
            asked = request_on(control) if control in readable else None
            if asked is not None:
                request, connection = asked
                with connection:
                    if request.get("command") in ("marks", "refused"):
                        take(request, marks, refused)
                        reply(connection, {"ok": True})
                    else:  # a snapshot while this one is taken: asked again
                        reply(connection, {"error": "the capture is busy, ask again"})
    return {}


def take(request: dict[str, Any], marks: Marks, refused: Refused) -> None:
    """A request of the fault agent: the servers under a fault from now on, or its counts of refused connections."""
    if request.get("command") == "marks":
        marks.change(list(request.get("servers", [])))
    else:
        refused.take(str(request.get("agent")), dict(request.get("servers", {})))
