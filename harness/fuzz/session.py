"""Fuzzing a running topology: every service that declares `openapi:` gets one schemathesis run, one service after
another in the topology's order, all with one seed: a service's requests can change what another one answers (a
shared database, one service calling another), so runs at once would find other things each time.

Without --mode, --checks and --phases a run does what `st run` of the installed schemathesis does by default (read
from schemathesis, see engine.st_run_defaults).

A service's document is loaded from the service (with the service's `auth:`) or from a file next to the topology; the
run goes to the service's URL plus the spec's base path (OpenAPI 3 `servers`, Swagger 2 `basePath`: schemathesis'
origin semantics). When every answer there is 404, the paths are tried without the base path: if the service answers
there, that is reported as one finding and the run's results are those of the paths where it really answers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import json
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from harness.errors import NothingToFuzz, OpenAPIUnavailable
from harness.fuzz.auth import Headers, RunningTopology, auth_headers, check_auth
from harness.fuzz.engine import EngineRun, EngineSettings, run_schema, st_run_defaults
from harness.fuzz.logs import attach_log
from harness.fuzz.results import SERVICE_WIDE, Finding, ServiceResult
from harness.runtime.topology import Topology
from harness.spec.model import ServiceSpec, TopologySpec
from harness.spec.secrets import Masker

MODES = ("positive", "negative", "all")


@dataclass(frozen=True)
class FuzzOptions:
    """What the command line (or pytest's options) chose; None: the service's setting, else the default."""

    max_examples: int | None = None
    seed: int | None = None
    phases: list[str] | None = None
    checks: list[str] | None = None
    mode: str | None = None
    workers: int = 1  # schemathesis workers per service
    cache_dir: Path | None = None  # Hypothesis' folder; default: the user's cache folder

    def with_seed(self) -> FuzzOptions:
        """These options with a seed: the given one, else one drawn now (one seed for every service of a run)."""
        return self if self.seed is not None else dataclasses.replace(self, seed=random.randrange(2**31))

    def given(self) -> dict[str, str]:
        """The options that decide the generated data and were given (not defaults), as their values would be
        written on a command line: {"mode": "negative", "checks": "a,b", "max_examples": "20", ...}."""
        values = {"mode": self.mode, "checks": ",".join(self.checks) if self.checks else None,
                  "phases": ",".join(self.phases) if self.phases else None,
                  "max_examples": str(self.max_examples) if self.max_examples is not None else None,
                  "workers": str(self.workers) if self.workers != 1 else None}
        return {name: value for name, value in values.items() if value}


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/pytest-topology/hypothesis` (~/.cache/... by default): never the working directory."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pytest-topology" / "hypothesis"


def fuzz_targets(spec: TopologySpec, services: list[str] | None = None) -> list[str]:
    """The services to fuzz, in the topology's order: those with `openapi:`, or the named ones. Raises NothingToFuzz
    when a named service has no `openapi:` or nothing is left, AuthHookError when an auth hook cannot be used."""
    names = [n for n, s in spec.services.items() if s.openapi and (not services or n in services)]
    unknown = [n for n in services or [] if n not in spec.services or not spec.services[n].openapi]
    if unknown or not names:
        with_spec = ", ".join(n for n, s in spec.services.items() if s.openapi) or "none"
        what = (f"{', '.join(unknown)}: not a service of topology {spec.project} with `openapi:`" if unknown
                else f"no service of topology {spec.project} declares `openapi:`")
        raise NothingToFuzz(f"nothing to fuzz: {what} (services with one: {with_spec})", unknown=unknown)
    for name in names:
        check_auth(spec.services[name], name)
    return names


def split_names(text: str | None) -> list[str] | None:
    """A comma-separated option (`--checks a,b`): its names; None when it was not given, [] when it names none."""
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def refuse_unknown_names(spec: TopologySpec, names: list[str], options: FuzzOptions,
                         flags: Mapping[str, str]) -> None:
    """Check and phase names schemathesis does not know, or an empty list of them, on the command line (`options`;
    `flags` name its options as the front-end does, {"checks": "--checks", ...}: harness.options) or in the `fuzz:
    {checks: ...}` of a service in `names`, are refused before anything starts: a misspelt check would not run and
    the run would pass without it (`st run` refuses them too); so is a number of examples under 1. Raises
    OptionError (exit 2) naming each and the names there are."""
    from harness.errors import OptionError
    from harness.fuzz.engine import check_names

    checks = check_names()
    problems: list[str] = []

    def refuse(where: str, given: list[str] | None, known: list[str], what: str) -> None:
        if given is not None and not given:
            problems.append(f"{where}: no {what} named (name at least one, or leave it out for the defaults)")
        for name in [g for g in given or [] if g not in known]:
            near = difflib.get_close_matches(name, known, n=1)
            problems.append(f"{where}: unknown {what} {name!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))

    refuse(flags["checks"], options.checks, checks, "check")
    phases = st_run_defaults().phase_names
    refuse(flags["phases"], options.phases, phases, "phase")
    if options.max_examples is not None and options.max_examples < 1:
        problems.append(f"{flags['max_examples']}: at least 1 (examples per operation), not {options.max_examples}")
    source = spec.file.name if spec.file is not None else f"topology {spec.name!r}"  # or built in Python
    for name in names:
        service = spec.services[name]
        refuse(f"{source}: services.{name}.fuzz.checks", service.fuzz.checks, checks, "check")
        # (an exclusion may name a kind of finding of the harness's own too: missing_auth, network_error, ...)
        if options.checks != [] and service.fuzz.checks != [] and not checks_for(service, options.checks):
            problems.append(f"{source}: services.{name}.fuzz.exclude: every check of its run is excluded, "
                            "so nothing would be checked")
    if problems:
        lists = ([f"checks: {', '.join(checks)}"] if any(" check" in p for p in problems) else []) + \
            ([f"phases: {', '.join(phases)}"] if any(" phase" in p for p in problems) else [])
        raise OptionError("; ".join(problems) + (f". The {'; '.join(lists)}" if lists else ""))


def checks_for(spec: ServiceSpec, override: list[str] | None = None) -> list[str]:
    """The command line's checks, else the service's, else `st run`'s defaults; less the service's written
    exclusions."""
    chosen = override or spec.fuzz.checks or st_run_defaults().checks
    excluded = {e.check for e in spec.fuzz.exclude}
    return [c for c in chosen if c not in excluded]  # never empty in a run: refuse_unknown_names


def mode_for(spec: ServiceSpec, override: str | None = None) -> str:
    """The command line's mode, else the service's `fuzz: {mode: ...}`, else `st run`'s default."""
    return override or spec.fuzz.mode or st_run_defaults().mode


def run_settings(options: FuzzOptions) -> tuple[dict[str, str], list[str]]:
    """The mode, checks and phases of a run where no service's `fuzz:` says otherwise ({"mode": "all", "checks":
    "a,b", "phases": "examples,coverage"}), and the names of those that are `st run`'s defaults (not given)."""
    defaults = st_run_defaults()
    settings = {"mode": options.mode or defaults.mode, "checks": ",".join(options.checks or defaults.checks),
                "phases": ",".join(options.phases or defaults.phases)}
    return settings, [name for name in settings if not getattr(options, name)]


def phases_for(override: list[str] | None = None) -> list[str]:
    """The command line's phases, else `st run`'s default ones."""
    return override or st_run_defaults().phases


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


def prepare_runs(names: list[str], options: FuzzOptions = FuzzOptions()) -> None:
    """Start the fork server of the runs of several services (start_runs) now: its imports of schemathesis and
    Hypothesis (about 1 s of CPU) then overlap with starting or attaching to the topology instead of delaying the
    first run. Returns at once; does nothing for one service or when the server is running already."""
    if len(names) < 2:
        return
    from multiprocessing import forkserver

    _fork_server()
    # the server imports Hypothesis, which may write its folder right away
    with _environment(HYPOTHESIS_STORAGE_DIRECTORY=str(options.cache_dir or default_cache_dir())):
        forkserver.ensure_running()


def start_runs(topology: Topology, names: list[str], options: FuzzOptions = FuzzOptions()
               ) -> dict[str, Future[ServiceResult]]:
    """Start fuzzing `names`, one service after another in the order of `names`, all with one seed (the given one,
    else one drawn now); returns a future per service, in that order, each done once its run is.

    One after another, because one service's requests can change another's answers (a shared database, a service
    that calls another): runs at once would find other things each time. One service runs in a thread of this
    process; several run each in a fresh process of its own, forked from a server process that has schemathesis
    imported already (prepare_runs starts it early), so that no run inherits the state of Hypothesis or schemathesis
    that an earlier run left. The services' logs are read here, after each run."""
    options = options.with_seed()
    futures: dict[str, Future[ServiceResult]] = {name: Future() for name in names}
    processes = None
    if len(names) > 1:
        prepare_runs(names, options)
        processes = ProcessPoolExecutor(max_workers=1, mp_context=_fork_server(), max_tasks_per_child=1)

    def run_one(name: str) -> ServiceResult:
        if processes is None:
            return fuzz_service(topology, name, options)
        since = time.time()
        return _with_log(processes.submit(fuzz_service, TopologyView.of(topology), name, options), topology, name,
                         since)

    def run_all() -> None:
        try:
            for position, name in enumerate(names):
                future = futures[name]
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = run_one(name)
                except BaseException as error:  # noqa: BLE001 - the service's future raises it; the next ones run
                    future.set_exception(error)
                    continue
                result.fuzzed_before, result.given = names[:position], options.given()
                future.set_result(result)
        finally:
            if processes is not None:
                processes.shutdown(wait=True)

    waiting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fuzz")
    waiting.submit(run_all)
    waiting.shutdown(wait=False)
    return futures


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the processes started inside the block (unless already set), then restored."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _fork_server() -> Any:
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["harness.fuzz.session", "harness.fuzz.engine", "harness.fuzz.preload"])
    return context


