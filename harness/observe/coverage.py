"""Coverage per edge: each observed HTTP call named by its operation (method, the provider's path template, status)
and matched to the pact interactions of its edge by Pact's own mock server (pactmatch: the request replayed, the
interaction's status the call's); the drift checks (contracts/drift) say whether it breaks the provider's document.
Every distinct body of a call is judged against the pact and the document (a call whose bodies could not be judged
is counted and said: never "covered" or "allowed")."""

from __future__ import annotations

import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.contracts.drift.adapter import Document, NoOperation, NoPath, find_operation
from harness.contracts.drift.checks import check_interaction
from harness.contracts.drift.interactions import is_http
from harness.contracts.names import service_for
from harness.contracts.pactfiles import PactFile
from harness.errors import OpenAPIUnavailable
from harness.model.topology import TopologySpec
from harness.observe import pactmatch
from harness.observe.summary import edge_line
from harness.runtime.observe import OUTSIDE, Observation, ObservedCall
from harness.runtime.observe_control import DROPPED, LOST, REFUSED
from harness.runtime.observe_records import BodySample
from harness.runtime.observe_streams import BODY_LIMIT, HEADER_LIMIT

TOP = 3  # the most frequent uncovered operations (breaking, not judged) named per edge in the console and gates
NO_INTERACTION = "no pact interaction on this edge"  # why a call on an edge without a pact is uncovered
NO_RESPONSE = "no response"  # the status of a call whose request was seen and its response not (status 0)


@dataclass(frozen=True)
class OperationCount:
    """`operation` ("GET /items/{id} -> 404") seen `calls` times; `says`: what the document says of it (a breaking
    call), else ""."""

    operation: str
    calls: int
    says: str = ""


@dataclass(frozen=True)
class NotInspected:
    """Connections on consumer -> provider:port in a protocol the harness does not parse (tls, http2, other)."""

    port: int
    protocol: str
    connections: int
    bytes: int


