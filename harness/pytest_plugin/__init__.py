"""pytest plugin: `--topology FILE` gives tests a session-scoped `topology` fixture with every service running.

Costs nothing without --topology: Docker and testcontainers are imported only when a topology is used.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pact import Pact

    from harness.contracts.consumer import PactRecorder  # noqa: F401 - named in a StashKey annotation
    from harness.spec.model import TopologySpec
    from harness.runtime.topology import Topology

_started_at = pytest.StashKey[float]()
_call_passed = pytest.StashKey[bool]()
_recorder = pytest.StashKey["PactRecorder"]()
PLUGIN_NAME = "harness-topology"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("topology", "pytest-topology: service topologies in containers")
    group.addoption("--topology", dest="topology_file", metavar="FILE",
                    help="topology file (YAML or docker-compose) to start for the session; ini key: topology")
    group.addoption("--topology-keep", action="store_true", default=False,
                    help="leave the topology running after the session and print its URLs (remove: harness down)")
    parser.addini("topology", "topology file (relative to the ini file) used when --topology is not given")
    group.addoption("--pact-verify", action="store_true", default=False,
                    help="verify every pact of the topology's pact folder against its provider, one test per pact")
    group.addoption("--fuzz", action="store_true", default=False,
                    help="fuzz every service with `openapi:` (schemathesis): a test per service and operation, and "
                         "one per service for the stateful sequences")
    group.addoption("--fuzz-max-examples", type=int, metavar="N", help="with --fuzz: examples per operation")
    group.addoption("--pact-dir", dest="pact_dir", metavar="DIR",
                    help="where the `pact` fixture writes pact files (default: contracts/); ini key: pact_dir")
    parser.addini("pact_dir", "folder for pact files written by consumer tests (relative to the ini file)",
                  default="contracts")


def pytest_configure(config: pytest.Config) -> None:
    file = _topology_file(config)
    if file is not None:
        config.pluginmanager.register(TopologySession(config, file), PLUGIN_NAME)


def _topology_file(config: pytest.Config) -> Path | None:
    if config.getoption("topology_file"):
        return Path(config.getoption("topology_file"))
    ini = config.getini("topology")
    return _ini_relative(config, str(ini)) if ini else None


def _ini_relative(config: pytest.Config, value: str) -> Path:
    base = config.inipath.parent if config.inipath else config.rootpath
    return base / value


@pytest.fixture
def pact(request: pytest.FixtureRequest):  # noqa: ANN201 - Callable[[str, str], Pact]
    """`pact("gateway", "dataservice")` -> a pact-python V4 `Pact`. Interactions of passing tests are merged per
    consumer->provider pair and written to the pact folder (--pact-dir) at the end of the session."""
    config = request.config
    if _recorder not in config.stash:
        from harness.contracts.consumer import PactRecorder  # noqa: F401 - named in a StashKey annotation

        folder = config.getoption("pact_dir")
        config.stash[_recorder] = PactRecorder(Path(folder) if folder else _ini_relative(config, config.getini("pact_dir")))
    recorder = config.stash[_recorder]

    def new_pact(consumer: str, provider: str) -> Pact:
        return recorder.new(consumer, provider)

    yield new_pact
    recorder.test_finished(request.node.stash.get(_call_passed, False))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
    report = yield
    if report.when == "call":
        item.stash[_call_passed] = report.passed
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _recorder in session.config.stash:
        written = session.config.stash[_recorder].write()
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter and written:
            reporter.ensure_newline()
            reporter.write_line(f"pacts written: {', '.join(str(p) for p in written)}")


@pytest.fixture(scope="session")
def topology(request: pytest.FixtureRequest) -> Topology:
    """The running topology of `--topology FILE`: `topology["name"].url`, `.logs()`, `.stop()`, ..."""
    session: TopologySession | None = request.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if session is None:
        pytest.fail("the `topology` fixture needs a topology file: run pytest with --topology FILE "
                    "(or set the ini key `topology`)", pytrace=False)
    return session.running()


class TopologySession:
    """Owns the topology of one pytest session: loads it at session start, starts it on first use."""

    def __init__(self, config: pytest.Config, file: Path) -> None:
        self.config = config
        self.file = file
        self.keep = bool(config.getoption("topology_keep"))
        self.spec: TopologySpec | None = None
        self.topology: Topology | None = None
        self.pacts: list = []  # with --pact-verify: the PactFiles collected, and their results as they come
        self.pact_results: list = []
        self.fuzz_results: dict = {}  # service -> ServiceResult, one schemathesis run per service

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from harness.errors import HarnessError
        from harness.runtime.interrupts import interrupt_on_sigterm
        from harness.spec.loader import load_topology
        from harness.runtime.engine import connect

        try:
            self.spec = load_topology(self.file)
            connect()
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        interrupt_on_sigterm()  # so that teardown runs when CI cancels the job

    def running(self) -> Topology:
        if self.topology is None:
            from harness.report.console import ProgressPrinter, services_table
            from harness.errors import HarnessError
            from harness.runtime.topology import Topology

            assert self.spec is not None
            capture = self.config.pluginmanager.get_plugin("capturemanager")
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                printer = ProgressPrinter()
                printer.console.print(f"\nstarting topology {self.spec.project} from {self.file}")
                try:
                    self.topology = Topology.start(self.spec, progress=printer, keep=self.keep)
                except HarnessError as error:
                    pytest.exit(f"topology {self.spec.project} did not start:\n{error}", returncode=1)
                printer.console.print(services_table(self.topology))
        return self.topology

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so that they apply to pact and fuzz items too
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if config.getoption("pact_verify"):
            self._collect_pacts(session, items)
        if config.getoption("fuzz"):
            self._collect_fuzz(session, items)

    def _collect_fuzz(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from harness.errors import HarnessError
        from harness.fuzz.session import fuzzable, operations

        topology = self.running()  # the operations are read from the running services' specs
        for name in fuzzable(topology):
            try:
                labels = operations(topology, name)
            except HarnessError as error:
                raise pytest.UsageError(str(error)) from None
            for label in [*labels, "stateful"]:
                items.append(FuzzOperation.from_parent(session, name=f"fuzz[{name} {label}]", service=name,
                                                       operation=label, known=labels, owner=self))

    def _collect_pacts(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from harness.contracts.run import select_pacts
        from harness.errors import HarnessError

        assert self.spec is not None
        try:
            self.pacts, registry = select_pacts(self.spec)
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        for pact in self.pacts:
            if pact.provider in self.spec.services and pact.consumer in self.spec.services:
                items.append(PactVerification.from_parent(session, name=f"pact[{pact.edge}]", pact=pact,
                                                          registry=registry, owner=self))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.topology is not None and not self.keep:
            self.topology.close()

    def pytest_terminal_summary(self, terminalreporter) -> None:  # noqa: ANN001 - pytest's TerminalReporter
        if self.pacts:
            self._report_matrix(terminalreporter)
        if self.topology is not None and self.keep:
            terminalreporter.section("topology kept running (remove it with: harness down)")
            for name, url in self.topology.urls().items():
                terminalreporter.write_line(f"{name:20} {url}")

    def _report_matrix(self, terminalreporter) -> None:  # noqa: ANN001
        import io

        from rich.console import Console

        from harness.contracts.matrix import as_table, edge_matrix, write_reports

        assert self.spec is not None
        edges = edge_matrix(self.spec, self.pacts, self.pact_results)
        title = f"contracts of topology {self.spec.project}"
        console = Console(file=io.StringIO(), width=terminalreporter._tw.fullwidth, record=True)
        console.print(as_table(edges, title))
        terminalreporter.section("contract matrix")
        terminalreporter.write(console.export_text())
        as_json, as_html = write_reports(edges, self.config.rootpath / "reports", title)
        terminalreporter.write_line(f"matrix written to {as_json} and {as_html}")

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        item.stash[_started_at] = time.time()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):  # noqa: ANN201
        report = yield
        if report.failed and self.topology is not None:
            since = item.stash.get(_started_at, None)
            for service in self.topology:
                try:
                    text = service.logs(since=since)
                except Exception as error:  # noqa: BLE001 - a report must never fail because a log is gone
                    text = f"(log unavailable: {error})"
                if text.strip():  # shown with the failure, and kept on the item so JUnit's system-out gets it too
                    item.add_report_section(call.when, f"log of service {service.name}", text)
                    report.sections.append((f"Captured log of service {service.name} {call.when}", text))
        return report



class ReportedFailure(Exception):
    """A pact that did not verify, or an operation that fuzzing broke: the message is the whole report."""


class _ReportingItem(pytest.Item):
    """An item whose failure is a ready-made report, shown as is (no traceback)."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style=None) -> str:  # noqa: ANN001
        if isinstance(excinfo.value, ReportedFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


class PactVerification(_ReportingItem):
    """One consumer->provider pact verified against the provider of the running topology."""

    def __init__(self, *, pact, registry, owner: TopologySession, **kwargs) -> None:  # noqa: ANN001
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


class FuzzOperation(_ReportingItem):
    """One operation of a service (or its stateful sequences), from the service's schemathesis run."""

    def __init__(self, *, service: str, operation: str, known: list[str], owner: TopologySession,
                 **kwargs) -> None:  # noqa: ANN003
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
