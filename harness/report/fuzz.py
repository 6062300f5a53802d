"""Fuzzing results as people read them: a line per service; each distinct finding with its check, the phases it was
seen in, schemathesis' detail (status, schema path and value, response excerpt), the curl command that redoes it, the
service's log lines of that request (its access line and traceback, harness.fuzz.logs) and the seed; and JUnit."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rich.console import Console

from harness.fuzz.results import SERVICE_WIDE, Finding, ServiceResult
from harness.report.junit import Case, write_junit

CLI_RERUN = "rerun with --seed {seed} --service {service}"
PYTEST_RERUN = "rerun with --fuzz-seed {seed} --fuzz-service {service}"


def summary_line(result: ServiceResult) -> str:
    rate = result.requests / result.seconds if result.seconds else 0.0
    counts = ""
    if result.findings:
        counts = f": {len(result.failures)} failure(s), {len(result.errors)} error(s)"
    return (f"{result.service} at {result.url}: {len(result.operations)} operation(s), {result.requests} requests in "
            f"{result.seconds:.1f} s ({rate:.0f}/s), {result.mode} data, seed {result.seed}{counts}")


def print_result(result: ServiceResult, err: Console) -> None:
    if result.passed:
        err.print(f"[green]passed[/green] {summary_line(result)}", highlight=False, soft_wrap=True)
    else:
        err.print(f"[red]FAILED[/red] {summary_line(result)}", highlight=False, soft_wrap=True)
    if result.excluded:
        err.print(excluded_text(result), markup=False, highlight=False, soft_wrap=True)
    if not result.passed:
        err.print(findings_text(result, result.findings), markup=False, highlight=False, soft_wrap=True)


def excluded_text(result: ServiceResult) -> str:
    """A line per written exclusion of the service: what is not checked, and why."""
    return "\n".join(f"  excluded {check}: {reason}" for check, reason in result.excluded.items())


def findings_text(result: ServiceResult, findings: list[Finding], rerun: str = CLI_RERUN) -> str:
    """Each finding with its detail, the curl command(s) that redo it and the service's log lines for it; then how
    to rerun with the same seed."""
    lines: list[str] = []
    for finding in findings:
        where = f", {', '.join(finding.phases)} phase{'s' if len(finding.phases) > 1 else ''}" if finding.phases \
            else ""
        verdict = "" if finding.kind == "failure" else "ERROR "
        lines.append(f"  {verdict}{finding.operation}: {finding.title} ({finding.check}{where})")
        if finding.detail:
            lines.append(textwrap.indent(finding.detail.rstrip(), "      "))
        if finding.curl:
            lines.append("    reproduce: " + finding.curl.replace("\n", "\n               "))
        lines += log_text(finding)
    lines.append("  " + rerun.format(seed=result.seed, service=result.service))
    return "\n".join(lines)


def log_text(finding: Finding) -> list[str]:
    """The service's log lines of the failing request under a finding, and why some are not shown (fuzz.logs)."""
    if finding.log:
        note = [f"      ({finding.log_note})"] if finding.log_note else []
        return ["    the service's log for it:", *(f"      | {line}" for line in finding.log), *note]
    return [f"    the service's log for it: {finding.log_note}"] if finding.log_note else []


def write_fuzz_junit(results: list[ServiceResult], file: Path) -> Path:
    """One test case per service and operation, one for its stateful sequences, and one for the service as a whole
    when something was found about it (a base path, an engine error), and a skipped one per written exclusion
    ("excluded CHECK", the reason). A case with an error-kind finding is an
    <error>, else a <failure> when a check failed. Each distinct finding appears once."""
    cases: list[Case] = []
    for result in results:
        names = list(result.operations)
        if "stateful" in result.phases or result.findings_for("stateful"):
            names.append("stateful")
        if result.findings_for(SERVICE_WIDE):
            names.insert(0, SERVICE_WIDE)
        for name in names or [SERVICE_WIDE]:
            mine = result.findings_for(name)
            errors = [f for f in mine if f.kind == "error"]
            details = findings_text(result, mine) if mine else ""
            message = f"{len(mine)} finding(s): " + "; ".join(f"{f.title} ({f.check})" for f in mine) if mine else None
            skipped = result.stateful_not_run if name == "stateful" and not mine else None  # not a pass
            cases.append(Case(f"fuzz.{result.service}", name, error=message if errors else None,
                              failure=message if mine and not errors else None, details=details,
                              skipped=skipped or None))
        cases += [Case(f"fuzz.{result.service}", f"excluded {check}", skipped=f"excluded: {reason}")
                  for check, reason in result.excluded.items()]
    return write_junit(file, "fuzz", cases)
