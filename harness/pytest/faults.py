"""Faults per edge in pytest: the `edge_fault` marker, and the faults of a failing test in its report.

    @pytest.mark.edge_fault("gateway", "dataservice", delay_ms=1500)        # also jitter_ms=, loss_percent=,
    def test_slow_dataservice(topology): ...                                 # cut="reject" | "drop"
    @pytest.mark.edge_fault("gateway", None, delay_ms=200)                   # everything gateway calls

The faults are in place during the test function only (not its fixtures' setup), on the `topology` the test uses
(else the --topology one), and removed after it, also when it fails.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import pytest

from harness.pytest.session import PLUGIN_NAME, active_topologies

if TYPE_CHECKING:
    from harness.pytest.session import TopologySession
    from harness.runtime.faults import ActiveFault
    from harness.runtime.topology import Topology

MARKER = ("edge_fault(consumer, provider, *, delay_ms=0, jitter_ms=0, loss_percent=0, cut=None): put a fault on the "
          "calls `consumer` makes to `provider` (None: to everything) of the topology during the test "
          "(pytest-topology)")
OPTIONS = ("delay_ms", "jitter_ms", "loss_percent", "cut")
_started_at = pytest.StashKey[float]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    item.stash[_started_at] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    markers = list(item.iter_markers("edge_fault"))
    if not markers:
        return (yield)
    topology = _topology(item)
    with contextlib.ExitStack() as faults:
        for marker in reversed(markers):  # the marker nearest the function last, like stacked decorators read
            for fault in _apply(topology, marker):
                faults.push(_remover(fault))
        return (yield)


def _remover(fault: ActiveFault) -> Callable[..., None]:  # an ExitStack callback
    def remove(*exc: object) -> None:
        from harness.errors import HarnessError

        try:
            fault.remove()
        except HarnessError as error:
            pytest.fail(str(error), pytrace=False)

    return remove


def _topology(item: pytest.Item) -> Topology:
    from harness.runtime.topology import Topology

    given = getattr(item, "funcargs", {}).get("topology")
    if isinstance(given, Topology):
        return given
    session: TopologySession | None = item.config.pluginmanager.get_plugin(PLUGIN_NAME)
    if session is None:
        pytest.fail("@pytest.mark.edge_fault needs a topology: run pytest with --topology FILE (or the ini key "
                    "`topology`), or use it on a test that takes a `topology` fixture", pytrace=False)
    return session.running()


def _apply(topology: Topology, marker: pytest.Mark) -> list[ActiveFault]:
    from harness.errors import HarnessError

    where = f"@pytest.mark.edge_fault{_signature(marker)}"
    unknown = sorted(set(marker.kwargs) - set(OPTIONS))
    if len(marker.args) != 2 or unknown or not any(marker.kwargs.get(k) for k in ("delay_ms", "loss_percent", "cut")):
        pytest.fail(f"{where}: expected two service names (consumer, provider or None) and at least one of "
                    f"delay_ms=, loss_percent=, cut=" + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                    + f" (allowed: {', '.join(OPTIONS)})", pytrace=False)
    options = marker.kwargs
    applied: list[ActiveFault] = []
    try:
        edge = topology.faults.edge(*marker.args)
        if options.get("cut"):
            applied.append(edge.cut("reject" if options["cut"] is True else options["cut"]))
        if options.get("loss_percent"):
            applied.append(edge.loss(options["loss_percent"]))
        if options.get("delay_ms"):
            applied.append(edge.delay(options["delay_ms"], options.get("jitter_ms", 0)))
    except HarnessError as error:
        for fault in applied:
            fault.remove()
        pytest.fail(f"{where}: {error}", pytrace=False)
    return applied


def _signature(marker: pytest.Mark) -> str:
    parts = [repr(a) for a in marker.args] + [f"{k}={v!r}" for k, v in marker.kwargs.items()]
    return f"({', '.join(parts)})"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        text = _faults_during(item, call.when)
        if text:
            item.add_report_section(call.when, "faults", text)
            report.sections.append((f"Faults active during the test ({call.when})", text))
    return report


def _faults_during(item: pytest.Item, when: str) -> str:
    """One line per fault in place at some time during the test, with when it was (seconds from the test's start)."""
    started = item.stash.get(_started_at, None)
    if started is None:
        return ""
    lines = []
    for topology in active_topologies(item.config):
        for record in topology.faults.during(started, time.time()):
            ended = "the end" if record.ended is None else f"{record.ended - started:.1f} s"
            lines.append(f"{record.fault.describe()}  (from {max(0.0, record.started - started):.1f} s to {ended})")
    return "\n".join(lines)
