"""The topology of a pytest session (`--topology FILE`): loaded at session start, started on first use, removed at
the end; with --pact-verify and --fuzz it also adds one item per pact and per fuzzed operation."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.pytest_plugin.items import FuzzOperation, PactDrift, PactVerification
from harness.pytest_plugin.pact import ini_relative

if TYPE_CHECKING:
    from harness.runtime.topology import Topology
    from harness.spec.model import TopologySpec

PLUGIN_NAME = "harness-topology"
active_key = pytest.StashKey[list]()  # every topology running for this session (session, module, ... fixtures)


def active_topologies(config: pytest.Config) -> list[Topology]:
    return config.stash.setdefault(active_key, [])


@contextlib.contextmanager
def terminal_visible(config: pytest.Config):  # noqa: ANN201 - Iterator[None]
    """Progress printed while a fixture starts a topology reaches the terminal even under output capture."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        yield


class TopologySession:
    """Owns the topology of one pytest session."""

    def __init__(self, config: pytest.Config, file: Path) -> None:
        self.config = config
        self.file = file
        self.keep = bool(config.getoption("topology_keep"))
        self.spec: TopologySpec | None = None
        self.topology: Topology | None = None
        self.pact_selection: Any = None  # with --pact-verify: the pact files collected, and their verdicts
        self.pact_results: list[Any] = []
        self.verifier: Any = None  # one verifier process for the session's pacts, started on first use
        self.fuzz_results: dict[str, Any] = {}  # service -> Future[ServiceResult], one run per service
        self.drift_documents: dict[str, Any] = {}  # with --pact-drift: provider -> its OpenAPI document, read once
        self.drift_results: list[Any] = []  # with --pact-drift: a PactDrift per pact checked (for the report page)
        self.start_events: list[Any] = []  # StartEvents of the topology's start (for the report page)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from harness.errors import HarnessError
        from harness.runtime.engine import connect
        from harness.runtime.interrupts import interrupt_on_sigterm
        from harness.spec.loader import load_topology, parse_substitutes

        config = self.config
        env_file = config.getoption("topology_env_file") or (
            ini_relative(config, str(config.getini("topology_env_file"))) if config.getini("topology_env_file")
            else None)
        try:
            substitutes = {**parse_substitutes(config.getini("image_substitutes"), "ini image_substitutes"),
                           **parse_substitutes(config.getoption("image_substitute"))}
            self.spec = load_topology(self.file, profiles=[*config.getini("topology_profiles"),
                                                           *config.getoption("topology_profile")],
                                      env_file=env_file, image_substitutes=substitutes)
            connect()
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for note in self.spec.notes:  # one readable line per ignored compose key
            if reporter is not None:
                reporter.write_line(f"note: {note}")
        interrupt_on_sigterm()  # so that teardown runs when CI cancels the job

    def running(self) -> Topology:
        if self.topology is None:
            from harness.errors import HarnessError
            from harness.report.console import ProgressPrinter, services_table
            from harness.runtime.topology import Topology

            assert self.spec is not None
            with terminal_visible(self.config):
                printer = ProgressPrinter()

                def progress(event: Any) -> None:
                    self.start_events.append(event)
                    printer(event)

                printer.console.print(f"\nstarting topology {self.spec.project} from {self.file}")
                try:
                    self.topology = Topology.start(self.spec, progress=progress, keep=self.keep)
                except HarnessError as error:
                    self._report_start_failure(error)
                    # pytest prints its summary (with the error above) for these exit codes, not for 3
                    shown = error.exit_code in (1, 2, 4, 5)
                    pytest.exit(f"topology {self.spec.project} did not start"
                                + (" (the error above)" if shown else f":\n{error}\n"), returncode=error.exit_code)
                printer.console.print(services_table(self.topology))
            active_topologies(self.config).append(self.topology)
        return self.topology

    def _report_start_failure(self, error: Exception) -> None:
        """The failed start as one errored test (`topology NAME` of the topology file), so that JUnit has an <error>
        with the reason instead of an empty, green-looking suite."""
        assert self.spec is not None
        name = f"topology {self.spec.project}"
        report = pytest.TestReport(nodeid=f"{self.file.as_posix()}::{name}", location=(str(self.file), None, name),
                                   keywords={}, outcome="failed", longrepr=f"{name} did not start:\n{error}",
                                   when="setup", sections=[], duration=0.0)
        self.config.hook.pytest_runtest_logreport(report=report)

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so that they apply to pact and fuzz items too
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if config.getoption("pact_verify"):
            self._collect_pacts(session, items)
        if config.getoption("fuzz"):
            self._collect_fuzz(session, items)
        if config.getoption("pact_drift"):
            self._collect_drift(session, items)

    def _collect_drift(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from harness.contracts.drift import pact_files
        from harness.errors import HarnessError

        assert self.spec is not None
        try:
            files = pact_files((self.spec.base_dir / self.spec.contracts.pacts).resolve())
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        for file in files:
            items.append(PactDrift.from_parent(session, name=f"drift[{file.stem}]", file=file, owner=self))

    def _collect_fuzz(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from harness.errors import HarnessError
        from harness.fuzz.results import SERVICE_WIDE
        from harness.fuzz.session import fuzz_targets, operations

        assert self.spec is not None
        only = self.config.getoption("fuzz_service")
        if not only and not any(s.openapi for s in self.spec.services.values()):
            return
        try:
            names = fuzz_targets(self.spec, only)
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        topology = self.running()  # the operations are read from the running services' specs

        def add(name: str, label: str, problem: str = "") -> None:
            item_name = f"fuzz[{name}]" if label == SERVICE_WIDE else f"fuzz[{name} {label}]"
            items.append(FuzzOperation.from_parent(session, name=item_name, service=name, operation=label,
                                                   owner=self, problem=problem))

        for name in names:
            try:
                labels, broken = operations(topology, name)
            except HarnessError as error:  # the service's document: one error item, the other services still run
                add(name, SERVICE_WIDE, str(error))
                continue
            add(name, SERVICE_WIDE)
            for label in labels:
                add(name, label)
            for label, problem in broken.items():
                add(name, label, f"{label} of service '{name}' cannot be parsed, so it was not fuzzed:\n{problem}")
            add(name, "stateful")

    def _collect_pacts(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """One item per pact file: verified, failed, error (unreadable, provider not a service: the item fails
        with the reason) or excluded (skipped with the reason). Outside consumers' pacts are items too."""
        from harness.contracts.run import select_pacts
        from harness.errors import HarnessError

        assert self.spec is not None
        folder = self.config.getoption("pacts") or self.config.getoption("pact_dir")
        try:
            self.pact_selection = select_pacts(self.spec, Path(folder) if folder else None)
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        for source in self.pact_selection.sources:
            edge = getattr(source, "edge", source.path.name)
            items.append(PactVerification.from_parent(session, name=f"pact[{edge}]", pact=source,
                                                      registry=self.pact_selection.registry, owner=self))

    def verifier_worker(self) -> Any:
        if self.verifier is None:
            from harness.contracts.worker import VerifierWorker

            self.verifier = VerifierWorker()
        return self.verifier

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.verifier is not None:
            self.verifier.close()
        if self.topology is not None and not self.keep:
            self.topology.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.pact_selection is not None:
            self._report_matrix(terminalreporter)
        if self.topology is not None and self.keep:
            terminalreporter.section("topology kept running (remove it with: harness down)")
            for name, url in self.topology.urls().items():
                terminalreporter.write_line(f"{name:20} {url}")

    def _report_matrix(self, terminalreporter: Any) -> None:
        from harness.contracts.matrix import edge_matrix
        from harness.report.matrix import matrix_text, write_reports

        assert self.spec is not None
        edges = edge_matrix(self.spec, self.pact_results)
        title = f"contracts of topology {self.spec.project}"
        terminalreporter.section("contract matrix")
        terminalreporter.write(matrix_text(edges, title, width=max(self.config.get_terminal_writer().fullwidth, 120)))
        as_json, as_html = write_reports(edges, self.config.rootpath / "reports", title)
        terminalreporter.write_line(f"matrix written to {as_json} and {as_html}")
