"""Test items the plugin adds: one per pact (--pact-verify) and one per fuzzed operation (--fuzz)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.pytest_plugin.session import TopologySession


class ReportedFailure(Exception):
    """A pact that did not verify, or an operation that fuzzing broke: the message is the whole report."""


class ReportingItem(pytest.Item):
    """An item whose failure is a ready-made report, shown as is (no traceback)."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        from harness.errors import HarnessError

        if isinstance(excinfo.value, (ReportedFailure, HarnessError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))


class PactVerification(ReportingItem):
    """One pact file verified against its provider in the running topology: fails with the verifier's report
    (the provider's log first), errors with the reason (unreadable, provider not a service, verifier refused),
    skips with the written reason of an exclusion."""

    def __init__(self, *, pact: Any, registry: Any, owner: TopologySession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pact = pact  # a PactFile, or an UnreadablePact
        self.registry = registry
        self.owner = owner

    def runtest(self) -> None:
        from harness.contracts.run import decided_before_running
        from harness.contracts.verify import verify_pact
        from harness.report.contracts import failure_text

        assert self.owner.spec is not None
        result = decided_before_running(self.owner.spec, self.pact)
        if result is None:
            result = verify_pact(self.owner.running(), self.pact, self.registry, self.owner.verifier_worker())
        self.owner.pact_results.append(result)
        if result.verdict == "excluded":
            pytest.skip(f"excluded: {result.reason}")
        if not result.ok:
            raise ReportedFailure(failure_text(result))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.pact.path, 0, f"pact {getattr(self.pact, 'edge', self.pact.path.name)}"


class FuzzOperation(ReportingItem):
    """One operation of a service (or its stateful sequences), from the service's schemathesis run."""

    def __init__(self, *, service: str, operation: str, known: list[str], owner: TopologySession,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.operation = operation
        self.known = known
        self.owner = owner

    def runtest(self) -> None:
        from harness.fuzz.session import fuzz_service
        from harness.report.fuzz import failures_text

        if self.service not in self.owner.fuzz_results:
            self.owner.fuzz_results[self.service] = fuzz_service(
                self.owner.running(), self.service, max_examples=self.config.getoption("fuzz_max_examples"))
        result = self.owner.fuzz_results[self.service]
        if self.operation == "stateful":
            mine = [f for f in result.failures if f.operation not in self.known]
        else:
            mine = [f for f in result.failures if f.operation == self.operation]
        if mine:
            raise ReportedFailure(failures_text(result, mine))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.owner.file, 0, f"fuzz {self.service} {self.operation}"


class PactDrift(ReportingItem):
    """One pact checked against its provider's OpenAPI document, statically (--pact-drift): nothing is started."""

    def __init__(self, *, file: Path, owner: TopologySession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file = file
        self.owner = owner

    def runtest(self) -> None:
        from harness.contracts.drift import DRIFT, ERROR, NOT_APPLICABLE, check_pact, running_fetcher
        from harness.report.drift import result_text

        assert self.owner.spec is not None
        result = check_pact(self.owner.spec, self.file, self.owner.drift_documents, running_fetcher(self.owner.spec))
        if result.verdict in (DRIFT, ERROR):
            raise ReportedFailure(result_text(result))
        if result.verdict == NOT_APPLICABLE:
            pytest.skip(f"not applicable: {result.reason}")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.file, 0, f"drift {self.file.name}"
