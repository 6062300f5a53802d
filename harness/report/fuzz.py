"""Fuzzing results as people read them: a line per service; each distinct finding with its check, the phases it was
seen in, schemathesis' detail (status, schema path and value, response excerpt), the curl command that redoes it, the
service's log lines of that request (its access line and traceback, harness.fuzz.logs) and the seed; and JUnit."""

from __future__ import annotations

import shlex
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from harness.fuzz.baseline import SERVICE_KEY, BaselineOutcome
from harness.fuzz.results import SERVICE_WIDE, Finding, ServiceResult
from harness.report.junit import Case, item_classname, located, write_junit

if TYPE_CHECKING:
    from harness.model.topology import TopologySpec


@dataclass(frozen=True)
class Rerun:
    """How a front-end is run again: its command without the options that choose the fuzzing (`harness fuzz
    --topology t.yaml`), and its flag for each of those (seed, service, mode, checks, phases, max_examples,
    workers), as the front-end's options name them (harness.options: `ResolvedOptions.flags("fuzz")`)."""

    command: list[str]
    flags: dict[str, str] = field(default_factory=dict)
    # set when the run fuzzed a topology that was already running: what gets a fresh one (`harness down ...`);
    # the command then runs the same requests, but against whatever state the services are in by then
    reused: str = ""

    def for_result(self, result: ServiceResult) -> str:
        """The command that reproduces `result`: its seed, the services fuzzed before it and itself (in that order:
        their requests may have changed its answers), and the options given to its run."""
        words = [*self.command, self.flags["seed"], str(result.seed)]
        for service in [*result.fuzzed_before, result.service]:
            words += [self.flags["service"], service]
        for name, value in result.given.items():
            words += [self.flags[name], value]
        return shlex.join(words)

    def line(self, result: ServiceResult) -> str:
        """`rerun with: COMMAND`; after a run on a topology that was already running, what that command does and
        does not redo (the same requests; not the state the services were in)."""
        if not self.reused:
            return "rerun with: " + self.for_result(result)
        return (f"same seed and options: {self.for_result(result)} (not a reproduction: this run used a topology that "
                f"was already running, whose state earlier runs left; `{self.reused}` first for a fresh one)")


def reused_note(name: str, down: str) -> str:
    """The one line that says a run fuzzed a topology already running (`harness up --detach`): its findings depend
    on the state earlier runs and tests left in it, and how to get a fresh one (`down`: the command that removes it)."""
    return (f"note: topology {name} was already running: what fuzzing finds depends on the state earlier runs left in "
            f"its services, so identical runs can find different things; `{down}` first to fuzz a fresh one "
            "(reproducible)")


def summary_line(result: ServiceResult) -> str:
    rate = result.requests / result.seconds if result.seconds else 0.0
    counts = ""
    if result.findings:
        counts = f": {len(result.failures)} failure(s), {len(result.errors)} error(s)"
        if result.accepted:
            counts += f", {len(result.accepted)} accepted by the baseline"
    return (f"{result.service} at {result.url}: {len(result.operations)} operation(s), {result.requests} requests in "
            f"{result.seconds:.1f} s ({rate:.0f}/s), seed {result.seed}, mode {result.mode}, phases "
            f"{','.join(result.phases)}, {checks_said(result.checks)}{counts}")


def checks_said(checks: list[str]) -> str:
    """The checks a service ran, as its line says them: `st run's default checks (N)` when they are `st run`'s
    defaults (the run's first line lists those once: a CI log need not repeat them per service), else `checks A,B`."""
    from harness.fuzz.engine import st_run_defaults

    if checks == st_run_defaults().checks:
        return f"st run's default checks ({len(checks)})"
    return f"checks {','.join(checks)}"


