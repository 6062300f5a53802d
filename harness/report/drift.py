"""Pact <-> OpenAPI drift as people read it: a line per pact with its verdict and where the document came from, each
drift with the interaction, the JSON pointer, what the pact says and what the spec says; and JUnit, one case per
interaction."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.contracts.drift import CLEAN, DRIFT, ERROR, NOT_APPLICABLE, PactDrift
from harness.report.junit import Case, write_junit

STYLE = {CLEAN: "green", DRIFT: "red", ERROR: "red", NOT_APPLICABLE: "yellow"}


def result_text(result: PactDrift) -> str:
    """The verdict of one pact as plain text: a head line, then the reason or each drift."""
    head = f"{result.verdict.upper() if result.verdict in (DRIFT, ERROR) else result.verdict} {result.edge} " \
           f"({result.path.name})"
    lines = [head]
    if result.source:
        lines.append(f"  spec: {result.source}")
    if result.reason:
        lines.append(f"  {result.reason}")
    for interaction in result.interactions:
        if interaction.findings:
            lines.append(f"  interaction '{interaction.description}'"
                         + (f" ({interaction.operation})" if interaction.operation else ""))
        for finding in interaction.findings:
            lines += [f"    at   {finding.pointer}",
                      f"    pact {finding.pact_says}",
                      f"    spec {finding.spec_says}" + (f"  [{finding.spec_pointer}]" if finding.spec_pointer else "")]
    return "\n".join(lines)


def print_result(result: PactDrift, console: Console) -> None:
    text = result_text(result)
    head, _, rest = text.partition("\n")
    word, _, tail = head.partition(" ")
    console.print(f"[{STYLE[result.verdict]}]{word}[/] {tail}", markup=True, highlight=False, soft_wrap=True)
    if rest:
        console.print(rest, markup=False, highlight=False, soft_wrap=True)


def summary(results: list[PactDrift]) -> str:
    counts = {verdict: sum(r.verdict == verdict for r in results) for verdict in (CLEAN, DRIFT, ERROR, NOT_APPLICABLE)}
    return f"{len(results)} pact(s): " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n)


def write_drift_junit(results: list[PactDrift], file: Path) -> Path:
    """One test case per interaction (per pact when it has none to check: an error or a not-applicable pact)."""
    cases: list[Case] = []
    for result in results:
        classname = f"drift.{result.provider}.{result.consumer}"
        if result.verdict == ERROR or not result.interactions:
            cases.append(Case(classname, result.path.name, result.seconds,
                              error=result.reason if result.verdict == ERROR else None,
                              skipped=result.reason if result.verdict == NOT_APPLICABLE else None))
            continue
        share = result.seconds / len(result.interactions)
        for interaction in result.interactions:
            details = "\n".join(f"at {f.pointer}\npact {f.pact_says}\nspec {f.spec_says} [{f.spec_pointer}]"
                                for f in interaction.findings)
            cases.append(Case(classname, interaction.description, share,
                              failure=f"{len(interaction.findings)} drift(s) from {result.source}"
                              if interaction.verdict == DRIFT else None,
                              skipped=interaction.reason if interaction.verdict == NOT_APPLICABLE else None,
                              details=details))
    return write_junit(file, "pact drift", cases)
