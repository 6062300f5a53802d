"""Whether Pact matches an observed request to an interaction of an edge's pacts, decided by Pact's own engine:
each distinct request is replayed, once, at the end of the session, against a Pact mock server (pact-python, the
Rust core of pact_ffi) loaded with the edge's HTTP interactions. The mock server judges method, path, query,
headers and body with the interactions' matching rules, and says why it refuses a request ("Expected a Map with
keys [qty] but received one with keys [note, qty]"). No second matcher here: this module only moves the
interactions into the mock server and the request to it.

One server per response status (an interaction covers a call only with the call's status; Pact alone would answer
a request with the first interaction that takes it, whatever its status), and one with every interaction for the
calls whose response was not seen. Each interaction answers with a header naming it, so the interaction that took
a request is known (and counts as exercised).

The request is replayed as the consumer sent it: its query string, its headers (names, order, repeats; no header
added: a request sent without Content-Type is replayed without one), its body's bytes (gzip too, with its
Content-Encoding), so that Pact's header and body rules decide as they do for the consumer's own request. Only
Content-Length is set again (to the body's length; a chunked request is replayed with its body whole). Values of
secret-bearing headers (Authorization, Cookie, ...) are masked in Pact's reasons (which may quote them).
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

if TYPE_CHECKING:  # pact-python is the `contracts` extra: imported when a pact is there to judge with
    from pact.error import RequestMismatch, RequestNotFound

MARK = "X-Pytest-Topology-Interaction"  # the response header naming the interaction that took a request
NO_STATUS = 0  # a call whose response was not seen: any interaction's status


@dataclass(frozen=True)
class Request:
    """One distinct request as observed: `query` as sent (without "?"), `headers` (name, value) as sent, `body` as
    sent (latin-1 text, byte for byte: with its Content-Encoding, if any)."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    body: str


@dataclass(frozen=True)
class Verdict:
    """`matched`: the indexes (into the interactions given) of those that match the request with the status asked;
    empty: Pact refuses it, `why` says Pact's first mismatch."""

    matched: frozenset[int]
    why: str = ""


def judge(interactions: list[dict[str, Any]], asked: dict[tuple[Request, int], None]) -> dict[tuple[Request, int],
                                                                                                  Verdict]:
    """Pact's verdict on each (request, status) of `asked`; status 0 (NO_STATUS): any interaction's status.

    `interactions`: HTTP interactions as a V3/V4 pact file holds them. Raises RuntimeError (pact_ffi) when the
    mock server cannot start, OSError when it cannot be reached.
    """
    verdicts: dict[tuple[Request, int], Verdict] = {}
    for status in sorted({status for _, status in asked}):
        group = [n for n, i in enumerate(interactions)
                 if status == NO_STATUS or _status(i) == status]
        requests = [request for request, wanted in asked if wanted == status]
        if not group:
            for request in requests:
                verdicts[(request, status)] = Verdict(frozenset(), f"no interaction answers {status}")
            continue
        for request, verdict in _replay([(n, interactions[n]) for n in group], requests).items():
            verdicts[(request, status)] = verdict
    return verdicts


def _status(interaction: dict[str, Any]) -> int:
    return int((interaction.get("response") or {}).get("status", 200))


