"""Pact <-> OpenAPI drift as people read it: a line per pact with its verdict and where the document came from, each
drift with the interaction, the JSON pointer, what the pact says and what the spec says; and JUnit, one case per
interaction, named and classed as pytest's drift items."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.contracts.drift import DRIFT, PactDrift
from harness.contracts.drift.results import WORDS
from harness.report.junit import Case, item_classname, located, write_junit
from harness.verdict import Outcome, counts

STYLE: dict[Outcome, str] = {"passed": "green", "failed": "red", "error": "red", "excluded": "yellow"}


def result_text(result: PactDrift) -> str:
    """The verdict of one pact as plain text: a head line, then the reason or each drift."""
    bad = result.outcome in ("failed", "error")
    head = f"{result.verdict.upper() if bad else result.verdict} {result.edge} ({result.path.name})"
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
    console.print(f"[{STYLE[result.outcome]}]{word}[/] {tail}", markup=True, highlight=False, soft_wrap=True)
    if rest:
        console.print(rest, markup=False, highlight=False, soft_wrap=True)


def summary(results: list[PactDrift]) -> str:
    word = {outcome: word for word, outcome in WORDS.items()}  # each outcome as a drift check says it
    found = counts(r.outcome for r in results)
    return f"{len(results)} pact(s): " + ", ".join(f"{n} {word[outcome]}" for outcome, n in found.items() if n)


def _edge_name(result: PactDrift) -> str:
    """`consumer->provider`, or the file's name when the pact cannot be read."""
    return result.edge if result.labels or result.consumer != "?" else result.path.name


def drift_case(result: PactDrift, label: str | None, name: str, classname: str = "") -> Case:
    """The verdict of one interaction of a checked pact (`label`), or of the whole file (None: unreadable, no
    interaction), for a pytest item and a JUnit case alike: passed (clean), failed (its drifts), skipped (not
    applicable, with the reason) or error (the pact's error: no document, provider not in the topology)."""
    index = result.labels.index(label) if label is not None and label in result.labels else None
    if index is not None and index < len(result.interactions):
        interaction = result.interactions[index]
        if interaction.outcome == "failed":
            return Case(classname, name, failure=f"{label}: {len(interaction.findings)} drift(s) from "
                        f"{result.source}", details=_interaction_text(result, interaction))
        if interaction.outcome == "error":  # a word nobody mapped: never a pass
            return Case(classname, name, error=f"{label}: verdict {interaction.verdict!r}",
                        details=result_text(result))
        return Case(classname, name, skipped=interaction.reason if interaction.outcome == "excluded" else None)
    if result.outcome == "excluded":
        return Case(classname, name, skipped=result.reason)
    if result.outcome == "error" or (label is not None and index is None):
        reason = result.reason or f"{result.path.name}: the drift check says nothing of interaction {label!r}"
        return Case(classname, name, error=reason.splitlines()[0], details=result_text(result))
    return Case(classname, name, failure=f"{result.edge}: drift" if result.outcome == "failed" else None,
                details=result_text(result) if result.outcome == "failed" else "")


def _interaction_text(result: PactDrift, interaction: Any) -> str:
    """The head line of the pact and the drifts of one of its interactions."""
    single = PactDrift(result.path, result.consumer, result.provider, DRIFT, source=result.source,
                       interactions=[interaction])
    return result_text(single)


def drift_cases(results: list[PactDrift], topology: Path) -> list[Case]:
    """The cases `pytest --pact-drift --junitxml` writes for its items, run from the current folder (`topology`: the
    first topology file, under which the items are): one per interaction of a readable pact
    (`drift[consumer->provider: DESCRIPTION]`), one per pact file that cannot be read or has no interaction
    (`drift[consumer->provider]`), each with its file and line (the interaction in the pact); a pact's time is on
    its first case."""
    from harness.report.annotations import interaction_location
    from harness.report.contracts import item_name, item_names

    classname = item_classname(topology, Path.cwd())
    names = item_names([(result.path, _edge_name(result)) for result in results])
    cases: list[Case] = []
    for result in results:
        labels: list[str | None] = list(result.labels) or [None]
        for index, label in enumerate(labels):
            case = drift_case(result, label, item_name(names[result.path], label, "drift"), classname)
            where = interaction_location(result.path, result.labels, label)
            cases.append(located(dataclasses.replace(case, seconds=result.seconds if index == 0 else 0.0),
                                 where.file, where.line, Path.cwd()))
    return cases


def write_drift_junit(results: list[PactDrift], file: Path, topology: Path) -> Path:
    """drift_cases as JUnit XML."""
    return write_junit(file, "pact drift", drift_cases(results, topology))
