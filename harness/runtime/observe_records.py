"""What the observation helpers saw, as the harness keeps it (observe.py reads the helpers): the calls and
connections per edge, and how a helper's records are named by their two ends, each call between two services counted
once."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Container as Addresses

EARLY = "opened before the capture"  # the protocol of connections whose start was not seen (not inspected)
EVERY = "(any service it calls)"  # the provider of connections stopped by a cut on every destination of a consumer
OUTSIDE = "(tests)"  # the consumer of calls that come from outside the topology (test process, harness, host)


@dataclass(frozen=True)
class BodySample:
    """`count` calls of one kind that sent the very same request (query string, headers, body) and got the very same
    response body (text, latin-1: byte for byte), each body up to the agent's limit (`*_truncated`: cut there, so it
    cannot be judged); `*_encoding`: the message's Content-Encoding ("" when none). `query`: the query string as sent
    (without "?"); `request_headers`: (name, value) as sent, in order, repeats kept, Content-Length and
    Authorization too (kept in memory for Pact's replay, never shown: left out of repr); `request_headers_truncated`:
    more header bytes than the agent keeps (not judged). `response_headers`: (name in lower case, value) of the
    headers the sample's calls were answered with (the same names each; the first call's values); None: not
    captured (a record from before they were), so not judged."""

    request_body: str
    response_body: str
    count: int
    request_truncated: bool = False
    response_truncated: bool = False
    request_encoding: str = ""
    response_encoding: str = ""
    query: str = ""
    request_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    request_headers_truncated: bool = False
    response_headers: tuple[tuple[str, str], ...] | None = field(default=None, repr=False)

    @property
    def request_content_type(self) -> str:
        """The request's Content-Type as sent ("" when none; the first when sent twice)."""
        return next((value for name, value in self.request_headers if name.lower() == "content-type"), "")


@dataclass(frozen=True)
class ObservedCall:
    """HTTP/1.x calls of one kind on the edge consumer -> provider: `count` of them, `seconds` in all (request's first
    byte to response's last), bytes of the bodies in all; `bodies`: each distinct request (query string, headers,
    body) with its response's body and its count (every call's but `unsampled` ones: beyond the agent's bounds).
    `path` as sent (query apart); `query_keys` the names in the query (each sample has its query string). `status`
    0: the request was seen and no response (its client went away, the connection was reset, or it was still
    awaited when the capture was read: then `in_flight`, its connection open at the read, so its answer may come
    yet and which one is not known)."""

    consumer: str
    provider: str
    port: int
    method: str
    path: str
    query_keys: tuple[str, ...]
    status: int
    content_type: str
    count: int
    seconds: float
    max_seconds: float
    request_bytes: int
    response_bytes: int
    bodies: tuple[BodySample, ...] = ()
    unsampled: int = 0  # calls whose bodies were not kept (beyond the agent's bounds): not judged
    faulted: bool = False  # made while a fault (runtime/faults.py) was on this edge
    caller: str = ""  # from outside: whose request its mark says (runtime/call_marks.py; "": the tests')
    provider_only: bool = False  # seen only by the provider's capture (CallsOnce): which bodies, not known
    in_flight: bool = False  # status 0 with its connection still open when the capture was read


@dataclass(frozen=True)
class ObservedFlow:
    """Connections of one protocol on consumer -> provider:port. `protocol`: http (parsed), tls, http2, other
    (PostgreSQL, Redis, ...: not inspected), none (closed before a byte was sent); `broken`: connections whose HTTP
    could not be followed to the end (a gap in the capture, not HTTP/1.x after all); `unanswered`: requests seen
    without their response."""

    consumer: str
    provider: str
    port: int
    protocol: str
    connections: int
    bytes: int
    broken: int = 0
    unanswered: int = 0


@dataclass
class Observation:
    """What the helpers saw in one run. `lost`: the services whose capture could not be read, each with why;
    `dropped_packets`, `joined_packets`: packets the kernel dropped, packets of connections opened before the
    capture (both not inspected); `overflow`: calls counted only (too many kinds to keep apart)."""


    calls: list[ObservedCall] = field(default_factory=list)
    flows: list[ObservedFlow] = field(default_factory=list)
    lost: dict[str, str] = field(default_factory=dict)
    dropped_packets: int = 0
    joined_packets: int = 0
    overflow: int = 0
    # (consumer, provider) -> calls only the provider's capture saw (counted: see CallsOnce)
    provider_only: dict[tuple[str, str], int] = field(default_factory=dict)
    uncompared: int = 0  # calls the provider's capture saw, not compared with the consumer's (identities not kept)


