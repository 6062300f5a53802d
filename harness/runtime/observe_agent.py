"""The observation agent: runs in a helper container in one service's network namespace (see observe.py) and
watches the TCP connections of that namespace, passively, with a raw AF_PACKET socket. Packets are read with dpkt,
each direction of a connection is put back in order by its sequence numbers, and HTTP/1.x is parsed with httptools
(both from Debian's packages in the helper image). Nothing here writes to the network.

Kept, aggregated (memory bounded): per HTTP call kind (client, server, port, method, path, query keys, status,
content type) a count, seconds and bytes, and each distinct request (query, headers up to HEADER_LIMIT bytes, body up
to BODY_LIMIT) with its response's body and count, up to MAX_BODIES per kind and BODY_BUDGET bytes in all (beyond:
`unsampled`, said not judged, never lent another's request). Header values (credentials) stay in memory; per
connection kind (client, server, port, protocol) connections and bytes. `protocol`: http, tls, http2 or other
(PostgreSQL, Redis, ...): only http is parsed.

    python3 observe_agent.py serve      # the container's command: capture until stopped
    python3 observe_agent.py snapshot   # print what was seen so far as one JSON object (asks `serve`)
    python3 observe_agent.py reset      # forget what was seen so far (a new session on a kept run)

`serve` answers on an abstract Unix socket, CONTROL, which is bound in the network namespace (any process there
reaches it, in whatever container): `snapshot`, and `marks` from the fault agent of the same namespace
(fault_agent.py), which names the servers its faults are on before it puts their rules in place and after it removes
them ("*": every one; []: none), so that the calls made meanwhile are marked `faulted`. A capture that starts while
faults are in place (a consumer started again) asks that agent for its marks first (FAULTS); the connections its
cuts stopped (no packet left: it counts them) are flows of observe_control.REFUSED. Marks count from the moment
`serve` took them, by the kernel's time of each packet (SO_TIMESTAMP), so packets that waited in the socket's buffer
are judged by when they passed. Runs on the helper's Python (Debian's python3, no harness imports).
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
from typing import Any

try:  # in the helper image, the files side by side (the script's folder is on sys.path)
    import call_marks  # type: ignore[import-not-found]
    import observe_control  # type: ignore[import-not-found]
    from observe_streams import REQUEST_LINE, Connection, Direction, sample_of  # type: ignore[import-not-found]
except ImportError:  # imported by the harness (its tests)
    from harness.runtime import call_marks, observe_control
    from harness.runtime.observe_streams import REQUEST_LINE, Connection, Direction, sample_of

dpkt: Any = None  # the packet and HTTP libraries, imported by the capture only (load_libraries): `mark` and
httptools: Any = None  # `snapshot` start without them (their import takes a second on a busy machine)

READY_LINE = "observe agent ready"
MAX_KINDS = int(os.environ.get("OBSERVE_MAX_KINDS", "5000"))  # distinct call kinds kept; more are only counted
MAX_BODIES = int(os.environ.get("OBSERVE_MAX_BODIES", "256"))  # distinct body pairs kept per kind of call
BODY_BUDGET = int(os.environ.get("OBSERVE_BODY_BUDGET", str(64 << 20)))  # bytes of bodies kept in all
MAX_IDS = int(os.environ.get("OBSERVE_MAX_IDS", "50000"))  # calls whose identity is kept (see Observer._call)
# the other services' addresses and the ports this one listens on: their calls to it are recorded here too (their
# own capture misses what they send before it runs: a service started again), each with its identity, so the harness
# counts each call once; a peer's connection that is not HTTP/1.x is skipped before parsing once its first bytes say
# so (all of a database's traffic but its connections' first packets)
PEERS = set(filter(None, os.environ.get("OBSERVE_PEERS", "").split(",")))
LISTENS = {int(port) for port in filter(None, os.environ.get("OBSERVE_LISTENS", "").split(","))}
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET, PACKET_STATISTICS = 263, 6
BATCH = 256  # packets read per wake-up before the control socket is looked at again


def load_libraries() -> None:
    global dpkt, httptools
    import dpkt as packets
    import httptools as http

    dpkt, httptools = packets, http


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
        self.skipping: dict[tuple[str, int, int], None] = {}  # peers' connections not to parse (see PEERS)
        self.ids = 0  # call identities kept (MAX_IDS)
        self.body_bytes = 0  # bytes of bodies kept (BODY_BUDGET)

    def under_fault(self, server: str) -> bool:
        return bool(self.marked) and (server in self.marked or "*" in self.marked)

    def packet(self, data: bytes, outgoing: bool, now: float) -> None:
        peer = _from_peer(data, outgoing) if PEERS else None
        if peer is not None and peer in self.skipping:
            if not _syn(data):
                return  # a peer's connection to this service that is not HTTP/1.x (skipped before parsing)
            del self.skipping[peer]  # its port used again for a new connection
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
            if peer is not None:  # opened before the capture: the peer's own namespace counts it
                self._skip(peer)
                return
            if not (tcp.data and REQUEST_LINE.match(tcp.data)):
                self.joined += 1
                self._early(forward, len(tcp.data))
                return
            connection = self._join(forward, outgoing, tcp.seq, now)
        from_client = connection.key == forward
        if self.marked and self.under_fault(connection.key[2]):
            connection.faulted = True
        if syn and ack and not from_client:
            connection.server = Direction(tcp.seq)
            return
        if tcp.data and not connection.broken:
            side = connection.client if from_client else connection.server
            if side is None and connection.joined and bytes(tcp.data[:7]) == b"HTTP/1.":
                side = connection.server = Direction(tcp.seq - 1)  # its first response seen from its start
            if side is None:
                connection.broken = not connection.joined  # (joined: the end of an answer to an earlier call)
            else:
                try:
                    ordered = side.add(tcp.seq, bytes(tcp.data))
                except OverflowError:
                    connection.broken = True
                    ordered = []
                for start, piece in ordered:
                    (connection.client_data if from_client else connection.server_data)(piece, now, start)
                if ordered:
                    self._pair(connection)
                    if peer is not None and connection.protocol not in ("", "http"):  # ("": not named yet)
                        self._skip(peer)
        if tcp.flags & dpkt.tcp.TH_FIN:
            connection.fins.add(from_client)
            if not from_client:
                connection.server_fin = (tcp.seq + len(tcp.data)) & 0xFFFFFFFF
        server = connection.server
        if tcp.flags & dpkt.tcp.TH_RST or (server is not None and connection.server_fin == server.next):
            # the server's bytes are over (all of them in order before its FIN, or a reset): a response delimited
            # by the connection's close is complete now
            connection.end_responses(now)
            self._pair(connection)
        if tcp.flags & dpkt.tcp.TH_RST or len(connection.fins) == 2:  # both sides done (a half-close goes on)
            self._close(connection.key)

    def _join(self, key: tuple[str, int, str, int], outgoing: bool, seq: int, now: float) -> Connection:
        """A connection opened before the capture whose client starts an HTTP/1.x request now: followed from this
        call on (a kept-alive connection, a pool opened at start), as if it had opened here."""
        connection = self.connections[key] = Connection(key, outgoing, seq - 1, now)
        connection.joined = True
        connection.faulted = self.under_fault(key[2])
        a, b = sorted([(key[0], key[1]), (key[2], key[3])])
        self.early.pop(json.dumps([a, b]), None)  # its packets before: an earlier call's end, not this one's
        return connection

    def _early(self, ends: tuple[str, int, str, int], size: int) -> None:
        a, b = sorted([(ends[0], ends[1]), (ends[2], ends[3])])
        key = json.dumps([a, b])
        entry = self.early.get(key)
        if entry is None:
            if len(self.early) >= MAX_KINDS or not size:  # (its end without data, an ACK: nothing not inspected)
                return
            entry = self.early[key] = {"ends": [list(a), list(b)], "bytes": 0}
        entry["bytes"] += size

    def _pair(self, connection: Connection) -> None:
        """Each complete response with its request, in order (HTTP/1.1 answers in the order asked)."""
        requests, responses = connection.requests.done, connection.responses.done
        while requests and responses:
            self._call(connection, requests.pop(0), responses.pop(0))

    def _skip(self, peer: tuple[str, int, int]) -> None:
        self.skipping[peer] = None
        if len(self.skipping) > 10000:
            del self.skipping[next(iter(self.skipping))]

    def _call(self, connection: Connection, request: dict[str, Any], response: dict[str, Any],
              calls: dict[str, dict[str, Any]] | None = None) -> None:
        """Count one call in `calls` (default: this observer's). A request without its response has status 0. Its
        identity, the same in both namespaces (client address and port, where the request starts on the wire), is
        kept (up to MAX_IDS), so that the harness counts a call seen by both ends once, and one seen only by its
        provider's capture too."""
        calls = self.calls if calls is None else calls
        client, _, server, port = connection.key
        method, status = request["method"], response["status"]
        url = httptools.parse_url(request["url"]) if request["url"] else None
        path = (url.path or b"").decode("latin-1") if url else ""
        query = (url.query or b"").decode("latin-1") if url else ""
        keys = sorted({part.split("=", 1)[0] for part in query.split("&") if part})
        content_type = response["headers"].get("content-type", "")
        faulted, connection.faulted = connection.faulted, self.under_fault(server)  # the next call starts afresh
        who = "" if connection.outgoing or client in PEERS else \
            call_marks.caller(request["headers"].items(), method, request["url"].decode("latin-1"))  # (from outside)
        in_flight = bool(response.get("in_flight"))  # (open at the read: its answer may come yet)
        kind = json.dumps([client, server, port, method, path, keys, status, content_type, faulted, who, in_flight])
        entry = calls.get(kind)
        if entry is None:
            if len(calls) >= MAX_KINDS:
                self.overflow += 1
                return
            entry = calls[kind] = {
                "client": client, "server": server, "port": port, "outgoing": connection.outgoing, "method": method,
                "path": path, "query_keys": keys, "status": status, "content_type": content_type, "faulted": faulted,
                "caller": who, "in_flight": in_flight, "count": 0, "seconds": 0.0, "max_seconds": 0.0,
                "request_bytes": 0, "response_bytes": 0, "bodies": {}, "unsampled": 0, "ids": [], "unnamed": 0}
        if not who:  # (a marked call keeps no body: nothing of the capture's bounds goes to it)
            self._sample(entry, request, response)
        if self.ids < MAX_IDS:
            self.ids += 1
            entry["ids"].append(f"{client}:{connection.key[1]}:{request['at']}")
        else:
            entry["unnamed"] += 1  # counted, its identity not kept
        seconds = max(0.0, response["ended"] - request["started"])
        entry["count"] += 1
        entry["seconds"] += seconds
        entry["max_seconds"] = max(entry["max_seconds"], seconds)
        entry["request_bytes"] += request["size"]
        entry["response_bytes"] += response["size"]

    def _sample(self, entry: dict[str, Any], request: dict[str, Any], response: dict[str, Any]) -> None:
        """Keep the call's request as Pact judges it and its response's body (observe_streams.sample_of) with the
        kind's others: each distinct one once, with its count; beyond MAX_BODIES or BODY_BUDGET bytes only counted."""
        sample = sample_of(request, response)
        key = hashlib.blake2b(json.dumps(sample[:10]).encode("latin-1", "replace"), digest_size=16).hexdigest()
        kept = entry["bodies"].get(key)
        if kept is None:
            size = len(request["body"]) + len(response["body"]) + sum(len(n + v) for n, v in sample[7] + sample[10])
            if len(entry["bodies"]) >= MAX_BODIES or self.body_bytes + size > BODY_BUDGET:
                entry["unsampled"] += 1
                return
            self.body_bytes += size
            kept = entry["bodies"][key] = {"count": 0, "request_body": sample[0], "response_body": sample[1],
                                           "request_truncated": sample[2], "response_truncated": sample[3],
                                           "request_encoding": sample[4], "response_encoding": sample[5],
                                           "query": sample[6], "request_headers": [list(h) for h in sample[7]],
                                           "request_headers_truncated": sample[8], "response_headers": sample[10]}
        kept["count"] += 1

    def _close(self, key: tuple[str, int, str, int]) -> None:
        connection = self.connections.pop(key, None)
        self.closed[key] = None
        if len(self.closed) > 10000:
            del self.closed[next(iter(self.closed))]
        if connection is not None:
            _count(self.flows, connection)
            self.broken += int(connection.broken)
            for request in connection.requests.done:  # never answered (a client gone, a reset): still a call
                self._call(connection, request, _no_response(request))

    def snapshot(self, dropped: int) -> dict[str, Any]:
        """What was seen until now; open connections count as they are now (they go on being followed)."""
        flows = {key: dict(entry) for key, entry in self.flows.items()}
        calls = {key: {**entry, "ids": list(entry["ids"]),  # (the calls in flight below change the copies only)
                       "bodies": {body: dict(kept) for body, kept in entry["bodies"].items()}}
                 for key, entry in self.calls.items()}
        kept = self.overflow, self.ids, self.body_bytes
        for connection in self.connections.values():
            _count(flows, connection)
            faulted = connection.faulted
            for request in connection.requests.done:  # sent, its response not (yet) seen: in flight now
                self._call(connection, request, _no_response(request, in_flight=True), calls)
            connection.faulted = faulted  # (the connection goes on: its next call is judged as before)
        overflow, (self.overflow, self.ids, self.body_bytes) = self.overflow, kept  # (in flight: count when answered)
        return {"calls": [{**entry, "bodies": list(entry["bodies"].values())} for entry in calls.values()],
                "flows": list(flows.values()), "overflow": overflow,
                "joined_packets": self.joined, "dropped_packets": dropped, "early": list(self.early.values()),
                "broken": self.broken + sum(c.broken for c in self.connections.values())}


def _no_response(request: dict[str, Any], in_flight: bool = False) -> dict[str, Any]:
    """No response: status 0, nothing received; `in_flight`: its connection open at the read (an answer may come)."""
    return {"status": 0, "headers": {}, "body": b"", "size": 0, "ended": request["ended"], "in_flight": in_flight}


def _from_peer(data: bytes, outgoing: bool) -> tuple[str, int, int] | None:
    """(peer's address, its port, this service's port): a TCP packet of a connection another service of the topology
    opened to a port this one listens on, else None (read from the IPv4 and TCP headers' fixed places, so that a
    database's agent skips its clients' traffic without parsing it)."""
    if len(data) < 20 or data[0] >> 4 != 4 or data[9] != 6:
        return None
    start = (data[0] & 0x0F) * 4
    if len(data) < start + 4:
        return None
    peer = socket.inet_ntoa(data[16:20] if outgoing else data[12:16])
    source, destination = struct.unpack_from("!HH", data, start)
    peer_port, port = (destination, source) if outgoing else (source, destination)
    return (peer, peer_port, port) if peer in PEERS and port in LISTENS else None


def _syn(data: bytes) -> bool:
    """A TCP packet (of an IPv4 packet _from_peer read) that opens a connection."""
    start = (data[0] & 0x0F) * 4
    return len(data) > start + 13 and bool(data[start + 13] & 0x02)


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
    marks, refused = observe_control.Marks(), observe_control.Refused()
    faults = observe_control.ask_fault_agent(control, marks, refused)
    if faults:
        marks.change(list(faults.get("servers", [])))
        refused.start(str(faults.get("agent")), dict(faults.get("refused", {})))
    # ready before the libraries are imported (a second on a busy machine): the packets wait for them
    print(READY_LINE, flush=True)
    observer = Observer()
    dropped = 0
    while True:
        readable, _, _ = select.select([sock, control], [], [], 1.0)
        if sock in readable:
            _read_packets(sock, observer, marks, BATCH)
        if control in readable:
            asked = observe_control.request_on(control)
            if asked is None:
                continue
            request, connection = asked
            with connection:
                if request.get("command") in ("marks", "refused"):
                    observe_control.take(request, marks, refused)
                    answer: dict[str, Any] = {"ok": True}
                elif request.get("command") == "reset":  # another session on a kept run: its calls only from now
                    _read_packets(sock, observer, marks, None, until=time.time())  # (those before: forgotten)
                    sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)  # (reading the kernel's counts resets them)
                    observer, dropped, refused = Observer(), 0, observe_control.Refused()
                    faults = observe_control.ask_fault_agent(control, marks, refused)
                    if faults:
                        refused.start(str(faults.get("agent")), dict(faults.get("refused", {})))
                    answer = {"ok": True}
                else:  # every packet that passed before it was asked first (a backlog under load)
                    _read_packets(sock, observer, marks, None, until=time.time())
                    dropped += struct.unpack("II", sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))[1]
                    answer = observer.snapshot(dropped)
                    faults = observe_control.ask_fault_agent(control, marks, refused)
                    if faults:
                        refused.take(str(faults.get("agent")), dict(faults.get("refused", {})))
                    answer["flows"] += [observe_control.refused_flow(*kept) for kept in refused.now().items()]
                observe_control.reply(connection, answer)


def _read_packets(sock: socket.socket, observer: Observer, marks: observe_control.Marks, count: int | None,
                  until: float | None = None) -> None:
    """Up to `count` packets waiting in the capture's socket (None: all of them, or those stamped before `until`)."""
    while count is None or count > 0:
        try:
            data, ancillary, _, address = sock.recvmsg(65535, 64)
        except BlockingIOError:
            return
        count = None if count is None else count - 1
        if address[0] == "lo":
            continue
        moment = observe_control.stamp(ancillary)
        observer.marked = marks.until(moment)
        observer.packet(data, address[2] == PACKET_OUTGOING, moment)
        if until is not None and moment > until:
            return


def command(name: str) -> None:
    """`snapshot` or `reset`, asked of `serve`: its answer printed as one JSON object."""
    try:
        print(json.dumps(observe_control.ask({"command": name})), flush=True)
    except (OSError, ValueError) as error:
        print(json.dumps({"error": f"the capture did not answer ({error})"}), flush=True)


if __name__ == "__main__":
    serve() if sys.argv[1] == "serve" else command(sys.argv[1])
