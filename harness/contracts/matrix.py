"""The contract matrix as data: one edge per pact file with its verdict and its drift against the provider's OpenAPI
document, and every `consumes` edge of the topology that has no pact. Consumers that are not services (a browser
app, a mobile app, a client library) are edges too, marked `outside`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.contracts.names import mapping_hint
from harness.contracts.results import PactResult
from harness.model.topology import TopologySpec

EdgeStatus = str  # a Verdict ("verified", "failed", "error", "excluded"), "no pact", or NOT_VERIFIED
NOT_VERIFIED = "not verified"  # a pact whose edge was observed (--observe) in a run that verified no pact


@dataclass(frozen=True)
class DriftCell:
    """A pact's drift against its provider's OpenAPI document (harness.contracts.drift), for the matrix. `verdict`:
    clean | drift | error | not applicable; `count`: the drifts found; `first`: the first one named (interaction,
    JSON pointer, what the spec says, what the pact says); `reason`: why an error or not applicable; `source`: where
    the document came from. It never changes the edge's verification verdict."""

    verdict: str
    count: int = 0
    first: str = ""
    reason: str = ""
    source: str = ""  # where the OpenAPI document came from (a file, or served by the running topology)

    @classmethod
    def of(cls, result: Any) -> DriftCell:
        """From a drift.PactDrift."""
        findings = result.findings
        first = ""
        if findings:
            description, finding = findings[0]
            first = f"'{description}' {finding.pointer}: {finding.spec_says} (the pact says {finding.pact_says})"
        return cls(result.verdict, len(findings), first, result.reason, result.source)

    @property
    def label(self) -> str:
        """What a matrix cell shows: "drift: clean", "drift: 2", "drift: error", "drift: n/a"."""
        shown = {"drift": str(self.count), "not applicable": "n/a"}.get(self.verdict, self.verdict)
        return f"drift: {shown}"


@dataclass(frozen=True)
class CoverageCell:
    """An edge's contract coverage from the traffic observed in the run (harness.observe.EdgeCoverage), for the matrix:
    HTTP `calls` observed, `covered` by an interaction of the edge's pacts, `uncovered` ("GET /items/{id} -> 404: 3
    call(s): Pact's reason": every uncovered operation, the most frequent first), interactions `never_exercised`,
    `breaking` calls the provider's document does not allow (`breaks`: every operation with all it says, the
    most frequent first; `breaks_first`: the same with the first of what each says and how many, as the console
    says it: "... 200: 2 call(s): 'id' is a required property (1 of 3 findings)"), connections `not_inspected`
    ("6379 other: 2 connections, 254 bytes"), `notes`. Information: it never changes the edge's verdict."""

    label: str
    calls: int = 0
    covered: int = 0
    percent: float | None = None  # covered calls of the calls; --observe-fail-under measures operations instead
    uncovered: tuple[str, ...] = ()
    never_exercised: tuple[str, ...] = ()
    breaking: int = 0
    breaks: tuple[str, ...] = ()
    not_inspected: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    faulted: int = 0  # of the calls, made while a fault was on the edge (their operations say "(under a fault)")
    operations: int = 0  # the operations called (method, path template, status): the same run after run
    operations_covered: int = 0  # ... of them, those whose every call a pact interaction covers
    not_judged: int = 0  # calls whose bodies could not be judged against the document (`unjudged`: which, why)
    unjudged: tuple[str, ...] = ()
    refused: int = 0  # connections a cut() stopped before any HTTP was sent: not calls, counted apart
    dropped: int = 0  # TCP packets a cut(mode="drop") stopped (each retry counts): not calls either
    lost: int = 0  # packets a loss() dropped: TCP sends them again, so its calls pass (marked under a fault)
    summary: str = ""  # the edge's line in the console ("gateway -> orders: 17 HTTP call(s), 8 covered ...")
    breaks_first: tuple[str, ...] = ()
    document: str = ""  # where the provider's OpenAPI document that judged the calls came from ("": none did)
    in_flight: tuple[str, ...] = ()  # calls awaiting their response at the read: not judged for coverage

    @classmethod
    def of(cls, coverage: Any) -> CoverageCell:
        """From a harness.observe.EdgeCoverage."""
        return cls(coverage.label, coverage.calls, coverage.covered, coverage.percent,
                   tuple(f"{o.operation}: {o.calls} call(s)" + (f": {o.says}" if coverage.pacts and o.says else "")
                         for o in coverage.uncovered_operations),
                   coverage.never_exercised, coverage.breaking,
                   tuple(f"{o.operation}: {o.calls} call(s): {o.said}" for o in coverage.breaking_operations),
                   tuple(f"port {n.port} {n.protocol}: {n.connections} connection(s), {n.bytes} bytes"
                         for n in coverage.not_inspected), coverage.notes, coverage.faulted,
                   coverage.operations, coverage.operations_covered, coverage.not_judged,
                   tuple(f"{o.operation}: {o.calls} call(s): {o.says}" for o in coverage.not_judged_operations),
                   coverage.refused, coverage.dropped, coverage.lost, coverage.summary,
                   tuple(f"{o.operation}: {o.calls} call(s): {o.says}" for o in coverage.breaking_operations),
                   coverage.document,
                   tuple(f"{o.operation}: {o.calls} call(s)" for o in coverage.in_flight_operations))


