"""The capture against an independent oracle: the provider's own log of the calls it answered. A known number of
calls on kept-alive connections, some made as soon as the consumer's process starts again (before its new capture
can run: the provider's capture has those), with the machine's two cores kept busy meanwhile: the counts must agree
whatever the timing (tests/topologies/observe-oracle)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from harness.model.loader import load_topology
from harness.observe import ObserveRun
from harness.runtime.topology import Topology

from ..conftest import TOPOLOGIES

BURST = 40  # calls per GET /calls/N of the caller
STARTUP_CALLS = 3  # the caller's, as its process starts (topology.yaml)


def answered(topology: Topology) -> int:
    """The calls the stock says it answered (its log), of the caller (the tests never ask the stock for items)."""
    logs = topology["stock"].container.logs().decode("utf-8", "replace")
    return sum(1 for line in logs.splitlines() if line.startswith("answered ") and " GET /items/" in line)


def answered_once(topology: Topology, count: int) -> int:
    """The stock's count once its log has `count` lines more than now's (its log is written by Docker a moment after
    the stock wrote it), or what it has after 60 s (then the assertion says how many)."""
    deadline = time.monotonic() + 60
    while answered(topology) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    return answered(topology)


# engine_wide: it keeps both cores busy on purpose, which would slow the other worker's tests past their bounds
@pytest.mark.engine_wide
def test_the_capture_counts_every_call_the_provider_answered_under_load(tmp_path: Path) -> None:
    shutil.copytree(TOPOLOGIES / "observe-oracle", tmp_path / "oracle")
    spec = load_topology(tmp_path / "oracle" / "topology.yaml")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        with Topology.start(spec) as topology:
            run = ObserveRun(spec, topology)
            run.start()
            try:
                before = answered(topology)  # the caller's first start: before the capture
                made = 0
                for _ in range(2):
                    response = requests.get(f"{topology['caller'].url}/calls/{BURST}", timeout=60)
                    made += response.json()["made"]
                for _ in range(2):  # twice in a row: a new namespace each time, its first calls before its capture
                    topology["caller"].restart()
                    made += STARTUP_CALLS
                made += requests.get(f"{topology['caller'].url}/calls/{BURST}", timeout=60).json()["made"]
                oracle = answered_once(topology, before + made) - before
            finally:
                result = run.finish()
    finally:
        for process in busy:
            process.kill()
            process.wait()
    assert oracle == made == 3 * BURST + 2 * STARTUP_CALLS
    edge = result.edge("caller", "stock")
    assert edge is not None
    assert edge.calls == oracle
    assert not any("started again" in note or "could not be read" in note for note in edge.notes), edge.notes
    print(f"\ncalls seen only by the stock's capture: {result.observation.provider_only}; notes: {result.notes}")
