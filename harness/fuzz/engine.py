"""The adapter to schemathesis' engine (the only module that imports `schemathesis.engine`): runs a loaded schema and
turns the engine's events into the harness's own data (harness.fuzz.results). Nothing the engine says is dropped:
failed checks, network errors and timeouts (NonFatalError), operations that cannot be parsed, schema-analysis
warnings (unresolvable references, ...), skipped operations and operations that sent no request."""

from __future__ import annotations

import contextlib
import functools
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.fuzz.results import SERVICE_WIDE, Exchange, Finding

UNIT_PHASES = ("examples", "coverage", "fuzzing")
STATEFUL = "stateful"
# schemathesis' phase names -> the harness's (the `--phases` vocabulary)
_PHASE_NAMES = {"examples": "examples", "coverage": "coverage", "fuzzing": "fuzzing", "stateful_testing": STATEFUL}


@dataclass
class EngineRun:
    """What one engine run found. `statuses` counts the HTTP statuses per operation label (unit phases)."""

    findings: list[Finding] = field(default_factory=list)
    requests: int = 0
    requests_by_operation: Counter[str] = field(default_factory=Counter)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    skip_reasons: dict[str, set[str]] = field(default_factory=dict)
    stateful_requests: int = 0  # requests of the stateful phase's sequences
    # seconds schemathesis spent on each operation's scenarios (unit phases) and on the sequences ("stateful")
    seconds_by_operation: dict[str, float] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)  # every request sent, in the order of their answers

    def every_answer_is(self, status: int) -> bool:
        """Whether there were answers and every one of them had `status` (e.g. 404: nothing is served there)."""
        counts = Counter[int]()
        for per_operation in self.statuses.values():
            counts.update(per_operation)
        return bool(counts) and set(counts) == {status}


@dataclass(frozen=True)
class EngineSettings:
    """How to run: phases and checks by name, `mode` positive|negative|all, `workers` per service."""

    seed: int
    phases: list[str]
    checks: list[str]
    mode: str = "positive"
    max_examples: int | None = None
    workers: int = 1
    suppress_health_check: list[str] = field(default_factory=list)  # Hypothesis' health checks not run, by name
    request_timeout: float = 30.0  # seconds per request; a request that takes longer is a timeout error
    cache_dir: Path | None = None  # Hypothesis' folder (never the working directory)


@dataclass(frozen=True)
class StRunDefaults:
    """What `st run` of the installed schemathesis does without --mode, --checks and --phases: its mode
    (positive|negative|all), the checks it runs and the phases, in its order; `phase_names` are those it accepts."""

    mode: str
    checks: list[str]
    phases: list[str]
    phase_names: list[str]


@functools.cache
def st_run_defaults() -> StRunDefaults:
    """`st run`'s defaults, read from schemathesis itself (its `run` command's options, its configuration's checks),
    so that the harness follows the installed version. Raises SchemathesisUnsupported when they cannot be read there."""
    from harness.errors import SchemathesisUnsupported

    try:
        import schemathesis.specs.openapi.checks  # noqa: F401 - registers the OpenAPI checks
        from schemathesis.checks import CHECKS
        from schemathesis.cli import schemathesis as st
        from schemathesis.config import SchemathesisConfig

        options = {option.name: option for option in st.commands["run"].params}
        mode, phases = options["generation_modes"], options["phases"]
        configured = SchemathesisConfig().projects.get_default().checks
        checks = [name for name in CHECKS.get_all_names() if configured.get_by_name(name=name).enabled]
        return StRunDefaults(mode=str(mode.default), checks=checks, phases=_names(phases.default),
                             phase_names=list(getattr(phases.type, "choices", None) or _names(phases.default)))
    except (ImportError, KeyError, AttributeError) as error:
        raise SchemathesisUnsupported(f"cannot read `st run`'s default mode, checks and phases from the installed "
                                      f"schemathesis ({type(error).__name__}: {error})",
                                      hint="Install a schemathesis the harness supports (pytest-topology[fuzz]), or "
                                           "give the run's mode, checks and phases as options.") from None


def _names(text: Any) -> list[str]:
    return [part.strip() for part in (text if isinstance(text, str) else ",".join(text)).split(",") if part.strip()]


def check_names() -> list[str]:
    """The checks schemathesis knows (its registry, with the OpenAPI ones), and `all` (every one), as `st run`
    accepts them."""
    import schemathesis.specs.openapi.checks  # noqa: F401 - registers the OpenAPI checks
    from schemathesis.checks import CHECKS

    return [*CHECKS.get_all_names(), "all"]


