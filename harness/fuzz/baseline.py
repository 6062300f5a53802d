"""Fuzz baselines: schemathesis' own file of accepted failures (`st run --baseline FILE`), read, matched and written
with schemathesis' own classes (`schemathesis.baseline`), so that a file made by `st run` works here and the reverse.

An entry is (operation, check, failure class, signature), matched as `st run` matches it (its `expires` date
included). An entry the harness writes also carries `"service": NAME` (schemathesis keeps fields it does not know
and ignores them), so that two services with the same operation label do not accept each other's failures; an entry
without one (written by `st run`) applies to every service, as it would to every API `st run` is pointed at.

As `st run`: a baseline file that does not exist is created from the run; `update` merges the run's failures into
it (new ones added, seen ones get today's `last_seen`); `prune` drops the entries whose operation the run tested and
whose failure it did not reproduce. An interrupted run writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import OptionError

if TYPE_CHECKING:
    from harness.fuzz.results import ServiceResult

SERVICE_KEY = "service"  # the entry field that ties an entry to one service of the topology


def load(path: Path, flag: str = "--baseline") -> Any:
    """The baseline at `path` (schemathesis' `Baseline`; empty when the file does not exist: the run creates it).
    Raises OptionError (exit 2) naming the file and what is wrong with it (not JSON, another format version, an
    entry without its fields)."""
    from schemathesis.baseline import Baseline

    if path.is_dir():
        raise OptionError(f"{flag} {path}: a folder, not a baseline file",
                          hint="Name a JSON file (written by `st run --baseline FILE` or by this option).")
    try:
        return Baseline.load(path)
    except (OSError, ValueError) as error:  # json.JSONDecodeError is a ValueError
        raise OptionError(f"{flag} {path}: not a schemathesis baseline file: {error}",
                          hint="Fix the file, or remove it to record a new one from this run.") from None


def for_service(baseline: Any, service: str) -> Any:
    """The entries of `baseline` that apply to `service` (those tied to it, and those tied to no service), as a
    schemathesis `Baseline` whose `match(failure, check)` is `st run`'s."""
    from schemathesis.baseline import Baseline

    return Baseline(entries=[entry for entry in baseline.entries if _applies(entry, service)])


def _applies(entry: Any, service: str) -> bool:
    return entry.extra.get(SERVICE_KEY) in (None, service)


@dataclass
class BaselineOutcome:
    """How a run lined up with its baseline file. `accepted`: the ids of the entries that accepted a finding;
    `not_reproduced`: entries of a tested operation whose failure the run did not find (probably fixed: `prune`
    drops them); `not_reached`: entries whose operation the run did not test (kept by `prune`); `not_fuzzed`:
    entries of services this run did not fuzz (`--service`; kept; `st run` counts them as "Unobserved entries");
    `expired`: entries past their `expires` date (they accept nothing). `recorded` / `pruned`: entries the run
    added / dropped (None when it did not write them); `written`: whether the file was written."""

    path: Path
    accepted: list[str] = field(default_factory=list)
    not_reproduced: list[dict[str, Any]] = field(default_factory=list)
    not_reached: list[dict[str, Any]] = field(default_factory=list)
    not_fuzzed: list[dict[str, Any]] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    recorded: int | None = None
    pruned: list[str] | None = None
    written: bool = False


def settle(path: Path, results: list[ServiceResult], *, update: bool = False, prune: bool = False,
           interrupted: bool = False, flag: str = "--baseline") -> BaselineOutcome:
    """Compare `results` with the baseline at `path` and, as `st run` does, write it: created when it does not exist,
    merged with `update`, pruned with `prune`; never after an interrupted run. Raises OptionError when the file
    cannot be read or written."""
    from schemathesis.baseline import Baseline, BaselineEntry

    creating = not path.exists()
    baseline = load(path, flag)
    today = date.today()
    services = {result.service for result in results}
    observed: dict[str, set[tuple[str, str, str, str]]] = {}  # service -> identities found (accepted or not)
    tested: dict[str, set[str]] = {}  # service -> operations with requests
    for result in results:
        observed[result.service] = {f.identity for f in result.findings if f.identity is not None}
        tested[result.service] = {op for op, count in result.requests_by_operation.items() if count}

    def where(entry: Any) -> list[str]:
        """The services of this run the entry applies to."""
        return [s for s in services if _applies(entry, s)]

    outcome = BaselineOutcome(path)
    outcome.accepted = sorted({f.accepted for r in results for f in r.findings if f.accepted})
    outcome.expired = sorted(entry.id for entry in baseline.entries if entry.is_expired(today))
    # the entries prune drops, by position: two services' entries of one failure have the same id
    dropped: set[int] = set()
    for position, entry in enumerate(baseline.entries):
        applies = where(entry)
        if not applies:  # tied to a service this run did not fuzz
            outcome.not_fuzzed.append(entry.to_dict())
            continue
        if any(entry.identity in observed[s] for s in applies):
            continue
        shown = {**entry.to_dict(), **({SERVICE_KEY: applies[0]} if len(applies) == 1 else {})}
        if any(entry.operation in tested[s] for s in applies):
            outcome.not_reproduced.append(shown)
            dropped.add(position)
        else:
            outcome.not_reached.append(shown)
    if interrupted or not (creating or update or prune):
        return outcome
    entries = list(baseline.entries)
    if prune:
        entries = [entry for position, entry in enumerate(entries) if position not in dropped]
        outcome.pruned = sorted(baseline.entries[position].id for position in dropped)
    if update or creating:
        outcome.recorded = 0
        stamp = today.isoformat()
        for result in results:
            for finding in result.findings:
                # response times flap with the machine's load: `st run` records no entry for them either
                if finding.identity is None or not finding.reproducible:
                    continue
                operation, check, failure, signature = finding.identity
                seen = [e for e in entries if e.identity == finding.identity and _applies(e, result.service)]
                for entry in seen:
                    entry.last_seen = stamp
                if not seen:
                    entries.append(BaselineEntry(operation, check, failure, signature, first_seen=stamp,
                                                 last_seen=stamp, extra={SERVICE_KEY: result.service}))
                    outcome.recorded += 1
    try:
        Baseline(entries=entries).save(path)
    except OSError as error:
        raise OptionError(f"{flag} {path}: cannot be written: {error.strerror or error}",
                          hint="Name a file in a folder you can write to.") from None
    outcome.written = True
    return outcome
