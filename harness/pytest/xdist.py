"""pytest-xdist: the workers of a run share one topology (unless --topology-per-worker). The first worker that needs
it starts it under a file lock in a folder the controller made for this run (`share`), the others attach to the run
written there; it is labelled as owned by the controller, which removes it (by that label) when every worker is done,
so a crashed worker leaks nothing. Tests marked `topology_exclusive` (or `edge_fault`) run alone: every test holds a
shared lock, those an exclusive one, and what they left stopped, paused or faulted is put back before it is released;
another test that stops, pauses or faults a service is refused (its worker's neighbours would meet it);
the fuzz runs a worker starts hold the shared lock until they end, and their results are published to the other
workers. Each worker's pact, drift and fuzz results go to the controller, which reports the whole run."""

from __future__ import annotations

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
from collections.abc import Generator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.fuzz.session import FuzzRun
    from harness.model.topology import TopologySpec
    from harness.pytest.session import TopologySession
    from harness.runtime.topology import Topology

SHARE_KEY = "topology_share"  # workerinput: the folder of the shared topology's lock and state (controller-made)
OWNER_KEY = "topology_owner"  # workerinput: the controller's owner id, the owner label of the shared topology
RESULTS_KEY = "topology_results"  # workeroutput: a worker's pact, drift and fuzz results, pickled, for the controller
# on a test: the exclusive test whose worker died during it, to put back
LOST_EXCLUSIVE = pytest.StashKey[dict[str, str]]()


