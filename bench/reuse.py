"""Warm reruns of Runnerly's scenarios with --topology-reuse (not a test: prints figures).

    .venv/bin/python bench/reuse.py [--rounds N]          (-n 2 against -n 0: bench/xdist.py)

The kept Runnerly topology is started once (a cold run with --topology-reuse); each round then runs the scenarios
again with --topology-reuse, under this repository's pytest configuration (pyproject.toml: its addopts opt out of
schemathesis' and hypothesis' own pytest plugins), and once more with those plugins loaded (`-o addopts=-ra`, what a
project that does not opt out pays).

What is counted (bench/plugins/timeline.py, a plugin loaded into the measured run):
    the tests themselves   the sum of setup + call + teardown of every test as pytest reports them (its --durations),
                           less what the plugin does inside them: the `topology` fixture's setup and the restore
                           checks
    overhead               the pytest process's wall time less the tests themselves, in parts: start-up (interpreter,
                           pytest and every plugin imported), session start (the topology file loaded, the engine
                           connected), collection (the test modules imported), the `topology` fixture (attach: the kept
                           run's signatures compared, what was left restored, the pytest_topology_reused hook), the
                           restore checks (before each test: did an earlier one leave a service stopped, paused, ...),
                           between tests (pytest's own reporting), session end (sessionfinish: the kept run restored)
                           and exit (the terminal summary, unconfigure, the interpreter's exit)
The peers, in the same rounds: a trivial one-test pytest run in the same virtualenv (with every installed plugin, and
with the opt-out), and `pytest --collect-only` of the same scenarios without --topology (pytest's start-up, the
scenario modules imported, its exit: what any run of these tests pays, with or without the harness). Overhead less
that peer is what the harness adds to a warm rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
RUNNERLY = ROOT / "scenarios" / "runnerly" / "topology.yaml"
SCENARIOS = [str(ROOT / "scenarios"), "--topology", str(RUNNERLY)]
ALL_PLUGINS = ["-o", "addopts=-ra"]  # this repository's addopts without its opt-out
OPT_OUT = ["-p", "no:schemathesis", "-p", "no:hypothesispytest"]


def timeline_run(args: list[str], cwd: Path = ROOT) -> dict[str, float]:
    """One pytest run with bench/plugins/timeline.py loaded: wall seconds, its parts (the docstring) and outcome."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "timeline.json"
        env = {**os.environ, "BENCH_TIMELINE": str(out),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        launched = time.time()
        done = subprocess.run([*PYTEST, "-p", "bench.plugins.timeline", *args], cwd=cwd, capture_output=True,
                              text=True, env=env)
        exited = time.time()
        outcome = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
        if done.returncode not in (0, 1) or not out.exists():
            raise SystemExit(f"  !! exit {done.returncode}: {outcome}\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
        for line in done.stdout.splitlines():  # a failed scenario (a timing one, under load) is shown, not fatal
            if line.startswith("FAILED "):
                print(f"  !! {line}")
        t = json.loads(out.read_text())
    first = t.get("first_test", t["collected"])
    last = t.get("last_test_end", first)
    own = t["tests"] - t["topology_setup"] - t["restore_checks"]
    return {"wall": exited - launched, "tests": own, "overhead": exited - launched - own,
            "start-up": t["configured"] - launched, "session start": t["session_started"] - t["configured"],
            "collection": t["collected"] - t["session_started"],
            "topology fixture": t["topology_setup"], "restore checks": t["restore_checks"],
            "between tests": (last - first) - t["tests"], "session end": t["finished"] - last,
            "exit": exited - t["finished"], "outcome": outcome}  # type: ignore[dict-item]


PARTS = ["start-up", "session start", "collection", "topology fixture", "restore checks", "between tests",
         "session end", "exit"]


def harness_down(file: Path) -> None:
    subprocess.run([str(Path(sys.executable).parent / "harness"), "down", str(file)], capture_output=True, check=True)


def trivial_peer(rounds: int) -> dict[str, float]:
    """Median wall seconds of a one-test pytest run in this virtualenv: every plugin loaded, and opted out."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "test_one.py").write_text("def test_one():\n    pass\n")
        times: dict[str, list[float]] = {"all plugins": [], "opted out": []}
        for _ in range(rounds):
            for label, args in (("all plugins", []), ("opted out", OPT_OUT)):
                started = time.perf_counter()
                subprocess.run([*PYTEST, *args], cwd=folder, capture_output=True, check=True)
                times[label].append(time.perf_counter() - started)
    return {label: statistics.median(values) for label, values in times.items()}


def warm_rerun(rounds: int) -> None:
    print(f"== warm rerun of Runnerly's scenarios (--topology-reuse); load average {load()}")
    peer = trivial_peer(rounds)
    print("  peer: a trivial one-test pytest run in this virtualenv: "
          + ", ".join(f"{label} {seconds:.2f} s" for label, seconds in peer.items()))
    harness_down(RUNNERLY)
    cold = timeline_run([*SCENARIOS, "--topology-reuse"])
    print(f"  cold (starts and keeps it): {cold['wall']:.1f} s wall, tests {cold['tests']:.1f} s  ({cold['outcome']})")
    attach_breakdown()
    rows: dict[str, list[dict[str, float]]] = {"repo config (opted out)": [], "all plugins (-o addopts=-ra)": []}
    for index in range(rounds):
        for label, extra in (("repo config (opted out)", []), ("all plugins (-o addopts=-ra)", ALL_PLUGINS)):
            before = load()
            run = timeline_run([*SCENARIOS, "--topology-reuse", *extra])
            run["collect-only peer"] = collect_only(extra)
            rows[label].append(run)
            parts = ", ".join(f"{part} {run[part]:.2f}" for part in PARTS)
            print(f"  warm {index + 1} {label}: {run['wall']:.1f} s wall, tests themselves {run['tests']:.1f} s, "
                  f"overhead {run['overhead']:.2f} s ({parts}); collect-only peer {run['collect-only peer']:.2f} s; "
                  f"load {before}  ({run['outcome']})")
    for label, runs in rows.items():
        overhead = statistics.median(run["overhead"] for run in runs)
        added = statistics.median(run["overhead"] - run["collect-only peer"] for run in runs)
        parts = ", ".join(f"{part} {statistics.median(run[part] for run in runs):.2f}" for part in PARTS)
        print(f"  median, {label}: overhead over the tests themselves {overhead:.2f} s ({parts}); over the tests and "
              f"the collect-only peer {added:.2f} s (target: < 1 s)")
    harness_down(RUNNERLY)


def collect_only(extra: list[str]) -> float:
    """Wall seconds of `pytest --collect-only` of the scenarios without --topology (the plugin starts nothing)."""
    started = time.perf_counter()
    done = subprocess.run([*PYTEST, str(ROOT / "scenarios"), "--collect-only", *extra], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"  !! collect-only peer: exit {done.returncode}\n{done.stdout[-2000:]}")
    return time.perf_counter() - started


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
    print(f"  in-process: load {loaded - started:.2f} s, attach (signatures of 7 services) {attached - loaded:.2f} s,"
          f" restore check {restored - attached:.2f} s")


def load() -> str:
    """The 1-minute load average (2 cores shared with other work: read every figure next to it)."""
    return f"{os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    warm_rerun(parser.parse_args().rounds)


if __name__ == "__main__":
    main()
