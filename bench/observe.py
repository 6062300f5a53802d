"""What observation (--observe) adds per call (not a test: prints figures).

    .venv/bin/python bench/observe.py [--rounds N] [--calls N] [--scenario-rounds N]

1. Runnerly's scenarios (scenarios/runnerly), with and without --observe, in the same rounds: the kept Runnerly
topology is started once (--topology-reuse), then each round runs the scenarios without and with --observe, one
after the other (which goes first alternates from round to round). The figure is the tests themselves
(bench/plugins/timeline.py: setup + call + teardown of every test, less the `topology` fixture's setup, where
--observe starts its helpers, and the restore checks): the ratio with/without per round, and its median. Target:
<= 5 %.

2. Per call: the shop/stock/redis topology of the tests (tests/topologies/observe-app): each GET /order/1 makes two
HTTP calls from the shop to the stock on one connection and one Redis command. Per round: the median time of `calls`
orders without a capture, then with the capture running in every service's namespace (its helpers started before,
read and removed after, outside the timing). The figure per call between services is the difference divided by the three
calls an order makes. Rounds alternate so that the machine's load hits both alike; the medians of the rounds are
printed. The capture is passive (it copies packets, the kernel does not wait for it): the target is <= 1 ms per call.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

from harness.model.loader import load_topology
from harness.observe import ObserveRun
from harness.runtime.topology import Topology

APP = Path(__file__).parent.parent / "tests" / "topologies" / "observe-app" / "topology.yaml"


def median_order(session: requests.Session, url: str, calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        session.get(url, timeout=10).raise_for_status()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def scenario_rounds(rounds: int) -> None:
    """Runnerly's scenarios without and with --observe on one kept topology (see the module's docstring)."""
    from bench.reuse import RUNNERLY, SCENARIOS, load, timeline_run

    def harness_down(file: Path) -> None:  # the kept run of this checkout's Runnerly file only
        subprocess.run([str(Path(sys.executable).parent / "harness"), "down", "--topology", str(file)],
                       capture_output=True, check=True)

    print(f"== Runnerly's scenarios (--topology-reuse), without and with --observe; load average {load()}")
    harness_down(RUNNERLY)
    try:
        cold = timeline_run([*SCENARIOS, "--topology-reuse"])
        print(f"  cold (starts and keeps it): {cold['wall']:.1f} s wall ({cold['outcome']})")
        ratios, plain, observed = [], [], []
        for index in range(rounds):
            if index % 2:  # which goes first alternates: a round's second run is often the faster
                with_ = timeline_run([*SCENARIOS, "--topology-reuse", "--observe"])
                without = timeline_run([*SCENARIOS, "--topology-reuse"])
            else:
                without = timeline_run([*SCENARIOS, "--topology-reuse"])
                with_ = timeline_run([*SCENARIOS, "--topology-reuse", "--observe"])
            plain.append(without["tests"])
            observed.append(with_["tests"])
            ratios.append(with_["tests"] / without["tests"])
            print(f"  round {index + 1}: tests themselves {without['tests']:.2f} s without, {with_['tests']:.2f} s "
                  f"with --observe (x{ratios[-1]:.3f}); wall {without['wall']:.1f} / {with_['wall']:.1f} s; "
                  f"load {load()}  ({without['outcome']} / {with_['outcome']})")
        print(f"  median: {statistics.median(plain):.2f} s without, {statistics.median(observed):.2f} s with; "
              f"median ratio x{statistics.median(ratios):.3f} (target <= x1.05)")
    finally:
        harness_down(RUNNERLY)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--scenario-rounds", type=int, default=5, help="0: per call only")
    arguments = parser.parse_args()
    if arguments.scenario_rounds:
        scenario_rounds(arguments.scenario_rounds)
    spec = load_topology(APP)
    plain: list[float] = []
    observed: list[float] = []
    with Topology.start(spec) as topology, requests.Session() as session:
        url = topology["shop"].url + "/order/1"
        median_order(session, url, 20)  # warm up
        for _ in range(arguments.rounds):
            plain.append(median_order(session, url, arguments.calls))
            run = ObserveRun(spec, topology)
            run.start()
            observed.append(median_order(session, url, arguments.calls))
            result = run.finish()
            seen = result.edge("shop", "stock")
            assert seen is not None and seen.calls == 2 * arguments.calls, seen
    without, with_ = statistics.median(plain) * 1000, statistics.median(observed) * 1000
    print(f"order (2 HTTP calls + 1 Redis command): {without:.2f} ms without, {with_:.2f} ms with the capture "
          f"(median of {arguments.rounds} rounds of {arguments.calls} orders)")
    print(f"added per call between services: {(with_ - without) / 3:.3f} ms")


if __name__ == "__main__":
    main()