@dataclass(frozen=True)
class EdgeCoverage:
    """The coverage of consumer -> provider by its pacts, from the calls observed in one run.

    `calls`: HTTP calls observed; `covered`: those whose request Pact matches to an interaction of the edge's pacts
    answering their status; `uncovered`: those Pact refuses, `uncovered_operations` every operation of them, the
    most frequent first (`says`: Pact's reason for the most calls; `top_uncovered`: the first TOP);
    `never_exercised`: the pact's interactions no call matched ("file: description"); `breaking`: calls the
    provider's document does not allow (operation or status not documented, a body that does not validate),
    `breaking_operations` every operation of them, the most frequent first (`says`: the first thing the document
    says against it in text order; `top_breaking`: the first TOP);
    `not_judged`: calls whose bodies could not be judged against a document or pact (`not_judged_operations` says
    why, every one; `top_not_judged` the first TOP; a call with neither a pact nor a document on its edge is not
    "not judged": there is nothing to judge it against), `unchecked`: calls checked against no document;
    `not_inspected`: connections that are not HTTP/1.x; `pacts`: the edge's pact files;
    `notes`: what could not be checked and why (no document, a capture incomplete). `outside`: the consumer is not
    a service (the tests).
    """

    consumer: str
    provider: str
    calls: int = 0
    covered: int = 0
    uncovered: int = 0
    uncovered_operations: tuple[OperationCount, ...] = ()
    never_exercised: tuple[str, ...] = ()
    breaking: int = 0
    breaking_operations: tuple[OperationCount, ...] = ()
    not_inspected: tuple[NotInspected, ...] = ()
    pacts: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    outside: bool = False
    faulted: int = 0  # calls made while a fault (runtime/faults.py) was on the edge
    # the operations called (method, path template, status; "GET /items/{id} -> 200"), and those whose every call
    # is covered: unlike the calls' counts (retries, polling, timing), the same in every run of the same tests
    operations: int = 0
    operations_covered: int = 0
    # calls whose bodies could not be judged against the document (cut at the capture's limit, an unknown
    # encoding, beyond the capture's bounds), the most frequent with why; calls checked against no document (the
    # provider has none, or no response was seen: nothing to judge)
    not_judged: int = 0
    not_judged_operations: tuple[OperationCount, ...] = ()
    unchecked: int = 0
    interactions: int = 0  # of the edge's pacts, all kinds
    # connections a cut() stopped before any HTTP passed (their TCP packets: a refused one sends one, a dropped one
    # its retries): not calls, so neither covered nor uncovered, but said, so that a call under a cut is not lost
    refused: int = 0
    dropped: int = 0  # TCP packets a cut(mode="drop") stopped (each retry of a connection counts)
    lost: int = 0  # packets a loss() dropped (its random drop's own count; TCP sends them again)

    @property
    def top_uncovered(self) -> tuple[OperationCount, ...]:
        """The TOP most frequent uncovered operations (what the console and the gates name)."""
        return self.uncovered_operations[:TOP]

    @property
    def top_breaking(self) -> tuple[OperationCount, ...]:
        """The TOP most frequent operations breaking the provider's document."""
        return self.breaking_operations[:TOP]

    @property
    def top_not_judged(self) -> tuple[OperationCount, ...]:
        """The TOP most frequent operations not judged."""
        return self.not_judged_operations[:TOP]

    @property
    def summary(self) -> str:
        """The edge in one line: "gateway -> dataservice: 12 HTTP call(s), 10 covered (83.3%), ..." (summary)."""
        return edge_line(self)

    @property
    def stopped(self) -> str:
        """What faults stopped on the edge: "2 refused by cut()", "7 packet(s) dropped by cut()", "4 packet(s)
        dropped by loss()", several of them, or ""."""
        parts = [f"{self.refused} refused by cut()"] if self.refused else []
        parts += [f"{self.dropped} packet(s) dropped by cut()"] if self.dropped else []
        parts += [f"{self.lost} packet(s) dropped by loss()"] if self.lost else []
        return ", ".join(parts)

    @property
    def percent(self) -> float | None:
        """Covered calls in percent of the calls (None: no HTTP call observed)."""
        return round(100 * self.covered / self.calls, 1) if self.calls else None

    @property
    def label(self) -> str:
        """What a matrix cell shows: "observed: 12, covered 100%", "observed: 3, no pact", "observed: none"."""
        if not self.calls:
            shown = "none" if not self.not_inspected else \
                f"{sum(n.connections for n in self.not_inspected)} conn, not inspected"
            label = f"observed: {shown}"
        elif not self.pacts:
            label = f"observed: {self.calls}, no pact"
        else:
            label = f"observed: {self.calls}, covered {self.percent:g}%"
        return label + (f", {self.stopped}" if self.stopped else "")


@dataclass
class _Edge:
    calls: list[ObservedCall] = field(default_factory=list)
    pacts: list[PactFile] = field(default_factory=list)
    not_inspected: list[NotInspected] = field(default_factory=list)
    refused: int = 0
    dropped: int = 0
    lost: int = 0


def edge_coverage(spec: TopologySpec, observation: Observation, pacts: list[PactFile],
                  documents: dict[str, Document | OpenAPIUnavailable]) -> list[EdgeCoverage]:
    """The coverage of every edge with observed traffic or an HTTP pact, sorted by consumer and provider.

    `documents`: each provider's OpenAPI document, or why it has none (then calls are matched by their path and
    not checked against a document: said in the edge's notes).
    """
    edges: dict[tuple[str, str], _Edge] = {}
    for call in observation.calls:
        edges.setdefault((call.consumer, call.provider), _Edge()).calls.append(call)
    for flow in observation.flows:
        if flow.protocol == REFUSED:
            edges.setdefault((flow.consumer, flow.provider), _Edge()).refused += flow.connections
        elif flow.protocol == DROPPED:
            edges.setdefault((flow.consumer, flow.provider), _Edge()).dropped += flow.connections
        elif flow.protocol == LOST:
            edges.setdefault((flow.consumer, flow.provider), _Edge()).lost += flow.connections
        elif flow.protocol not in ("http", "none"):
            edges.setdefault((flow.consumer, flow.provider), _Edge()).not_inspected.append(
                NotInspected(flow.port, flow.protocol, flow.connections, flow.bytes))
    for pact in pacts:
        consumer, provider = service_for(spec, pact.consumer), service_for(spec, pact.provider)
        if consumer and provider and pact.has_http:
            edges.setdefault((consumer, provider), _Edge()).pacts.append(pact)
    return [_coverage(spec, consumer, provider, edge, documents.get(provider), observation)
            for (consumer, provider), edge in sorted(edges.items())]


