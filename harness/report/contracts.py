"""Pact verification as people read it: a line per pact; for a failure the provider's log of that verification
first and the verifier's report last (so the last screen of a CI log shows the failure); a closing summary; JUnit
with one case per interaction."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness.contracts.results import WORDS, InteractionResult, PactResult
from harness.report.junit import Case, item_classname, located, write_junit
from harness.report.text import strip_ansi
from harness.verdict import counts, outcome_of

MARK = {"verified": "[green]verified[/green]", "failed": "[red]FAILED[/red]", "error": "[red]ERROR[/red]",
        "excluded": "[cyan]excluded[/cyan]"}


def headline(result: PactResult) -> str:
    """`verified a->b: 3 interaction(s) in 0.41 s (file.json)` and the like, without markup."""
    where = f" (from {result.source})" if result.source else f" ({result.path.name})"
    if result.outcome == "excluded":
        return f"excluded {result.edge}{where}: {result.reason}"
    if result.outcome == "error":
        return f"ERROR {result.edge}{where}: {result.reason}"
    failed = sum(not i.passed for i in result.interactions)
    detail = f", {failed} failed" if failed else ""
    if failed and result.passed:  # the Verifier passed the pact: what failed is marked pending in it (V4)
        detail += " (pending: shown, not counted, as pact-python's Verifier does)"
    count = (f"{len(result.labels)} of {result.interaction_count} interaction(s) (the others not selected)"
             if 0 < len(result.labels) < result.interaction_count else f"{result.interaction_count} interaction(s)")
    if result.cached_from:  # the broker's result says no time: none is made up
        then = "" if result.cached_by else f", in {result.seconds:.2f} s then"
        return f"verified {cached_note(result)} {result.edge}: {count}{detail}{then}{where}"
    verdict = "verified" if result.passed else "FAILED"
    if result.pending and not result.passed:
        detail += " (pending at the broker: does not fail the run)"
    return f"{verdict} {result.edge}: {count}{detail} in {result.seconds:.2f} s{where}"


def cached_note(result: PactResult) -> str:
    """`(cached, from 2026-12-06 09:40)`: when an earlier run verified it (local time); `(cached, from the Pact Broker
    (shop 3.0.0), verified 2026-12-06 09:40)`: the broker's result; "" when this run did."""
    if not result.cached_from:
        return ""
    try:
        when = datetime.fromisoformat(result.cached_from).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        when = result.cached_from
    if result.cached_by:  # the broker's own result of the same content and provider version
        return f"(cached, from {result.cached_by}, verified {when})"
    return f"(cached, from {when})"


def cached_property(result: PactResult) -> tuple[tuple[str, str], ...]:
    """The JUnit property of a verdict from the verdict cache: ("pact-cached-from", its ISO time); () otherwise."""
    return (("pact-cached-from", result.cached_from),) if result.cached_from else ()


def _failure_text(result: PactResult, reason: bool = True) -> str:
    """The provider's log of this verification, then the verifier's report (its summary ends the text), then, for
    an error, its reason (`reason=False`: not, when the headline above already says it)."""
    parts = []
    if result.provider_log.strip() and not result.ok:
        parts.append(f"--- log of {result.provider_service or result.provider} during this verification ---\n"
                     f"{strip_ansi(result.provider_log).rstrip()}\n--- end of log ---")
    if result.report.strip():
        parts.append(strip_ansi(result.report).strip("\n"))
    if result.outcome == "error" and reason:
        parts.append(f"ERROR {result.edge}: {result.reason}")
    return "\n".join(parts)


def print_result(result: PactResult, err: Console) -> None:
    mark = MARK[result.verdict]
    err.print(f"{mark} {escape(headline(result).split(' ', 1)[1])}", soft_wrap=True, highlight=False)
    if not result.ok or any(not i.passed for i in result.interactions):  # a failing pending interaction too
        text = _failure_text(result, reason=False)  # the headline says it
        if text:
            err.print(text, markup=False, highlight=False, soft_wrap=True)


