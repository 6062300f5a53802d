"""Test items the plugin adds: one per pact interaction (--pact-verify) and one per fuzzed operation (--fuzz)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

if TYPE_CHECKING:
    from harness.pytest.session import TopologySession
    from harness.report.junit import Case


class ReportedFailure(Exception):
    """A pact that did not verify, or an operation that fuzzing broke: the message is the whole report; `summary`
    its one line for pytest's short summary and JUnit's message (default: the report's first line)."""

    def __init__(self, report: str, summary: str = "") -> None:
        super().__init__(report)
        self.summary = summary


class ReportingItem(pytest.Item):
    """An item whose verdict is a JUnit case of harness.report (`verdict`, the same case `harness ... --junit` writes):
    reached in the item's setup, where an error verdict (the check could not be made: a pact the Verifier refused, a
    document that does not load) errors the item, as pytest reports what keeps a test from running; in its call a
    failure fails it and a skip skips it. A failure is a ready-made report, shown as is (no traceback), with a
    one-line summary (pytest's short summary line, `-r`, and JUnit's message; on CI pytest would repeat the whole
    text there)."""

    _case: Case
    _skipping = False

    def verdict(self) -> Case:
        raise NotImplementedError

    def place(self) -> tuple[Path, int | None, str]:
        """(the file the item is in, the 0-based line where it is (None: the file as a whole), what it is)."""
        raise NotImplementedError

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """place(): pytest's `location` (its reports, JUnit xunit1's file/line, the annotations). pytest's report of
        a skip at the item's place needs a line: the file's first then (`SKIPPED [1] FILE:1: reason`)."""
        file, line, domain = self.place()
        return file, 0 if line is None and self._skipping else line, domain

    def uses_topology(self) -> bool:
        """Whether this item's verdict is still to be made against the running topology (then the plugin first puts
        back what earlier items left stopped, paused, ...); False once it is made or under way (a later item of a
        pact file already verified, of a fuzzing run already started, of a drift file already checked)."""
        return True

    def setup(self) -> None:
        self._case = self.verdict()
        self.user_properties += list(self._case.properties)  # e.g. a verdict from the cache, and from when
        if self._case.outcome == "error":
            error = self._case.error or ""
            raise ReportedFailure(self._case.details or error, summary=error)

    def runtest(self) -> None:
        case = self._case
        if case.outcome == "excluded":
            self._skipping = True
            skip(case.skipped or "")
        if case.outcome == "failed":
            raise ReportedFailure(case.details or case.failure or "", summary=case.failure or "")

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        from harness.errors import HarnessError

        if not isinstance(excinfo.value, (ReportedFailure, HarnessError)):
            return super().repr_failure(excinfo, style=style)
        path, line, _ = self.reportinfo()
        return one_line_repr(str(excinfo.value), getattr(excinfo.value, "summary", ""), path, (line or 0) + 1)


def one_line_repr(text: str, summary: str, path: Any, line: int = 1) -> Any:
    """A failure shown as `text` as is, whose one line in pytest's short summary and JUnit's message is `summary`
    (default: the first line of `text`)."""
    from _pytest._code.code import ReprExceptionInfo, ReprFileLocation, ReprTracebackNative

    lines = [row.strip() for row in text.splitlines() if row.strip()]
    summary = (summary or (lines[0] if lines else "failed")).splitlines()[0]
    return ReprExceptionInfo(reprtraceback=ReprTracebackNative([text.rstrip("\n") + "\n"]),
                             reprcrash=ReprFileLocation(str(path), line, summary))


class PactVerification(ReportingItem):
    """One interaction of a pact (`label`), or a whole pact file (`label` None: unreadable, excluded, without
    interactions), verified against its provider in the running topology. The first item of a file runs the
    Verifier once for the interactions of that file still selected (-k, --lf, ...); each item then reports its
    interaction's part: fails with its mismatches (the provider's log first), errors with the reason (provider not
    a service, verifier refused, not mentioned in the verifier's results), skips with the reason of an exclusion."""

    def __init__(self, *, pact: Any, owner: TopologySession, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pact = pact  # a PactFile, or an UnreadablePact
        self.owner = owner
        self.label = label

    def verdict(self) -> Case:
        from harness.report.contracts import file_case, interaction_case

        result = self._file_result()
        if self.label is None or result.verdict == "excluded":
            return file_case(result, self.name)
        return interaction_case(result, self.label, self.name)

    def setup(self) -> None:
        try:
            super().setup()
        finally:  # also for an item that errors or fails: where its pact came from matters most there
            source = getattr(self.owner.verify.verdict(self.pact.path) if self.owner.verify else None, "source", "")
            if source:  # a broker's pact: where it came from, in -rA's report and the JUnit case
                self.user_properties.append(("pact source", source))
                self.add_report_section("setup", "pact source", source)

    def uses_topology(self) -> bool:
        return self.owner.verify is None or self.owner.verify.verdict(self.pact.path) is None

    def runtest(self) -> None:
        super().runtest()
        if self._case.output:  # passed with a failure: the interaction is pending (V4), as the Verifier counts it
            label = self.label or self.pact.path.name
            self.add_report_section("call", "pending failure", self._case.output)
            self.user_properties.append(("pending", f"{label}: failed, pending: shown, not counted, as pact-python's "
                                                    "Verifier does"))

    def _file_result(self) -> Any:
        """The verdict of this item's file: verified by the first of its items that runs (once per session, or
        per xdist worker), for the interactions of the items selected."""
        run = self.owner.verify
        assert run is not None
        done = run.verdict(self.pact.path)
        if done is not None:
            return done
        selected = [item.label for item in self.session.items if isinstance(item, PactVerification)
                    and item.pact.path == self.pact.path and item.label is not None]
        everything = len(selected) == len(getattr(self.pact, "interactions", ()))
        return run.result(self.pact, self.owner.running, only=None if everything else selected)

    def place(self) -> tuple[Path, int | None, str]:
        """The interaction in the pact file."""
        edge = getattr(self.pact, "edge", self.pact.path.name)
        labels = [label for label, _ in self.pact.labels()] if hasattr(self.pact, "labels") else []
        return _place(self.pact.path, labels, self.label, f"pact {edge}" + (f" {self.label}" if self.label else ""))


class FuzzOperation(ReportingItem):
    """One operation of a service, its stateful sequences ("stateful") or the service as a whole ("(service)": base
    path, a document that cannot be loaded), from the service's schemathesis run; or a written exclusion of a check
    (skipped with its reason). The first item that runs starts the runs of every service still selected, one after
    another in the topology's order (xdist workers sharing a topology: once for all of them)."""

    def __init__(self, *, service: str, operation: str, owner: TopologySession, problem: str = "",
                 excluded: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.operation = operation
        self.owner = owner
        self.problem = problem  # why the item cannot run (a document that does not load, an unparsable operation)
        self.excluded = excluded  # the written reason of an exclusion: the item is skipped with it
        self.at = operation  # the operation whose line the item is at (ServiceResult.place_of)

    def verdict(self) -> Case:
        from harness.pytest.options import fuzz_rerun
        from harness.report.fuzz import fuzz_case
        from harness.report.junit import Case

        if self.excluded:
            return Case("", self.name, skipped=f"excluded: {self.excluded}")
        if self.problem:
            return Case("", self.name, error=f"ERROR {self.problem}".splitlines()[0], details=f"ERROR {self.problem}")
        result = self._result()
        self._move_to(result.place_of(self.operation))
        return fuzz_case(result, self.operation, self.name, rerun=fuzz_rerun(self.config))

    def _move_to(self, place: str) -> None:
        """The item is at operation `place` from now on: the stateful sequences' place is known once they ran (the
        step that failed). pytest's reports, JUnit's file/line and the annotations take it from `location`, which
        pytest computes once (a cached property): it is computed again."""
        if place != self.at:
            self.at = place
            self.__dict__.pop("location", None)

    def uses_topology(self) -> bool:
        """Only before the runs start: restoring a service while they run would change what the runs find."""
        run = self.owner.fuzz
        return not self.excluded and not self.problem and (run is None or self.service not in run.runs)

    def runtest(self) -> None:
        if self._case.output:  # the failures a baseline accepts: shown with the item (-rA), its JUnit system-out
            if not (self._case.failure or self._case.error):  # (a failing item's text lists them already)
                self.add_report_section("call", "stdout", self._case.output)
            self.user_properties.append(("fuzz-baseline-accepted", self._case.output))
        super().runtest()

    def _result(self) -> Any:
        run = self.owner.fuzz
        assert run is not None
        if self.service not in run.runs:  # the first fuzz item: every service still selected, one after another
            selected = {i.service for i in self.session.items
                        if isinstance(i, FuzzOperation) and not i.problem and not i.excluded}
            self.owner.shared.start_fuzzing(run, [name for name in run.names if name in selected and name not in
                                                  run.runs] or [self.service])
        return run.runs[self.service].result()

    def place(self) -> tuple[Path, int | None, str]:
        """The operation in the service's OpenAPI document when it is a file (the stateful sequences: the document,
        then the step that failed), else the service in the topology file."""
        from harness.report.annotations import operation_location

        where = operation_location(self.owner.spec, self.service, self.at) if self.owner.spec else None
        if where is None:
            return self.owner.file, None, f"fuzz {self.service} {self.operation}"
        return where.file, _zero_based(where.line), f"fuzz {self.service} {self.operation}"


class PactDrift(ReportingItem):
    """One interaction of a pact (`label`), or a whole pact file (`label` None: unreadable, no interaction), checked
    against its provider's OpenAPI document, statically (--pact-drift): nothing is started. The first item of a file
    checks the file; each item reports its interaction's part."""

    def __init__(self, *, file: Path, owner: TopologySession, label: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file = file
        self.owner = owner
        self.label = label

    def verdict(self) -> Case:
        from harness.contracts.drift import running_fetcher
        from harness.report.drift import drift_case

        run = self.owner.drift
        assert run is not None
        fetch = running_fetcher(run.spec, self.owner.topology)  # this session's own run if started, else shared
        case = drift_case(run.check(self.file, fetch), self.label, self.name)
        return case if case.skipped is None else dataclasses.replace(case, skipped=f"not applicable: {case.skipped}")

    def uses_topology(self) -> bool:
        return self.owner.drift is None or not self.owner.drift.checked(self.file)

    def place(self) -> tuple[Path, int | None, str]:
        """The interaction in the pact file."""
        from harness.contracts.pactfiles import read_pact
        from harness.errors import MalformedPact

        try:
            labels = [label for label, _ in read_pact(self.file).labels()]
        except MalformedPact:
            labels = []
        domain = f"drift {self.file.name}" + (f" {self.label}" if self.label else "")
        return _place(self.file, labels, self.label, domain)


def _place(pact: Path, labels: list[str], label: str | None, domain: str) -> tuple[Path, int | None, str]:
    """The place of an item of a pact: (the file, the 0-based line of its interaction (None: the file), `domain`)."""
    from harness.report.annotations import interaction_location

    return pact, _zero_based(interaction_location(pact, labels, label).line), domain


def _zero_based(line: int | None) -> int | None:
    """A 1-based line as pytest's `location` has it (0-based); None (the file as a whole, no line) stays None, as
    `harness ... --junit` and its annotations give no line then, rather than line 1."""
    return None if line is None else line - 1


def skip(reason: str) -> NoReturn:
    """Skip the running item with `reason`, reported at the item's place (the topology file, the pact), as pytest's
    own skip marks do, rather than at this module's line."""
    raise pytest.skip.Exception(reason, _use_item_location=True)