def _coverage(spec: TopologySpec, consumer: str, provider: str, edge: _Edge,
              document: Document | OpenAPIUnavailable | None, observation: Observation) -> EdgeCoverage:
    usable = document if isinstance(document, Document) else None
    notes = []
    if isinstance(document, OpenAPIUnavailable):
        notes.append(f"calls not checked against {provider}'s OpenAPI document: {document.message}")
    elif document is None and provider in spec.services and edge.calls:
        notes.append(f"calls not checked against an OpenAPI document: service '{provider}' has no `openapi:`")
    for service in (consumer, provider):
        if service in observation.lost:
            notes.append(f"{service}: {observation.lost[service]}")
    interactions = [(pact, i) for pact in edge.pacts for i in pact.interactions if is_http(i)]
    verdicts = _pact_verdicts([i for _, i in interactions], edge.calls)
    exercised: set[int] = set()
    uncovered: Counter[str] = Counter()
    refused: dict[str, Counter[str]] = {}  # an uncovered operation -> Pact's reasons, each with its calls
    breaking: Counter[str] = Counter()
    says: dict[str, set[str]] = {}  # a breaking operation -> what the document says
    unjudged: Counter[str] = Counter()
    why: dict[str, str] = {}
    covered = unchecked = 0
    operations: dict[str, bool] = {}  # operation -> covered (every call of it)
    for call in edge.calls:
        template = _template(usable, call.method, call.path)
        operation = f"{call.method} {template or call.path} -> {call.status or NO_RESPONSE}"
        label = operation + (" (under a fault)" if call.faulted else "")
        unsampled = call.unsampled + max(0, call.count - call.unsampled - sum(s.count for s in call.bodies))
        if unsampled and not interactions:  # (no pact on the edge: uncovered, whatever the requests)
            uncovered[label] += unsampled
            refused.setdefault(label, Counter())[NO_INTERACTION] += unsampled
        if unsampled and (interactions or usable is not None):  # (nothing to judge against: nothing not judged)
            unjudged[label] += unsampled
            why.setdefault(label, "more different requests and bodies than the capture keeps")
        all_covered = not unsampled
        for sample in call.bodies:
            judged = _request(call, sample)
            finding = _breaks(usable, call, sample) if usable is not None and call.status else ""
            # (Pact judges the request and status; the document, the bodies: either may be unable to; a cut request
            # with neither a pact nor a document is simply uncovered)
            pact_cannot = judged if isinstance(judged, _NotJudged) and (interactions or usable is not None) \
                else verdicts.get(None)
            cannot = pact_cannot if isinstance(pact_cannot, _NotJudged) else finding
            if isinstance(cannot, _NotJudged):
                unjudged[label] += sample.count
                why.setdefault(label, cannot.why)
            verdict = verdicts.get((judged, call.status))
            if isinstance(pact_cannot, _NotJudged):
                all_covered = False
            elif isinstance(verdict, pactmatch.Verdict) and verdict.matched:
                covered += sample.count
                exercised.update(verdict.matched)
            else:
                all_covered = False
                uncovered[label] += sample.count
                refused.setdefault(label, Counter())[verdict.why if isinstance(verdict, pactmatch.Verdict)
                                                     else NO_INTERACTION] += sample.count
            if isinstance(finding, str) and finding:
                breaking[label] += sample.count
                says.setdefault(label, set()).add(finding)
        if usable is None or not call.status:  # (a request without its response: nothing to check)
            unchecked += call.count
        operations[operation] = operations.get(operation, True) and all_covered
    unanswered = sum(call.count for call in edge.calls if not call.status)
    if usable is not None and unanswered:
        notes.append(f"{unanswered} call(s) without a response seen: not checked against {provider}'s document")
    calls = sum(call.count for call in edge.calls)
    return EdgeCoverage(
        consumer, provider, calls, covered, sum(uncovered.values()),
        tuple(OperationCount(label, count, _most_said(refused[label])) for label, count in _most(uncovered)),
        tuple(f"{pact.path.name}: {interaction['description']}"
              for n, (pact, interaction) in enumerate(interactions) if n not in exercised),
        sum(breaking.values()),
        tuple(OperationCount(label, count, _first(says[label])) for label, count in _most(breaking)),
        _added_up(edge.not_inspected),
        tuple(str(pact.path) for pact in edge.pacts), tuple(notes), consumer == OUTSIDE,
        sum(call.count for call in edge.calls if call.faulted), len(operations), sum(operations.values()),
        sum(unjudged.values()),
        tuple(OperationCount(label, count, why[label]) for label, count in _most(unjudged)), unchecked,
        sum(len(pact.interactions) for pact in edge.pacts), edge.refused, edge.dropped, edge.lost)


