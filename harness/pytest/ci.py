"""CI annotations of a pytest session (--annotations, harness.report.annotations): a workflow command per failing
item (a test, a pact interaction, a drift check, a fuzzed operation, a topology that did not start) at the place its
report names (`location`: the pact's interaction, the operation in its document, the service in the topology file),
written through the terminal reporter when the session ends; and the step summary. The xdist controller (or the
only process) writes them, from the reports it receives."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.verdict import Outcome


class SessionAnnotations:
    """Registered when annotations are on (and not in an xdist worker)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.failing: dict[str, Any] = {}  # node id -> its first failing report (setup, call or teardown)
        self.outcomes: dict[str, Outcome] = {}  # node id -> its outcome (harness.verdict)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failing.setdefault(report.nodeid, report)
            outcome: Outcome = "failed" if report.when == "call" else "error"
            self.outcomes[report.nodeid] = self.outcomes.get(report.nodeid, outcome)
            if outcome == "failed":  # a call failure wins over a teardown error after it
                self.outcomes[report.nodeid] = outcome
        elif report.skipped:
            self.outcomes.setdefault(report.nodeid, "excluded")
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Also when the session stops early (a topology that did not start, exit code 3: pytest prints no summary
        then). Lines start at the start of a line, after the tests' progress."""
        from harness.report.annotations import commands, step_summary, write_step_summary
        from harness.verdict import counts

        if self.config.option.collectonly:  # nothing ran: no counts of zero, no annotations
            return
        annotations = [self._annotation(report) for report in self.failing.values()]
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        lines = commands(annotations)
        if reporter is not None and lines:
            reporter.ensure_newline()
            writer = self.config.get_terminal_writer()
            if writer.width_of_current_line:  # xdist's progress leaves its line open without the reporter knowing
                writer.line()
            for line in lines:
                reporter.write_line(line)
        failing = [f"{a.title}: {(a.message.splitlines() or [''])[0]}" for a in annotations]
        write_step_summary(step_summary("pytest", counts(self.outcomes.values()), failing, self._matrix(),
                                        self._links(), self._notes(session)))

    def _annotation(self, report: Any) -> Any:
        from harness.report.annotations import Annotation, Location

        file, line, _ = report.location
        crash = getattr(report.longrepr, "reprcrash", None)
        message = crash.message if crash is not None else (report.longreprtext.strip().splitlines() or ["failed"])[-1]
        title = report.nodeid.split("::", 1)[-1]
        where = Location(self.config.rootpath / file, line + 1 if line is not None else None)
        return Annotation(title, message, where)

    def _notes(self, session: pytest.Session) -> list[str]:
        """The fuzz baseline's counts (--fuzz-baseline), settled now if the session's end did not yet."""
        from harness.pytest.session import PLUGIN_NAME
        from harness.report.fuzz import baseline_counts

        plugin = self.config.pluginmanager.get_plugin(PLUGIN_NAME)
        if plugin is None or plugin.fuzz is None:
            return []
        plugin.settle_baseline(session)
        return [baseline_counts(plugin.baseline)] if plugin.baseline is not None else []

    def _matrix(self) -> str:
        """The contract matrix of the pacts verified (Markdown, as `harness verify` writes it), "" when none were."""
        from harness.pytest.session import PLUGIN_NAME

        plugin = self.config.pluginmanager.get_plugin(PLUGIN_NAME)
        if plugin is None or plugin.spec is None or plugin.verify is None or not plugin.verify.results:
            return ""
        from harness.contracts.matrix import edge_matrix
        from harness.report.matrix import matrix_markdown

        drift = plugin.drift.results if plugin.drift is not None else []
        return matrix_markdown(edge_matrix(plugin.spec, plugin.verify.results, drift),
                           f"contracts of topology {plugin.spec.name}")

    def _links(self) -> list[Path]:
        from harness.pytest.page import report_file
        from harness.report.matrix import matrix_folder

        links = []
        xml = getattr(self.config.option, "xmlpath", None)
        if xml:
            links.append(Path(xml))
        page = report_file(self.config)
        if page is not None:
            links.append(page)
        if self._matrix() and not self._matrix_left(matrix_folder(page)):
            links.append(matrix_folder(page) / "contract-matrix.html")
        return links

    def _matrix_left(self, folder: Path) -> bool:
        """The matrix files stay the last whole run's (a partial run: -k, --lf, a node id): not this run's to link."""
        from harness.pytest.session import PLUGIN_NAME
        from harness.pytest.summary import partial_run
        from harness.report.matrix import left_as_is

        plugin = self.config.pluginmanager.get_plugin(PLUGIN_NAME)
        observed = plugin is not None and plugin.observing.enabled  # --observe writes the matrix of its traffic
        return left_as_is(folder, partial_run(getattr(plugin, "verify", None)), observed)


def register(config: pytest.Config) -> None:
    """Annotations for this session when --topology-annotations (ini topology_annotations) says so: `auto` only for a
    session with a topology (a project that merely has the plugin installed keeps its output as it was)."""
    from harness.pytest.options import resolved
    from harness.report.annotations import enabled

    options = resolved(config)
    if options.annotations == "auto" and not options.topology.files:
        return
    if enabled(options.annotations) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(SessionAnnotations(config), "harness-annotations")
