"""The topology of a pytest session (`--topology FILE`): loaded at session start, started on first use, removed at
the end. With --pact-verify, --fuzz and --pact-drift the session makes the run of each feature (the same run objects
`harness verify`, `fuzz` and `drift` use), whose items (harness.pytest.collection) report each verdict; the
contract matrix and the fuzzing summary are written at the end.

--topology-reuse: a kept run of the same file and signature is used (else one is started and kept); what the tests
left stopped or paused is restored at the end. Under pytest-xdist the workers share one topology
(harness.pytest.xdist); --topology-per-worker: one topology per worker, as without xdist.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import pytest

from harness.pytest.collection import Collector
from harness.pytest.observe import SessionObservation
from harness.pytest.options import resolved
from harness.pytest.runs import make_runs
from harness.pytest.start_failure import fail_in_worker, report_start_failure
from harness.pytest.summary import SessionSummary
from harness.pytest.xdist import OWNER_KEY, SHARE_KEY, SharedTopology

if TYPE_CHECKING:
    from harness.contracts.drift import DriftRun
    from harness.contracts.run import VerifyRun
    from harness.fuzz.baseline import BaselineOutcome
    from harness.fuzz.session import FuzzRun
    from harness.model.topology import TopologySpec
    from harness.runtime.topology import Topology

PLUGIN_NAME = "harness-topology"
EXCLUSIVE = ("topology_exclusive: the test stops, pauses or faults services; on a topology shared by xdist workers it "
             "runs while no other test runs (pytest-topology)")
# every topology running for this session (session, module, ... fixtures)
_active_key: pytest.StashKey[list[Topology]] = pytest.StashKey()
# a Ctrl-C came while a topology fixture's run was removed: the session ends as interrupted (pytest's exit code 2)
INTERRUPTED: pytest.StashKey[bool] = pytest.StashKey()


def _restore_attached(topology: Topology, say: Any) -> None:
    """A reused run is put back as started: an earlier session may have been killed in the middle of a test."""
    for note in topology.restore():
        say(f"the reused topology was not as started: {note}")


def active_topologies(config: pytest.Config) -> list[Topology]:
    return config.stash.setdefault(_active_key, [])


@contextlib.contextmanager
def terminal_visible(config: pytest.Config) -> Iterator[None]:
    """Progress printed while a fixture starts a topology reaches the terminal even under output capture."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        yield