class SharedTopology:
    """The --topology session's side of pytest-xdist (a plugin beside it): locks, shared fuzz runs, results."""

    def __init__(self, plugin: TopologySession) -> None:
        self.plugin = plugin
        self.alone = AloneOrRefused()  # what a test not marked exclusive may not do to the shared topology

    def attach_or_start(self, printer: Any, progress: Any) -> Topology:
        """The topology shared by the xdist workers of this run: started by the first worker that needs it (under
        the lock), attached to by the others. A failed start is written down, so the others fail at once with it."""
        from filelock import FileLock

        from harness.errors import HarnessError, TopologyShareError
        from harness.runtime.topology import Topology

        plugin = self.plugin
        assert plugin.spec is not None and plugin.share is not None
        state_file = plugin.share / "state.json"
        with FileLock(plugin.share / "lock"):
            state = json.loads(state_file.read_text()) if state_file.exists() else {}
            if "failed" in state:
                raise TopologyShareError(f"another worker could not start topology {plugin.spec.name}:\n"
                                         f"{state['failed']}", exit_code=state.get("exit_code", 3))
            if "run" in state:
                topology = Topology.attach_run(plugin.spec, state["run"])
                if topology is None:
                    raise TopologyShareError(f"topology {plugin.spec.name} (run {state['run']}), shared by the "
                                             "xdist workers of this session, is gone from the engine")
                plugin.attached_runs.add(topology.run_id)
                self.alone.watch(topology, plugin.config)
                printer.console.print(f"{printer.prefix}using topology {plugin.spec.name} (run {topology.run_id}), "
                                      f"{'reused' if state.get('reused') else 'started'} by worker "
                                      f"{state.get('worker', '?')}", markup=False)
                return topology
            try:
                topology = plugin.own(printer, progress)
            except HarnessError as error:
                state_file.write_text(json.dumps({"failed": str(error), "exit_code": error.exit_code}))
                raise
            plugin.observing.started_shared(topology)  # --observe: capturing before any worker uses it
            self.alone.watch(topology, plugin.config)
            state_file.write_text(json.dumps({"run": topology.run_id, "worker": plugin.worker,
                                              "reused": topology.reused}))
            return topology

    def _exclusive(self, item: pytest.Item) -> bool:
        return any(item.iter_markers("topology_exclusive")) or any(item.iter_markers("edge_fault"))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None
                                ) -> Generator[None, object, object]:
        """A worker sharing the topology: each test holds the tests lock, shared, or exclusive for a fault test
        (flock: released by the kernel if the worker dies)."""
        if self.plugin.share is None or self.plugin.worker is None:
            return (yield)
        exclusive = self._exclusive(item)
        running = self.plugin.share / "exclusive.json"  # the exclusive test under way: left behind if its worker dies
        with open(self.plugin.share / "tests.lock", "a") as handle:
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
                running.write_text(json.dumps({"test": item.nodeid, "worker": self.plugin.worker}))
            self.alone.test = (item.nodeid, exclusive)
            try:
                return (yield)  # closing the file releases the lock
            finally:
                self.alone.test = None
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
            topology = self.plugin.running()
            notes = [f"removed its fault {fault.describe()}" for fault in topology.faults.clear()]
            notes += topology.restore()
        except HarnessError as error:
            project = self.plugin.spec.name if self.plugin.spec else ""
            pytest.fail(f"topology {project} could not be restored {after}:\n{error}", pytrace=False)
        item.add_report_section("setup", "topology restored",
                                f"{after}:\n" + "\n".join(f"- {note}" for note in notes or ["nothing was left"]))

    def start_fuzzing(self, run: FuzzRun, services: list[str]) -> None:
        """Start the fuzz runs of `services` (those of `run` not started yet), one after another. Workers sharing the
        topology fuzz it once: the first worker to need them runs them and writes each result to the share folder,
        the others wait for those files (a worker that ended before writing one is an error, not a wait)."""
        plugin = self.plugin
        if plugin.share is None or plugin.worker is None:
            run.start(plugin.running(), services)
            return
        from filelock import FileLock

        folder = plugin.share / "fuzz"
        with FileLock(plugin.share / "fuzz.lock"):
            runner = folder / "runner"
            if not runner.exists():
                folder.mkdir(exist_ok=True)
                runs = run.start(plugin.running(), services)
                self.hold_shared_while(list(runs.values()))  # they go on after the item that started them
                for name, future in runs.items():
                    future.add_done_callback(functools.partial(_publish, folder / f"{name}.pickle"))
                runner.write_text(json.dumps({"worker": plugin.worker, "pid": os.getpid()}))
                return
            started = json.loads(runner.read_text())
        waiting = ThreadPoolExecutor(max_workers=max(1, len(services)), thread_name_prefix="fuzz-published")
        for name in services:
            run.add(name, waiting.submit(_published, folder / f"{name}.pickle", name, started))
        waiting.shutdown(wait=False)

    def hold_shared_while(self, futures: list[Future[Any]]) -> None:
        """A worker sharing the topology: work that goes on after the item that started it (the fuzz runs of every
        service, started by the first fuzz item) holds the tests lock shared until the last of `futures` is done, so
        that a topology_exclusive test of another worker does not stop or fault services under it."""
        if self.plugin.share is None or self.plugin.worker is None or not futures:
            return
        handle = open(self.plugin.share / "tests.lock", "a")  # noqa: SIM115 - closed by the last future's callback
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
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None
                                ) -> Generator[None, None, None]:
        """After a fault test on a shared topology (its fixtures torn down, its edge faults removed): every service
        put back as started while no other test runs; this test's teardown report says what was done."""
        result = yield
        topology = self.plugin.topology
        if self.plugin.share is not None and self.plugin.worker is not None and topology is not None \
                and self._exclusive(item):
            from harness.errors import HarnessError

            try:
                notes = topology.restore()
            except HarnessError as error:
                pytest.fail(f"topology {topology.spec.name} could not be restored after this test:\n{error}",
                            pytrace=False)
            if notes:
                item.add_report_section("teardown", "topology restored", "\n".join(f"- {n}" for n in notes))
        return result

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """pytest-xdist controller, per worker: where the shared topology's lock and state live, and the owner the
        topology is labelled with (this controller, which outlives every worker)."""
        if self.plugin.per_worker:
            return
        from harness.runtime.labels import owner_id

        if self.plugin.share is None:
            share = Path(tempfile.gettempdir()) / "pytest-topology" / f"share-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            share.mkdir(parents=True)
            self.plugin.share = share
        node.workerinput[SHARE_KEY] = str(self.plugin.share)
        node.workerinput[OWNER_KEY] = owner_id()

    def send_results(self) -> None:
        """An xdist worker: its pact, drift and fuzz results go to the controller (xdist's workeroutput), which
        writes the contract matrix and the report page of the whole run; each worker ran only some of the items."""
        plugin = self.plugin
        fuzz = {result.service: result for result in plugin.fuzz.results()} if plugin.fuzz else {}
        results = {"pacts_run": plugin.pacts_run, "pact_results": plugin.verify.results if plugin.verify else [],
                   "drift_results": plugin.drift.results if plugin.drift else [], "fuzz": fuzz,
                   "start_events": plugin.start_events,
                   "start_exit_code": plugin.start_error.exit_code if plugin.start_error is not None else 0}
        try:
            sent: bytes | str = pickle.dumps(results)
        except Exception as error:  # noqa: BLE001 - said in the controller's summary, never dropped silently
            sent = f"{type(error).__name__}: {error}"
        self.plugin.config.workeroutput[RESULTS_KEY] = sent  # type: ignore[attr-defined]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist controller: a worker finished; its results join this session's (see send_results)."""
        sent = getattr(node, "workeroutput", {}).get(RESULTS_KEY)
        worker = node.workerinput.get("workerid", "?")
        if sent is None:  # a worker that crashed: xdist fails its running item; what it verified before is lost
            self.plugin.lost.append(f"worker {worker} ended without sending them ({error or 'no results'})")
            return
        try:
            results = pickle.loads(sent) if isinstance(sent, bytes) else sent
        except Exception as problem:  # noqa: BLE001 - said in the summary
            results = f"{type(problem).__name__}: {problem}"
        if isinstance(results, str):
            self.plugin.lost.append(f"worker {worker}: {results}")
            return
        plugin = self.plugin
        plugin.pacts_run = plugin.pacts_run or results["pacts_run"]
        for verdict in results["pact_results"]:  # the items of one file may run on two workers: the first counts
            if plugin.verify is not None:
                plugin.verify.add(verdict)
        for verdict in results["drift_results"]:  # likewise
            if plugin.drift is not None:
                plugin.drift.add(verdict)
        for name, result in results["fuzz"].items():  # workers sharing a topology: the same result from each
            if plugin.fuzz is not None:
                done: Future[Any] = Future()
                done.set_result(result)
                plugin.fuzz.add(name, done)
        self.plugin.start_events += results["start_events"]
        self.plugin.start_exit_code = max(self.plugin.start_exit_code, results["start_exit_code"])

    def finish(self) -> None:
        """Controller: remove the shared topology (every run of the file labelled with this controller as owner, so
        also a start a crashed worker left half done; across engines from each of them) and what workers that ran
        their own left; a kept one (--topology-reuse) is restored instead."""
        from harness.runtime.interrupts import InterruptsDeferred
        from harness.runtime.topology import Topology

        spec = self.plugin.spec
        assert spec is not None and self.plugin.share is not None
        state_file = self.plugin.share / "state.json"
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        try:
            if self.plugin.keep and "run" in state:
                self.plugin.topology = Topology.attach_run(spec, state["run"])
                if self.plugin.topology is not None:
                    self.plugin.restore_at_end(self.plugin.topology)
            with InterruptsDeferred(f"removing topology {spec.name}"):  # each run, whatever Ctrl-C does
                self.plugin.teardown_failures += _remove_owned_runs(spec)
        finally:
            shutil.rmtree(self.plugin.share, ignore_errors=True)


