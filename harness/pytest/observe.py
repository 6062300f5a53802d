"""--observe in a pytest session: the capture starts once the topology is ready and is read before the topology is
removed (or kept); the coverage goes into the contract matrix (terminal, contract-matrix.json and .html)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.observe import ObserveResult, ObserveRun
    from harness.pytest.session import TopologySession
    from harness.runtime.topology import Topology

XDIST_REFUSED = ("--observe does not work with pytest-xdist yet (-n): each worker's calls would have to be merged by "
                 "the controller; run the session without -n to observe it")


class SessionObservation:
    """The observation of one session (a no-op without --observe). `error`: why the capture could not start or be
    read (said in the summary, and the session fails: its coverage would be silently missing)."""

    def __init__(self, session: TopologySession) -> None:
        self.session = session
        self.enabled = bool(session.options.observe)
        self.run: ObserveRun | None = None
        self.result: ObserveResult | None = None
        self.error = ""

    def check(self, config: pytest.Config) -> None:
        """Raises pytest.UsageError: --observe with pytest-xdist."""
        if self.enabled and (self.session.worker is not None or config.pluginmanager.has_plugin("dsession")):
            raise pytest.UsageError(XDIST_REFUSED)

    def started(self, topology: Topology) -> None:
        """The capture, in every service's namespace, from now on."""
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

    def finish(self, session: pytest.Session) -> None:
        """What was seen, per edge; the helpers removed."""
        from harness.errors import HarnessError

        if self.run is None:
            if self.error and session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        run, self.run = self.run, None
        try:
            self.result = run.finish()
        except HarnessError as error:
            self.error = str(error)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