def _with_log(run: Future[ServiceResult], topology: Topology, name: str, since: float) -> ServiceResult:
    result = run.result()
    # a service may log a secret
    attach_log(result, lambda stream: topology[name].logs(since=since, timestamps=True, stream=stream),
               topology.masker)
    return result


def fuzz_all(topology: Topology, names: list[str], options: FuzzOptions = FuzzOptions(),
             on_result: Callable[[ServiceResult], None] | None = None) -> list[ServiceResult]:
    """Fuzz `names` one after another (start_runs). Returns the results in the order of `names`; `on_result` sees
    them in that order too. Raises the first service's HarnessError (in that order) once the runs before it are
    reported."""
    results = []
    for future in start_runs(topology, names, options).values():
        result = future.result()
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def fuzz_service(topology: Topology | TopologyView, name: str, options: FuzzOptions = FuzzOptions()) -> ServiceResult:
    """One schemathesis run of service `name`. Returns its findings (deduplicated across phases); raises
    OpenAPIUnavailable when its document cannot be loaded, AuthHookError for an unusable auth hook."""
    spec, service = topology.spec.services[name], topology[name]
    headers = auth_headers(topology, name)
    seed = options.with_seed().seed
    assert seed is not None
    mode = mode_for(spec, options.mode)
    settings = EngineSettings(seed=seed, phases=phases_for(options.phases), checks=checks_for(spec, options.checks),
                              mode=mode, max_examples=options.max_examples,
                              workers=options.workers, cache_dir=options.cache_dir or default_cache_dir())
    started, log_since = time.monotonic(), time.time()
    schema = load_schema(topology, name, headers)
    base = service.url.rstrip("/")
    declared = _declared_base_path(schema)
    url = base + declared
    schema.config.update(base_url=url)  # before the operations are read: each keeps the base URL it was made with
    labels, broken = _operations(schema)
    run = run_schema(schema, settings, headers)
    notes: list[Finding] = []
    if not labels and not broken:  # nothing was fuzzed: not a pass (`st run` stops with the same words)
        notes.append(Finding(SERVICE_WIDE, "no_operations", "the OpenAPI document defines no API operations",
                             kind="error", detail="Nothing of the service was fuzzed: its document's `paths` has no "
                                                  "operation (a method under a path)."))
    if run.every_answer_is(404):
        if declared:
            probe_schema = load_schema(topology, name, headers)
            probe_schema.config.update(base_url=base)
            probe = run_schema(probe_schema, settings, headers)
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


