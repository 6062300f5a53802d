"""Pact verification as people read it: a line per pact, the verifier's report and the provider's log for a
failure, and JUnit."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.contracts.verify import PactResult
from harness.report.junit import Case, write_junit


def print_result(result: PactResult, err: Console) -> None:
    pact = result.pact
    mark = "[green]verified[/green]" if result.passed else "[red]FAILED[/red]"
    err.print(f"{mark} {pact.edge}: {len(pact.interactions)} interaction(s) in {result.seconds:.2f} s")
    if not result.passed:
        err.print(result.report, markup=False, highlight=False)
        if result.provider_log.strip():
            err.print(f"--- log of {pact.provider} during this verification ---\n{result.provider_log}",
                      markup=False, highlight=False)


def write_pact_junit(results: list[PactResult], file: Path) -> Path:
    """One test case per pact; the verifier's report in the failure, the provider's log in system-out."""
    return write_junit(file, "pact verification", [
        Case(f"pact.{r.pact.provider}", r.pact.edge, r.seconds,
             failure=None if r.passed else f"pact {r.pact.edge} failed verification",
             details="" if r.passed else r.report, output=r.provider_log)
        for r in results])