class TopologySession:
    """Owns the topology of one pytest session and the runs of its features (verify, fuzz, drift)."""

    def __init__(self, config: pytest.Config, files: list[Path]) -> None:
        self.config = config
        self.files = files  # several: compose files merged by Compose
        self.file = files[0]  # the plugin's items are under it
        self.options = resolved(config)  # every option, the ini's included, validated once
        self.topology_options = dataclasses.replace(self.options.topology, files=tuple(files))
        self.reuse = bool(self.options.topology_reuse)
        self.keep = bool(self.options.topology_keep) or self.reuse
        per_worker = bool(self.options.topology_per_worker)
        worker_input: dict[str, Any] = getattr(config, "workerinput", {})
        self.worker: str | None = worker_input.get("workerid")  # pytest-xdist worker: gw0, gw1, ...
        # shared (xdist, not per worker): the folder of the lock and state, and the controller's owner id
        self.share: Path | None = Path(worker_input[SHARE_KEY]) if SHARE_KEY in worker_input else None
        self.owner: str | None = worker_input.get(OWNER_KEY)
        self.per_worker = per_worker
        self.attached_runs: set[str] = set()  # xdist: runs another worker started
        self.teardown_failures: list[str] = []  # pre_stop hooks that failed when the topology was removed
        self.teardown_errors: list[str] = []  # the topology could not be removed (an engine stopped answering)
        self.restored: list[str] = []  # what the tests left stopped, paused, ... and was put back at the end
        if self.reuse and per_worker:
            raise pytest.UsageError("--topology-reuse shares one kept topology, --topology-per-worker gives each "
                                    "xdist worker its own: use one of them")
        self.spec: TopologySpec | None = None
        self.topology: Topology | None = None
        self.verify: VerifyRun | None = None  # with --pact-verify: the pacts, and their verdicts
        self.fuzz: FuzzRun | None = None  # with --fuzz: the services, and their runs
        self.baseline: BaselineOutcome | None = None  # with --fuzz-baseline: the results against it, at the end
        self.baseline_error = ""  # why the baseline file could not be written
        self.baseline_settled = False
        self.drift: DriftRun | None = None  # with --pact-drift: the pact files, and their verdicts
        self.pacts_run = False  # pacts were collected for verification (here, or by an xdist worker)
        self.lost: list[str] = []  # xdist controller: workers whose results could not be collected, and why
        self.start_error: Any = None  # xdist worker: the HarnessError of a start that failed (not tried again)
        self.engine_error: Any = None  # the engine did not answer at session start (said after collection)
        self.start_exit_code = 0  # xdist controller: the exit code of a start that failed in a worker
        self.session: pytest.Session | None = None
        self.start_events: list[Any] = []  # StartEvents of the topology's start (for the report page)
        self.using: Any = None  # --topology-reuse: the lock that holds the kept run for this session (see _hold)
        self.shared = SharedTopology(self)  # pytest-xdist: locks, shared fuzz runs, the workers' results
        self.observing = SessionObservation(self)  # --observe: the calls between services, per edge
        config.pluginmanager.register(self.shared, f"{PLUGIN_NAME}-xdist")
        config.pluginmanager.register(Collector(self), f"{PLUGIN_NAME}-items")
        config.pluginmanager.register(SessionSummary(self), f"{PLUGIN_NAME}-summary")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        from harness.errors import HarnessError
        from harness.runtime.engine import connect
        from harness.runtime.engine_check import with_engine_refusals
        from harness.runtime.interrupts import interrupt_on_sigterm

        self.session = session
        config = self.config
        try:
            self.spec = self.topology_options.load()
        except HarnessError as error:  # bad input: said as pytest says a bad option (with an engine's refusals)
            raise pytest.UsageError(str(with_engine_refusals(error))) from None
        try:  # here, before xdist's workers (a usage error in a worker is an INTERNALERROR)
            self.verify, self.fuzz, self.drift = make_runs(self.options, config, self.spec)
        except HarnessError as error:  # as `harness` refuses them: before anything starts
            raise pytest.UsageError(str(error)) from None
        if not self._static_only() and not config.option.collectonly and self.worker is None:  # (xdist: once)
            try:
                connect()  # fail early, before any test, when the engine does not answer
            except HarnessError as error:
                self.engine_error = error  # said once collected (or in xdist's loop): then JUnit is written too
        self.observing.check(config)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        for note in spec_notes(self.spec):  # one readable line per ignored compose key, unused substitute, ...
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
        return self.options.pact_drift and not self.options.pact_verify and not self.options.fuzz

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from harness.errors import HarnessError
        from harness.runtime.engine import connect

        if self.engine_error is None and self._static_only() and not self.config.option.collectonly \
                and any("topology" in getattr(item, "fixturenames", ()) for item in session.items):
            try:
                connect()
            except HarnessError as error:
                self.engine_error = error

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> None:
        if self.engine_error is not None:  # once collected (the progress counts the tests), before xdist's loop
            self._stop_for_engine()

    def _stop_for_engine(self) -> NoReturn:
        """Before any test: one error, in the report and in JUnit (sessionfinish runs after this exit)."""
        assert self.spec is not None
        self._report_start_failure(self.engine_error)
        pytest.exit(f"topology {self.spec.name} did not start:\n{self.engine_error}\n",
                    returncode=self.engine_error.exit_code)

    def running(self) -> Topology:
        if self.topology is None:
            from harness.errors import HarnessError
            from harness.report.console import ProgressPrinter, print_table, services_table

            assert self.spec is not None
            with terminal_visible(self.config):
                printer = ProgressPrinter(prefix=f"[{self.worker}] " if self.worker else "")

                def progress(event: Any) -> None:
                    self.start_events.append(event)
                    printer(event)

                if self.start_error is None:  # an xdist worker's failed start is not tried again
                    try:
                        self.topology = (self.shared.attach_or_start(printer, progress) if self.share is not None
                                         else self.own(printer, progress))
                    except HarnessError as error:
                        if self.worker is None:
                            self._report_start_failure(error)
                            # pytest prints its summary (with the error above) for these exit codes, not for 3
                            shown = error.exit_code in (1, 2, 4, 5)
                            pytest.exit(f"topology {self.spec.name} did not start"
                                        + (" (the error above)" if shown else f":\n{error}\n"),
                                        returncode=error.exit_code)
                        self.start_error = error
                if self.start_error is not None:  # outside the except: the report shows no chained exception
                    assert self.session is not None
                    fail_in_worker(self.session, self.spec, self.start_error)
                assert self.topology is not None  # started, or pytest.exit / _fail_in_worker above
                if self.share is None or self.topology.run_id not in self.attached_runs:
                    print_table(printer.console, services_table(self.topology))  # once: by the worker that started it
            active_topologies(self.config).append(self.topology)
            self.observing.started(self.topology)
        return self.topology

    def own(self, printer: Any, progress: Any) -> Topology:
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
                _restore_attached(topology, say)
                self.config.hook.pytest_topology_reused(topology=topology, config=self.config)
            return topology
        say(f"\nstarting topology {self.spec.name} from {' '.join(map(str, self.files))}")
        return Topology.start(self.spec, progress=progress, keep=self.keep, owner=self.owner)

    def _report_start_failure(self, error: Exception) -> None:
        assert self.spec is not None
        assert self.session is not None
        report_start_failure(self.session, self.spec, self.file, self.item_id, error)

    def item_id(self, name: str) -> str:
        """The node id of an item the plugin adds: under the topology file, as a test under its module (so that
        reports and JUnit's classname say where it comes from, instead of an empty `::name`)."""
        from harness.report.junit import item_path

        return f"{item_path(self.file, self.config.rootpath)}::{name}"

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            try:
                self._before_removal(session)
            finally:  # also on a Ctrl-C meanwhile: what the session started is removed whatever happened
                self._finish(session)
        except KeyboardInterrupt:  # Ctrl-C or SIGTERM during the end (the topology is removed): said, not raised
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        finally:
            if self.using is not None:  # the kept run is as started again: the next session may use it
                self.using.close()

    def _before_removal(self, session: pytest.Session) -> None:
        if self.verify is not None:
            self.verify.close()  # the verifier process, the event loop of async handlers
        self.settle_baseline(session)
        self.observing.finish(session)  # before the topology is removed: the capture is in its namespaces
        if self.worker is not None:
            self.shared.send_results()

    def _finish(self, session: pytest.Session) -> None:
        if self.start_exit_code:  # the xdist controller: a worker's start failed; exit as without xdist
            session.exitstatus = self.start_exit_code
        if self.share is not None and self.worker is None and self.engine_error is not None:
            shutil.rmtree(self.share, ignore_errors=True)  # no engine: nothing was started
        elif self.share is not None and self.worker is None:
            self.shared.finish()  # the xdist controller: every worker is done
            if self.teardown_failures and session.exitstatus == pytest.ExitCode.OK:  # a pre_stop hook failed
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        elif self.topology is not None and self.share is None:
            if self.keep:
                self.restore_at_end(self.topology)
            else:
                close_at_end(self, session, self.topology)

    def settle_baseline(self, session: pytest.Session) -> None:
        """--fuzz-baseline, once, at the end (the report page's writer may ask first): the fuzz results against the
        file, written as `st run` writes it (not after an interruption), for the terminal summary and the page; a
        file that cannot be written is a usage error. Nothing in an xdist worker (the controller has every result)
        or when nothing was fuzzed."""
        from harness.errors import HarnessError

        if self.baseline_settled or self.fuzz is None or self.worker is not None or not self.fuzz.results():
            return
        self.baseline_settled = True
        try:
            self.baseline = self.fuzz.settle_baseline(interrupted=session.exitstatus == pytest.ExitCode.INTERRUPTED)
        except HarnessError as error:
            self.baseline_error = str(error)
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def restore_at_end(self, topology: Topology, only_left: bool = False) -> None:
        from harness.errors import HarnessError

        try:
            self.restored += topology.restore(only_left=only_left)
        except HarnessError as error:
            self.restored.append(f"could not restore it: {error}")


