"""What a drift check returns: the verdicts, one finding, the verdict of an interaction and of a pact file."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_PASSED
from harness.verdict import Outcome, outcome_of

CLEAN, DRIFT, ERROR, NOT_APPLICABLE = "clean", "drift", "error", "not applicable"
# the words of a drift check for the outcomes (harness.verdict): not applicable is an exclusion with its reason
WORDS: dict[str, Outcome] = {CLEAN: "passed", DRIFT: "failed", ERROR: "error", NOT_APPLICABLE: "excluded"}


@dataclass(frozen=True)
class Finding:
    """One disagreement. `pointer` is a JSON pointer into the interaction (`/response/body/0/distance`),
    `spec_pointer` one into the OpenAPI document (`#/paths/~1users~1{id}/get/responses`)."""

    pointer: str
    pact_says: str
    spec_says: str
    spec_pointer: str = ""


@dataclass
class InteractionDrift:
    description: str
    verdict: str  # clean | drift | not applicable
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""  # why not applicable
    operation: str = ""  # "GET /api/users/{id}" when found

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.verdict, WORDS)


@dataclass
class PactDrift:
    """The drift verdict of one pact file (a harness.verdict.Judged: `verdict` its word, `outcome` the shared one)."""

    path: Path
    consumer: str
    provider: str
    verdict: str  # clean | drift | error | not applicable
    reason: str = ""  # for error and not applicable
    source: str = ""  # where the OpenAPI document came from
    interactions: list[InteractionDrift] = field(default_factory=list)  # checked: in the pact's order
    seconds: float = 0.0
    labels: list[str] = field(default_factory=list)  # the pact's interactions as PactFile.labels names them, in
    # order ([] when unreadable): a pytest item and a JUnit case each

    @property
    def edge(self) -> str:
        return f"{self.consumer}->{self.provider}"

    @property
    def outcome(self) -> Outcome:
        return outcome_of(self.verdict, WORDS)

    @property
    def name(self) -> str:
        """What was judged: the edge (harness.verdict.Judged)."""
        return self.edge

    @property
    def exit_code(self) -> int:
        """1 for drift; 2 for an error (an unreadable pact or document, a provider not in the topology: bad input)."""
        return {"failed": EXIT_FAILED, "error": EXIT_BAD_INPUT}.get(self.outcome, EXIT_PASSED)

    @property
    def findings(self) -> list[tuple[str, Finding]]:
        return [(i.description, f) for i in self.interactions for f in i.findings]