def run_headline(names: Iterable[str], seed: int, settings: dict[str, str], defaults: Iterable[str]) -> str:
    """The line a fuzzing run starts with: its services in the order they run, its seed, and its mode, checks and
    phases (`settings`), saying which of them are `st run`'s defaults (the names in `defaults`)."""
    said = [f"{name} {value}" + (" (st run's default)" if name in defaults else "") for name, value in settings.items()]
    return f"fuzzing {', '.join(names)}, one after another, with seed {seed}; " + "; ".join(said)


def print_result(result: ServiceResult, err: Console, rerun: Rerun | None = None) -> None:
    if result.passed:
        err.print(f"[green]passed[/green] {summary_line(result)}", highlight=False, soft_wrap=True)
    else:
        err.print(f"[red]FAILED[/red] {summary_line(result)}", highlight=False, soft_wrap=True)
    if result.excluded:
        err.print(_excluded_text(result), markup=False, highlight=False, soft_wrap=True)
    if not result.passed:
        err.print(findings_text(result, result.new, rerun), markup=False, highlight=False, soft_wrap=True)
    if result.accepted:
        err.print(accepted_text(result.accepted), markup=False, highlight=False, soft_wrap=True)


def closing_text(results: list[ServiceResult]) -> str:
    """The last lines of a run, as pytest's short test summary: one per new finding, `FAILED SERVICE OPERATION: TITLE
    (CHECK [CODE])` (`ERROR` for one that kept something from being tested), in the order reported; then the
    counts of services and findings."""
    lines = [f"{'FAILED' if f.kind == 'failure' else 'ERROR'} {r.service} {f.operation}: {f.title} ({f.label})"
             for r in results for f in r.new]
    passed = sum(r.passed for r in results)
    accepted = sum(len(r.accepted) for r in results)
    lines.append(f"fuzzed {len(results)} service(s): {passed} passed, {len(results) - passed} failed; "
                 f"{sum(len(r.failures) for r in results)} failure(s), {sum(len(r.errors) for r in results)} "
                 f"error(s)" + (f", {accepted} accepted by the baseline" if accepted else ""))
    return "\n".join(lines)


def accepted_text(findings: list[Finding]) -> str:
    """A line per failure a baseline entry accepts: reported, not failing (its full report is that of the run
    that recorded it)."""
    return "\n".join(f"  accepted {f.operation}: {f.title} ({f.label}, baseline entry {f.accepted})"
                     for f in findings)


def baseline_text(outcome: BaselineOutcome, prune_flag: str = "--baseline-prune") -> str:
    """What a run did with its baseline file: the entries that accepted a failure, those whose failure was not found
    (probably fixed: listed so that the file can shrink), those whose operation was not tested, and what was
    written."""
    lines = [f"baseline {outcome.path}: {len(outcome.accepted)} entr{'y' if len(outcome.accepted) == 1 else 'ies'} "
             f"accepted a failure" + (f" ({', '.join(outcome.accepted)})" if outcome.accepted else "")]

    def entry(data: dict[str, object]) -> str:
        service = f"{data['service']} " if data.get("service") else ""
        return f"    {data['id']} {service}{data['operation']}: {data['check']} ({data['failure']})"

    if outcome.not_reproduced:
        lines.append(f"  {len(outcome.not_reproduced)} not reproduced (the operation was tested, the failure not "
                     f"found: probably fixed; {prune_flag} removes them):")
        lines += [entry(data) for data in outcome.not_reproduced]
    if outcome.not_reached:
        lines.append(f"  {len(outcome.not_reached)} not reached (the run did not test the operation; kept):")
        lines += [entry(data) for data in outcome.not_reached]
    services = sorted({str(data[SERVICE_KEY]) for data in outcome.not_fuzzed})
    for service in services:  # (`--service` left them out; kept)
        mine = [data for data in outcome.not_fuzzed if data[SERVICE_KEY] == service]
        lines.append(f"  {len(mine)} of service {service}: not fuzzed in this run (kept):")
        lines += [entry(data) for data in mine]
    if outcome.expired:
        lines.append(f"  expired (past their `expires` date, they accept nothing): {', '.join(outcome.expired)}")
    if outcome.written:
        said = [f"{outcome.recorded} recorded"] if outcome.recorded is not None else []
        said += [f"{len(outcome.pruned)} pruned"] if outcome.pruned is not None else []
        lines.append(f"  written: {', '.join(said) or 'unchanged'}")
    return "\n".join(lines)


