"""One schemathesis run of one service: its document loaded, the run sent to the service's URL plus the spec's base
path, and what the run does not report itself (an operation without requests, every answer 401/403 or 404) added as
findings."""

from __future__ import annotations

import time
from dataclasses import dataclass

from harness.fuzz.auth import auth_headers
from harness.fuzz.engine import EngineRun, EngineSettings, run_schema
from harness.fuzz.logs import attach_log
from harness.fuzz.options import DEFAULTS, FuzzOptions, checks_for, default_cache_dir, mode_for, phases_for
from harness.fuzz.results import SERVICE_WIDE, Finding, ServiceResult
from harness.fuzz.schema import declared_base_path, load_schema, operations_of
from harness.model.secrets import Masker
from harness.model.topology import TopologySpec
from harness.runtime.topology import Topology


@dataclass(frozen=True)
class ServiceView:
    """What a fuzzing run needs of a running service, in a form another process can receive."""

    name: str
    url: str

    def logs(self, since: float | None = None, tail: int | None = None, timestamps: bool = False,
             stream: str | None = None) -> str:
        return ""  # read by the parent process, which holds the Docker client


@dataclass(frozen=True)
class TopologyView:
    """A running topology as a fuzzing process sees it: its spec and each service's URL (`view["api"].url`). An
    auth hook gets this when several services are fuzzed (each in a process of its own)."""

    spec: TopologySpec
    urls: dict[str, str]

    @classmethod
    def of(cls, topology: Topology) -> TopologyView:
        return cls(topology.spec, {name: topology[name].url for name in topology.spec.services
                                   if topology.spec.services[name].ports})

    def __getitem__(self, name: str) -> ServiceView:
        return ServiceView(name, self.urls[name])


def fuzz_service(topology: Topology | TopologyView, name: str, options: FuzzOptions = DEFAULTS) -> ServiceResult:
    """One schemathesis run of service `name`. Returns its findings (deduplicated across phases); raises
    OpenAPIUnavailable when its document cannot be loaded, AuthHookError for an unusable auth hook."""
    spec, service = topology.spec.services[name], topology[name]
    headers = auth_headers(topology, name)
    seed = options.with_seed().seed
    assert seed is not None
    mode = mode_for(spec, options.mode)
    settings = EngineSettings(seed=seed, phases=phases_for(options.phases), checks=checks_for(spec, options.checks),
                              mode=mode, max_examples=options.max_examples,
                              suppress_health_check=options.suppress_health_check or [],
                              workers=options.workers, cache_dir=options.cache_dir or default_cache_dir())
    started, log_since = time.monotonic(), time.time()
    schema = load_schema(topology, name, headers)
    base = service.url.rstrip("/")
    declared = declared_base_path(schema)
    url = base + declared
    schema.config.update(base_url=url)  # before the operations are read: each keeps the base URL it was made with
    labels, broken = operations_of(schema)
    baseline = None
    if options.baseline is not None:
        from harness.fuzz.baseline import for_service, load

        baseline = for_service(load(options.baseline), name)
    run = run_schema(schema, settings, headers, baseline)
    notes: list[Finding] = []
    if not labels and not broken:  # nothing was fuzzed: not a pass (`st run` stops with the same words)
        notes.append(Finding(SERVICE_WIDE, "no_operations", "the OpenAPI document defines no API operations",
                             kind="error", detail="Nothing of the service was fuzzed: its document's `paths` has no "
                                                  "operation (a method under a path)."))
    if run.every_answer_is(404):
        if declared:
            probe_schema = load_schema(topology, name, headers)
            probe_schema.config.update(base_url=base)
            probe = run_schema(probe_schema, settings, headers, baseline)
            if probe.statuses and not probe.every_answer_is(404):
                notes.append(Finding(
                    SERVICE_WIDE, "base_path", f"the service serves the spec's paths without its base path {declared}",
                    detail=f"every request under {url} was answered 404; the same paths under {base} are served, "
                           "so the results below are from there. Either the spec's base path (OpenAPI 3 `servers`, "
                           "Swagger 2 `basePath`) or the service's routes are wrong."))
                probe.exchanges = run.exchanges + probe.exchanges  # the first run's are in the log too
                run, url = probe, base
            else:
                notes.append(_all_404(url))
        else:
            notes.append(_all_404(url))
    result = ServiceResult(name, url, seed, mode=settings.mode, phases=settings.phases,
                           operations=labels + list(broken), requests=run.requests,
                           requests_by_operation=dict(run.requests_by_operation), checks=settings.checks,
                           seconds_by_operation=dict(run.seconds_by_operation),
                           stateful_requests=run.stateful_requests, exchanges=run.exchanges,
                           excluded={e.check: e.reason for e in spec.fuzz.exclude})
    # written exclusions cover the harness's own checks too
    result.findings = [f for f in notes + run.findings + _unreported(run, labels, broken)
                       if f.check not in result.excluded]
    result.seconds = time.monotonic() - started
    if not isinstance(topology, TopologyView):  # else the parent process reads the log (_with_log)
        attach_log(result, lambda stream: service.logs(since=log_since, timestamps=True, stream=stream),
                   Masker(topology.spec))  # a service may log a secret
    return result


def _all_404(url: str) -> Finding:
    return Finding(SERVICE_WIDE, "base_url_mismatch", f"every request was answered 404 at {url}", kind="error",
                   detail="Nothing of the spec is served there: check the service's `openapi:` document and the "
                          "base path its `servers` / `basePath` declare.")


def _unreported(run: EngineRun, labels: list[str], broken: dict[str, str]) -> list[Finding]:
    """Operations the run says nothing about: one that cannot be parsed, one that sent no request, one where every
    answer was 401/403 (the topology's `auth:` is refused)."""
    with_finding = {f.operation for f in run.findings}
    extra = [Finding(label, "schema_error", f"the operation cannot be parsed: {error.splitlines()[0]}", kind="error",
                     detail=error) for label, error in broken.items() if label not in with_finding]
    for label in labels:
        if label in with_finding:
            continue
        statuses: dict[int, int] = run.statuses.get(label, {})
        if not run.requests_by_operation.get(label):
            reasons = "; ".join(sorted(run.skip_reasons.get(label, ()))) or "no case was generated"
            extra.append(Finding(label, "no_requests", f"no request was sent for this operation ({reasons})",
                                 kind="error"))
        elif statuses and set(statuses) <= {401, 403}:
            extra.append(Finding(label, "missing_auth", f"every request was refused with "
                                 f"{'/'.join(map(str, sorted(statuses)))}: the service did not accept the run's "
                                 "credentials (the service's `auth:` in the topology)", kind="error"))
    return extra