def health_check_names() -> list[str]:
    """The Hypothesis health checks `st run --suppress-health-check` accepts (schemathesis' names, `all` included)."""
    from schemathesis.config import HealthCheck

    return [check.value for check in HealthCheck]


def run_schema(schema: Any, settings: EngineSettings, headers: Callable[[], dict[str, str]] | None,
               baseline: Any = None) -> EngineRun:
    """Run schemathesis' engine over `schema` (base URL already set). Never raises for what the service does; a
    KeyboardInterrupt is re-raised when the engine reports an interruption.

    `headers`: the service's auth headers, called once when the run starts and sent with every request, as `st run
    -H NAME:VALUE` sends them: schemathesis then neither generates those headers nor leaves them out of its negative
    cases (with an auth provider instead, a case that tests a missing Authorization goes without it: other answers,
    other requests and findings than `st run` with the same seed). A token that expires within the run is not
    renewed within it, as with `st run -H`.

    `baseline`: the schemathesis `Baseline` of the entries for this service (harness.fuzz.baseline.for_service): the
    engine gets them as a file, as `st run --baseline FILE` gives it (a known failure does not end the search for
    new ones), and each failed check one of them accepts carries its entry's id (Finding.accepted)."""
    from schemathesis.config import HealthCheck
    from schemathesis.engine import events, from_schema
    from schemathesis.generation import GenerationMode

    _hypothesis_home(settings.cache_dir)
    modes = {"positive": [GenerationMode.POSITIVE], "negative": [GenerationMode.NEGATIVE],
             "all": [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]}[settings.mode]
    schema.config.seed = settings.seed
    schema.config.update(workers=settings.workers, request_timeout=settings.request_timeout,
                         suppress_health_check=[HealthCheck(name) for name in settings.suppress_health_check])
    # An example database of its own, empty, as `st run`'s in a folder without `.hypothesis`: within the run,
    # Hypothesis replays there what failed (the stateful phase's next rounds do; without one they find less), and
    # nothing of an earlier run is replayed, so the seed alone decides the run.
    examples = tempfile.TemporaryDirectory(prefix="harness-examples-")
    schema.config.generation.update(modes=modes, database=examples.name)
    if settings.max_examples is not None:
        schema.config.generation.update(max_examples=settings.max_examples)
    schema.config.checks.update(included_check_names=settings.checks)
    schema.config.phases.update(phases=settings.phases)
    if headers is not None:  # once, as `st run -H` takes them: see the docstring
        schema.config.update(headers=headers())
    # the service's baseline entries only, in a file of their own: the engine and the verdicts see the same ones
    entries = tempfile.TemporaryDirectory(prefix="harness-baseline-") if baseline is not None else None
    if baseline is not None and entries is not None:
        baseline.save(Path(entries.name) / "baseline.json")
        schema.config.update(baseline=str(Path(entries.name) / "baseline.json"))

    run = EngineRun()
    found: dict[Any, Finding] = {}
    counted = _st_run_statistic(baseline)  # which failed checks `st run` counts (and writes to a baseline)

    def add(finding: Finding, phase: str, identity: Any = None) -> None:
        known = found.setdefault(identity or finding.key, finding)
        if phase and phase not in known.phases:
            known.phases.append(phase)

    with examples, entries or contextlib.nullcontext(), _as_in_st_run():  # the same seed draws as `st run`
        for event in from_schema(schema).execute():
            if isinstance(event, events.ScenarioFinished):
                phase = _PHASE_NAMES.get(event.phase.value, event.phase.value)
                # sign-up/login calls that only prepare the run (schemathesis >= 4.32; older ones have none)
                if not getattr(event, "is_test_scenario", True):
                    continue
                _count(run, event.recorder, event.label if phase in UNIT_PHASES else None)
                counted.on_scenario_finished(event.recorder)
                timed = STATEFUL if phase == STATEFUL else event.label if phase in UNIT_PHASES else None
                if timed:  # each case's own time in JUnit, from schemathesis' own measure of its scenarios
                    run.seconds_by_operation[timed] = run.seconds_by_operation.get(timed, 0.0) + float(
                        event.elapsed_time or 0.0)
                if phase == STATEFUL:
                    run.stateful_requests += len(event.recorder.interactions)
                for finding, identity in _check_failures(schema, event.recorder, event.label, phase,
                                                         baseline):
                    add(finding, phase, identity)
                if event.skip_reason and event.label:
                    run.skip_reasons.setdefault(event.label, set()).add(event.skip_reason)
                if event.skip_warning is not None and event.label:
                    add(Finding(event.label, str(event.skip_warning.value),
                                f"skipped: {event.skip_reason or ''}".strip(), kind="error"), phase)
            elif isinstance(event, events.NonFatalError):
                phase = _PHASE_NAMES.get(event.phase.value, event.phase.value) if event.phase else ""
                add(_error_finding(event, phase), phase)
            elif isinstance(event, events.SchemaAnalysisWarnings):
                for warning in event.warnings:
                    add(Finding(warning.operation_label or SERVICE_WIDE, str(warning.kind.value), warning.message,
                                kind="error"), "")
            elif isinstance(event, events.FatalError):
                add(Finding(SERVICE_WIDE, "fatal_error", f"schemathesis stopped: {type(event.exception).__name__}: "
                            f"{event.exception}", kind="error"), "")
            elif isinstance(event, events.Interrupted):
                raise KeyboardInterrupt
    run.exchanges.sort(key=lambda exchange: exchange.answered)
    # one failure two checks report alike (a response without Content-Type: content_type_conformance and
    # response_schema_conformance) is one for `st run`, under the check that reported it first: its count, and the
    # one entry its baseline gets (a baseline of `st run`'s then accepts the harness's run, and the reverse)
    run.findings = [finding for finding in found.values()
                    if finding.identity is None or finding.identity in counted.observed_failures]
    for finding in run.findings:  # an error event names no recorded request: the first one that got no answer
        if finding.exchange is None and finding.request:
            finding.exchange = next((e for e in run.exchanges if e.status is None
                                     and f"{e.method} {e.target}" == finding.request), None)
    return run


