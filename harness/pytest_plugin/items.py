"""Test items the plugin adds: one per pact (--pact-verify) and one per fuzzed operation (--fuzz)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

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
            skip(f"excluded: {result.reason}")
        if not result.ok:
            raise ReportedFailure(failure_text(result))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.pact.path, 0, f"pact {getattr(self.pact, 'edge', self.pact.path.name)}"


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

    def runtest(self) -> None:
        from harness.report.fuzz import PYTEST_FLAGS, Rerun, findings_text

        if self.excluded:
            skip(f"excluded: {self.excluded}")
        if self.problem:
            raise ReportedFailure(f"ERROR {self.problem}")
        result = self._result()
        mine = result.findings_for(self.operation)
        if mine:
            raise ReportedFailure(findings_text(result, mine, rerun=Rerun(self._command(PYTEST_FLAGS), PYTEST_FLAGS)))
        if self.operation == "stateful" and result.stateful_not_run:
            skip(result.stateful_not_run)  # nothing was checked: not a pass

    def _result(self) -> Any:
        from harness.fuzz.session import FuzzOptions, split_names

        runs = self.owner.fuzz_results  # service -> Future[ServiceResult]
        if self.service not in runs:
            config = self.config
            options = FuzzOptions(
                max_examples=config.getoption("fuzz_max_examples"), seed=config.getoption("fuzz_seed"),
                checks=split_names(config.getoption("fuzz_checks")),
                phases=split_names(config.getoption("fuzz_phases")),
                mode=config.getoption("fuzz_mode"), workers=config.getoption("fuzz_workers") or 1,
                cache_dir=config.cache.mkdir("hypothesis") if getattr(config, "cache", None) else None)
            selected = {i.service for i in self.session.items
                        if isinstance(i, FuzzOperation) and not i.problem and not i.excluded}
            order = list(self.owner.spec.services) if self.owner.spec is not None else []
            services = [s for s in order if s in selected and s not in runs] or [self.service]
            runs.update(self.owner.fuzz_runs(services, options))
        return runs[self.service].result()

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.owner.file, 0, f"fuzz {self.service} {self.operation}"

    def _command(self, flags: dict[str, str]) -> list[str]:
        """This pytest session's command line without the options that choose the fuzzing (`flags`, each with its
        value): a rerun hint adds them as the run used them."""
        given, words, skip_value = list(self.config.invocation_params.args), ["pytest"], False
        for word in given:
            if skip_value:
                skip_value = False
            elif word in flags.values():
                skip_value = True
            elif not word.startswith(tuple(f"{flag}=" for flag in flags.values())):
                words.append(word)
        return words


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
        fetch = running_fetcher(self.owner.spec, self.owner.topology)  # this session's own run if started, else shared
        result = check_pact(self.owner.spec, self.file, self.owner.drift_documents, fetch)
        self.owner.drift_results.append(result)
        if result.verdict in (DRIFT, ERROR):
            raise ReportedFailure(result_text(result))
        if result.verdict == NOT_APPLICABLE:
            skip(f"not applicable: {result.reason}")

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.file, 0, f"drift {self.file.name}"


def skip(reason: str) -> NoReturn:
    """Skip the running item with `reason`, reported at the item's place (the topology file, the pact), as pytest's
    own skip marks do, rather than at this module's line."""
    raise pytest.skip.Exception(reason, _use_item_location=True)
