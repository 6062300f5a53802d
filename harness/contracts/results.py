"""The verdicts of pact verification: one PactResult per pact file (verified, failed, error or excluded, each with
its reason), with an InteractionResult per interaction the Pact core judged."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.contracts.names import service_for
from harness.contracts.pactfiles import PactFile
from harness.errors import EXIT_FAILED, HarnessError
from harness.verdict import Outcome, is_ok, outcome_of

Verdict = Literal["verified", "failed", "error", "excluded"]  # the words of pact verification for the outcomes
WORDS: dict[str, Outcome] = {"verified": "passed", "failed": "failed", "error": "error", "excluded": "excluded"}


@dataclass(frozen=True)
class InteractionResult:
    """One interaction as the Pact core judged it. `problems`: its mismatches or errors, one line each; `label`: its
    name, unique in the pact (PactFile.labels: the description, with its states where descriptions repeat)."""

    description: str
    passed: bool
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    label: str = ""


@dataclass(frozen=True)
class PactResult:
    """The verdict of one pact file (a harness.verdict.Judged: `verdict` its word, `outcome` the shared one).
    `consumer`/`provider` are the names the pact writes (None when unreadable); `consumer_service`/`provider_service`
    the services they map to (None: not a service of the topology). `reason`: why an error or an exclusion; `error`:
    the error (its `exit_code` says bad input or environment)."""

    path: Path
    verdict: Verdict
    consumer: str | None = None
    provider: str | None = None
    consumer_service: str | None = None
    provider_service: str | None = None
    interaction_count: int = 0
    interactions: list[InteractionResult] = field(default_factory=list)
    report: str = ""  # the verifier's report, without ANSI codes
    provider_log: str = ""  # what the provider wrote during this verification
    seconds: float = 0.0
    reason: str = ""
    error: HarnessError | None = None
    labels: list[str] = field(default_factory=list)  # the interactions it was to judge (all, or those selected)
    # verified by an earlier run (harness.contracts.cache), when: ISO 8601 time with its UTC offset; "": by this run
    cached_from: str = ""
    cached_by: str = ""  # who verified a cached verdict: "" an earlier run here; `the Pact Broker (shop 3.0.0)`
    verified_as: str = ""  # the provider version a verdict of the local cache was verified as ("": none known)
    reverified: str = ""  # verified again though cached: the cache had it from this other provider version
    source: str = ""  # where a pact not from the folder came from: `broker URL (consumer version ...; pending)`
    pending: bool = False  # the broker marked it pending: a failure does not fail the run
    url: str = ""  # a broker pact's URL at the broker (its `path` is a file fetched for this run only)
    published: bool = False  # its verification result was published to the broker by this run
    not_published: str = ""  # why its result was not published though asked (its verdict is then an error)
    withheld: str = ""  # why its result was not published: the commit does not name what its provider runs
    stale: str = ""  # a service's mounted files changed since its container started (contracts.running's note)

    @property
    def outcome(self) -> Outcome:
        if self.pending and self.verdict == "failed":
            return "passed"  # pending at the broker: its failure does not fail the run (as pact-python's Verifier)
        return outcome_of(self.verdict, WORDS)

    @property
    def partial(self) -> bool:
        """Only some of its interactions were to be verified (pytest's -k, -m, --lf, ... deselected the others): not
        a verdict of the whole pact."""
        return 0 < len(self.labels) < self.interaction_count

    @property
    def passed(self) -> bool:
        """Verified (a pending pact that failed did not pass, though it does not fail the run)."""
        return outcome_of(self.verdict, WORDS) == "passed"

    @property
    def ok(self) -> bool:
        """Verified, excluded with a reason, or a pending pact that failed: nothing that fails the run."""
        return is_ok(self.outcome)

    @property
    def name(self) -> str:
        """What was judged: the edge (harness.verdict.Judged)."""
        return self.edge

    @property
    def edge(self) -> str:
        if self.consumer is None or self.provider is None:
            return self.path.name
        return f"{self.consumer}->{self.provider}"

    @property
    def exit_code(self) -> int:
        if self.outcome == "error":
            return self.error.exit_code if self.error is not None else EXIT_FAILED
        return EXIT_FAILED if self.outcome == "failed" else 0


def error_result(pact: PactFile, spec: Any, error: HarnessError, seconds: float = 0.0, report: str = "",
                 provider_log: str = "", interactions: list[InteractionResult] | None = None,
                 labels: list[str] | None = None) -> PactResult:
    """An error verdict; `interactions`: those the verifier did judge (their items keep their own verdict)."""
    return PactResult(pact.path, "error", pact.consumer, pact.provider, service_for(spec, pact.consumer),
                      service_for(spec, pact.provider), len(pact.interactions), interactions or [], report=report,
                      provider_log=provider_log, seconds=seconds, reason=str(error), error=error,
                      labels=labels if labels is not None else [label for label, _ in pact.labels()])