def _added_up(flows: list[NotInspected]) -> tuple[NotInspected, ...]:
    """One count per port and protocol (the helpers count per pair of addresses: a service started again, xdist
    workers' topologies)."""
    counts: dict[tuple[int, str], tuple[int, int]] = {}
    for flow in flows:
        connections, size = counts.get((flow.port, flow.protocol), (0, 0))
        counts[(flow.port, flow.protocol)] = (connections + flow.connections, size + flow.bytes)
    return tuple(NotInspected(port, protocol, connections, size)
                 for (port, protocol), (connections, size) in sorted(counts.items()))


def _template(document: Document | None, method: str, path: str) -> str | None:
    """The document's path template for `method path`, None without a document or a matching operation."""
    if document is None:
        return None
    try:
        template, _ = find_operation(document.spec, method.lower(), "http://provider" + path)
    except (NoOperation, NoPath):
        return None
    return template


def _pact_verdicts(interactions: list[dict[str, Any]], calls: list[ObservedCall]) -> dict[Any, Any]:
    """Pact's verdict on each distinct request of `calls` with its status (pactmatch: Pact's mock server judges),
    each judged once; under the key None, why none could be judged (the mock server failed), if so."""
    asked = {(request, call.status): None for call in calls for sample in call.bodies
             if isinstance(request := _request(call, sample), pactmatch.Request)}
    if not interactions or not asked:
        return {}
    try:
        return dict(pactmatch.judge(interactions, asked))
    except ImportError:  # pact-python: the `contracts` extra
        return {None: _NotJudged("Pact's mock server is not installed: pip install 'pytest-topology[contracts]' "
                                 "(pact-python) to judge the calls against the pacts")}
    except (RuntimeError, OSError, ValueError, KeyError, TypeError) as error:  # (said, never a traceback)
        return {None: _NotJudged(f"Pact's mock server could not judge the calls: {error}")}


def _request(call: ObservedCall, sample: BodySample) -> pactmatch.Request | _NotJudged:
    """The request of `sample` as its consumer sent it, for Pact to judge (a Content-Encoding too: Pact's mock server
    decides what it makes of it), or why it cannot be (its body or headers cut at the capture's limit)."""
    if sample.request_truncated:
        return _NotJudged(f"request body over {_size(BODY_LIMIT)}, the capture's limit: not matched to the pact")
    if sample.request_headers_truncated:
        return _NotJudged(f"request headers over {_size(HEADER_LIMIT)}, the capture's limit: not matched to the pact")
    return pactmatch.Request(call.method.upper(), call.path, sample.query, sample.request_headers,
                             sample.request_body)


