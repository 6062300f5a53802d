"""The topology of a pytest session (`--topology FILE`): loaded at session start, started on first use, removed at
the end; with --pact-verify and --fuzz it also adds one item per pact interaction and per fuzzed operation (reported as
collected, so that pytest's "collected N items" counts them).

--topology-reuse: a kept run of the same file and signature is used (else one is started and kept); what the tests
left stopped or paused is restored at the end. Under pytest-xdist the workers share one topology: the first to need
it starts it under a file lock in a folder the controller made for this run (`share`), the others attach to the run
written there; it is labelled as owned by the controller, which removes it (by that label) when every worker is done,
so a crashed worker leaks nothing. --topology-per-worker: one topology per worker, as without xdist.
On a shared topology, tests marked `topology_exclusive` (or `edge_fault`) run alone: every test holds a shared lock,
those an exclusive one, and what they left stopped, paused or faulted is put back before it is released; the fuzz
runs a worker starts hold the shared lock until they end.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import pickle
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from harness.pytest_plugin.items import FuzzOperation, PactDrift, PactVerification, one_line_repr
from harness.pytest_plugin.pact import ini_relative

if TYPE_CHECKING:
    from harness.runtime.topology import Topology
    from harness.spec.model import TopologySpec

PLUGIN_NAME = "harness-topology"
EXCLUSIVE = ("topology_exclusive: the test stops, pauses or faults services; on a topology shared by xdist workers it "
             "runs while no other test runs (pytest-topology)")
SHARE_KEY = "topology_share"  # workerinput: the folder of the shared topology's lock and state (controller-made)
OWNER_KEY = "topology_owner"  # workerinput: the controller's owner id, the owner label of the shared topology
RESULTS_KEY = "topology_results"  # workeroutput: a worker's pact, drift and fuzz results, pickled, for the controller
active_key = pytest.StashKey[list]()  # every topology running for this session (session, module, ... fixtures)


def active_topologies(config: pytest.Config) -> list[Topology]:
    return config.stash.setdefault(active_key, [])


@contextlib.contextmanager
def terminal_visible(config: pytest.Config):  # noqa: ANN201 - Iterator[None]
    """Progress printed while a fixture starts a topology reaches the terminal even under output capture."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        yield


LOST_EXCLUSIVE = pytest.StashKey[dict]()  # on a test: the exclusive test whose worker died during it, to put back