def _operations(schema: Any) -> tuple[list[str], dict[str, str]]:
    """(labels of the operations that load, {label: error} of those that do not), in the spec's order."""
    labels, broken = [], {}
    for result in schema.get_all_operations():
        error = getattr(result, "err", None)
        if error is None:
            labels.append(result.ok().label)
            continue
        problem = error()
        label = getattr(problem, "label", None) or \
            f"{str(getattr(problem, 'method', '?')).upper()} {getattr(problem, 'path', '?')}"
        broken[label] = str(problem).strip() or type(problem).__name__
    return labels, broken


def operations(topology: Topology, name: str) -> tuple[list[str], dict[str, str]]:
    """The operations of a service's spec: (labels such as "GET /api/users/{id}", {label: why it cannot be parsed}).
    Raises OpenAPIUnavailable when the document cannot be loaded."""
    return _operations(load_schema(topology, name, auth_headers(topology, name)))


def _declared_base_path(schema: Any) -> str:
    """The spec's base path ("/api/v1"), "" for none."""
    try:
        return str(schema.declared_base_path() or "").rstrip("/")
    except Exception:  # noqa: BLE001 - a spec without servers/basePath (or an odd one) has no base path
        return ""


def load_schema(topology: RunningTopology, name: str, headers: Headers | None) -> Any:
    """A service's OpenAPI document as a schemathesis schema: from a file next to the topology (`openapi: spec.yaml`)
    or from the service (`openapi: /openapi.json`, fetched with the service's auth headers).

    Raises OpenAPIUnavailable saying which: a missing file, connection refused, 401/403, 404, or a parse error with its
    line and column."""
    import schemathesis

    location = topology.spec.services[name].openapi or ""
    file = topology.spec.base_dir / location
    if not location.startswith(("/", "http://", "https://")):
        if not file.is_file():
            raise OpenAPIUnavailable(f"service '{name}': its OpenAPI file {file} does not exist",
                                     hint="`openapi:` is a file next to the topology file, or a path the service "
                                       "serves (starting with /).", service=name, location=str(file))
        _parse(file.read_text(encoding="utf-8", errors="replace"), name, str(file))
        return _loaded(lambda: schemathesis.openapi.from_path(str(file)), name, str(file))
    url = location if location.startswith("http") else topology[name].url + location
    sent = headers() if headers else {}
    text = _fetch(url, sent, name)
    _parse(text, name, url)
    # the text fetched once, parsed by schemathesis as `from_url` would (JSON, else YAML); `location` as it sets it
    loaded = _loaded(lambda: schemathesis.openapi.from_file(text), name, url)
    loaded.location = url
    return loaded