def print_summary(results: list[PactResult], console: Console) -> None:
    """The last lines of a run: counts, then one line per pact that is neither verified nor excluded."""
    word = {outcome: word for word, outcome in WORDS.items()}  # each outcome as pact verification says it
    found = counts(outcome_of(r.verdict, WORDS) for r in results)  # a pending pact's failure counted as failed
    words = {o: f"{n} {word[o]}" for o, n in found.items()}
    cached = sum(bool(r.cached_from) and not r.cached_by for r in results)
    at_broker = sum(bool(r.cached_by) for r in results)
    if cached:
        words["passed"] += (f" ({cached} cached: verified by an earlier run against the same provider, topology and "
                            "states; --no-cache verifies them again)")
    if at_broker:
        words["passed"] += (f" ({at_broker} verified at the Pact Broker: its successful result of the same pact "
                            "content by the same provider version (--provider-version, or a clean git checkout's "
                            "commit); --no-cache verifies them again)")
    pending = sum(r.verdict == "failed" and r.pending for r in results)
    console.print("pacts: " + ", ".join(words.values())
                  + (f" ({pending} failed pending at the broker: not failing the run)" if pending else ""),
                  highlight=False, soft_wrap=True)
    for result in results:
        if not result.ok or (result.pending and result.verdict == "failed"):  # a pending failure says why, the same
            console.print(headline(result), markup=False, highlight=False, soft_wrap=True)
            for interaction in result.interactions:
                if not interaction.passed:
                    console.print(f"  - {interaction.description}: " + "; ".join(interaction.problems),
                                  markup=False, highlight=False, soft_wrap=True)


def item_names(pacts: list[tuple[Path, str]]) -> dict[Path, str]:
    """(file, edge) of every pact of a run -> what names its pytest items and JUnit cases (item_name): `a->b`, or
    `a->b file.json` when two files have the same edge."""
    edges = [edge for _, edge in pacts]
    return {path: edge if edges.count(edge) == 1 else f"{edge} {path.name}" for path, edge in pacts}


def item_name(pact: str, label: str | None = None, kind: str = "pact") -> str:
    """`pact[a->b: LABEL]` for an interaction, `pact[a->b]` for a whole pact file (`kind` drift: `drift[...]`). (The
    name ends with its bracket: pytest takes what follows the first `[` of a node id for parameters, and closes them
    with `]`.)"""
    return f"{kind}[{pact}: {label}]" if label is not None else f"{kind}[{pact}]"


def _per_interaction(result: PactResult) -> bool:
    """A verdict per interaction (one item, one case each); else one for the file (unreadable, excluded, none)."""
    return bool(result.labels) and result.outcome != "excluded"


def interaction_case(result: PactResult, label: str, name: str, classname: str = "") -> Case:
    """The verdict of one interaction of a verification (all of them judged in one Verifier run): passed, failed
    with its mismatches, or error: the pact's error, or the verifier's results do not mention it (never a pass).
    A failing interaction marked pending (V4) passes, as pact-python's Verifier counts it. `classname`: see
    junit_cases."""
    judged = next((i for i in result.interactions if i.label == label), None)
    seconds = _share(result, judged)
    if judged is not None and (judged.passed or result.passed or result.pending):  # a pending pact: as the Verifier
        pending = f"pending at the broker, so this failure does not fail the run ({result.source})\n"
        return Case(classname, name, seconds,
                    output="" if judged.passed else (pending if result.pending else "") + _failure_text(result)
                    + "".join(f"\n{judged.label}: {problem}" for problem in judged.problems),
                    properties=cached_property(result))
    if judged is not None:
        problems = [line for problem in judged.problems for line in problem.splitlines() if line.strip()] or ["failed"]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Case(classname, name, seconds, failure=f"{label}: {problems[0]}{more}",
                    details=_interaction_failure_text(result, judged), output=result.provider_log)
    reason = (result.reason if result.outcome == "error" else
              f"{result.path.name}: the Pact verifier's results do not mention interaction {label!r}, so it was not "
              "verified")
    first = next((line for line in reason.splitlines() if line.strip()), reason)
    return Case(classname, name, seconds, error=f"{label}: {first}", details=_failure_text(result, reason=False)
                + f"\nERROR {result.edge}, interaction {label!r}: {reason}", output=result.provider_log)