class TopologySession:
    """Owns the topology of one pytest session."""

    def __init__(self, config: pytest.Config, files: list[Path]) -> None:
        self.config = config
        self.files = files  # several: compose files merged by Compose
        self.file = files[0]  # the plugin's items are under it
        self.reuse = bool(config.getoption("topology_reuse") or config.getini("topology_reuse"))
        self.keep = bool(config.getoption("topology_keep")) or self.reuse
        per_worker = bool(config.getoption("topology_per_worker") or config.getini("topology_per_worker"))
        worker_input: dict[str, Any] = getattr(config, "workerinput", {})
        self.worker: str | None = worker_input.get("workerid")  # pytest-xdist worker: gw0, gw1, ...
        # shared (xdist, not per worker): the folder of the lock and state, and the controller's owner id
        self.share: Path | None = Path(worker_input[SHARE_KEY]) if SHARE_KEY in worker_input else None
        self.owner: str | None = worker_input.get(OWNER_KEY)
        self.per_worker = per_worker
        self.attached_runs: set[str] = set()  # xdist: runs another worker started
        self.restored: list[str] = []  # what the tests left stopped, paused, ... and was put back at the end
        if self.reuse and per_worker:
            raise pytest.UsageError("--topology-reuse shares one kept topology, --topology-per-worker gives each "
                                    "xdist worker its own: use one of them")
        self.spec: TopologySpec | None = None
        self.topology: Topology | None = None
        self.pact_selection: Any = None  # with --pact-verify: the pact files collected, and their verdicts
        self.pacts_run = False  # pacts were collected for verification (here, or by an xdist worker)
        self.lost: list[str] = []  # xdist controller: workers whose results could not be collected, and why
        self.start_error: Any = None  # xdist worker: the HarnessError of a start that failed (not tried again)
        self.engine_error: Any = None  # the engine did not answer at session start (said after collection)
        self.start_exit_code = 0  # xdist controller: the exit code of a start that failed in a worker
        self.session: pytest.Session | None = None
        self.pact_results: list[Any] = []
        self.pact_runs: dict[Path, Any] = {}  # pact file -> its PactResult, verified by the first of its items
        self.verifier: Any = None  # one verifier process for the session's pacts, started on first use
        self.fuzz_results: dict[str, Any] = {}  # service -> Future[ServiceResult], one run per service
        self.drift_documents: dict[str, Any] = {}  # with --pact-drift: provider -> its OpenAPI document, read once
        self.drift_results: list[Any] = []  # with --pact-drift: a PactDrift per pact checked (for the report page)
        self.start_events: list[Any] = []  # StartEvents of the topology's start (for the report page)
        self.using: Any = None  # --topology-reuse: the lock that holds the kept run for this session (see _hold)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from harness.errors import HarnessError
        from harness.runtime.engine import connect
        from harness.runtime.interrupts import interrupt_on_sigterm
        from harness.spec.loader import load_topology, parse_substitutes

        self.session = session
        config = self.config
        env_file = config.getoption("topology_env_file") or (
            ini_relative(config, str(config.getini("topology_env_file"))) if config.getini("topology_env_file")
            else None)
        try:
            substitutes = {**parse_substitutes(config.getini("image_substitutes"), "ini image_substitutes"),
                           **parse_substitutes(config.getoption("image_substitute"))}
            self.spec = load_topology(self.files, profiles=[*config.getini("topology_profiles"),
                                                           *config.getoption("topology_profile")],
                                      env_file=env_file, image_substitutes=substitutes)
        except HarnessError as error:  # bad input: said as pytest says a bad option
            raise pytest.UsageError(str(error)) from None
        if config.getoption("fuzz"):  # here, before xdist's workers (a usage error in a worker is an INTERNALERROR)
            self._check_fuzz_options()
        if config.getoption("pact_verify"):  # likewise: every problem of the pact files, before anything starts
            self.pact_selection = self._select_pacts()
        if not self._static_only() and not config.option.collectonly and self.worker is None:  # (xdist: once)
            try:
                connect()  # fail early, before any test, when the engine does not answer
            except HarnessError as error:
                self.engine_error = error  # said once collected (or in xdist's loop): then JUnit is written too
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for note in self.spec.notes:  # one readable line per ignored compose key
            if reporter is not None:
                reporter.write_line(f"note: {note}")
        interrupt_on_sigterm()  # so that teardown runs when CI cancels the job
        if self.reuse and config.pluginmanager.has_plugin("dsession") and self.engine_error is None \
                and not config.option.collectonly:
            # the xdist controller holds the kept run for all its workers (it outlives them)
            self._hold(lambda text: reporter.write_line(text) if reporter is not None else None)

    def _hold(self, say: Any) -> None:
        """--topology-reuse: this session holds the kept run until it ends (released in sessionfinish, after what
        its tests left is restored); another session reusing it waits."""
        from harness.runtime.runlocks import using_kept_run

        assert self.spec is not None
        if self.using is None:
            self.using = using_kept_run(self.spec, say)

    def _static_only(self) -> bool:
        """--pact-drift without --pact-verify and --fuzz: its items start nothing (a document a service serves comes
        from a topology kept running, if any), so the engine is checked only when a collected test needs the
        topology (pytest_collection_finish)."""
        options = self.config.getoption
        return bool(options("pact_drift")) and not options("pact_verify") and not options("fuzz")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from harness.errors import HarnessError
        from harness.runtime.engine import connect

        if self.engine_error is None and self._static_only() and not self.config.option.collectonly \
                and any("topology" in getattr(item, "fixturenames", ()) for item in session.items):
            try:
                connect()
            except HarnessError as error:
                self.engine_error = error
        if self.engine_error is not None:
            self._stop_for_engine()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.engine_error is not None:  # the xdist controller, which collects nothing: before xdist's loop
            self._stop_for_engine()

    def _stop_for_engine(self) -> NoReturn:
        """Before any test: one error, in the report and in JUnit (sessionfinish runs after this exit)."""
        assert self.spec is not None
        self._report_start_failure(self.engine_error)
        pytest.exit(f"topology {self.spec.project} did not start:\n{self.engine_error}\n",
                    returncode=self.engine_error.exit_code)

    def running(self) -> Topology:
        if self.topology is None:
            from harness.errors import HarnessError
            from harness.report.console import ProgressPrinter, services_table

            assert self.spec is not None
            with terminal_visible(self.config):
                printer = ProgressPrinter(prefix=f"[{self.worker}] " if self.worker else "")

                def progress(event: Any) -> None:
                    self.start_events.append(event)
                    printer(event)

                if self.start_error is None:  # an xdist worker's failed start is not tried again
                    try:
                        self.topology = (self._shared(printer, progress) if self.share is not None
                                         else self._own(printer, progress))
                    except HarnessError as error:
                        if self.worker is None:
                            self._report_start_failure(error)
                            # pytest prints its summary (with the error above) for these exit codes, not for 3
                            shown = error.exit_code in (1, 2, 4, 5)
                            pytest.exit(f"topology {self.spec.project} did not start"
                                        + (" (the error above)" if shown else f":\n{error}\n"),
                                        returncode=error.exit_code)
                        self.start_error = error
                if self.start_error is not None:  # outside the except: the report shows no chained exception
                    self._fail_in_worker(self.start_error)
                if self.share is None or self.topology.run_id not in self.attached_runs:
                    printer.console.print(services_table(self.topology))  # once: by the worker that started it
            active_topologies(self.config).append(self.topology)
        return self.topology

    def _own(self, printer: Any, progress: Any) -> Topology:
        """This process's topology: a kept run reused or started (--topology-reuse), else a new run."""
        from harness.runtime.topology import Topology

        assert self.spec is not None
        def say(text: str) -> None:  # a leading blank line comes before the worker's prefix, not after it
            blank = "\n" if text.startswith("\n") else ""
            printer.console.print(blank + printer.prefix + text.lstrip("\n"), markup=False)

        if self.reuse:
            if self.worker is None:  # an xdist worker: its controller holds it
                self._hold(say)
            topology = Topology.kept_or_started(self.spec, progress=progress, say=say, owner=self.owner,
                                                held=True)  # by this session, or by its xdist controller
            if topology.reused:
                self._restore_attached(topology, say)
                self.config.hook.pytest_topology_reused(topology=topology, config=self.config)
            return topology
        say(f"\nstarting topology {self.spec.project} from {' '.join(map(str, self.files))}")
        return Topology.start(self.spec, progress=progress, keep=self.keep, owner=self.owner)

    def _restore_attached(self, topology: Topology, say: Any) -> None:
        """A reused run is put back as started: an earlier session may have been killed in the middle of a test."""
        for note in topology.restore():
            say(f"the reused topology was not as started: {note}")

    def _shared(self, printer: Any, progress: Any) -> Topology:
        """The topology shared by the xdist workers of this run: started by the first worker that needs it (under
        the lock), attached to by the others. A failed start is written down, so the others fail at once with it."""
        from filelock import FileLock

        from harness.errors import HarnessError, TopologyShareError
        from harness.runtime.topology import Topology

        assert self.spec is not None and self.share is not None
        state_file = self.share / "state.json"
        with FileLock(self.share / "lock"):
            state = json.loads(state_file.read_text()) if state_file.exists() else {}
            if "failed" in state:
                raise TopologyShareError(f"another worker could not start topology {self.spec.project}:\n"
                                         f"{state['failed']}", exit_code=state.get("exit_code", 3))
            if "run" in state:
                topology = Topology.attach_run(self.spec, state["run"])
                if topology is None:
                    raise TopologyShareError(f"topology {self.spec.project} (run {state['run']}), shared by the xdist "
                                             "workers of this session, is gone from the engine")
                self.attached_runs.add(topology.run_id)
                printer.console.print(f"{printer.prefix}using topology {self.spec.project} (run {topology.run_id}), "
                                      f"{'reused' if state.get('reused') else 'started'} by worker "
                                      f"{state.get('worker', '?')}", markup=False)
                return topology
            try:
                topology = self._own(printer, progress)
            except HarnessError as error:
                state_file.write_text(json.dumps({"failed": str(error), "exit_code": error.exit_code}))
                raise
            state_file.write_text(json.dumps({"run": topology.run_id, "worker": self.worker,
                                              "reused": topology.reused}))
            return topology

    def _fail_in_worker(self, error: Exception) -> NoReturn:
        """An xdist worker: the item that needed the topology errors with the reason (a report of a made-up item
        would break the order of reports xdist checks), and the worker stops after it; the controller stops the
        others and exits with the error's code."""
        assert self.spec is not None and self.session is not None
        self.session.shouldstop = f"topology {self.spec.project} did not start"
        pytest.fail(f"topology {self.spec.project} did not start:\n{error}", pytrace=False)

    def _report_start_failure(self, error: Exception) -> None:
        """The failed start as one errored test (`topology NAME` of the topology file), so that JUnit has an <error>
        with the reason instead of an empty, green-looking suite."""
        assert self.spec is not None
        name = f"topology {self.spec.project}"
        first = next((line for line in str(error).splitlines() if line.strip()), "")
        longrepr = one_line_repr(f"{name} did not start:\n{error}", f"{name} did not start: {first}", self.file)
        report = pytest.TestReport(nodeid=self._item_id(name), location=(str(self.file), None, name),
                                   keywords={}, outcome="failed", longrepr=longrepr,
                                   when="setup", sections=[], duration=0.0)
        self.config.hook.pytest_runtest_logreport(report=report)

    @pytest.hookimpl(tryfirst=True)  # before -k / -m deselect, so that they apply to pact and fuzz items too
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        added = len(items)
        if config.getoption("pact_verify"):
            self._collect_pacts(session, items)
        if config.getoption("fuzz"):
            self._collect_fuzz(session, items)
        if config.getoption("pact_drift"):
            self._collect_drift(session, items)
        if len(items) > added:  # reported as collected (pytest's "collected N items" counts collect reports)
            config.hook.pytest_collectreport(report=pytest.CollectReport(
                self._item_id("").removesuffix("::"), "passed", None, items[added:]))

    def _collect_drift(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from harness.contracts.drift import pact_files
        from harness.errors import HarnessError

        assert self.spec is not None
        try:
            files = pact_files((self.spec.base_dir / self.spec.contracts.pacts).resolve())
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        for file in files:
            name = f"drift[{file.stem}]"
            items.append(PactDrift.from_parent(session, name=name, nodeid=self._item_id(name), file=file, owner=self))

    def _check_fuzz_options(self) -> list[str]:
        """--fuzz: the services it fuzzes; a topology with none to fuzz, a misspelt check or phase, ... is a usage
        error (as `harness fuzz` refuses them: a run that checks nothing must not pass)."""
        from harness.errors import HarnessError
        from harness.fuzz.session import FuzzOptions, fuzz_targets, refuse_unknown_names, split_names

        assert self.spec is not None
        option = self.config.getoption
        try:
            names = fuzz_targets(self.spec, option("fuzz_service"))
            refuse_unknown_names(self.spec, names, FuzzOptions(checks=split_names(option("fuzz_checks")),
                                                               phases=split_names(option("fuzz_phases")),
                                                               max_examples=option("fuzz_max_examples")),
                                 flags={"checks": "--fuzz-checks", "phases": "--fuzz-phases",
                                        "max_examples": "--fuzz-max-examples"})
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None
        return names

    def _collect_fuzz(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        from harness.errors import HarnessError
        from harness.fuzz.results import SERVICE_WIDE
        from harness.fuzz.session import FuzzOptions, operations, prepare_runs

        assert self.spec is not None
        names = self._check_fuzz_options()
        if self.share is None or self.worker is None:  # workers sharing a topology: one of them fuzzes it, later
            cache = getattr(self.config, "cache", None)
            prepare_runs(names, FuzzOptions(cache_dir=cache.mkdir("hypothesis") if cache else None))  # while it starts

        def add(name: str, label: str, problem: str = "", excluded: str = "") -> None:
            item_name = f"fuzz[{name}]" if label == SERVICE_WIDE else f"fuzz[{name} {label}]"
            items.append(FuzzOperation.from_parent(session, name=item_name, nodeid=self._item_id(item_name),
                                                   service=name, operation=label,
                                                   owner=self, problem=problem, excluded=excluded))

        try:
            topology = self.running()  # the operations are read from the running services' specs
        except pytest.fail.Exception:  # an xdist worker whose start failed: the reason on each service's item
            for name in names:
                add(name, SERVICE_WIDE, f"topology {self.spec.project} did not start:\n{self.start_error}")
            return

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
            for exclusion in self.spec.services[name].fuzz.exclude:  # skipped, with the written reason
                add(name, f"excluded {exclusion.check}", excluded=exclusion.reason)

    def _select_pacts(self) -> Any:
        """--pact-verify: the pacts and their handlers; what the files show to be wrong (unreadable pacts, providers
        that are not services, missing handlers, ...) is one usage error listing every problem, as `harness verify`
        refuses them."""
        from harness.contracts.run import select_pacts
        from harness.errors import HarnessError

        assert self.spec is not None
        folder = self.config.getoption("pacts") or self.config.getoption("pact_dir")
        try:
            return select_pacts(self.spec, Path(folder) if folder else None)
        except HarnessError as error:
            raise pytest.UsageError(str(error)) from None

    def _collect_pacts(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """One item per interaction of a pact (`pact[a->b: DESCRIPTION]`; states added where descriptions repeat),
        one per pact file that is unreadable, excluded (skipped with the reason) or has no interaction. Outside
        consumers' pacts are items too."""
        from harness.contracts.pactfiles import UnreadablePact
        from harness.contracts.run import exclusion
        from harness.report.contracts import item_name, item_names

        if self.pact_selection is None:
            self.pact_selection = self._select_pacts()
        self.pacts_run = True
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        for note in self.pact_selection.notes:
            if reporter is not None:
                reporter.write_line(f"note: {note}")
        sources = self.pact_selection.sources
        # two files of one consumer->provider pair: the file names tell their items (and JUnit cases) apart
        names = item_names([(source.path, getattr(source, "edge", source.path.name)) for source in sources])
        assert self.spec is not None
        for source in sources:
            labels: list[str | None] = [None]
            if not isinstance(source, UnreadablePact) and source.interactions and exclusion(self.spec, source) is None:
                labels = [label for label, _ in source.labels()]
            for label in labels:
                name = item_name(names[source.path], label)
                items.append(PactVerification.from_parent(session, name=name, nodeid=self._item_id(name),
                                                          pact=source, registry=self.pact_selection.registry,
                                                          owner=self, label=label))

    def _item_id(self, name: str) -> str:
        """The node id of an item the plugin adds: under the topology file, as a test under its module (so that
        reports and JUnit's classname say where it comes from, instead of an empty `::name`)."""
        return f"{Path(os.path.relpath(self.file, self.config.rootpath)).as_posix()}::{name}"

    def verifier_worker(self) -> Any:
        if self.verifier is None:
            from harness.contracts.worker import VerifierWorker

            self.verifier = VerifierWorker()
        return self.verifier

    def _exclusive(self, item: pytest.Item) -> bool:
        return any(item.iter_markers("topology_exclusive")) or any(item.iter_markers("edge_fault"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201 - its result
        """A worker sharing the topology: each test holds the tests lock, shared, or exclusive for a fault test
        (flock: released by the kernel if the worker dies)."""
        if self.share is None or self.worker is None:
            return (yield)
        exclusive = self._exclusive(item)
        running = self.share / "exclusive.json"  # the exclusive test under way: left behind if its worker dies
        with open(self.share / "tests.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            if running.exists():  # its test holds the lock alone while it is there: that test's worker died in it
                fcntl.flock(handle, fcntl.LOCK_EX)  # this test puts back what it left (in its setup), alone
                if running.exists():  # (not done by another worker while this one waited)
                    item.stash[LOST_EXCLUSIVE] = json.loads(running.read_text())
                    running.unlink()
                    exclusive = True
                elif not exclusive:
                    fcntl.flock(handle, fcntl.LOCK_SH)
            if exclusive:
                running.write_text(json.dumps({"test": item.nodeid, "worker": self.worker}))
            try:
                return (yield)  # closing the file releases the lock
            finally:
                if exclusive:  # its teardown put back what it left (pytest_runtest_teardown)
                    running.unlink(missing_ok=True)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        left = item.stash.get(LOST_EXCLUSIVE, None)
        if left is not None:
            self._restore_after_lost_worker(item, left)

    def _restore_after_lost_worker(self, item: pytest.Item, left: dict[str, str]) -> None:
        """An exclusive test's worker died during it: what it left stopped, paused or faulted is put back before
        this test, which says so (its worker would have done it in the test's teardown)."""
        from harness.errors import HarnessError

        after = f"after {left.get('test', 'an exclusive test')} (worker {left.get('worker', '?')} ended during it)"
        try:
            topology = self.running()
            notes = [f"removed its fault {fault.describe()}" for fault in topology.faults.clear()]
            notes += topology.restore()
        except HarnessError as error:
            pytest.fail(f"topology {self.spec.project if self.spec else ''} could not be restored {after}:\n{error}",
                        pytrace=False)
        item.add_report_section("setup", "topology restored",
                                f"{after}:\n" + "\n".join(f"- {note}" for note in notes or ["nothing was left"]))

    def fuzz_runs(self, services: list[str], options: Any) -> dict[str, Future[Any]]:
        """The fuzz runs of `services` (service -> Future[ServiceResult]), one after another in that order. Workers
        sharing the topology fuzz it once: the first worker to need them runs them and writes each result to the share
        folder, the others wait for those files (a worker that ended before writing one is an error, not a wait)."""
        from harness.fuzz.session import start_runs

        if self.share is None or self.worker is None:
            return start_runs(self.running(), services, options)
        from filelock import FileLock

        folder = self.share / "fuzz"
        with FileLock(self.share / "fuzz.lock"):
            runner = folder / "runner"
            if not runner.exists():
                folder.mkdir(exist_ok=True)
                runs = start_runs(self.running(), services, options)
                self.hold_shared_while(list(runs.values()))  # they go on after the item that started them
                for name, run in runs.items():
                    run.add_done_callback(functools.partial(_publish, folder / f"{name}.pickle"))
                runner.write_text(json.dumps({"worker": self.worker, "pid": os.getpid()}))
                return runs
            started = json.loads(runner.read_text())
        waiting = ThreadPoolExecutor(max_workers=max(1, len(services)), thread_name_prefix="fuzz-published")
        futures = {name: waiting.submit(_published, folder / f"{name}.pickle", name, started) for name in services}
        waiting.shutdown(wait=False)
        return futures

    def hold_shared_while(self, futures: list[Future[Any]]) -> None:
        """A worker sharing the topology: work that goes on after the item that started it (the fuzz runs of every
        service, started by the first fuzz item) holds the tests lock shared until the last of `futures` is done, so
        that a topology_exclusive test of another worker does not stop or fault services under it."""
        if self.share is None or self.worker is None or not futures:
            return
        handle = open(self.share / "tests.lock", "a")  # noqa: SIM115 - closed by the last future's callback
        fcntl.flock(handle, fcntl.LOCK_SH)  # granted at once: the calling item holds it shared already
        left = [len(futures)]
        count = threading.Lock()

        def done(_: Future[Any]) -> None:
            with count:
                left[0] -= 1
                if left[0] == 0:
                    handle.close()

        for future in futures:
            future.add_done_callback(done)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):  # noqa: ANN201
        """After a fault test on a shared topology (its fixtures torn down, its edge faults removed): every service
        put back as started while no other test runs; this test's teardown report says what was done."""
        result = yield
        if self.share is not None and self.worker is not None and self.topology is not None \
                and self._exclusive(item):
            from harness.errors import HarnessError

            try:
                notes = self.topology.restore()
            except HarnessError as error:
                pytest.fail(f"topology {self.topology.spec.project} could not be restored after this test:\n{error}",
                            pytrace=False)
            if notes:
                item.add_report_section("teardown", "topology restored", "\n".join(f"- {n}" for n in notes))
        return result

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist controller, per worker: where the shared topology's lock and state live, and the owner the
        topology is labelled with (this controller, which outlives every worker)."""
        if self.per_worker:
            return
        from harness.runtime.labels import owner_id

        if self.share is None:
            self.share = Path(tempfile.gettempdir()) / "pytest-topology" / f"share-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            self.share.mkdir(parents=True)
        node.workerinput[SHARE_KEY] = str(self.share)
        node.workerinput[OWNER_KEY] = owner_id()

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            self._finish(session)
        finally:
            if self.using is not None:  # the kept run is as started again: the next session may use it
                self.using.close()

    def _finish(self, session: pytest.Session) -> None:
        if self.verifier is not None:
            self.verifier.close()
        if self.pact_selection is not None:
            self.pact_selection.registry.close()  # the event loop of async handlers
        if self.worker is not None:
            self._send_results()
        if self.start_exit_code:  # the xdist controller: a worker's start failed; exit as without xdist
            session.exitstatus = self.start_exit_code
        if self.share is not None and self.worker is None and self.engine_error is not None:
            shutil.rmtree(self.share, ignore_errors=True)  # no engine: nothing was started
        elif self.share is not None and self.worker is None:
            self._finish_shared()  # the xdist controller: every worker is done
        elif self.topology is not None and self.share is None:
            if self.keep:
                self._restore_at_end(self.topology)
            else:
                self.topology.close()

    def _send_results(self) -> None:
        """An xdist worker: its pact, drift and fuzz results go to the controller (xdist's workeroutput), which
        writes the contract matrix and the report page of the whole run; each worker ran only some of the items."""
        fuzz = {name: run.result() for name, run in self.fuzz_results.items()
                if run.done() and run.exception() is None}  # a run that raised failed its items already
        results = {"pacts_run": self.pacts_run, "pact_results": self.pact_results, "drift_results": self.drift_results,
                   "fuzz": fuzz, "start_events": self.start_events,
                   "start_exit_code": self.start_error.exit_code if self.start_error is not None else 0}
        try:
            sent: bytes | str = pickle.dumps(results)
        except Exception as error:  # noqa: BLE001 - said in the controller's summary, never dropped silently
            sent = f"{type(error).__name__}: {error}"
        self.config.workeroutput[RESULTS_KEY] = sent  # type: ignore[attr-defined]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist controller: a worker finished; its results join this session's (see _send_results)."""
        sent = getattr(node, "workeroutput", {}).get(RESULTS_KEY)
        worker = node.workerinput.get("workerid", "?")
        if sent is None:  # a worker that crashed: xdist fails its running item; what it verified before is lost
            self.lost.append(f"worker {worker} ended without sending them ({error or 'no results'})")
            return
        try:
            results = pickle.loads(sent) if isinstance(sent, bytes) else sent
        except Exception as problem:  # noqa: BLE001 - said in the summary
            results = f"{type(problem).__name__}: {problem}"
        if isinstance(results, str):
            self.lost.append(f"worker {worker}: {results}")
            return
        self.pacts_run = self.pacts_run or results["pacts_run"]
        verified = {result.path for result in self.pact_results}  # the items of one file may run on two workers
        self.pact_results += [result for result in results["pact_results"] if result.path not in verified]
        self.drift_results += results["drift_results"]
        for name, result in results["fuzz"].items():  # workers sharing a topology: the same result from each
            if name not in self.fuzz_results:
                done: Future[Any] = Future()
                done.set_result(result)
                self.fuzz_results[name] = done
        self.start_events += results["start_events"]
        self.start_exit_code = max(self.start_exit_code, results["start_exit_code"])

    def _restore_at_end(self, topology: Topology, only_left: bool = False) -> None:
        from harness.errors import HarnessError

        try:
            self.restored += topology.restore(only_left=only_left)
        except HarnessError as error:
            self.restored.append(f"could not restore it: {error}")

    def _finish_shared(self) -> None:
        """Controller: remove the shared topology (every run of the file labelled with this controller as owner, so
        also a start a crashed worker left half done) and what workers that ran their own left; a kept one
        (--topology-reuse) is restored instead."""
        from harness.runtime import labels as L
        from harness.runtime.engine import connect
        from harness.runtime.topology import Topology

        assert self.spec is not None and self.share is not None
        state_file = self.share / "state.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        try:
            client = connect()
            if self.keep and "run" in state:
                self.topology = Topology.attach_run(self.spec, state["run"])
                if self.topology is not None:
                    self._restore_at_end(self.topology)
            mine = L.owner_id()
            for run in L.list_runs(client, self.spec.identity):
                if run.owner == mine and not run.kept:
                    L.remove_run(client, run.run_id)
        finally:
            shutil.rmtree(self.share, ignore_errors=True)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker is not None:
            return  # an xdist worker: the controller reports the whole run
        options = self.config.getoption
        if self.lost and (options("pact_verify") or options("pact_drift") or options("fuzz")
                          or self.config.pluginmanager.has_plugin("harness-report-page")):
            terminalreporter.section("results of xdist workers that could not be collected", red=True)
            for note in self.lost:
                terminalreporter.write_line(f"- {note}: the contract matrix and the report page miss its results")
        # --collect-only, -k leaving no pact, every pact excluded: nothing was verified, and the last run's matrix
        # stays as it was
        if self.pacts_run and any(result.verdict != "excluded" for result in self.pact_results):
            self._report_matrix(terminalreporter)
        elif self.pacts_run and self.pact_results:
            terminalreporter.write_line("nothing was verified (every pact run is excluded): the contract matrix in "
                                        f"{self.config.rootpath / 'reports'} is left as the last run that verified "
                                        "wrote it")
        self._report_fuzzing(terminalreporter)
        if self.restored:
            terminalreporter.section("topology restored at the end of the session")
            for note in self.restored:
                terminalreporter.write_line(f"- {note}")
        if self.topology is not None and self.keep:
            terminalreporter.section("topology kept running")
            for name, url in self.topology.urls().items():
                terminalreporter.write_line(f"{name:20} {url}")
            terminalreporter.write_line(f"remove it with: harness down {' '.join(map(str, self.files))}")

    def _report_fuzzing(self, terminalreporter: Any) -> None:
        """A line per fuzzed service, in the order they ran: its seed, mode, phases and checks, and its verdict."""
        runs = [run for run in self.fuzz_results.values() if run.done() and run.exception() is None]
        if not runs:
            return
        from harness.report.fuzz import summary_line

        terminalreporter.section("fuzzing (one service after another)")
        for run in runs:
            result = run.result()
            terminalreporter.write_line(f"{'passed' if result.passed else 'FAILED'} {summary_line(result)}")

    def _report_matrix(self, terminalreporter: Any) -> None:
        from harness.contracts.matrix import edge_matrix
        from harness.report.matrix import matrix_text, write_reports

        assert self.spec is not None
        edges = edge_matrix(self.spec, self.pact_results, self.drift_results)  # drift: with --pact-drift
        title = f"contracts of topology {self.spec.project}"
        terminalreporter.section("contract matrix")
        terminalreporter.write(matrix_text(edges, title, width=max(self.config.get_terminal_writer().fullwidth, 120)))
        as_json, as_html = write_reports(edges, self.config.rootpath / "reports", title)
        terminalreporter.write_line(f"matrix written to {as_json} and {as_html}")


def _publish(path: Path, run: Future[Any]) -> None:
    """A fuzz run's outcome for the other workers: ("result", ServiceResult) or ("error", exception), written whole
    (a temporary file renamed) so that a reader never sees half of it."""
    error = run.exception()
    outcome: tuple[str, Any] = ("result", run.result()) if error is None else ("error", error)
    try:
        data = pickle.dumps(outcome)
    except Exception:  # noqa: BLE001 - an exception that does not pickle is passed on as its text
        data = pickle.dumps(("error", RuntimeError(f"{type(error).__name__}: {error}")))
    partial = path.with_suffix(".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def _published(path: Path, service: str, runner: dict[str, Any]) -> Any:
    """Wait for the outcome another worker publishes (_publish): its ServiceResult, or its exception raised here."""
    from harness.errors import TopologyShareError

    while not path.exists():
        try:
            os.kill(runner["pid"], 0)
        except ProcessLookupError:
            if path.exists():
                break
            raise TopologyShareError(f"worker {runner['worker']}, which fuzzed service '{service}' for every worker, "
                                     "ended before its run did") from None
        time.sleep(0.2)
    kind, value = pickle.loads(path.read_bytes())
    if kind == "error":
        raise value
    return value