def _fetch(url: str, headers: dict[str, str], name: str) -> str:
    where = f"service '{name}': cannot load its OpenAPI document from {url}"
    try:
        response = requests.get(url, headers=headers, timeout=10)
    except requests.ConnectionError as error:
        raise OpenAPIUnavailable(f"{where}: connection refused or reset ({type(error).__name__})",
                                 hint="Check that the service is up and listens on the port the topology publishes.",
                                 service=name, location=url) from None
    except requests.Timeout:
        raise OpenAPIUnavailable(f"{where}: no answer within 10 s", service=name, location=url) from None
    if response.status_code in (401, 403):
        sent = ", ".join(sorted(headers)) or "none"
        raise OpenAPIUnavailable(f"{where}: {response.status_code} (the service wants credentials; headers sent: "
                                 f"{sent})", hint="Give the service an `auth:` in the topology (headers, "
                                 "client_credentials or hook): the document is loaded with it.",
                                 service=name, location=url, status=response.status_code)
    if response.status_code == 404:
        raise OpenAPIUnavailable(f"{where}: 404, the service serves no document there",
                                 hint="Point `openapi:` at the path the service serves its document on "
                                   "(e.g. /openapi.json), or at a file next to the topology.",
                                 service=name, location=url, status=404)
    if response.status_code != 200:
        raise OpenAPIUnavailable(f"{where}: {response.status_code} {response.text[:200]}", service=name,
                                 location=url, status=response.status_code)
    return response.text


def _parse(text: str, name: str, where: str) -> None:
    """Raise OpenAPIUnavailable with the line and column when `text` is neither JSON nor YAML."""
    import yaml

    if text.lstrip().startswith(("{", "[")):
        try:
            json.loads(text)
            return
        except json.JSONDecodeError as error:
            raise OpenAPIUnavailable(f"service '{name}': its OpenAPI document {where} is not valid JSON: line "
                                     f"{error.lineno}, column {error.colno}: {error.msg}", service=name,
                                     location=f"{where}:{error.lineno}:{error.colno}") from None
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise OpenAPIUnavailable(f"service '{name}': its OpenAPI document {where} is not valid YAML: {at}{problem}",
                                 service=name, location=f"{where}:{mark.line + 1}:{mark.column + 1}" if mark else where
                                 ) from None


def _loaded(load: Callable[[], Any], name: str, where: str) -> Any:
    try:
        return load()
    except Exception as error:  # noqa: BLE001 - schemathesis' loading errors, said as one
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise OpenAPIUnavailable(f"service '{name}': cannot load its OpenAPI document from {where}: {first}",
                                 service=name, location=where) from None
