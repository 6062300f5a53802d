"""Fuzzing results as people read them: a line per service, each failure with the curl command that reproduces it,
the seed and the service's log lines for it; and JUnit."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console

from harness.fuzz.session import Failure, ServiceResult
from harness.report.junit import Case, write_junit


def print_result(result: ServiceResult, err: Console) -> None:
    rate = result.requests / result.seconds if result.seconds else 0.0
    summary = (f"{result.service}: {len(result.operations)} operation(s), {result.requests} requests in "
               f"{result.seconds:.1f} s ({rate:.0f}/s), seed {result.seed}")
    if result.passed:
        err.print(f"[green]passed[/green] {summary}", highlight=False)
        return
    err.print(f"[red]FAILED[/red] {summary}: {len(result.failures)} failure(s)", highlight=False)
    err.print(failures_text(result, result.failures), markup=False, highlight=False)


def failures_text(result: ServiceResult, failures: list[Failure]) -> str:
    """Each failure with the curl command(s) that redo it and the service's log lines for it; then the seed."""
    lines = []
    for failure in failures:
        curl = failure.curl.replace("\n", "\n               ")
        lines += [f"  {failure.operation}: {failure.title} ({failure.check}, {failure.phase} phase)",
                  f"    reproduce: {curl}"]
        logged = log_lines_for(failure, result.log)
        if logged:
            lines += ["    the service's log for it:", *(f"      | {line}" for line in logged)]
    lines.append(f"  rerun with --seed {result.seed} --service {result.service}")
    return "\n".join(lines)


def log_lines_for(failure: Failure, log: str, limit: int = 5) -> list[str]:
    """The service's last log lines that mention the path of the failing request."""
    last = failure.curl.strip().splitlines()[-1].split()
    method, path = last[2] if len(last) > 2 else "", urlsplit(last[-1].strip("'")).path
    lines = [line for line in log.splitlines() if path and path in line]
    return ([line for line in lines if method in line] or lines)[-limit:]


def write_fuzz_junit(results: list[ServiceResult], file: Path) -> Path:
    """One test case per service and operation, and one per service for its stateful sequences when they failed."""
    cases: list[Case] = []
    for result in results:
        groups = {operation: [f for f in result.failures if f.operation == operation]
                  for operation in result.operations or [result.service]}
        stateful = [f for f in result.failures if f.operation not in result.operations]
        if stateful:
            groups["stateful"] = stateful
        for operation, mine in groups.items():
            details = "\n\n".join(f"{f.title} ({f.check})\n{f.curl}" for f in mine) + f"\n\nseed {result.seed}"
            cases.append(Case(f"fuzz.{result.service}", operation, failure=f"{len(mine)} failure(s)" if mine else None,
                              details=details if mine else ""))
    return write_junit(file, "fuzz", cases)
