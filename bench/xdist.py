"""pytest-xdist: `-n 2` against `-n 0` on Runnerly's scenarios (not a test: prints figures and ratios).

    .venv/bin/python bench/xdist.py [--rounds N] [--all-plugins] [--make-test] [--shared-path]

Each round runs Runnerly's scenarios (images built, the topology started and removed by every run: no reuse) as
    -n 0                    one process
    -n 2 shared             two workers, one topology (the default); the fault tests (topology_exclusive) run alone
    -n 2 per worker         two workers, a topology each (--topology-per-worker)
one after the other, so that the ratios compare runs of the same round. The machine's 1-minute load average is printed
with every figure: on 2 cores shared with other work, read a ratio next to it, and repeat.
--all-plugins: also with schemathesis' and hypothesis' own pytest plugins loaded (`-o addopts=-ra`: this
repository's addopts opt out of them), in every process xdist starts.
--make-test: the scenarios as `make test` runs them, every pact verified and checked for drift and every service
fuzzed (--pact-verify --pact-drift --fuzz, 10 examples per operation): workers sharing the topology fuzz it once.
--shared-path: the shared-topology path on its own: a one-redis topology and 20 independent tests of 0.5 s.
"""

from __future__ import annotations

import argparse
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
VARIANTS = {"-n 0": ["-n", "0"], "-n 2 shared": ["-n", "2"], "-n 2 per worker": ["-n", "2", "--topology-per-worker"]}
ALL_PLUGINS = ["-o", "addopts=-ra"]
MAKE_TEST = ["--pact-verify", "--pact-no-cache", "--pact-drift", "--fuzz", "--fuzz-max-examples", "10"]
SLOW_TESTS = """
import time

import pytest

@pytest.mark.parametrize("n", range(20))
def test_slow_and_independent(topology, n):
    assert topology["redis"].exec(["redis-cli", "ping"]).output.strip() == "PONG"
    time.sleep(0.5)
"""
REDIS = "name: bench-xdist\nservices:\n  redis:\n    image: redis:7\n    ports: [6379]\n    ready: {tcp: 6379}\n"


def wall(args: list[str], cwd: Path = ROOT) -> tuple[float, str]:
    """(wall seconds, pytest's outcome line) of one run; a run that does not pass stops the bench."""
    started = time.perf_counter()
    done = subprocess.run([*PYTEST, *args], cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    outcome = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    if done.returncode != 0:
        raise SystemExit(f"!! exit {done.returncode}: {outcome}\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return seconds, outcome


def load() -> float:
    return os.getloadavg()[0]


def compare(title: str, base: list[str], variants: dict[str, list[str]], rounds: int, cwd: Path = ROOT) -> None:
    print(f"== {title} (wall seconds; load = 1-minute load average before the run)")
    walls: dict[str, list[float]] = {label: [] for label in variants}
    # each against the -n 0 run of the same round and plugins: "-n 2 shared (all plugins)" / "-n 0 (all plugins)"
    peers = {label: "-n 0" + (label[label.index(" ("):] if " (" in label else "") for label in variants}
    ratios: dict[str, list[float]] = {label: [] for label in variants if not label.startswith("-n 0")}
    for index in range(rounds):
        row = {}
        for label, extra in variants.items():
            before = load()
            row[label], outcome = wall([*base, *extra], cwd=cwd)
            walls[label].append(row[label])
            print(f"  round {index + 1}  {label:24} {row[label]:6.1f} s  load {before:4.1f}  ({outcome})")
        for label in ratios:
            ratios[label].append(row[label] / row[peers[label]])
        print("  round {}  ratios to -n 0: {}".format(
            index + 1, ", ".join(f"{label} {ratios[label][-1]:.2f}" for label in ratios)))
    print("  median:  " + ", ".join(f"{label} {statistics.median(values):.1f} s" for label, values in walls.items()))
    print("  median ratio to -n 0 (same round):  "
          + ", ".join(f"{label} {statistics.median(values):.2f}" for label, values in ratios.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--all-plugins", action="store_true")
    parser.add_argument("--make-test", action="store_true")
    parser.add_argument("--shared-path", action="store_true")
    options = parser.parse_args()
    wall([*SCENARIOS, "-k", "test_an_unknown_runner_is_404"])  # images built before the first measured run
    variants = dict(VARIANTS)
    if options.all_plugins:
        variants |= {f"{label} (all plugins)": [*extra, *ALL_PLUGINS] for label, extra in VARIANTS.items()}
    compare("Runnerly's scenarios, topology started by each run", SCENARIOS, variants, options.rounds)
    if options.make_test:
        compare("Runnerly's scenarios with --pact-verify --pact-drift --fuzz --fuzz-max-examples 10",
                [*SCENARIOS, *MAKE_TEST], dict(VARIANTS), options.rounds)
    if options.shared_path:
        with tempfile.TemporaryDirectory() as folder:
            Path(folder, "topology.yaml").write_text(REDIS)
            Path(folder, "test_slow.py").write_text(SLOW_TESTS)
            compare("shared-topology path: one redis, 20 independent tests of 0.5 s", ["--topology", "topology.yaml"],
                    VARIANTS, options.rounds, cwd=Path(folder))


if __name__ == "__main__":
    main()