def _most(counts: Counter[str]) -> list[tuple[str, int]]:
    """Every one, the most frequent first (ties: in text order, whatever the order of the calls)."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def _most_said(reasons: Counter[str]) -> str:
    """The reason given for the most calls (ties: the first in text order, so that the order of the calls does not
    change it), and how many different reasons there are."""
    said = min(reasons, key=lambda reason: (-reasons[reason], reason))
    return said if len(reasons) == 1 else f"{said} (1 of {len(reasons)} reasons)"


def _first(findings: set[str]) -> str:
    """The first in text order of what the document says against an operation's calls (not the first call's: the
    order of the calls varies between identical runs), and how many different things it says."""
    first = min(findings)
    return first if len(findings) == 1 else f"{first} (1 of {len(findings)} findings)"


@dataclass(frozen=True)
class _NotJudged:
    why: str


def _breaks(document: Document, call: ObservedCall, sample: BodySample) -> str | _NotJudged:
    """What the document says against `call` with the bodies of `sample` (its first finding), "" when it allows it,
    or why it cannot be judged (a body cut at the capture's limit, an encoding that cannot be undone). Judged as
    schemathesis' checks judge a response (a status documented without content takes any body; no rule on
    properties the schema does not describe). The request's parameters are judged as the drift checks judge a
    pact's (openapi-core: a required query, header or cookie parameter missing, a value against its schema), its
    headers as sent (Accept, Content-Type and Authorization parameters ignored, as OpenAPI says); with headers cut
    at the capture's limit, header and cookie parameters are not judged (Pact's
    replay says the call is not judged then). Secret-bearing header values are masked in what is said."""
    if sample.request_truncated or sample.response_truncated:
        return _NotJudged(f"body over {_size(BODY_LIMIT)}, the capture's limit")
    headers: dict[str, list[str]] = {}
    for name, value in sample.request_headers:
        headers.setdefault(name, []).append(value)
    request: dict[str, Any] = {"method": call.method, "path": call.path, "query": sample.query, "headers": headers}
    response: dict[str, Any] = {"status": call.status,
                                "headers": {"Content-Type": call.content_type} if call.content_type else {}}
    for part, text, encoding, content_type in (
            (request, sample.request_body, sample.request_encoding, sample.request_content_type),
            (response, sample.response_body, sample.response_encoding, call.content_type)):
        decoded = _decoded(text, encoding)
        if decoded is None:
            return _NotJudged(f"body in an encoding the harness does not undo ({encoding})")
        if decoded:
            part["body"] = _body(decoded, content_type)
    interaction = {"description": f"{call.method} {call.path}", "type": "Synchronous/HTTP", "request": request,
                   "response": response}
    findings = [f for f in check_interaction(document, interaction, observed=True).findings
                if not (f.pointer.lower() in _IGNORED_HEADERS
                        or sample.request_headers_truncated and f.pointer.startswith("/request/header"))]
    if not findings:
        return ""
    says = pactmatch.masked(findings[0].spec_says, pactmatch.Request("", "", "", sample.request_headers, ""))
    if says.startswith("content types:"):  # (say what was sent beside what the document allows)
        answer = findings[0].pointer.startswith("/response")
        sent = (call.content_type if answer else sample.request_content_type).split(";")[0].strip()
        return f"{'answered' if answer else 'sent'} {sent or 'no content type'}; the document's {says}"
    return says


# header parameters OpenAPI says to ignore ("If in is "header" and the name field is "Accept", "Content-Type" or
# "Authorization", the parameter definition SHALL be ignored"; openapi-core judges them)
_IGNORED_HEADERS = {f"/request/headers/{name}" for name in ("accept", "content-type", "authorization")}


def _decoded(text: str, encoding: str) -> str | None:
    """A body as sent, its Content-Encoding undone (gzip, deflate); None: an encoding not undone (br, ...)."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
    if not codings or not text:
        return text
    data = text.encode("latin-1")
    try:
        for coding in reversed(codings):
            if coding in ("gzip", "x-gzip"):
                data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                data = zlib.decompress(data)
            else:
                return None
    except zlib.error:
        return None
    return data.decode("latin-1")


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 and not count % (1 << 20) else \
        f"{count >> 10} KiB" if count >= 1 << 10 and not count % (1 << 10) else f"{count} bytes"


def _body(text: str, content_type: str) -> dict[str, Any]:
    """A body as a V4 pact holds it: JSON parsed (a JSON type that does not parse stays text, and breaks the
    document as it should)."""
    content: Any = text
    if content_type.split(";")[0].strip().endswith("json"):
        try:
            content = json.loads(text.encode("latin-1").decode("utf-8"))  # (kept byte for byte: JSON is UTF-8)
        except ValueError:
            pass
    return {"content": content, "contentType": content_type or "text/plain"}
