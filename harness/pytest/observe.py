"""--observe in a pytest session: the capture starts once the topology is ready and is read before the topology is
removed (or kept); the coverage goes into the contract matrix (terminal, contract-matrix.json and .html). The gates
(--observe-fail-under, --observe-strict) are one test report each, reported at the end of the session (JUnit
<testcase>, pytest's summary), and fail the session as a failed test does.

pytest-xdist: with a shared topology, the worker that starts it starts the capture (under the share lock, before any
worker uses the topology) and the controller reads it once every worker is done, so the calls of every worker's tests
count on their edges. With --topology-per-worker each worker observes its own topology and sends what it saw (the
calls, and each provider's document as found) to the controller, which merges them."""

from __future__ import annotations

import json
import pickle
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from harness.observe import ObserveResult, ObserveRun
    from harness.observe.gates import GateVerdict
    from harness.pytest.session import TopologySession
    from harness.runtime.topology import Topology

OBSERVE_ERROR = "observe-error.txt"  # in xdist's share folder: why the capture of the shared topology did not start
OBSERVED_KEY = "topology_observed"  # workeroutput (--topology-per-worker): a worker's observation, pickled


class SessionObservation:
    """The observation of one session (a no-op without --observe). `error`: why the capture could not start or be
    read (said in the summary, and the session fails: its coverage would be silently missing)."""

    def __init__(self, session: TopologySession) -> None:
        self.session = session
        options = session.options
        self.enabled = bool(options.observe)
        self.fail_under: float | None = options.observe_fail_under
        self.strict = bool(options.observe_strict)
        self.run: ObserveRun | None = None
        self.result: ObserveResult | None = None
        self.error = ""
        self.gates: list[GateVerdict] = []
        self._workers: list[tuple[str, Any]] = []  # the controller (per worker): (worker, (observation, documents))
        self._finished = False
        self._counted = 0  # gates counted as collected (pytest's progress), before they are reported
        # its hooks: sessionfinish, testnodedown
        session.config.pluginmanager.register(self, "harness-topology-observe")

    def check(self, config: pytest.Config) -> None:
        """Raises pytest.UsageError: a gate without --observe."""
        options = self.session.options
        for name, given in (("observe_fail_under", self.fail_under is not None), ("observe_strict", self.strict)):
            if given and not self.enabled:
                raise pytest.UsageError(f"{options.flag(name)} is a gate on the observed traffic: add --observe (or "
                                        "the ini key topology_observe = true)")

    def started(self, topology: Topology) -> None:
        """The capture, in every service's namespace, from now on. A worker attached to the shared topology of
        xdist does nothing: the worker that started it started the capture (see `started_shared`)."""
        if self.session.share is not None and self.session.worker is not None:
            return
        self._start(topology)

    def started_shared(self, topology: Topology) -> None:
        """xdist, shared topology: the worker that started it, under the share lock (the other workers wait). Why the
        capture did not start is written to the share folder for the controller, which reports the run."""
        self._start(topology)
        if self.error and self.session.share is not None:
            (self.session.share / OBSERVE_ERROR).write_text(self.error)

    def _start(self, topology: Topology) -> None:
        from harness.errors import HarnessError
        from harness.observe import ObserveRun

        if not self.enabled or self.run is not None or self.error:
            return
        assert self.session.spec is not None
        run = ObserveRun(self.session.spec, topology, self.session.options.pacts)
        try:
            run.start()
        except HarnessError as error:
            self.error = str(error)
            return
        self.run = run

    @pytest.hookimpl(wrapper=True)
    def pytest_collection(self, session: pytest.Session) -> Generator[None, object, object]:
        """The gates given count as collected test cases (pytest's progress is reported / collected; "[150%]"
        otherwise). Not under xdist, whose controller counts its workers' items later (they are counted as they
        are reported then), nor in a worker (which reports no gate)."""
        result = yield
        if self.enabled and self.session.worker is None and not session.config.option.collectonly \
                and not session.config.pluginmanager.has_plugin("dsession"):
            self._counted = (self.fail_under is not None) + self.strict
            session.testscollected += self._counted
        return result

    @pytest.hookimpl(wrapper=True, trylast=True)  # inside the terminal's: before it writes the last progress
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        """The gates are judged once the tests ran (every xdist worker is done then), so that their reports come
        before pytest's final progress, as the last tests' do; an interrupted loop leaves it to sessionfinish."""
        result = yield
        if self.session.worker is None:
            self.finish(session)
        return result

    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file, and before the topology is removed
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.finish(session)

    def finish(self, session: pytest.Session) -> None:
        """What was seen, per edge; the helpers removed. Once; before the topology is removed."""
        if not self.enabled or self._finished:
            return
        self._finished = True
        worker, shared = self.session.worker, self.session.share is not None
        if worker is not None:
            if not shared:
                self._send()
            return
        if shared:
            self._read_shared()
        elif self._workers or self._per_worker_controller(session):
            self._merge_workers()
        elif self.run is not None:
            self.result = self._read(lambda run: run.finish())
        self._judge(session)

    def _per_worker_controller(self, session: pytest.Session) -> bool:
        return self.session.per_worker and session.config.pluginmanager.has_plugin("dsession")

    def _read(self, read: Any) -> Any:
        from harness.errors import HarnessError

        run, self.run = self.run, None
        try:
            return read(run)
        except HarnessError as error:
            self.error = str(error)
            return None

    def _read_shared(self) -> None:
        """The controller of a shared topology: the helpers the starting worker left, read and removed."""
        from harness.observe import ObserveRun
        from harness.runtime.topology import Topology

        assert self.session.spec is not None and self.session.share is not None
        if (self.session.share / OBSERVE_ERROR).exists():
            self.error = (self.session.share / OBSERVE_ERROR).read_text()
            return
        state_file = self.session.share / "state.json"  # the run the workers shared (pytest.xdist)
        state = json.loads(state_file.read_text()) if state_file.exists() else {}
        if "run" not in state:
            return  # no test used the topology: nothing was observed (said as without xdist)
        topology = Topology.attach_run(self.session.spec, state["run"])
        if topology is None:
            self.error = f"topology {self.session.spec.name} (run {state['run']}) was gone before its capture was read"
            return
        self.run = ObserveRun(self.session.spec, topology, self.session.options.pacts)

        def attach_and_finish(run: ObserveRun) -> ObserveResult:
            run.attach()
            return run.finish()

        self.result = self._read(attach_and_finish)

    def _send(self) -> None:
        """A worker with its own topology: what it saw goes to the controller (xdist's workeroutput)."""
        sent: Any = ("error", self.error) if self.error else ("none", None)  # none: no test used the topology
        if self.run is not None:
            read = self._read(lambda run: run.read())
            sent = ("error", self.error) if read is None else ("observed", read)
        self.session.config.workeroutput[OBSERVED_KEY] = pickle.dumps(sent)  # type: ignore[attr-defined]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        """pytest-xdist controller (--topology-per-worker): a worker's observation."""
        sent = getattr(node, "workeroutput", {}).get(OBSERVED_KEY)
        if sent is not None:
            self._workers.append((node.workerinput.get("workerid", "?"), pickle.loads(sent)))

    def _merge_workers(self) -> None:
        from harness.observe.run import RawDocuments, merge_observations, observe_result

        assert self.session.spec is not None
        observations, problems = [], []
        documents: RawDocuments = {}
        for worker, (kind, value) in sorted(self._workers, key=lambda pair: pair[0]):
            if kind == "error":
                problems.append(f"worker {worker}: {value}")
            if kind != "observed":
                continue
            observation, found = value
            observations.append(observation)
            for provider, document in found.items():
                documents.setdefault(provider, document)
        if problems:
            self.error = "the observation of " + "; ".join(problems)
            return
        if not observations:
            return  # no worker's tests used the topology: nothing was observed (said as without xdist)
        pacts = self.session.options.pacts or (self.session.spec.base_dir / self.session.spec.contracts.pacts)
        self.result = observe_result(self.session.spec, merge_observations(observations), documents, pacts)

    def _judge(self, session: pytest.Session) -> None:
        """Each gate given, as one test report (JUnit's <testcase>, pytest's summary); a failure or an error fails
        the session. Without gates, an observation that failed fails the session (its coverage is missing)."""
        from harness.observe.gates import gate_verdicts
        from harness.pytest.items import one_line_repr

        self.gates = gate_verdicts(self.result, self.error or "nothing was observed: no test used the topology",
                                   self.fail_under, self.strict)
        failed = bool(self.error) and not self.gates
        file = self.session.file
        for gate in self.gates:
            longrepr: Any = None
            if gate.outcome != "passed":
                failed = True
                longrepr = one_line_repr("\n".join(filter(None, [gate.summary, gate.details])), gate.summary, file)
            report = pytest.TestReport(nodeid=self.session.item_id(gate.name), location=(str(file), 0, gate.name),
                                       keywords={}, outcome="passed" if gate.outcome == "passed" else "failed",
                                       longrepr=longrepr, when="call" if gate.outcome != "error" else "setup",
                                       sections=[("gate", "\n".join(filter(None, [gate.summary, gate.details])))]
                                       if gate.outcome == "passed" else [],  # (a failure shows it as its report)
                                       duration=0.0)
            if self._counted:  # counted at collection
                self._counted -= 1
            else:  # under xdist: counted as it is reported (the controller's count is its workers' items)
                session.testscollected += 1
            session.config.hook.pytest_runtest_logreport(report=report)
            session.config.hook.pytest_runtest_logreport(report=pytest.TestReport(
                nodeid=report.nodeid, location=report.location, keywords={}, outcome="passed", longrepr=None,
                when="teardown", sections=[], duration=0.0))
        if failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