def _replay(group: list[tuple[int, dict[str, Any]]], requests: list[Request]) -> dict[Request, Verdict]:
    from pact import Pact
    from pact.error import RequestMismatch, RequestNotFound

    pact = Pact("pytest-topology-observed", "pytest-topology-provider").with_specification("V4")
    for n, interaction in group:
        request = interaction.get("request") or {}
        built = pact.upon_receiving(f"#{n}").with_request(str(request.get("method", "GET")).upper(),
                                                          str(request.get("path") or "/"))
        query = request.get("query") or {}
        if isinstance(query, str):  # (V2: the query string)
            query = {name: [value for key, value in parse_qsl(query, keep_blank_values=True) if key == name]
                     for name, _ in parse_qsl(query, keep_blank_values=True)}
        for name, values in query.items():
            for value in values if isinstance(values, list) else [values]:
                built.with_query_parameter(name, value)
        for name, values in (request.get("headers") or {}).items():
            for value in values if isinstance(values, list) else [values]:
                built.with_header(name, str(value), part="Request")
        body = request.get("body")
        if isinstance(body, dict) and "content" in body:  # (V4; a V3 body is the content itself)
            body = body["content"]
        if body not in (None, ""):
            built.with_body(body if isinstance(body, str) else json.dumps(body),
                            _content_type(request), part="Request")
        if request.get("matchingRules"):
            built.with_matching_rules(request["matchingRules"], part="Request")
        built.will_respond_with(200).with_header(MARK, str(n))
    verdicts: dict[Request, Verdict] = {}
    with pact.serve(addr="127.0.0.1", raises=False, verbose=False) as server:
        seen = 0
        for observed in requests:
            mark = _send(server.url.host or "127.0.0.1", server.url.port or 80, observed)
            if mark is not None:
                verdicts[observed] = Verdict(_same_request(group, int(mark)))
                continue
            # the server's record of refused requests, in order (then the interactions not yet called: left out)
            refused = [m for m in server.mismatches if isinstance(m, (RequestMismatch, RequestNotFound))]
            verdicts[observed] = Verdict(frozenset(), _why(refused[seen:], observed))
            seen = len(refused)
    return verdicts


def _send(host: str, port: int, observed: Request) -> str | None:
    """Send `observed` as the consumer sent it (http.client adds no header when told so); the answer's MARK."""
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        target = observed.path + (f"?{observed.query}" if observed.query else "")
        connection.putrequest(observed.method, target, skip_host=True, skip_accept_encoding=True)
        body = observed.body.encode("latin-1")
        length = False
        for name, value in observed.headers:
            lowered = name.lower()
            if lowered in ("content-length", "transfer-encoding"):  # (the body is replayed whole)
                length = True
            else:
                connection.putheader(name, value)
        if length or body:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        answer = connection.getresponse()
        answer.read()
        return answer.getheader(MARK)
    finally:
        connection.close()


def _content_type(request: dict[str, Any]) -> str | None:
    body = request.get("body")
    if isinstance(body, dict) and body.get("contentType"):
        return str(body["contentType"])
    for name, value in (request.get("headers") or {}).items():
        if name.lower() == "content-type":
            return str(value[0] if isinstance(value, list) else value)
    return None


def _same_request(group: list[tuple[int, dict[str, Any]]], matched: int) -> frozenset[int]:
    """The interaction that took the request and those of the group with the very same request (they differ by
    provider state or description only: the request exercises each)."""
    request = dict(group)[matched].get("request")
    return frozenset(n for n, interaction in group if interaction.get("request") == request)


def _why(mismatches: list[RequestMismatch | RequestNotFound], request: Request) -> str:
    """Pact's first reason for refusing a request, as its mock server words it (secret header values masked)."""
    from pact.error import RequestMismatch, RequestNotFound

    for mismatch in mismatches:
        if isinstance(mismatch, RequestMismatch):
            for detail in mismatch.mismatches:
                text = getattr(detail, "mismatch", "")
                if text:
                    return f"Pact: {_short(masked(str(text), request))}"
        if isinstance(mismatch, RequestNotFound):
            return "Pact: request not found"  # (its mock server's words: no interaction takes the request)
    return "Pact: no interaction matches the request"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# headers whose values are credentials: masked in what is shown (Pact's reasons may quote the value received)
_SECRET = re.compile(r"(?i)^(authorization|proxy-authorization|cookie|set-cookie|.*(token|secret|api-?key|password"
                     r"|session|auth).*)$")


def masked(text: str, request: Request) -> str:
    """`text` with the values of `request`'s secret-bearing headers as *** (and a scheme's credentials alone)."""
    for name, value in request.headers:
        if _SECRET.match(name) and value.strip():
            text = text.replace(value, "***")
            for part in value.split()[1:]:  # ("Bearer abc": the token alone too, not the scheme's name)
                if len(part) >= 4:
                    text = text.replace(part, "***")
    return text
