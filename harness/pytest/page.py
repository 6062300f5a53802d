"""`--topology-report PATH` (ini `topology_report`): the run's report page, written at the end of the session from
what the --topology session collected (start events, pact, drift and fuzz results, faults) and the failed items."""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.pytest.session import PLUGIN_NAME

if TYPE_CHECKING:
    from harness.pytest.session import TopologySession

SECTIONS = ("Captured log of service", "Faults active during the test")  # the sections the harness attaches
SNAPSHOT_KEY = "topology_snapshot"  # workeroutput: an xdist worker's services, faults and engine version, pickled


def report_file(config: pytest.Config) -> Path | None:
    from harness.pytest.options import resolved

    page = resolved(config).topology_report  # --topology-report, else the ini key (relative to the ini file)
    return page.resolve() if page else None


class ReportPage:
    """Collects failed items as the session goes and writes the page before the topology is removed."""

    def __init__(self, config: pytest.Config, file: Path) -> None:
        from harness.pytest.options import fuzz_rerun
        from harness.report.page import RunRecorder

        self.config = config
        self.file = file
        self.recorder = RunRecorder("pytest " + " ".join(config.invocation_params.args), fuzz_rerun(config))
        self.failed: list[Any] = []
        self.counts: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0, "errors": 0}
        self.written: Path | None = None
        self.problem = ""

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.recorder.facts.started = time.time()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from harness.report.page import FailedTest

        if report.when == "call" or report.failed or (report.skipped and report.when == "setup"):
            key = "errors" if report.failed and report.when != "call" else report.outcome
            self.counts[key] = self.counts.get(key, 0) + 1
        if report.failed:
            sections = tuple((title, text) for title, text in report.sections if title.startswith(SECTIONS))
            self.failed.append(FailedTest(report.nodeid, report.when, report.longreprtext, sections))

    @pytest.hookimpl(tryfirst=True)  # before the --topology session removes the topology
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from harness.report.page import outcome_text, write_page

        owner: TopologySession | None = self.config.pluginmanager.get_plugin(PLUGIN_NAME)
        try:
            # registered with a topology (pytest_configure), whose spec a session that gets here has loaded
            assert owner is not None and owner.spec is not None
            if owner.topology is not None:
                self.recorder.events = list(owner.start_events)
                self.recorder.snapshot(owner.topology)
            if owner.worker is not None:  # an xdist worker: the controller writes the page of the whole run
                self.config.workeroutput[SNAPSHOT_KEY] = pickle.dumps(  # type: ignore[attr-defined]
                    (bool(owner.start_events), self.recorder.services, self.recorder.faults,
                     self.recorder.docker_version))
                return
            fuzz = owner.fuzz.results() if owner.fuzz else []  # a run that raised failed its items already
            pacts = owner.verify.results if owner.pacts_run and owner.verify else None
            owner.settle_baseline(session)  # --fuzz-baseline: the page lists its entries
            owner.observing.finish(session)  # --observe: each edge's coverage in the matrix and on the graph
            observed = owner.observing.result
            data = self.recorder.page(owner.spec, pacts=pacts, drift=owner.drift.results if owner.drift else [],
                                      fuzz=fuzz, fuzz_baseline=owner.baseline, failed_tests=self.failed,
                                      outcome=outcome_text(self.counts.items()),
                                      coverage=observed.edges if observed is not None else None)
            self.written = write_page(data, self.file)
        except Exception as error:  # noqa: BLE001 - a report that cannot be written must not hide the test results
            self.problem = f"{type(error).__name__}: {error}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist controller: a worker's snapshot; the services as seen by the worker that started them."""
        sent = getattr(node, "workeroutput", {}).get(SNAPSHOT_KEY)
        if sent is None:
            return
        try:
            started, services, faults, version = pickle.loads(sent)
        except Exception as problem:  # noqa: BLE001 - the page is written without it, and says so
            self.problem = f"the snapshot of worker {node.workerinput.get('workerid', '?')}: {problem}"
            return
        if services and (started or not self.recorder.services):
            self.recorder.services = services
        self.recorder.faults = sorted([*self.recorder.faults, *faults], key=lambda record: record.started)
        self.recorder.docker_version = self.recorder.docker_version or version

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.written is not None:
            terminalreporter.write_line(f"report page written to {self.written}")
        if self.problem:
            state = "incomplete" if self.written is not None else f"NOT written to {self.file}"
            terminalreporter.write_line(f"report page {state}: {self.problem}", red=True)
