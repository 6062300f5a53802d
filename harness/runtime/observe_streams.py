"""The streams of one TCP connection for the observation agent (observe_agent.py, beside it in the helper image):
each direction's bytes put back in order by their sequence numbers, HTTP/1.x parsed with httptools (Debian's
python3-httptools in the helper image), each side's messages collected. Runs on the helper's Python (no harness
imports)."""

from __future__ import annotations

import os
import re
from typing import Any

BODY_LIMIT = int(os.environ.get("OBSERVE_BODY_LIMIT", str(1 << 20)))  # bytes of a body kept (longer: cut, not judged)
HEADER_LIMIT = int(os.environ.get("OBSERVE_HEADER_LIMIT", str(16 << 10)))  # bytes of a request's headers kept as
# sent, for Pact's replay (longer: cut, not judged)
MAX_GAP = 1 << 20  # bytes of out-of-order data held per direction before the connection is given up
FIRST_LINE_LIMIT = 8192  # bytes of a connection's first line waited for before its protocol is named
REQUEST_LINE = re.compile(rb"^[A-Z]{3,10} \S+ HTTP/1\.[01]\r?\n")


class Direction:
    """One direction of a connection, its bytes handed on in order."""

    def __init__(self, isn: int) -> None:
        self.next = (isn + 1) & 0xFFFFFFFF
        self.held: dict[int, bytes] = {}
        self.bytes = 0

    def add(self, seq: int, data: bytes) -> list[tuple[int, bytes]]:
        """The segments now in order, each with the sequence number of its first byte ([] when none): each as it
        was sent (a request starts at a segment's start, in both namespaces: see Message.at); retransmitted bytes
        are dropped, early ones held."""
        offset = (seq - self.next) & 0xFFFFFFFF
        if offset >= 1 << 31:  # starts before next: a retransmission, maybe with new bytes at its end
            skip = (self.next - seq) & 0xFFFFFFFF
            if skip >= len(data):
                return []
            data, offset = data[skip:], 0
        if offset > 0:
            self.held[seq] = data
            if sum(len(d) for d in self.held.values()) > MAX_GAP:
                raise OverflowError
            return []
        out = [(self.next, data)]
        self.next = (self.next + len(data)) & 0xFFFFFFFF
        while self.held:
            ready = [s for s in self.held if (s - self.next) & 0xFFFFFFFF >= 1 << 31 or s == self.next]
            if not ready:
                break
            for s in ready:
                chunk = self.held.pop(s)
                skip = (self.next - s) & 0xFFFFFFFF
                if skip < len(chunk):
                    out.append((self.next, chunk[skip:]))
                    self.next = (self.next + len(chunk) - skip) & 0xFFFFFFFF
        self.bytes += sum(len(piece) for _, piece in out)
        return out


class Message:
    """httptools' callbacks for one side of a connection: collects each message's parts."""

    def __init__(self, request: bool) -> None:
        self.request = request  # (else: responses)
        self.url = b""
        self.headers: dict[str, str] = {}
        self.sent: list[tuple[str, str]] = []  # a request's headers as sent: names, order, repeats (HEADER_LIMIT)
        self.sent_size = 0  # their bytes, those beyond HEADER_LIMIT too
        self.body = bytearray()
        self.size = 0
        self.started = 0.0
        self.done: list[dict[str, Any]] = []
        self.now = 0.0
        self.parser: Any = None
        self.chunk = 0  # the sequence number of the first byte of the bytes being parsed
        self.begun = 0  # messages begun in them so far
        self.at = ""
        self.headers_done = False  # the message being parsed has its header section whole (see Connection)

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body, self.size, self.started = b"", {}, bytearray(), 0, self.now
        self.sent, self.sent_size = [], 0
        # where it starts on the wire, the same in both namespaces: a request is sent from a segment's start
        self.at = f"{self.chunk}:{self.begun}"
        self.begun += 1

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        if self.request:
            self.sent_size += len(name) + len(value) + 4  # (as on the wire: "name: value\r\n")
            if self.sent_size <= HEADER_LIMIT:
                self.sent.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if len(self.body) < BODY_LIMIT:
            self.body += body[:BODY_LIMIT - len(self.body)]

    def on_message_complete(self) -> None:
        request = self.request
        self.headers_done = False
        if not request and 100 <= self.parser.get_status_code() < 200 and self.parser.get_status_code() != 101:
            return  # an interim answer (100 Continue): the request's own response follows
        self.done.append({"url": self.url, "headers": self.headers, "body": bytes(self.body), "size": self.size,
                          "sent": self.sent, "sent_truncated": self.sent_size > HEADER_LIMIT,
                          "started": self.started, "ended": self.now, "at": self.at,
                          "method": self.parser.get_method().decode("latin-1") if request else "",
                          "status": 0 if request else int(self.parser.get_status_code())})


