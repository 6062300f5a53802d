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
    """One consumer->provider pact verified against the provider of the running topology."""

    def __init__(self, *, pact: Any, registry: Any, owner: TopologySession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pact = pact
        self.registry = registry
        self.owner = owner

    def runtest(self) -> None:
        from harness.contracts.verify import verify_pact

        result = verify_pact(self.owner.running(), self.pact, self.registry)
        self.owner.pact_results.append(result)
        if result.provider_log.strip():
            self.add_report_section("call", f"log of service {self.pact.provider}", result.provider_log)
        if not result.passed:
            raise ReportedFailure(result.report)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.pact.path, 0, f"pact {self.pact.edge}"


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
