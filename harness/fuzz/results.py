"""What a fuzzing run found, as the harness's own data (no schemathesis types): read by report/ and the plugin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harness.errors import EXIT_FAILED, EXIT_PASSED
from harness.verdict import Outcome

SERVICE_WIDE = "(service)"  # the `operation` of a finding about the whole service (base path, a fatal engine error)


@dataclass(frozen=True)
class Exchange:
    """One request the engine sent and what came back: `status` None when no answer came. `sent` and `answered` are
    `time.time()` seconds (sent: the answer's time less the time the answer took)."""

    method: str
    target: str  # "/path?query", as an access log shows it
    status: int | None
    sent: float
    answered: float


@dataclass
class Finding:
    """One distinct problem: a failed check, a network error or timeout, an operation that cannot be parsed or sent
    no request, a warning of schemathesis'. Deduplicated across phases: `phases` lists where it was seen."""

    operation: str  # "GET /api/users/{id}", "stateful (GET /items/{id})", "stateful", or SERVICE_WIDE
    check: str  # schemathesis' check ("not_a_server_error", ...) or the kind of error ("network_error", "no_requests")
    title: str  # one line
    kind: Literal["failure", "error"] = "failure"  # failure: the service is wrong; error: it could not be tested
    detail: str = ""  # schemathesis' explanation: status, schema path and value, response excerpt
    curl: str = ""  # one command per request of the failing case or sequence ("" when nothing was sent)
    request: str = ""  # "GET /path?query" of the failing request, to find the service's log lines for it
    phases: list[str] = field(default_factory=list)
    exchange: Exchange | None = None  # the failing request, when the engine recorded it
    log: list[str] = field(default_factory=list)  # the service's lines for the failing request (fuzz.logs.match)
    log_note: str = ""  # why lines are missing or not shown: identical requests that cannot be told apart, ...
    code: str = ""  # schemathesis' stable code of a failed check ("ST101"); "" for an error of the run
    # schemathesis' identity of a failed check (operation, check, failure class, signature): what a baseline matches
    identity: tuple[str, str, str, str] | None = None
    reproducible: bool = True  # False for a response time over the limit: `st run` records no baseline entry for it
    accepted: str = ""  # the id of the baseline entry that accepts this failure ("" when it is new)
    # the request's own method and path when the document does not declare that method there ("TRACE /quotes": the
    # coverage phase's probe on the operation's path), as `st run` names such a failure; "" otherwise
    sent_as: str = ""

    @property
    def label(self) -> str:
        """"check [CODE]" (or the check alone), and the request's method when it is not the operation's ("...,
        sent as TRACE /quotes: a method the document does not declare"): how a finding is named wherever it is shown."""
        named = f"{self.check} [{self.code}]" if self.code else self.check
        return f"{named}, sent as {self.sent_as}: a method the document does not declare" if self.sent_as else named

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two findings the same one (seen in two phases, or for two inputs that fail alike)."""
        # a sequence that fails on a call the way a single call of that operation did is the same finding
        operation = self.operation.removeprefix("stateful (").removesuffix(")")
        return operation, self.check, self.title, self.detail.split("\n[", 1)[0]


@dataclass
class ServiceResult:
    """The run of one service (a harness.verdict.Judged: its `verdict` is its outcome, fuzzing has no word of its
    own). `operations` in the spec's order (those that cannot be parsed included)."""

    service: str
    url: str  # the base URL the run sent its requests to (the service's URL plus the spec's base path)
    seed: int
    mode: str = "positive"
    phases: list[str] = field(default_factory=list)  # the phases run: examples, coverage, fuzzing, stateful
    operations: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    requests: int = 0
    requests_by_operation: dict[str, int] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)  # the checks run
    excluded: dict[str, str] = field(default_factory=dict)  # {check or kind of finding: the written reason}
    seconds: float = 0.0  # wall time of the run, time.monotonic()
    # {operation label or "stateful": seconds schemathesis spent on its scenarios} (its ScenarioFinished events)
    seconds_by_operation: dict[str, float] = field(default_factory=dict)
    log: str = ""  # the service's log during the run (no ANSI codes, no timestamps), when something was found
    stateful_requests: int = 0  # requests of the stateful phase's sequences
    exchanges: list[Exchange] = field(default_factory=list)  # every request sent, in order; emptied once the
    # findings' log lines are found (fuzz.logs.attach_log)
    # services fuzzed before this one in the same run, in order: their requests may have changed what it answered
    fuzzed_before: list[str] = field(default_factory=list)
    # the options given to the run that decide the data, as written on a command line ({"mode": "negative", ...})
    given: dict[str, str] = field(default_factory=dict)

    @property
    def stateful_not_run(self) -> str:
        """Why no stateful sequence was run ("" when some were): its item is skipped with this, never passed."""
        if "stateful" not in self.phases:
            return f"the stateful phase was not selected (phases: {', '.join(self.phases)})"
        if not self.stateful_requests:
            return "no stateful sequence was run (schemathesis builds them from the document's OpenAPI `links`)"
        return ""

    @property
    def passed(self) -> bool:
        """No finding but those a baseline accepts."""
        return not self.new

    @property
    def outcome(self) -> Outcome:
        """passed (no new finding), failed (a new failed check, errors or not), else error (the service could not
        be tested: network errors, an operation that cannot be sent, ...)."""
        return "passed" if self.passed else "failed" if self.failures else "error"

    @property
    def verdict(self) -> str:
        return self.outcome

    @property
    def reason(self) -> str:
        """`2 failure(s), 1 error(s)` of the new findings ("" when it passed)."""
        return "" if self.passed else f"{len(self.failures)} failure(s), {len(self.errors)} error(s)"

    @property
    def name(self) -> str:
        """What was judged: the service (harness.verdict.Judged)."""
        return self.service

    @property
    def exit_code(self) -> int:
        """1 when a new finding fails the run (an error-kind one too); else 0."""
        return EXIT_PASSED if self.passed else EXIT_FAILED

    @property
    def new(self) -> list[Finding]:
        """The findings no baseline entry accepts: they fail the run."""
        return [f for f in self.findings if not f.accepted]

    @property
    def accepted(self) -> list[Finding]:
        """The failed checks a baseline entry accepts (known failures: reported, they do not fail the run)."""
        return [f for f in self.findings if f.accepted]

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.new if f.kind == "failure"]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.new if f.kind == "error"]

    def place_of(self, label: str) -> str:
        """The operation whose place in the document stands for item `label`: the operation itself; for the stateful
        sequences ("stateful"), the step where the first of its new findings failed (a sequence stops at the step
        that fails: its last one), as the item's message lists them; "stateful" when none names a step (nothing
        failed, or an error of the phase as a whole): the document, not one of its lines."""
        if label != "stateful":
            return label
        steps = (f.operation.removeprefix("stateful (").removesuffix(")") for f in self.findings_for(label)
                 if not f.accepted and f.operation.startswith("stateful ("))
        return next(steps, label)

    def findings_for(self, operation: str) -> list[Finding]:
        """The findings of one test item: an operation, "stateful" (sequences) or SERVICE_WIDE."""
        if operation == "stateful":
            return [f for f in self.findings if f.operation.startswith("stateful")]
        return [f for f in self.findings if f.operation == operation]