@dataclass
class CallsOnce:
    """Each call between two services is seen in both namespaces: counted in its consumer's; those only its
    provider's capture saw (the consumer's did not run yet: each service's capture starts on its own, at the
    session's start and when a service is started again) are added, told apart by the identity each agent gives a
    call (the same at both ends)."""

    consumer_ids: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    unnamed: set[tuple[str, str]] = field(default_factory=set)  # edges with calls whose identity was not kept
    at_provider: list[tuple[tuple[str, str], dict[str, Any]]] = field(default_factory=list)

    def seen(self, ends: tuple[str, str], call: dict[str, Any]) -> None:
        self.consumer_ids.setdefault(ends, set()).update(call.get("ids", ()))
        if call.get("unnamed") or "ids" not in call:
            self.unnamed.add(ends)

    def settle(self, observation: Observation) -> None:
        for ends, call in self.at_provider:
            if ends in self.unnamed or call.get("unnamed") or "ids" not in call:
                observation.uncompared += int(call["count"])
                continue
            known = self.consumer_ids.setdefault(ends, set())
            extra = [ident for ident in call["ids"] if ident not in known]
            if extra:
                share = len(extra) / int(call["count"])
                # which of the kind's bodies these calls had is not known, unless the kind had one only
                bodies = call.get("bodies", [])
                one = len(bodies) == 1 and not call.get("unsampled")
                observation.calls.append(observed_call(ends, {
                    **call, "count": len(extra), "bodies": [{**bodies[0], "count": len(extra)}] if one else [],
                    "unsampled": 0 if one else len(extra), "seconds": float(call["seconds"]) * share,
                    "request_bytes": int(int(call["request_bytes"]) * share),
                    "response_bytes": int(int(call["response_bytes"]) * share), "faulted": False,
                    "provider_only": True}))
                observation.provider_only[ends] = observation.provider_only.get(ends, 0) + len(extra)
                known.update(extra)


@dataclass(frozen=True)
class OutsideAddresses:
    """The client addresses of calls from outside the topology (the tests, the harness: through a published port):
    the gateways of the run's networks (a bridge network: the engine's own machine), and any address in none of the
    run's `subnets` (a remote engine, or one of several: the overlay network has no gateway, the engine forwards
    the caller's own address to the published port). An address in a subnet that no service owns is another
    container on the network: not in the topology, and named."""

    gateways: frozenset[str]
    subnets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    def __contains__(self, address: object) -> bool:
        if address in self.gateways:
            return True
        try:
            found = ipaddress.ip_address(str(address))
        except ValueError:
            return False
        return not any(found in subnet for subnet in self.subnets)


def record_ends(observer: str, record: dict[str, Any], owners: dict[str, str],
                outside_at: Addresses[str]) -> tuple[str, str] | None:
    """(consumer, provider) of a record the helper of `observer` made; None when the other side's helper has it."""
    if record["outgoing"] is None:  # opened before the capture: the client's own namespace counts it
        record = {**record, "outgoing": owners.get(record["client"]) == observer}
    if record["outgoing"]:
        if record["server"] == "*":  # (connections a cut on every destination stopped: where to, not known)
            return observer, EVERY
        return observer, owners.get(record["server"], f"{record['server']} (not in the topology)")
    client = owners.get(record["client"])
    if client is not None:
        return None  # a call from another service: counted in that service's namespace
    return OUTSIDE if record["client"] in outside_at else f"{record['client']} (not in the topology)", observer


def early_record(connection: dict[str, Any], owners: dict[str, str],
                  exposed: dict[str, set[int]]) -> dict[str, Any]:
    """A connection opened before the capture as a flow record: its server is the end whose service exposes that
    port (else the end with the lower port). `outgoing` is left to record_ends: the client's namespace counts it."""
    (a, a_port), (b, b_port) = connection["ends"]
    b_serves = b_port in exposed.get(owners.get(b, ""), set())
    a_serves = a_port in exposed.get(owners.get(a, ""), set())
    server_is_b = b_serves if b_serves != a_serves else b_port < a_port
    client, server, port = (a, b, b_port) if server_is_b else (b, a, a_port)
    return {"client": client, "server": server, "port": port, "outgoing": None}


def observed_call(ends: tuple[str, str], call: dict[str, Any]) -> ObservedCall:
    return ObservedCall(
        ends[0], ends[1], int(call["port"]), str(call["method"]), str(call["path"]),
        tuple(call.get("query_keys", ())), int(call["status"]), str(call.get("content_type", "")),
        int(call["count"]), float(call["seconds"]), float(call["max_seconds"]), int(call["request_bytes"]),
        int(call["response_bytes"]),
        tuple(BodySample(str(b["request_body"]), str(b["response_body"]), int(b["count"]),
                         bool(b.get("request_truncated")), bool(b.get("response_truncated")),
                         str(b.get("request_encoding", "")), str(b.get("response_encoding", "")),
                         str(b.get("query", "")), tuple((str(n), str(v)) for n, v in b.get("request_headers", ())),
                         bool(b.get("request_headers_truncated")),
                         None if b.get("response_headers") is None else
                         tuple((str(n), str(v)) for n, v in b["response_headers"]))
              for b in call.get("bodies", ())),
        int(call.get("unsampled", 0)), bool(call.get("faulted")), str(call.get("caller", "")),
        bool(call.get("provider_only")), bool(call.get("in_flight")))
