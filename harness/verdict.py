"""The one verdict every check ends in: pact verification, pact <-> OpenAPI drift and fuzzing alike.

Each result (contracts.results.PactResult, contracts.drift.PactDrift, fuzz.results.ServiceResult) keeps the word its
field uses (a pact is "verified", a drift check "clean" or "not applicable"): that word is what people read. Under it
is one of four outcomes, the same for every feature, and that is what decides: a JUnit case's kind, a pytest item's
outcome, the counts of a step summary, the exit code.

    passed    the check was made and found nothing to fix
    failed    the check was made and found something to fix (a mismatch, a drift, a failed check)
    error     the check could not be made (an unreadable pact, no document, a provider not in the topology)
    excluded  the check was not made, on purpose, with a written reason (never silent)

This module imports nothing but the standard library and harness.errors, so every stage may use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal, Protocol

from harness.errors import EXIT_FAILED, EXIT_PASSED

__all__ = ["OUTCOMES", "Judged", "Outcome", "counts", "exit_code", "is_ok", "outcome_of"]

Outcome = Literal["passed", "failed", "error", "excluded"]
OUTCOMES: tuple[Outcome, ...] = ("passed", "failed", "error", "excluded")  # the order counts are shown in


class Judged(Protocol):
    """What every result of a check exposes, whatever the feature: `verdict`, the field's word for it (shown as is);
    `outcome`, the shared one under it; `reason`, why an error or an exclusion (a summary for a failure, "" for a
    pass); `name`, what was judged (a pact's `consumer->provider`, a service); `exit_code`, the CLI's exit code for
    it alone (0 for a pass or an exclusion, 1 for a failure, 2 or 3 for an error as harness.errors says)."""

    @property
    def verdict(self) -> str: ...

    @property
    def outcome(self) -> Outcome: ...

    @property
    def reason(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def exit_code(self) -> int: ...


def outcome_of(word: str, words: Mapping[str, Outcome]) -> Outcome:
    """The outcome of a field's `word` in its table (`words`: word -> outcome). A word the table lacks is an error,
    never a pass: a verdict nobody mapped must not pass silently."""
    return words.get(word, "error")


def is_ok(outcome: Outcome) -> bool:
    """Passed, or excluded with a reason: nothing to fix."""
    return outcome in ("passed", "excluded")


def counts(outcomes: Iterable[Outcome]) -> dict[Outcome, int]:
    """{passed, failed, error, excluded: how many}, in that order, zeros included."""
    found = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        found[outcome] += 1
    return found


def exit_code(results: Iterable[Judged]) -> int:
    """The CLI's exit code of a run: 0 when every result passed or is excluded (none at all included); else the
    highest of the results' own exit codes (an error's 2 bad input or 3 environment over a failure's 1)."""
    codes = [result.exit_code for result in results if not is_ok(result.outcome)]
    return max(codes, default=EXIT_PASSED) or (EXIT_FAILED if codes else EXIT_PASSED)