def baseline_counts(outcome: BaselineOutcome) -> str:
    """One line of counts of a baseline's entries (a CI step summary): `7 accepted by the baseline b.json, 1 expired,
    2 not reproduced (probably fixed)`."""
    said = [f"{len(outcome.accepted)} accepted by the baseline {outcome.path.name}"]
    said += [f"{len(outcome.expired)} expired"] if outcome.expired else []
    said += [f"{len(outcome.not_reproduced)} not reproduced (probably fixed)"] if outcome.not_reproduced else []
    return ", ".join(said)


def _excluded_text(result: ServiceResult) -> str:
    """A line per written exclusion of the service: what is not checked, and why."""
    return "\n".join(f"  excluded {check}: {reason}" for check, reason in result.excluded.items())


def findings_text(result: ServiceResult, findings: list[Finding], rerun: Rerun | None = None) -> str:
    """Each finding with its detail, the curl command(s) that redo it and the service's log lines for it; then how
    to rerun with the same seed. Findings of one failing request (a 500 fails ST101 and ST103) are named one after
    the other and share its response, curl and log, printed once, as `st run` groups the checks of a test case."""
    lines: list[str] = []
    for group in by_request(findings):
        for finding in group:
            where = f", {', '.join(finding.phases)} phase{'s' if len(finding.phases) > 1 else ''}" \
                if finding.phases else ""
            verdict = "" if finding.kind == "failure" else "ERROR "
            lines.append(f"  {verdict}{finding.operation}: {finding.title} ({finding.label}{where})")
            if finding.detail.strip() and not shown_by_another(finding, group):
                lines.append(textwrap.indent(finding.detail.rstrip(), "      "))
        if group[0].curl:
            lines.append("    reproduce: " + group[0].curl.replace("\n", "\n               "))
        lines += _log_text(next((f for f in group if f.log or f.log_note), group[0]))  # one request, one log
    if rerun is not None:  # the front-end's command (without one: no hint)
        lines.append("  " + rerun.line(result))
    return "\n".join(lines)


def shown_by_another(finding: Finding, group: list[Finding]) -> bool:
    """Whether another finding of the group shows this one's detail (the response both ST101 and ST103 quote): in a
    longer detail, or the same one earlier."""
    detail = finding.detail.strip()
    mine = group.index(finding)
    return any(detail in other.detail and (other.detail.strip() != detail or position < mine)
               for position, other in enumerate(group) if position != mine)


def by_request(findings: list[Finding]) -> list[list[Finding]]:
    """The findings grouped by the request that failed (operation, kind and curl alike), in the order first seen; a
    finding without a curl is a group of its own."""
    groups: dict[object, list[Finding]] = {}
    for index, finding in enumerate(findings):
        key = (finding.operation, finding.kind, finding.curl) if finding.curl else index
        groups.setdefault(key, []).append(finding)
    return list(groups.values())


def _log_text(finding: Finding) -> list[str]:
    """The service's log lines of the failing request under a finding, and why some are not shown (fuzz.logs)."""
    if finding.log:
        note = [f"      ({finding.log_note})"] if finding.log_note else []
        return ["    the service's log for it:", *(f"      | {line}" for line in finding.log), *note]
    return [f"    the service's log for it: {finding.log_note}"] if finding.log_note else []


SETUP_LABEL = "setup"  # the item of what concerns a service's run as a whole


def item_name(service: str, label: str) -> str:
    """`fuzz[SERVICE OPERATION]`, `fuzz[SERVICE stateful]`, `fuzz[SERVICE excluded CHECK]`; `fuzz[SERVICE setup]` for
    what concerns the service's run as a whole (its document, its base path, an engine error; not its operations'
    failures, which their own items carry): the name of a pytest item and of its JUnit case from either
    front-end."""
    return f"fuzz[{service} {SETUP_LABEL if label == SERVICE_WIDE else label}]"


