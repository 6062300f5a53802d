"""A pytest plugin for the bench scripts (not a bench itself): where the time of one pytest run goes.

    PYTHONPATH=. BENCH_TIMELINE=out.json python -m pytest -p bench.plugins.timeline ...    (from the repository's root)

Writes to $BENCH_TIMELINE (JSON, every time in seconds since the epoch, every duration in seconds):
    configured       pytest_configure of this plugin (the interpreter started, pytest and every plugin imported)
    session_started  pytest_sessionstart done (this plugin's runs last: the topology file loaded, the engine connected)
    collected        collection finished (the test modules and conftest files imported)
    first_test, last_test_end   the first item's start, the last item's end
    finished         sessionfinish done (a kept topology restored, pacts written, ...)
    tests            sum of setup + call + teardown of every item, as pytest reports them (its --durations)
    topology_setup   of that: the `topology` fixture's setup (start, or attach + restore + pytest_topology_reused)
    restore_checks   of that: the plugin's check before each test for services an earlier test left stopped, paused, ...
Under pytest-xdist each process writes its own file: BENCH_TIMELINE with `{worker}` in it (main, gw0, gw1, ...).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest

_times: dict[str, Any] = {"tests": 0.0, "topology_setup": 0.0, "restore_checks": 0.0, "items": 0}


def _stamp(name: str) -> None:
    _times.setdefault(name, time.time())


def pytest_configure(config: pytest.Config) -> None:
    _stamp("configured")
    import harness.pytest as plugin

    check = plugin._restore_topologies

    def timed_check(item: pytest.Item) -> None:
        started = time.perf_counter()
        try:
            check(item)
        finally:
            _times["restore_checks"] += time.perf_counter() - started

    plugin._restore_topologies = timed_check


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _stamp("session_started")


def pytest_collection_finish(session: pytest.Session) -> None:
    _stamp("collected")


def pytest_runtest_logstart(nodeid: str, location: Any) -> None:
    _stamp("first_test")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _times["tests"] += report.duration
    if report.when == "teardown":
        _times["items"] += 1
        _times["last_test_end"] = time.time()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest):  # noqa: ANN201
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        if fixturedef.argname == "topology":
            _times["topology_setup"] += time.perf_counter() - started


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    _stamp("finished")
    worker = getattr(session.config, "workerinput", {}).get("workerid", "main")
    out = os.environ.get("BENCH_TIMELINE")
    if out:
        with open(out.replace("{worker}", worker), "w") as handle:
            json.dump(_times, handle)
