"""The observation agent: runs in a helper container in one service's network namespace (see observe.py) and
watches the TCP connections of that namespace, passively, with a raw AF_PACKET socket. Packets are read with dpkt,
each direction of a connection is put back in order by its sequence numbers, and HTTP/1.x is parsed with httptools
(both from Debian's packages in the helper image). Nothing here writes to the network.

Kept, aggregated (memory bounded): per HTTP call kind (client, server, port, method, path, query keys, status,
content type) a count, seconds and bytes, and the first request/response bodies up to BODY_LIMIT bytes; per
connection kind (client, server, port, protocol) connections and bytes. `protocol`: http, tls, http2 or other
(PostgreSQL, Redis, ...): only http is parsed.

    python3 observe_agent.py serve      # the container's command: capture until stopped
    python3 observe_agent.py snapshot   # print what was seen so far as one JSON object (asks `serve`)

`serve` answers on an abstract Unix socket, CONTROL, which is bound in the network namespace (any process there
reaches it, in whatever container): `snapshot`, and `marks` from the fault agent of the same namespace
(fault_agent.py), which names the servers its faults are on before it puts their rules in place and after it removes
them ("*": every one; []: none), so that the calls made meanwhile are marked `faulted`. A capture that starts while
faults are in place (a consumer started again) asks that agent for its marks first (FAULTS). Marks count from the
moment `serve` took them, by the kernel's time of each packet (SO_TIMESTAMP), so packets that waited in the socket's
buffer are judged by when they passed.

Runs on the helper's Python (Debian's python3, no harness imports).
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

try:  # in the helper image, the two files side by side (the script's folder is on sys.path)
    import observe_control  # type: ignore[import-not-found]
except ImportError:  # imported by the harness (its tests)
    from harness.runtime import observe_control

dpkt: Any = None  # the packet and HTTP libraries, imported by the capture only (load_libraries): `mark` and
httptools: Any = None  # `snapshot` start without them (their import takes a second on a busy machine)

READY_LINE = "observe agent ready"
BODY_LIMIT = int(os.environ.get("OBSERVE_BODY_LIMIT", "4096"))  # bytes of each body sample kept
MAX_KINDS = int(os.environ.get("OBSERVE_MAX_KINDS", "5000"))  # distinct call kinds kept; more are only counted
# the other services' addresses and the ports this one listens on: their calls to it are recorded by their own
# namespace's agent, so this one skips them (half the work on every call between services; all of a database's)
PEERS = set(filter(None, os.environ.get("OBSERVE_PEERS", "").split(",")))
LISTENS = {int(port) for port in filter(None, os.environ.get("OBSERVE_LISTENS", "").split(","))}
MAX_GAP = 1 << 20  # bytes of out-of-order data held per direction before the connection is given up
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET, PACKET_STATISTICS = 263, 6
BATCH = 256  # packets read per wake-up before the control socket is looked at again
REQUEST_LINE = re.compile(rb"^[A-Z]{3,10} \S+ HTTP/1\.[01]\r?\n")


def load_libraries() -> None:
    global dpkt, httptools
    import dpkt as packets
    import httptools as http

    dpkt, httptools = packets, http


class Direction:
    """One direction of a connection, its bytes handed on in order."""

    def __init__(self, isn: int) -> None:
        self.next = (isn + 1) & 0xFFFFFFFF
        self.held: dict[int, bytes] = {}
        self.bytes = 0

    def add(self, seq: int, data: bytes) -> bytes:
        """The bytes now in order (b"" when none); retransmitted bytes are dropped, early ones held."""
        offset = (seq - self.next) & 0xFFFFFFFF
        if offset >= 1 << 31:  # starts before next: a retransmission, maybe with new bytes at its end
            skip = (self.next - seq) & 0xFFFFFFFF
            if skip >= len(data):
                return b""
            data, offset = data[skip:], 0
        if offset > 0:
            self.held[seq] = data
            if sum(len(d) for d in self.held.values()) > MAX_GAP:
                raise OverflowError
            return b""
        out = [data]
        self.next = (self.next + len(data)) & 0xFFFFFFFF
        while self.held:
            ready = [s for s in self.held if (s - self.next) & 0xFFFFFFFF >= 1 << 31 or s == self.next]
            if not ready:
                break
            for s in ready:
                chunk = self.held.pop(s)
                skip = (self.next - s) & 0xFFFFFFFF
                if skip < len(chunk):
                    out.append(chunk[skip:])
                    self.next = (self.next + len(chunk) - skip) & 0xFFFFFFFF
        joined = b"".join(out)
        self.bytes += len(joined)
        return joined


class Message:
    """httptools' callbacks for one side of a connection: collects each message's parts."""

    def __init__(self) -> None:
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body = bytearray()
        self.size = 0
        self.started = 0.0
        self.done: list[dict[str, Any]] = []
        self.now = 0.0
        self.parser: Any = None

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body, self.size, self.started = b"", {}, bytearray(), 0, self.now

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if len(self.body) < BODY_LIMIT:
            self.body += body[:BODY_LIMIT - len(self.body)]

    def on_message_complete(self) -> None:
        request = isinstance(self.parser, httptools.HttpRequestParser)
        self.done.append({"url": self.url, "headers": self.headers, "body": bytes(self.body), "size": self.size,
                          "started": self.started, "ended": self.now,
                          "method": self.parser.get_method().decode("latin-1") if request else "",
                          "status": 0 if request else int(self.parser.get_status_code())})


class Connection:
    """One TCP connection whose SYN was seen: its protocol, and for HTTP its calls, request by response."""

    def __init__(self, key: tuple[str, int, str, int], outgoing: bool, isn: int, started: float) -> None:
        self.key = key
        self.outgoing = outgoing  # opened by this namespace's service (else: a call to it)
        self.client = Direction(isn)
        self.server: Direction | None = None  # from the SYN-ACK
        self.protocol = ""
        self.broken = False
        self.fins: set[bool] = set()  # the sides that sent FIN (True: the client)
        self.started = started
        self.faulted = False  # a packet of the call under way passed while its server was under a fault
        self.requests = Message()
        self.responses = Message()
        self.request_parser: Any = None
        self.response_parser: Any = None

    def client_data(self, data: bytes, now: float) -> None:
        if not self.protocol:
            self.protocol = ("http" if REQUEST_LINE.match(data) else "http2" if data.startswith(b"PRI * HTTP/2")
                             else "tls" if data[:1] == b"\x16" else "other")
            if self.protocol == "http":
                self.request_parser = self.requests.parser = httptools.HttpRequestParser(self.requests)
                self.response_parser = self.responses.parser = httptools.HttpResponseParser(self.responses)
        if self.request_parser is not None:
            self.requests.now = now
            self._feed(self.request_parser, data)

    def server_data(self, data: bytes, now: float) -> None:
        if self.response_parser is not None:
            self.responses.now = now
            self._feed(self.response_parser, data)

    def _feed(self, parser: Any, data: bytes) -> None:
        try:
            parser.feed_data(data)
        except Exception:  # noqa: BLE001 - not HTTP/1.x after all (an upgrade, a parse error): stop parsing
            self.request_parser = self.response_parser = None
            self.broken = True


class Observer:
    def __init__(self) -> None:
        load_libraries()
        self.connections: dict[tuple[str, int, str, int], Connection] = {}
        self.calls: dict[str, dict[str, Any]] = {}
        self.flows: dict[str, dict[str, Any]] = {}
        self.overflow = 0  # calls not kept apart once MAX_KINDS kinds are
        self.joined = 0  # packets of connections opened before the capture started (not inspected)
        self.closed: dict[tuple[str, int, str, int], None] = {}  # recently closed (their last ACKs are no news)
        self.early: dict[str, dict[str, Any]] = {}  # those connections: bytes by their two ends (the harness
        # tells client from server by the ports the containers expose)
        self.broken = 0  # connections given up (gaps, unparseable HTTP)
        self.marked: set[str] = set()  # servers under a fault now (the fault agent says so); "*": every one

    def under_fault(self, server: str) -> bool:
        return bool(self.marked) and (server in self.marked or "*" in self.marked)

    def packet(self, data: bytes, outgoing: bool, now: float) -> None:
        if PEERS and _from_peer(data, outgoing):
            return  # a call another service makes to this one: its own agent has it (skipped before parsing)
        try:
            ip = dpkt.ip.IP(data)
        except dpkt.UnpackError:
            return
        tcp = ip.data
        if not isinstance(tcp, dpkt.tcp.TCP):
            return
        src, dst = socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst)
        syn, ack = tcp.flags & dpkt.tcp.TH_SYN, tcp.flags & dpkt.tcp.TH_ACK
        forward = (src, tcp.sport, dst, tcp.dport)
        backward = (dst, tcp.dport, src, tcp.sport)
        if syn and not ack:
            self._close(forward)
            self.connections[forward] = Connection(forward, outgoing, tcp.seq, now)
            self.connections[forward].faulted = self.under_fault(dst)
            return
        connection = self.connections.get(forward) or self.connections.get(backward)
        if connection is None:
            if forward in self.closed or backward in self.closed:
                return
            self.joined += 1
            self._early(forward, len(tcp.data))
            return
        from_client = connection.key == forward
        if self.marked and self.under_fault(connection.key[2]):
            connection.faulted = True
        if syn and ack and not from_client:
            connection.server = Direction(tcp.seq)
            return
        if tcp.data and not connection.broken:
            side = connection.client if from_client else connection.server
            if side is None:
                connection.broken = True
            else:
                try:
                    ordered = side.add(tcp.seq, bytes(tcp.data))
                except OverflowError:
                    connection.broken = True
                    ordered = b""
                if ordered:
                    (connection.client_data if from_client else connection.server_data)(ordered, now)
                    self._pair(connection)
        if tcp.flags & dpkt.tcp.TH_FIN:
            connection.fins.add(from_client)
        if tcp.flags & dpkt.tcp.TH_RST or len(connection.fins) == 2:  # both sides done (a half-close goes on)
            self._close(connection.key)

    def _early(self, ends: tuple[str, int, str, int], size: int) -> None:
        a, b = sorted([(ends[0], ends[1]), (ends[2], ends[3])])
        key = json.dumps([a, b])
        entry = self.early.get(key)
        if entry is None:
            if len(self.early) >= MAX_KINDS:
                return
            entry = self.early[key] = {"ends": [list(a), list(b)], "bytes": 0}
        entry["bytes"] += size

    def _pair(self, connection: Connection) -> None:
        """Each complete response with its request, in order (HTTP/1.1 answers in the order asked)."""
        requests, responses = connection.requests.done, connection.responses.done
        while requests and responses:
            self._call(connection, requests.pop(0), responses.pop(0))

    def _call(self, connection: Connection, request: dict[str, Any], response: dict[str, Any]) -> None:
        client, _, server, port = connection.key
        method, status = request["method"], response["status"]
        url = httptools.parse_url(request["url"]) if request["url"] else None
        path = (url.path or b"").decode("latin-1") if url else ""
        query = (url.query or b"").decode("latin-1") if url else ""
        keys = sorted({part.split("=", 1)[0] for part in query.split("&") if part})
        content_type = response["headers"].get("content-type", "")
        faulted, connection.faulted = connection.faulted, self.under_fault(server)  # the next call starts afresh
        kind = json.dumps([client, server, port, method, path, keys, status, content_type, faulted])
        entry = self.calls.get(kind)
        if entry is None:
            if len(self.calls) >= MAX_KINDS:
                self.overflow += 1
                return
            entry = self.calls[kind] = {
                "client": client, "server": server, "port": port, "outgoing": connection.outgoing,
                "method": method, "path": path, "query_keys": keys, "status": status, "content_type": content_type,
                "faulted": faulted,
                "count": 0, "seconds": 0.0, "max_seconds": 0.0, "request_bytes": 0, "response_bytes": 0,
                "request_content_type": request["headers"].get("content-type", ""), "query": query,
                "request_body": request["body"].decode("latin-1"), "response_body": response["body"].decode("latin-1"),
                "request_truncated": request["size"] > len(request["body"]),
                "response_truncated": response["size"] > len(response["body"])}
        seconds = max(0.0, response["ended"] - request["started"])
        entry["count"] += 1
        entry["seconds"] += seconds
        entry["max_seconds"] = max(entry["max_seconds"], seconds)
        entry["request_bytes"] += request["size"]
        entry["response_bytes"] += response["size"]

    def _close(self, key: tuple[str, int, str, int]) -> None:
        connection = self.connections.pop(key, None)
        self.closed[key] = None
        if len(self.closed) > 10000:
            del self.closed[next(iter(self.closed))]
        if connection is not None:
            _count(self.flows, connection)
            self.broken += int(connection.broken)

    def snapshot(self, dropped: int) -> dict[str, Any]:
        """What was seen until now; open connections count as they are now (they go on being followed)."""
        flows = {key: dict(entry) for key, entry in self.flows.items()}
        for connection in self.connections.values():
            _count(flows, connection)
        return {"calls": list(self.calls.values()), "flows": list(flows.values()), "overflow": self.overflow,
                "joined_packets": self.joined, "dropped_packets": dropped, "early": list(self.early.values()),
                "broken": self.broken + sum(c.broken for c in self.connections.values())}


def _from_peer(data: bytes, outgoing: bool) -> bool:
    """A TCP packet of a connection another service of the topology opened to a port this one listens on (read from
    the IPv4 and TCP headers' fixed places, so that the database's agent does not parse its clients' traffic)."""
    if len(data) < 20 or data[0] >> 4 != 4 or data[9] != 6:
        return False
    start = (data[0] & 0x0F) * 4
    if len(data) < start + 4:
        return False
    peer = socket.inet_ntoa(data[16:20] if outgoing else data[12:16])
    port = struct.unpack_from("!H", data, start if outgoing else start + 2)[0]
    return peer in PEERS and port in LISTENS


def _count(flows: dict[str, dict[str, Any]], connection: Connection) -> None:
    """Add a connection to the counts of its kind (client, server, port, protocol)."""
    client, _, server, port = connection.key
    protocol = connection.protocol or "none"  # no byte sent (yet)
    entry = flows.setdefault(json.dumps([client, server, port, protocol]), {
        "client": client, "server": server, "port": port, "protocol": protocol, "outgoing": connection.outgoing,
        "connections": 0, "bytes": 0, "broken": 0, "unanswered": 0})
    entry["connections"] += 1
    entry["bytes"] += connection.client.bytes + (connection.server.bytes if connection.server else 0)
    entry["broken"] += int(connection.broken)
    entry["unanswered"] += len(connection.requests.done)


def serve() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # the capture first: from here on every packet waits in the socket's buffer (stamped by the kernel)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
    sock.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE (NET_ADMIN): room for bursts
    sock.setsockopt(socket.SOL_SOCKET, observe_control.SO_TIMESTAMP, 1)
    sock.setblocking(False)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        control.bind(observe_control.CONTROL)
    except OSError as error:
        print(f"error: cannot bind the control socket ({error}): another capture runs in this namespace", flush=True)
        sys.exit(1)
    control.listen(16)
    marks = observe_control.Marks()
    _take_fault_marks(control, marks)
    # ready before the libraries are imported (a second on a busy machine): the packets wait for them
    print(READY_LINE, flush=True)
    observer = Observer()
    dropped = 0
    while True:
        readable, _, _ = select.select([sock, control], [], [], 1.0)
        if sock in readable:
            for _ in range(BATCH):
                try:
                    data, ancillary, _, address = sock.recvmsg(65535, 64)
                except BlockingIOError:
                    break
                if address[0] == "lo":
                    continue
                moment = observe_control.stamp(ancillary)
                observer.marked = marks.until(moment)
                observer.packet(data, address[2] == PACKET_OUTGOING, moment)
        if control in readable:
            asked = observe_control.request_on(control)
            if asked is None:
                continue
            request, connection = asked
            with connection:
                if request.get("command") == "marks":
                    marks.change(list(request.get("servers", [])))
                    answer: dict[str, Any] = {"ok": True}
                else:
                    dropped += struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))[1]
                    answer = observer.snapshot(dropped)
                observe_control.reply(connection, answer)


