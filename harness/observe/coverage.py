"""Coverage per edge: each observed HTTP call named by its operation (method, the provider's path template, status)
and matched to the pact interactions of its edge by Pact's own mock server (pactmatch: the request replayed, the
interaction's status the call's); the drift checks (documented.py) say whether it breaks the provider's document.
Every distinct body of a call is judged against the pact and the document (a call whose bodies could not be judged
is counted and said: never "covered" or "allowed")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from harness.contracts.drift.adapter import Document, NoOperation, NoPath, find_operation
from harness.contracts.drift.interactions import is_http
from harness.contracts.names import service_for
from harness.contracts.pactfiles import PactFile
from harness.errors import OpenAPIUnavailable
from harness.model.topology import TopologySpec
from harness.observe import documented, pactmatch
from harness.observe.documented import NotJudged
from harness.observe.summary import edge_line
from harness.runtime.observe import OUTSIDE, Observation, ObservedCall
from harness.runtime.observe_control import DROPPED, LOST, REFUSED
from harness.runtime.observe_records import BodySample
from harness.runtime.observe_streams import BODY_LIMIT, HEADER_LIMIT

TOP = 3  # the most frequent uncovered operations (breaking, not judged) named per edge in the console and gates
NO_INTERACTION = "no pact interaction on this edge"  # why a call on an edge without a pact is uncovered
NO_RESPONSE = "no response"  # the status of a call whose request was seen and its response not (status 0)
IN_FLIGHT = "no response (in flight when read)"  # ... and its connection still open when the capture was read


@dataclass(frozen=True)
class OperationCount:
    """`operation` ("GET /items/{id} -> 404") seen `calls` times; `says`: why, in short (what Pact or the document
    says first, and "(1 of N findings)"), else ""; `findings`: every thing the document says against it, in text
    order (a breaking operation)."""

    operation: str
    calls: int
    says: str = ""
    findings: tuple[str, ...] = ()

    @property
    def said(self) -> str:
        """Every finding ("; "), else `says`: what contract-matrix.json and the page show."""
        return "; ".join(self.findings) or self.says


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
    "not judged": there is nothing to judge it against), `unchecked`: calls checked against no document (the
    provider has none); `unanswered`: calls without a response whose request was judged against the document;
    `in_flight`: calls awaiting their response when the capture was read (their connection open), never covered
    nor uncovered: which answer comes, if any, depends on the moment of the read, not on the tests
    (`in_flight_operations`: every one; their requests are still judged against the document);
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
    # provider has none)
    not_judged: int = 0
    not_judged_operations: tuple[OperationCount, ...] = ()
    unchecked: int = 0
    interactions: int = 0  # of the edge's pacts, all kinds
    # connections a cut() stopped before any HTTP passed (their TCP packets: a refused one sends one, a dropped one
    # its retries): not calls, so neither covered nor uncovered, but said, so that a call under a cut is not lost
    refused: int = 0
    dropped: int = 0  # TCP packets a cut(mode="drop") stopped (each retry of a connection counts)
    lost: int = 0  # packets a loss() dropped (its random drop's own count; TCP sends them again)
    unanswered: int = 0  # calls with no response seen, judged against the document: their request only
    # where the provider's OpenAPI document that judged the calls came from (find_document's sentence: served by
    # the running topology, or a file), "" when none did
    document: str = ""
    # every operation called with a response, and whether every call of it is covered: what --observe-fail-under
    # measures (a kind counts once, however often it is called; "-> no response" kinds left out: a call in flight
    # when the capture is read comes and goes with the session's timing)
    answered_operations: tuple[tuple[str, bool], ...] = ()
    in_flight: int = 0
    in_flight_operations: tuple[OperationCount, ...] = ()

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
    early = observation.provider_only.get((consumer, provider), 0)
    if early:
        notes.append(f"{early} call(s) seen only by {provider}'s capture, counted: {consumer}'s capture was not "
                     "running yet when they were made (each service's capture starts on its own: at the session's "
                     "start, and after a restart in the service's new namespace)")
    interactions = [(pact, i) for pact in edge.pacts for i in pact.interactions if is_http(i)]
    verdicts = _pact_verdicts([i for _, i in interactions], edge.calls)
    exercised: set[int] = set()
    uncovered: Counter[str] = Counter()
    refused: dict[str, Counter[str]] = {}  # an uncovered operation -> Pact's reasons, each with its calls
    breaking: Counter[str] = Counter()
    says: dict[str, set[str]] = {}  # a breaking operation -> what the document says
    unjudged: Counter[str] = Counter()
    why: dict[str, str] = {}
    in_flight: Counter[str] = Counter()
    covered = unchecked = 0
    operations: dict[str, bool] = {}  # operation -> covered (every call of it)
    for call in edge.calls:
        template = _template(usable, call.method, call.path)
        status = call.status or (IN_FLIGHT if call.in_flight else NO_RESPONSE)
        operation = f"{call.method} {template or call.path} -> {status}"
        label = operation + (" (under a fault)" if call.faulted else "")
        if usable is None:
            unchecked += call.count
        if call.in_flight:  # (neither covered nor uncovered: its answer comes after the read, or not, by timing)
            in_flight[label] += call.count
            for sample in call.bodies if usable is not None else ():  # (its request, judged as any)
                finding = documented.findings(usable, call, sample) if usable is not None else ()
                if isinstance(finding, tuple) and finding:
                    breaking[label] += sample.count
                    says.setdefault(label, set()).update(finding)
            continue
        unsampled = call.unsampled + max(0, call.count - call.unsampled - sum(s.count for s in call.bodies))
        kept_why = f"seen only by {provider}'s capture ({consumer}'s was not running yet), which of its requests " \
            "is not known" if call.provider_only else "more different requests and bodies than the capture keeps"
        if unsampled and not interactions:  # (no pact on the edge: uncovered, whatever the requests)
            uncovered[label] += unsampled
            refused.setdefault(label, Counter())[NO_INTERACTION] += unsampled
        if unsampled and (interactions or usable is not None):  # (nothing to judge against: nothing not judged)
            unjudged[label] += unsampled
            why.setdefault(label, kept_why)
        all_covered = not unsampled
        for sample in call.bodies:
            judged = _request(call, sample)
            finding = documented.findings(usable, call, sample) if usable is not None else ()
            # (Pact judges the request and status; the document, the bodies: either may be unable to; a cut request
            # with neither a pact nor a document is simply uncovered)
            pact_cannot = judged if isinstance(judged, NotJudged) and (interactions or usable is not None) \
                else verdicts.get(None)
            cannot = pact_cannot if isinstance(pact_cannot, NotJudged) else finding
            if isinstance(cannot, NotJudged):
                unjudged[label] += sample.count
                why.setdefault(label, cannot.why)
            verdict = verdicts.get((judged, call.status))
            if isinstance(pact_cannot, NotJudged):
                all_covered = False
            elif isinstance(verdict, pactmatch.Verdict) and verdict.matched:
                covered += sample.count
                exercised.update(verdict.matched)
            else:
                all_covered = False
                uncovered[label] += sample.count
                refused.setdefault(label, Counter())[verdict.why if isinstance(verdict, pactmatch.Verdict)
                                                     else NO_INTERACTION] += sample.count
            if isinstance(finding, tuple) and finding:
                breaking[label] += sample.count
                says.setdefault(label, set()).update(finding)
        operations[operation] = operations.get(operation, True) and all_covered
    unanswered = sum(call.count for call in edge.calls if not call.status and not call.in_flight) \
        if usable is not None else 0
    if unanswered:
        notes.append(f"{unanswered} call(s) without a response seen: their requests judged against {provider}'s "
                     "document, no response to judge")
    if in_flight:
        notes.append(f"{sum(in_flight.values())} call(s) in flight when the capture was read (their connection open, "
                     "no response yet): not judged for coverage" + (f", their requests judged against {provider}'s "
                                                                    "document" if usable is not None else ""))
    calls = sum(call.count for call in edge.calls)
    return EdgeCoverage(
        consumer, provider, calls, covered, sum(uncovered.values()),
        tuple(OperationCount(label, count, _most_said(refused[label])) for label, count in _most(uncovered)),
        tuple(f"{pact.path.name}: {interaction['description']}"
              for n, (pact, interaction) in enumerate(interactions) if n not in exercised),
        sum(breaking.values()),
        tuple(OperationCount(label, count, _first(says[label]), tuple(sorted(says[label])))
              for label, count in _most(breaking)),
        _added_up(edge.not_inspected),
        tuple(str(pact.path) for pact in edge.pacts), tuple(notes), consumer == OUTSIDE,
        sum(call.count for call in edge.calls if call.faulted), len(operations), sum(operations.values()),
        sum(unjudged.values()),
        tuple(OperationCount(label, count, why[label]) for label, count in _most(unjudged)), unchecked,
        sum(len(pact.interactions) for pact in edge.pacts), edge.refused, edge.dropped, edge.lost, unanswered,
        usable.source if usable is not None else "",
        tuple(sorted((o, all_of) for o, all_of in operations.items() if not o.endswith(f"-> {NO_RESPONSE}"))),
        sum(in_flight.values()), tuple(OperationCount(label, count) for label, count in _most(in_flight)))


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
    asked = {(request, call.status): None for call in calls if not call.in_flight for sample in call.bodies
             if isinstance(request := _request(call, sample), pactmatch.Request)}
    if not interactions or not asked:
        return {}
    try:
        return dict(pactmatch.judge(interactions, asked))
    except ImportError:  # pact-python: the `contracts` extra
        return {None: NotJudged("Pact's mock server is not installed: pip install 'pytest-topology[contracts]' "
                                 "(pact-python) to judge the calls against the pacts")}
    except (RuntimeError, OSError, ValueError, KeyError, TypeError) as error:  # (said, never a traceback)
        return {None: NotJudged(f"Pact's mock server could not judge the calls: {error}")}


def _request(call: ObservedCall, sample: BodySample) -> pactmatch.Request | NotJudged:
    """The request of `sample` as its consumer sent it, for Pact to judge (a Content-Encoding too: Pact's mock server
    decides what it makes of it), or why it cannot be (its body or headers cut at the capture's limit)."""
    if sample.request_truncated:
        return NotJudged(f"request body over {documented.size(BODY_LIMIT)}, the capture's limit: not matched to "
                         "the pact")
    if sample.request_headers_truncated:
        return NotJudged(f"request headers over {documented.size(HEADER_LIMIT)}, the capture's limit: not matched "
                         "to the pact")
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