def close_at_end(plugin: TopologySession, session: pytest.Session, topology: Topology) -> None:
    """Remove the session's topology; a pre_stop hook that failed (the run is removed anyway) fails the session, as
    `docker compose down` exits 1; a run that could not be removed (an engine stopped answering: what it ran is
    left there, the message says how to remove it) ends it as any environment problem does (3), not with a
    traceback. Both are said in its summary."""
    from harness.errors import EXIT_ENVIRONMENT, HarnessError, HookFailed

    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if session.exitstatus == pytest.ExitCode.INTERRUPTED and reporter is not None \
            and any(service.pre_stop for service in topology.spec.services.values()):  # the only wait of a removal
        reporter.write_line(f"removing topology {topology.spec.name}: its pre_stop hooks run first (press Ctrl-C "
                            "again not to wait for them)")
    try:
        topology.close()
    except HookFailed as error:
        plugin.teardown_failures.append(str(error))
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    except HarnessError as error:
        plugin.teardown_errors.append(topology.masker(str(error)))
        session.exitstatus = EXIT_ENVIRONMENT


def spec_notes(spec: TopologySpec) -> list[str]:
    """What to say of a topology as it is read: its own notes (a compose file's ignored keys, ...), then each image
    substitute that replaces no image of it, and the images the hub image prefix substitutes
    (harness.runtime.substitutes; imported here: docker-py is slow to import for a session that starts nothing)."""
    from harness.runtime.substitutes import hub_prefix_note, unapplied_substitutes

    return [*spec.notes, *unapplied_substitutes(spec), *hub_prefix_note(spec)]