def _take_fault_marks(control: socket.socket, marks: observe_control.Marks) -> None:
    """Ask the fault agent of this namespace, if there is one, for the servers its faults are on now. While it
    answers, its own marks sent to `control` are taken (it may be putting a fault in place, waiting for them)."""
    asking = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        asking.connect(observe_control.FAULTS)
        asking.sendall(b'{"command": "marks"}')
        asking.shutdown(socket.SHUT_WR)
    except OSError:  # no fault agent here: no fault
        asking.close()
        return
    answer = b""
    deadline = time.monotonic() + observe_control.CONTROL_TIMEOUT
    with asking:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([asking, control], [], [], deadline - time.monotonic())
            if asking in readable:  # first: marks sent to `control` at the same time are newer than this answer
                chunk = asking.recv(65536)
                if chunk:
                    answer += chunk
                    continue
                try:
                    marks.change(list(json.loads(answer).get("servers", [])))
                except ValueError:
                    pass  # the fault agent went away meanwhile
                return
            asked = observe_control.request_on(control) if control in readable else None
            if asked is not None:
                request, connection = asked
                with connection:
                    if request.get("command") == "marks":
                        marks.change(list(request.get("servers", [])))
                        observe_control.reply(connection, {"ok": True})
                    else:  # a snapshot before the capture is ready: nothing seen yet
                        observe_control.reply(connection, {"error": "the capture is not ready yet"})


def snapshot() -> None:
    try:
        print(json.dumps(observe_control.ask({"command": "snapshot"})), flush=True)
    except (OSError, ValueError) as error:
        print(json.dumps({"error": f"the capture did not answer ({error})"}), flush=True)


if __name__ == "__main__":
    {"serve": serve, "snapshot": snapshot}[sys.argv[1]]()
