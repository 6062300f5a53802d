"""Warm reruns with --topology-reuse and pytest-xdist, on Runnerly's scenarios (not a test: prints figures).

    .venv/bin/python bench/reuse.py [--rounds N] [--skip-xdist] [--skip-runnerly-xdist]

Warm rerun: the kept Runnerly topology is started once (cold run, --topology-reuse), then each round runs the scenarios
again with --topology-reuse; its overhead is the pytest process's wall time minus the sum of the tests' own times
(setup + call + teardown of every test case in a JUnit file written by that run). A trivial one-test pytest run in
the same virtualenv is the peer: what any pytest run costs to start there.

xdist: the same scenarios with -n 0, -n 2 (one topology shared by the workers) and -n 2 --topology-per-worker, cold
(no kept run) and warm (--topology-reuse); and the shared-topology path on its own: a one-redis topology and 20 tests
of 0.5 s each (a stand-in for slow, independent tests), -n 0 against -n 2 shared and per worker.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
RUNNERLY = ROOT / "scenarios" / "runnerly" / "topology.yaml"
SCENARIOS = [str(ROOT / "scenarios"), "--topology", str(RUNNERLY)]
SLOW_TESTS = """
import time

import pytest

@pytest.mark.parametrize("n", range(20))
def test_slow_and_independent(topology, n):
    assert topology["redis"].exec(["redis-cli", "ping"]).output.strip() == "PONG"
    time.sleep(0.5)
"""
REDIS = "name: bench-xdist\nservices:\n  redis:\n    image: redis:7\n    ports: [6379]\n    ready: {tcp: 6379}\n"


def timed(args: list[str], cwd: Path = ROOT) -> tuple[float, float, str]:
    """(wall seconds, sum of the test cases' own seconds, outcome line) of one pytest run."""
    with tempfile.TemporaryDirectory() as folder:
        junit = Path(folder) / "junit.xml"
        started = time.perf_counter()
        done = subprocess.run([*PYTEST, *args, f"--junitxml={junit}"], cwd=cwd, capture_output=True, text=True)
        wall = time.perf_counter() - started
        outcome = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
        if done.returncode != 0:
            print(f"  !! exit {done.returncode}: {outcome}\n{done.stdout[-2000:]}")
        tests = sum(float(case.get("time", 0)) for case in ElementTree.parse(junit).iter("testcase")) \
            if junit.exists() else 0.0
    return wall, tests, outcome


def harness_down(file: Path) -> None:
    subprocess.run([str(Path(sys.executable).parent / "harness"), "down", str(file)], capture_output=True, check=True)


def warm_rerun(rounds: int) -> None:
    print("== warm rerun of Runnerly's scenarios (--topology-reuse)")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "test_one.py").write_text("def test_one():\n    pass\n")
        peer = statistics.median(timed([], cwd=Path(folder))[0] for _ in range(rounds))
    print(f"  peer: a trivial pytest run (1 test, no --topology) in this virtualenv: {peer:.2f} s")
    harness_down(RUNNERLY)
    wall, tests, outcome = timed([*SCENARIOS, "--topology-reuse"])
    print(f"  cold (starts and keeps it): {wall:.1f} s wall, tests {tests:.1f} s  ({outcome})")
    attach_breakdown()
    overheads = []
    for index in range(rounds):
        wall, tests, outcome = timed([*SCENARIOS, "--topology-reuse"])
        overheads.append(wall - tests)
        print(f"  warm {index + 1}: {wall:.1f} s wall, tests {tests:.1f} s, overhead {wall - tests:.2f} s  ({outcome})")
    median = statistics.median(overheads)
    print(f"  warm overhead (median): {median:.2f} s; over the trivial run's {peer:.2f} s: {median - peer:.2f} s "
          "(target: < 1 s over the tests)")
    harness_down(RUNNERLY)


def attach_breakdown() -> None:
    """What the plugin does before the first test of a warm rerun, timed in this process."""
    from harness import load_topology
    from harness.runtime.topology import Topology

    started = time.perf_counter()
    spec = load_topology(RUNNERLY)
    loaded = time.perf_counter()
    topology = Topology.kept_or_started(spec)
    attached = time.perf_counter()
    topology.restore()
    restored = time.perf_counter()
    assert topology.reused, "the kept run was not reused"
    print(f"  in-process: load {loaded - started:.2f} s, attach (signatures of 6 services) {attached - loaded:.2f} s,"
          f" restore check {restored - attached:.2f} s")


def xdist_runnerly() -> None:
    print("== Runnerly's scenarios: -n 0 against -n 2 (wall seconds)")
    for label, extra in [("cold -n 0", []), ("cold -n 2 shared", ["-n", "2"]),
                         ("cold -n 2 per worker", ["-n", "2", "--topology-per-worker"])]:
        wall, tests, outcome = timed([*SCENARIOS, *extra])
        print(f"  {label:24} {wall:6.1f} s  (tests {tests:.1f} s; {outcome})")
    harness_down(RUNNERLY)
    timed([*SCENARIOS, "--topology-reuse"])  # the kept run for the warm rows
    for label, extra in [("warm -n 0", []), ("warm -n 2 shared", ["-n", "2"])]:
        wall, tests, outcome = timed([*SCENARIOS, "--topology-reuse", *extra])
        print(f"  {label:24} {wall:6.1f} s  (tests {tests:.1f} s; {outcome})")
    harness_down(RUNNERLY)


def xdist_shared_path() -> None:
    print("== shared-topology path: one redis, 20 independent tests of 0.5 s (wall seconds)")
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "topology.yaml").write_text(REDIS)
        Path(folder, "test_slow.py").write_text(SLOW_TESTS)
        rows = {}
        for label, extra in [("-n 0", []), ("-n 2 shared", ["-n", "2"]),
                             ("-n 2 per worker", ["-n", "2", "--topology-per-worker"])]:
            wall, tests, outcome = timed(["--topology", "topology.yaml", *extra], cwd=Path(folder))
            rows[label] = wall
            print(f"  {label:24} {wall:6.1f} s  (tests {tests:.1f} s; {outcome})")
        print(f"  ratio -n 2 shared / -n 0: {rows['-n 2 shared'] / rows['-n 0']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-xdist", action="store_true")
    parser.add_argument("--skip-runnerly-xdist", action="store_true")
    options = parser.parse_args()
    warm_rerun(options.rounds)
    if not options.skip_xdist:
        xdist_shared_path()
        if not options.skip_runnerly_xdist:
            xdist_runnerly()


if __name__ == "__main__":
    main()
