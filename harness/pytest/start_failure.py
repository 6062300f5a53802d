"""A topology that did not start, as pytest reports it: one errored item `topology NAME` at the service the error
names in the topology file (so that JUnit has an <error> with the reason, not an empty, green-looking suite), or, in
an xdist worker, the item that needed the topology errored and the worker stopped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from harness.pytest.items import one_line_repr

if TYPE_CHECKING:
    from harness.model.topology import TopologySpec


def report_start_failure(session: pytest.Session, spec: TopologySpec, file: Path, item_id: Callable[[str], str],
                         error: Exception) -> None:
    """The failed start as one errored test (`topology NAME` of the topology `file`; `item_id`: the node id of an
    item the plugin adds), at the service the error names: pytest's report, JUnit xunit1, annotations. The item is
    counted as one of the session's (pytest's progress: `[ 25%]` for it before three tests that do not run, not
    `[ 33%]` as if one of them had) and said on a line of its own, under its file."""
    from harness.report.annotations import service_location

    name = f"topology {spec.name}"
    first = next((line for line in str(error).splitlines() if line.strip()), "")
    where = service_location(spec, getattr(error, "service", None))
    file, line = (where.file, where.line) if where is not None else (file, None)
    longrepr = one_line_repr(f"{name} did not start:\n{error}", f"{name} did not start: {first}", file, line or 1)
    location = (str(file), line and line - 1, name)
    report = pytest.TestReport(nodeid=item_id(name), location=location, keywords={}, outcome="failed",
                               longrepr=longrepr, when="setup", sections=[], duration=0.0)
    session.testscollected += 1
    hook = session.config.hook
    hook.pytest_runtest_logstart(nodeid=report.nodeid, location=location)
    hook.pytest_runtest_logreport(report=report)
    hook.pytest_runtest_logfinish(nodeid=report.nodeid, location=location)


def fail_in_worker(session: pytest.Session, spec: TopologySpec, error: Exception) -> NoReturn:
    """An xdist worker: the item that needed the topology errors with the reason (a report of a made-up item would
    break the order of reports xdist checks), and the worker stops after it; the controller stops the others and
    exits with the error's code."""
    session.shouldstop = f"topology {spec.name} did not start"
    pytest.fail(f"topology {spec.name} did not start:\n{error}", pytrace=False)