class AloneOrRefused:
    """With other workers, a test that stops, pauses or faults a service of the shared topology must hold it alone
    (`topology_exclusive`, or `edge_fault`): Topology.disturbing refuses it otherwise, before it is done, so that no
    other worker's test meets a fault that is not its own (a verdict that would change with the order the workers
    happen to run in)."""

    def __init__(self) -> None:
        self.test: tuple[str, bool] | None = None  # the test under way in this worker, and whether it is exclusive

    def watch(self, topology: Topology, config: pytest.Config) -> None:
        """Refuse what `topology`'s tests do to it outside an exclusive test, when more than one worker shares it."""
        workers = int(getattr(config, "workerinput", {}).get("workercount") or 1)
        if workers > 1:
            topology.disturbing = functools.partial(self.refuse_unless_alone, topology.spec.name, workers)

    def refuse_unless_alone(self, name: str, workers: int, what: str) -> None:
        """Raises InvalidCall: the test under way is not exclusive (`what`: what it was about to do)."""
        from harness.errors import InvalidCall

        __tracebackhide__ = True
        if self.test is not None and not self.test[1]:
            raise InvalidCall(f"{self.test[0]}: {what}: topology {name} is shared by the {workers} xdist workers of "
                              "this session, and their tests running now would meet it too",
                              hint="Mark the test @pytest.mark.topology_exclusive: it then runs alone, and what it "
                                   "left is put back after it (@pytest.mark.edge_fault implies it). Or give each "
                                   "worker a topology of its own: --topology-per-worker.")


def _remove_owned_runs(spec: TopologySpec) -> list[str]:
    """Every run of `spec`'s file owned by this process (the controller) and not kept, taken down as Topology.close
    does (pre_stop hooks, then removed whatever they did; across engines from each of them); the hooks that failed,
    masked."""
    from harness.errors import HookFailed
    from harness.model.secrets import Masker
    from harness.runtime import hooks
    from harness.runtime import labels as L
    from harness.runtime.engine import connect
    from harness.runtime.engine_runs import runs_across
    from harness.runtime.engines import RunEngine, connect_engines
    from harness.runtime.topology import Topology

    engines: dict[str, RunEngine] = connect_engines(spec) if spec.engines else {}
    client = next(iter(engines.values())).client if engines else connect()
    runs = runs_across(engines, spec.identity) if engines else L.list_runs(client, spec.identity)
    failures: list[str] = []
    mine = L.owner_id()
    for run in runs:
        if run.owner != mine or run.kept:
            continue
        if not engines:
            failures += [Masker(spec)(str(f)) for f in hooks.down_run(client, spec, run.run_id)]
            continue
        try:  # from every engine (and a swarm made for it left, as the option says)
            Topology(spec, client, run.run_id, keep=False, containers=run.containers, engines=engines).close()
        except HookFailed as failed:  # masked
            failures.append(str(failed))
    return failures


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