@dataclass(frozen=True)
class Edge:
    """`consumer`/`provider`: the service names (or the pact's names when they are not services). `outside`: the
    consumer is not a service of the topology. `reason`: why an error, an exclusion or a failure (its first failing
    interaction's problem), and what a partial run or a pending pact adds; `failed`: the descriptions of the
    interactions that failed."""

    consumer: str
    provider: str
    status: EdgeStatus
    pact: str | None = None
    interactions: int = 0
    seconds: float = 0.0
    outside: bool = False
    reason: str = ""
    failed: tuple[str, ...] = ()
    drift: DriftCell | None = None  # None: drift was not checked in this run (or no pact)
    cached_from: str = ""  # verified by an earlier run (the verdict cache), at this ISO time; "": by this run
    source: str = ""  # where a pact not from the folder came from (a broker's URL, consumer version, selector)
    pending: bool = False  # pending at the broker: a failure does not fail the run
    observed: CoverageCell | None = None  # None: traffic was not observed in this run (--observe)
    note: str = ""  # an outside consumer whose name is close to a service's: how to map it (never the edge's reason)


def edge_matrix(spec: TopologySpec, results: list[PactResult], drift: Iterable[Any] | None = None,
                coverage: Iterable[Any] | None = None) -> list[Edge]:
    """Every pact's edge with its verdict (and its drift, from the drift.PactDrift of the same file when `drift`
    has one), every `consumes` edge of the topology that has no pact, and with `coverage` (harness.observe's
    EdgeCoverage of the run) each edge's observed traffic: an edge between services with traffic and no pact is one
    too ("no pact"); calls from outside the topology (the tests) are no edge of the matrix."""
    drifts = {_key(d.path): DriftCell.of(d) for d in drift or ()}
    coverage = list(coverage or ())
    observed = {(c.consumer, c.provider): CoverageCell.of(c) for c in coverage if not c.outside}
    edges: list[Edge] = []
    for result in results:
        consumer = result.consumer_service or result.consumer or "?"
        provider = result.provider_service or result.provider or "?"
        outside = result.consumer is not None and result.consumer_service is None
        hint = mapping_hint(spec, result.consumer or "") if outside else ""  # a front-end outside is normal
        edges.append(Edge(consumer, provider, result.verdict, result.url or str(result.path), result.interaction_count,
                          round(result.seconds, 3), outside, _reason(result),
                          tuple(i.description for i in result.interactions if not i.passed),
                          _drift(spec, result, drifts), result.cached_from, result.source, result.pending,
                          observed.get((consumer, provider)),
                          f"consumer '{result.consumer}' is not a service of the topology{hint}" if hint else ""))
    covered = {(e.consumer, e.provider) for e in edges}
    for coverage_of_edge in coverage:  # --observe without --pact-verify: the pacts' edges, not verified
        key = (coverage_of_edge.consumer, coverage_of_edge.provider)
        if key in observed and key not in covered:
            pacts = coverage_of_edge.pacts
            edges.append(Edge(*key, NOT_VERIFIED if pacts else "no pact", pact=pacts[0] if pacts else None,
                              interactions=coverage_of_edge.interactions,
                              reason="its pact was not verified in this run (pytest --pact-verify, harness verify)"
                              if pacts else "", observed=observed[key]))
            covered.add(key)
    for name, service in spec.services.items():
        for provider in service.consumes:
            if (name, provider) not in covered:
                edges.append(Edge(name, provider, "no pact", observed=observed.get((name, provider))))
                covered.add((name, provider))
    return sorted(edges, key=lambda e: (e.consumer, e.provider, e.pact or ""))


def _drift(spec: TopologySpec, result: PactResult, drifts: dict[Path, DriftCell]) -> DriftCell | None:
    """The pact's drift cell; for a provider that declares no `openapi:` "n/a" whether drift was checked or not
    (nothing to check against: the same words in a run that starts nothing, or that checks no drift)."""
    found = drifts.get(_key(result.path))
    service = spec.services.get(result.provider_service or "")
    if found is None and service is not None and not service.openapi:
        return DriftCell("not applicable", reason=f"provider '{result.provider_service}' declares no `openapi:` in "
                                                  "the topology: no document to check")
    return found


def _reason(result: PactResult) -> str:
    """Why the edge has its verdict: the result's reason (an error, an exclusion), else the first failing
    interaction's first problem, then what a partial run (-k, --lf, a node id) or a pending pact adds."""
    reasons = [result.reason] if result.reason else []
    failing = [i for i in result.interactions if not i.passed]
    if not reasons and failing and result.verdict == "failed":
        first = failing[0]
        problem = first.problems[0].splitlines()[0] if first.problems else "failed"
        more = f" (and {len(failing) - 1} more failing interaction(s))" if len(failing) > 1 else ""
        reasons.append(f"'{first.description}': {problem}{more}")
    if result.partial:  # -k, --lf: not a pass of the pact
        reasons.append(f"only {len(result.labels)} of its {result.interaction_count} interactions were verified (the "
                       "others were not selected)")
    if result.pending and result.verdict == "failed":
        reasons.append("pending at the broker: its failure does not fail the run")
    return "; ".join(reasons)


def _key(path: Path) -> Path:
    return Path(path).resolve()
