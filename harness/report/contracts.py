"""Pact verification as people read it: a line per pact; for a failure the provider's log of that verification
first and the verifier's report last (so the last screen of a CI log shows the failure); a closing summary; JUnit
with one case per interaction."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness.contracts.verify import PactResult
from harness.report.junit import Case, write_junit
from harness.report.text import strip_ansi

MARK = {"verified": "[green]verified[/green]", "failed": "[red]FAILED[/red]", "error": "[red]ERROR[/red]",
        "excluded": "[cyan]excluded[/cyan]"}


def headline(result: PactResult) -> str:
    """`verified a->b: 3 interaction(s) in 0.41 s (file.json)` and the like, without markup."""
    where = f" ({result.path.name})"
    if result.verdict == "excluded":
        return f"excluded {result.edge}{where}: {result.reason}"
    if result.verdict == "error":
        return f"ERROR {result.edge}{where}: {result.reason}"
    failed = sum(not i.passed for i in result.interactions)
    detail = f", {failed} failed" if failed else ""
    if failed and result.passed:  # the Verifier passed the pact: what failed is marked pending in it (V4)
        detail += " (pending: shown, not counted, as pact-python's Verifier does)"
    return (f"{'verified' if result.passed else 'FAILED'} {result.edge}: {result.interaction_count} "
            f"interaction(s){detail} in {result.seconds:.2f} s{where}")


def failure_text(result: PactResult, reason: bool = True) -> str:
    """The provider's log of this verification, then the verifier's report (its summary ends the text), then, for
    an error, its reason (`reason=False`: not, when the headline above already says it)."""
    parts = []
    if result.provider_log.strip() and not result.ok:
        parts.append(f"--- log of {result.provider_service or result.provider} during this verification ---\n"
                     f"{strip_ansi(result.provider_log).rstrip()}\n--- end of log ---")
    if result.report.strip():
        parts.append(strip_ansi(result.report).strip("\n"))
    if result.verdict == "error" and reason:
        parts.append(f"ERROR {result.edge}: {result.reason}")
    return "\n".join(parts)


def print_result(result: PactResult, err: Console) -> None:
    mark = MARK[result.verdict]
    err.print(f"{mark} {escape(headline(result).split(' ', 1)[1])}", soft_wrap=True, highlight=False)
    if not result.ok or any(not i.passed for i in result.interactions):  # a failing pending interaction too
        text = failure_text(result, reason=False)  # the headline says it
        if text:
            err.print(text, markup=False, highlight=False, soft_wrap=True)


def print_summary(results: list[PactResult], console: Console) -> None:
    """The last lines of a run: counts, then one line per pact that is neither verified nor excluded."""
    counts = {v: sum(r.verdict == v for r in results) for v in ("verified", "failed", "error", "excluded")}
    console.print("pacts: " + ", ".join(f"{n} {v}" for v, n in counts.items()), highlight=False, soft_wrap=True)
    for result in results:
        if not result.ok:
            console.print(headline(result), markup=False, highlight=False, soft_wrap=True)
            for interaction in result.interactions:
                if not interaction.passed:
                    console.print(f"  - {interaction.description}: " + "; ".join(interaction.problems),
                                  markup=False, highlight=False, soft_wrap=True)


def junit_cases(result: PactResult) -> list[Case]:
    """One case per interaction (the core's judgement); one case for a pact with an error or an exclusion."""
    classname = f"pact.{result.provider_service or result.provider or 'unreadable'}.{result.edge}"
    if result.verdict in ("error", "excluded") or not result.interactions:
        return [Case(classname, result.path.name, result.seconds,
                     error=result.reason if result.verdict == "error" else None,
                     skipped=result.reason if result.verdict == "excluded" else None,
                     failure=f"pact {result.edge} failed verification" if result.verdict == "failed" else None,
                     details=result.report, output=result.provider_log if not result.ok else "")]
    return [Case(classname, interaction.description, interaction.seconds,
                 failure=None if interaction.passed else "; ".join(interaction.problems) or "failed",
                 details="" if interaction.passed else failure_text(result),
                 output="" if interaction.passed else result.provider_log)
            for interaction in result.interactions]


def write_pact_junit(results: list[PactResult], file: Path) -> Path:
    """One test case per interaction (and per pact in error or excluded)."""
    return write_junit(file, "pact verification", [case for r in results for case in junit_cases(r)])