def _share(result: PactResult, judged: InteractionResult | None) -> float:
    """An interaction's time: its own as the Verifier's results give it (`duration`), else (none given, not judged)
    its even share of its file's verification."""
    if judged is not None and judged.seconds > 0:
        return judged.seconds
    return result.seconds / max(len(result.labels), 1)


def _interaction_failure_text(result: PactResult, interaction: InteractionResult) -> str:
    """The provider's log of the verification, then what the verifier's report says of this interaction (its part
    of the report's failures; its mismatches when the report has no part of its own)."""
    parts = []
    if result.provider_log.strip():
        parts.append(f"--- log of {result.provider_service or result.provider} during this verification ---\n"
                     f"{strip_ansi(result.provider_log).rstrip()}\n--- end of log ---")
    own = _report_part(strip_ansi(result.report), interaction.description)
    parts.append(own or "\n".join(interaction.problems))
    parts.append(f"FAILED {result.edge}: {interaction.label}")
    return "\n".join(parts)


def _report_part(report: str, description: str) -> str:
    """The numbered failures (`1) Verifying a pact between ... - DESCRIPTION`) of the report's Failures section that
    are about `description`."""
    _, found, failures = report.partition("\nFailures:\n")
    if not found:
        return ""
    blocks = re.split(r"\n(?=\d+\) )", failures.split("\nThere were ", 1)[0])
    return "\n".join(block.strip("\n") for block in blocks
                     if block.lstrip().split("\n", 1)[0].endswith(f" {description}")).strip("\n")


def junit_cases(result: PactResult, name: str | None = None, classname: str = "") -> list[Case]:
    """One case per interaction, named as pytest's items (`name`: see item_names; `classname`: as pytest's JUnit
    gives them, see harness.report.junit.item_classname); one case for a pact that is unreadable, excluded or has no
    interaction."""
    name = name or item_names([(result.path, result.edge)])[result.path]
    if _per_interaction(result):
        return [interaction_case(result, label, item_name(name, label), classname) for label in result.labels]
    return [file_case(result, item_name(name), classname)]


def file_case(result: PactResult, name: str, classname: str = "") -> Case:
    """The verdict of a whole pact file (unreadable, excluded, without interactions), for a pytest item and a JUnit
    case alike: skipped with the exclusion's reason, an error with its reason (the report: _failure_text), or
    failed."""
    first = f"{result.edge}: " + (result.reason.splitlines() or ["see its report"])[0]
    return Case(classname, name, result.seconds, error=f"error {first}" if result.outcome == "error" else None,
                skipped=f"excluded: {result.reason}" if result.outcome == "excluded" else None,
                failure=f"failed {first}" if result.outcome == "failed" else None,
                details=_failure_text(result) if not result.ok else "",
                output=result.provider_log if not result.ok else "", properties=cached_property(result))


def pact_cases(results: list[PactResult], topology: Path) -> list[Case]:
    """The cases of a verification run (junit_cases of each pact), named and classed as `pytest --pact-verify
    --junitxml` writes its items run from the current folder (`topology`: the first topology file, under which the
    items are), each with its file and line: the interaction in the pact, else the pact file."""
    from harness.report.annotations import interaction_location

    names = item_names([(r.path, r.edge) for r in results])
    classname = item_classname(topology, Path.cwd())
    cases = []
    for result in results:
        labels: list[str | None] = list(result.labels) if _per_interaction(result) else [None]
        for label, case in zip(labels, junit_cases(result, names[result.path], classname), strict=True):
            if result.source:  # fetched from a broker: its URL says where it is, not a file of this run
                cases.append(dataclasses.replace(case, output=f"pact from {result.source}\n{case.output}"))
                continue
            where = interaction_location(result.path, result.labels, label)
            cases.append(located(case, where.file, where.line, Path.cwd()))
    return cases


def write_pact_junit(results: list[PactResult], file: Path, topology: Path) -> Path:
    """One test case per interaction (and per pact that is unreadable, excluded or empty): pact_cases."""
    return write_junit(file, "pact verification", pact_cases(results, topology),
                       seconds=sum(r.seconds for r in results))