class Connection:
    """One TCP connection whose SYN was seen: its protocol, and for HTTP its calls, request by response."""

    def __init__(self, key: tuple[str, int, str, int], outgoing: bool, isn: int, started: float) -> None:
        self.key = key
        self.outgoing = outgoing  # opened by this namespace's service (else: a call to it)
        self.joined = False  # opened before the capture: followed from its first request seen (see Observer)
        self.first: tuple[int, bytes] | None = None  # the client's first bytes until their first line is whole
        self.client = Direction(isn)
        self.server: Direction | None = None  # from the SYN-ACK
        self.protocol = ""
        self.broken = False
        self.fins: set[bool] = set()  # the sides that sent FIN (True: the client)
        self.started = started
        self.faulted = False  # a packet of the call under way passed while its server was under a fault
        self.requests = Message(request=True)
        self.responses = Message(request=False)
        self.request_parser: Any = None
        self.response_parser: Any = None
        self.server_fin: int | None = None  # the sequence number the server's FIN ends its bytes at
        self.server_ended = False  # the server's direction is over (its FIN reached in order, or a reset)

    def client_data(self, data: bytes, now: float, seq: int) -> None:
        if not self.protocol:
            if self.first and data[:1] != b"\x16" and b"\n" not in self.first[1] + data \
                    and len(self.first[1] + data) < FIRST_LINE_LIMIT:
                self.first = (self.first[0], self.first[1] + data)  # the first line, sent in several segments
                return
            if self.first:
                seq, data = self.first[0], self.first[1] + data
            elif data[:1] != b"\x16" and b"\n" not in data and len(data) < FIRST_LINE_LIMIT:
                self.first = (seq, data)
                return
            self.protocol = ("http" if REQUEST_LINE.match(data) else "http2" if data.startswith(b"PRI * HTTP/2")
                             else "tls" if data[:1] == b"\x16" else "other")
            if self.protocol == "http":
                import httptools  # (the capture's, imported once it runs: see observe_agent.load_libraries)

                self.request_parser = self.requests.parser = httptools.HttpRequestParser(self.requests)
                self.response_parser = self.responses.parser = httptools.HttpResponseParser(self.responses)
        if self.request_parser is not None:
            self.requests.now, self.requests.chunk, self.requests.begun = now, seq, 0
            self._feed(self.request_parser, data)

    def server_data(self, data: bytes, now: float, seq: int) -> None:
        if not self.protocol and self.first:  # the server answers a first line not whole: not HTTP (PostgreSQL)
            self.protocol = "other"
        if self.response_parser is not None:
            self.responses.now = now
            while data and self.response_parser is not None and self._answers_head():
                data = self._head_response(data)
            if data and self.response_parser is not None:
                self._feed(self.response_parser, data)

    def _answers_head(self) -> bool:
        """The response being parsed (or next) answers a HEAD request and its header section is not whole yet."""
        waiting, answered = self.requests.done, len(self.responses.done)
        return answered < len(waiting) and waiting[answered]["method"] == "HEAD" and not self.responses.headers_done

    def _head_response(self, data: bytes) -> bytes:
        """Feed a response to HEAD up to the end of its header section, byte by byte (httptools cannot be told that
        it has no body, whatever its Content-Length says: RFC 9112 section 6.3); once it is whole, the response is
        complete and a new parser reads what follows. The bytes after it are returned."""
        import httptools

        while data and not self.responses.headers_done and self.response_parser is not None:
            self._feed(self.response_parser, data[:1])
            data = data[1:]
        if self.responses.headers_done and self.response_parser is not None:  # (not completed by the parser)
            self.responses.on_message_complete()
            self.response_parser = self.responses.parser = httptools.HttpResponseParser(self.responses)
        return data

    def end_responses(self, now: float) -> None:
        """The server's direction is over (FIN or reset): a response whose body runs until the connection closes
        (HTTP/1.0 without Content-Length, `Connection: close` without length or chunks) is complete now; the parser
        is told by an empty feed (its end of input)."""
        if self.server_ended:
            return
        self.server_ended = True
        if self.response_parser is not None:
            self.responses.now = now
            self._feed(self.response_parser, b"")

    def _feed(self, parser: Any, data: bytes) -> None:
        try:
            parser.feed_data(data)
        except Exception:  # noqa: BLE001 - not HTTP/1.x after all (an upgrade, a parse error): stop parsing
            self.request_parser = self.response_parser = None
            self.broken = True


def sample_of(request: dict[str, Any], response: dict[str, Any]) -> list[Any]:
    """What the capture keeps of one call to tell it from the others of its kind: the request as Pact judges it
    (body, its Content-Encoding, query string, headers as sent, whether they were cut), the response's body and the
    names of its headers: [request body, response body, request cut, response cut, request encoding, response
    encoding, query, headers, headers cut, response header names]; then what does not tell calls apart (kept from a
    kind's first call: values that change at each call, Date, Location): [response headers (name, value)]."""
    import httptools

    url = httptools.parse_url(request["url"]) if request["url"] else None
    return [request["body"].decode("latin-1"), response["body"].decode("latin-1"),
            request["size"] > len(request["body"]), response["size"] > len(response["body"]),
            request["headers"].get("content-encoding", ""), response["headers"].get("content-encoding", ""),
            (url.query or b"").decode("latin-1") if url else "", request.get("sent", []),
            bool(request.get("sent_truncated")), sorted(response["headers"]), [*response["headers"].items()]]