_LOCAL_CONSTANTS = threading.Lock()
_hidden: list[Callable[[], Any]] = []  # Hypothesis' own function while runs are under way (one per run)


@contextlib.contextmanager
def _as_in_st_run() -> Iterator[None]:
    """Inside the block Hypothesis sees the local constants `st run`'s process has (its launcher's), and no others.

    Hypothesis mixes into the data it draws the literals (numbers, strings) of every imported "local" module: one
    outside site-packages and the standard library, such as the harness itself when it is installed editable, a
    topology's auth hook, or a pytest session's conftest and application code. `st run`'s only local module is its
    own launcher script (`st` in the environment's scripts folder), so the harness draws with that script's literals
    and nothing else: with the same seed, the same data and failures (the stateful phase draws them). Restored when
    the last run ends, so the user's own Hypothesis tests in the same process keep theirs."""
    from hypothesis.internal.conjecture import providers

    if not hasattr(providers, "_get_local_constants"):  # a Hypothesis older than local constants (< 6.131)
        yield
        return
    with _LOCAL_CONSTANTS:
        if not _hidden:
            _hidden.append(providers._get_local_constants)
            constants = _st_launcher_constants()
            providers._get_local_constants = lambda: constants
            providers.CONSTANTS_CACHE.cache.clear()  # the draws' pools, computed with the local constants
        else:
            _hidden.append(_hidden[0])
    try:
        yield
    finally:
        with _LOCAL_CONSTANTS:
            original = _hidden.pop()
            if not _hidden:
                providers._get_local_constants = original
                providers.CONSTANTS_CACHE.cache.clear()


def _st_launcher_constants() -> Any:
    """The literals Hypothesis finds in `st run`'s launcher script (empty when it is not installed)."""
    import sysconfig

    # not in providers' __all__, but imported there (from constants_ast) in every Hypothesis schemathesis 4 allows
    from hypothesis.internal.conjecture.providers import Constants  # type: ignore[attr-defined]

    launcher = Path(sysconfig.get_path("scripts")) / "st"
    try:  # Hypothesis' own reading of a module's literals (internal: a version without it draws with none)
        from hypothesis.internal.constants_ast import _constants_from_source

        return _constants_from_source(launcher.read_bytes(), limit=True)
    except (ImportError, TypeError, OSError, SyntaxError, ValueError):
        return Constants()


def _count(run: EngineRun, recorder: Any, label: str | None) -> None:
    for case_id, interaction in recorder.interactions.items():
        node = recorder.cases.get(case_id)
        operation = node.value.operation.label if node is not None else label
        run.requests += 1
        run.exchanges.append(_exchange(interaction))
        if operation:
            run.requests_by_operation[operation] += 1
        if label and interaction.response is not None:
            run.statuses.setdefault(label, Counter())[interaction.response.status_code] += 1


def _st_run_statistic(baseline: Any) -> Any:
    """schemathesis' own running statistic of a run, as `st run` keeps it (`baseline`: the entries it matches)."""
    from schemathesis.engine.statistic import Statistic

    statistic = Statistic()
    statistic.baseline = baseline
    return statistic


