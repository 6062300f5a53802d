"""The items the --topology session adds: one per pact interaction (--pact-verify), per fuzzed operation (--fuzz)
and per pact checked for drift (--pact-drift), under the topology file, reported as collected (so that pytest's
"collected N items" counts them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.pytest.items import FuzzOperation, PactDrift, PactVerification, ReportingItem
from harness.pytest.selection import take_selection

if TYPE_CHECKING:
    from collections.abc import Generator

    from harness.pytest.session import TopologySession


class Collector:
    """Adds the items of the session's runs (a plugin beside the --topology session)."""

    def __init__(self, plugin: TopologySession) -> None:
        self.plugin = plugin
        self.selection = take_selection(plugin.config, plugin.file)  # node ids of its items given as arguments

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so that they apply to pact and fuzz items too
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        added = len(items)
        if self.plugin.verify is not None:
            self._collect_pacts(session, items)
        if self.plugin.fuzz is not None:
            self._collect_fuzz(session, items)
        if self.plugin.drift is not None:
            self._collect_drift(session, items)
        if len(items) > added:  # reported as collected (pytest's "collected N items" counts collect reports)
            collected: list[pytest.Item | pytest.Collector] = [*items[added:]]
            config.hook.pytest_collectreport(report=pytest.CollectReport(
                self.plugin.item_id("").removesuffix("::"), "passed", None, collected))
        if self.selection is not None:  # after the report: "collected 7 items / 6 deselected / 1 selected", as -k
            self._select(config, items, added)

    def _select(self, config: pytest.Config, items: list[pytest.Item], added: int) -> None:
        """Only the added items the command line names (their node ids given as arguments); one that names none is
        pytest's usage error "not found"."""
        assert self.selection is not None
        ours = items[added:]
        missing = self.selection.unmatched(ours)
        if missing:
            raise pytest.UsageError(f"not found: {' '.join(missing)} (no item of {self.plugin.file.name} has that "
                                    "name: `pytest --collect-only -q` lists them)")
        kept, dropped = self.selection.chosen(ours)
        items[added:] = kept
        if dropped:
            config.hook.pytest_deselected(items=dropped)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]
                                  ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """An added item's setup takes its verdict's own time (its interaction's, its operation's), not the time it
        waited for the one run of its pact file or service that the first item of the file or service starts:
        pytest's JUnit and --durations then give each its share, as `harness verify/fuzz --junit` do."""
        report: pytest.TestReport = yield
        case = getattr(item, "_case", None)
        if call.when == "setup" and isinstance(item, ReportingItem) and case is not None:
            report.duration = case.seconds
        return report

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """The drift items' files are checked in a thread while the pact and fuzz items run (from pact files and the
        documents next to the topology, which nothing changes); not in an xdist worker."""
        drift = self.plugin.drift
        if drift is None or self.plugin.worker is not None or session.config.option.collectonly:
            return
        files = list(dict.fromkeys(item.file for item in session.items if isinstance(item, PactDrift)))
        if files:
            drift.check_ahead(files)

    @pytest.hookimpl(tryfirst=True)  # no check ahead outlives the session (-x, an interruption)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.plugin.drift is not None:
            self.plugin.drift.stop_ahead()

    def _collect_pacts(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """One item per interaction of a pact (`pact[a->b: DESCRIPTION]`; states added where descriptions repeat),
        one per pact file that is unreadable, excluded (skipped with the reason) or has no interaction. Outside
        consumers' pacts are items too."""
        from harness.contracts.pactfiles import UnreadablePact
        from harness.contracts.run import exclusion
        from harness.report.contracts import item_name, item_names

        plugin = self.plugin
        assert plugin.verify is not None and plugin.spec is not None
        plugin.pacts_run = True
        for note in plugin.verify.selection.notes:
            write_note(session, note)
        sources = plugin.verify.selection.sources
        # two files of one consumer->provider pair: the file names tell their items (and JUnit cases) apart
        names = item_names([(source.path, getattr(source, "edge", source.path.name)) for source in sources])
        for source in sources:
            labels: list[str | None] = [None]
            if not isinstance(source, UnreadablePact) and source.interactions \
                    and exclusion(plugin.spec, source) is None:
                labels = [label for label, _ in source.labels()]
            for label in labels:
                name = item_name(names[source.path], label)
                items.append(PactVerification.from_parent(session, name=name, nodeid=plugin.item_id(name),
                                                          pact=source, owner=plugin, label=label))

    def _collect_fuzz(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """One item per service (its base path, a document that does not load), per operation, per operation that
        cannot be parsed (an error), one for the stateful sequences, one per written exclusion (skipped).
        --collect-only starts nothing (pytest's convention): the operations of a document a service serves are
        then not listed, a line says so."""
        from harness.errors import HarnessError
        from harness.fuzz.results import SERVICE_WIDE
        from harness.fuzz.schema import declared_operations, operations, served, warm_loader
        from harness.report.fuzz import item_name as fuzz_item_name

        plugin = self.plugin
        run = plugin.fuzz
        spec = plugin.spec
        assert run is not None and spec is not None
        collect_only = session.config.option.collectonly

        def add(name: str, label: str, problem: str = "", excluded: str = "") -> None:
            item_name = fuzz_item_name(name, label)
            items.append(FuzzOperation.from_parent(session, name=item_name, nodeid=plugin.item_id(item_name),
                                                   service=name, operation=label,
                                                   owner=plugin, problem=problem, excluded=excluded))

        if collect_only:
            unlisted = [name for name in run.names if served(spec, name)]
            if unlisted:
                write_note(session, f"--collect-only starts nothing: the operations of {', '.join(unlisted)} are "
                           "read from the documents they serve once the topology runs (listed here: each service's "
                           "setup, stateful and exclusion items)")
        else:
            if plugin.share is None or plugin.worker is None:  # workers sharing a topology: one of them fuzzes it
                run.prepare()  # while the topology starts
            warm_loader()  # the operations are read here once it runs
            try:
                topology = plugin.running()  # the operations are read from the running services' specs
            except pytest.fail.Exception:  # an xdist worker whose start failed: the reason on each service's item
                for name in run.names:
                    add(name, SERVICE_WIDE, f"topology {spec.name} did not start:\n{plugin.start_error}")
                return

        for name in run.names:
            labels: list[str] = []
            broken: dict[str, str] = {}
            try:
                if not collect_only:
                    labels, broken = operations(topology, name)
                elif not served(spec, name):
                    labels, broken = declared_operations(spec, name)
            except HarnessError as error:  # the service's document: one error item, the other services still run
                add(name, SERVICE_WIDE, str(error))
                continue
            add(name, SERVICE_WIDE)
            for label in labels:
                add(name, label)
            for label, problem in broken.items():
                add(name, label, f"{label} of service '{name}' cannot be parsed, so it was not fuzzed:\n{problem}")
            add(name, "stateful")
            for exclusion in spec.services[name].fuzz.exclude:  # skipped, with the written reason
                add(name, f"excluded {exclusion.check}", excluded=exclusion.reason)

    def _collect_drift(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """One item per interaction of a pact (`drift[a->b: DESCRIPTION]`, named as the pact items), one per pact file
        that cannot be read or has no interaction (`drift[a->b]`)."""
        from harness.contracts.pactfiles import read_pact
        from harness.errors import HarnessError, MalformedPact
        from harness.report.contracts import item_name, item_names

        assert self.plugin.drift is not None
        try:
            files = self.plugin.drift.files()
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        pacts: dict[Path, tuple[str, list[str | None]]] = {}
        for file in files:
            try:
                pact = read_pact(file)
                pacts[file] = (pact.edge, [label for label, _ in pact.labels()] or [None])
            except MalformedPact:  # its item says why (the drift check's error verdict)
                pacts[file] = (file.name, [None])
        names = item_names([(file, edge) for file, (edge, _) in pacts.items()])
        for file, (_, labels) in pacts.items():
            for label in labels:
                name = item_name(names[file], label, "drift")
                items.append(PactDrift.from_parent(session, name=name, nodeid=self.plugin.item_id(name), file=file,
                                                   label=label, owner=self.plugin))


def write_note(session: pytest.Session, note: str) -> None:
    """`note: ...` on the terminal (none under xdist's workers or without the terminal plugin)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"note: {note}")