def fuzz_case(result: ServiceResult, label: str, name: str, classname: str = "", rerun: Rerun | None = None) -> Case:
    """The verdict of one operation of a service's run (`label`; "stateful": its sequences; SERVICE_WIDE: the
    service as a whole), for a pytest item and a JUnit case alike: an error when an error-kind finding is among its
    new findings, else a failure when a check failed that no baseline entry accepts, skipped when it is the stateful
    sequences and none ran (not a pass), else passed. Each distinct finding appears once; the failures a baseline
    accepts are in `output` (JUnit's system-out): the operation was tested and its verdict is a pass, as `st run
    --baseline` exits 0, so they are neither failures nor skips (a skip would say it was not tested)."""
    everything = result.findings_for(label)
    mine = [f for f in everything if not f.accepted]
    accepted = accepted_text([f for f in everything if f.accepted])
    seconds = case_seconds(result, label)
    if not mine:
        skipped = result.stateful_not_run if label == "stateful" else ""
        return Case(classname, name, seconds, skipped=skipped or None, output=accepted)
    message = f"{len(mine)} finding(s): " + "; ".join(f"{f.title} ({f.label})" for f in mine)
    errors = any(finding.kind == "error" for finding in mine)
    details = findings_text(result, mine, rerun) + (f"\n{accepted}" if accepted else "")
    return Case(classname, name, seconds, error=message if errors else None, failure=None if errors else message,
                details=details, output=accepted)


def case_seconds(result: ServiceResult, label: str) -> float:
    """A case's share of its service's run: an operation's (or the sequences') own time as schemathesis measured
    its scenarios; the service as a whole (`setup`) has the rest (loading the document, the service's checks), so
    the cases of a run add up to its wall time."""
    if label != SERVICE_WIDE:
        return result.seconds_by_operation.get(label, 0.0)
    return max(result.seconds - sum(result.seconds_by_operation.values()), 0.0)


def fuzz_cases(results: list[ServiceResult], topology: Path, rerun: Rerun | None = None,
               spec: TopologySpec | None = None) -> list[Case]:
    """The cases `pytest --fuzz --junitxml` writes for its items, run from the current folder (`topology`: the first
    topology file, under which the items are; names: item_name; verdicts: fuzz_case): per service one for the
    service as a whole (its base path, an engine error), one per operation, one for its stateful sequences, and a
    skipped one per written exclusion with its reason. With `spec`, each case has its file and line (the operation
    in the OpenAPI document (the stateful sequences: their failing step's, ServiceResult.place_of), else the service
    in the topology file). Each case has its share of its service's run time (case_seconds)."""
    from harness.report.annotations import operation_location, service_location

    classname = item_classname(topology, Path.cwd())
    cases: list[Case] = []
    for result in results:
        for label in [SERVICE_WIDE, *result.operations, "stateful"]:
            case = fuzz_case(result, label, item_name(result.service, label), classname, rerun)
            where = operation_location(spec, result.service, result.place_of(label)) if spec is not None else None
            cases.append(located(case, where.file, where.line, Path.cwd()) if where is not None else case)
        where = service_location(spec, result.service) if spec is not None else None
        for check, reason in result.excluded.items():
            case = Case(classname, item_name(result.service, f"excluded {check}"), skipped=f"excluded: {reason}")
            cases.append(located(case, where.file, where.line, Path.cwd()) if where is not None else case)
    return cases


def write_fuzz_junit(results: list[ServiceResult], file: Path, topology: Path, rerun: Rerun | None = None,
                     spec: TopologySpec | None = None) -> Path:
    """fuzz_cases as JUnit XML; the suite's time is the sum of the services' (they run one after another)."""
    return write_junit(file, "fuzz", fuzz_cases(results, topology, rerun, spec))