def _sent_as(case: Any, label: str | None) -> str:
    """How `st run` names the request of `case` when it is not `label`'s own: a method the document does not
    declare for that path ("TRACE /quotes"), sent by the coverage phase on another operation's behalf; else ""."""
    try:
        from schemathesis.generation.meta import coverage_scenario, report_label
    except ImportError:  # (a schemathesis without it names every case by its operation)
        return ""
    named = report_label(operation_label=label or "", method=case.method, path=case.path,
                         scenario=coverage_scenario(case))
    return named if label and named != label else ""


def _check_failures(schema: Any, recorder: Any, label: str | None, phase: str, baseline: Any = None
                    ) -> list[tuple[Finding, Any]]:
    """The failed checks of a scenario, each with its identity: schemathesis' own (the failure's class, operation
    and key: one finding per operation and kind of failure, as `st run` counts them), so phases merge. Each failed
    check has its stable code and baseline identity, and the id of the `baseline` entry that accepts it, matched by
    schemathesis' `Baseline.match` as `st run` matches it."""
    from schemathesis.baseline import failure_identity
    from schemathesis.core.failures import format_failures, is_reproducible_failure

    findings: list[tuple[Finding, tuple[str, Any] | None]] = []
    for case_id, checks in recorder.checks.items():
        node = recorder.cases.get(case_id)
        case = node.value if node is not None else None
        operation = label or (f"stateful ({case.method} {case.path})" if case is not None else "stateful")
        interaction = recorder.interactions.get(case_id)
        response = interaction.response if interaction is not None else None
        request = _request_line(interaction)
        exchange = _exchange(interaction) if interaction is not None else None
        for check in checks:
            if check.status.name == "ERROR":
                findings.append((Finding(operation, check.name, f"the check {check.name} crashed", kind="error",
                                         request=request, exchange=exchange), None))
            if check.status.name != "FAILURE" or check.failure_info is None:
                continue
            failure = check.failure_info.failure
            answer = format_failures(case_id=None, response=response, failures=[], curl=None,
                                     config=schema.config.output).strip()  # "[500] Internal Server Error: `...`"
            detail = "\n\n".join(part for part in (_dedent(failure.message or ""), answer) if part)
            entry = baseline.match(failure, check.name) if baseline is not None else None
            findings.append((Finding(operation, check.name, failure.title, detail=detail,
                                     curl=check.failure_info.code_sample.strip(), request=request,
                                     exchange=exchange, code=str(failure.code),
                                     identity=failure_identity(failure, check.name),
                                     reproducible=is_reproducible_failure(failure),
                                     accepted=entry.id if entry is not None else "",
                                     sent_as=_sent_as(case, label) if case is not None else ""),
                             (check.name, failure)))
    return findings


def _error_finding(event: Any, phase: str) -> Finding:
    info = event.info
    title = info.title
    message = info.message.strip()
    extras = "\n".join(info.extras) if info.extras else ""
    curl = (info.code_sample or "").strip()
    request = ""
    if curl.startswith("curl "):
        words = curl.split()
        if "-X" in words and words.index("-X") + 1 < len(words):
            request = f"{words[words.index('-X') + 1]} {_target(words[-1].strip(chr(39)))}"
    operation = event.label if phase != STATEFUL else "stateful"
    check = title.lower().replace(" ", "_")
    summary = message.splitlines()[0] if message else title
    return Finding(operation or SERVICE_WIDE, check, f"{title}: {summary}", kind="error",
                   detail="\n".join(x for x in (message, extras) if x), curl=curl, request=request)


def _request_line(interaction: Any) -> str:
    if interaction is None:
        return ""
    return f"{interaction.request.method} {_target(interaction.request.uri)}"


def _exchange(interaction: Any) -> Exchange:
    """The request of a recorded interaction, its status and its times (the interaction is recorded when the answer
    came; `elapsed` is how long the answer took)."""
    response = interaction.response
    elapsed = float(getattr(response, "elapsed", 0.0) or 0.0) if response is not None else 0.0
    return Exchange(interaction.request.method, _target(interaction.request.uri),
                    response.status_code if response is not None else None,
                    interaction.timestamp - elapsed, interaction.timestamp)


def _target(url: str) -> str:
    """"/path?query" of a URL: what a service's access log shows."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip()


def _hypothesis_home(cache_dir: Path | None) -> None:
    """Hypothesis writes a `.hypothesis` folder; keep it in the harness's cache, not in the working directory."""
    from hypothesis.configuration import set_hypothesis_home_dir

    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        set_hypothesis_home_dir(cache_dir)

