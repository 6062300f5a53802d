"""What observation (--observe) adds per call (not a test: prints figures).

    .venv/bin/python bench/observe.py [--rounds N] [--calls N]

The shop/stock/redis topology of the tests (tests/topologies/observe-app): each GET /order/1 makes two HTTP calls
from the shop to the stock on one connection and one Redis command. Per round: the median time of `calls` orders
without a capture, then with the capture running in every service's namespace (its helpers started before, read and
removed after, outside the timing). The figure per call between services is the difference divided by the three
calls an order makes. Rounds alternate so that the machine's load hits both alike; the medians of the rounds are
printed. The capture is passive (it copies packets, the kernel does not wait for it): the target is <= 1 ms per call.
"""

from __future__ import annotations

import argparse
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=100)
    arguments = parser.parse_args()
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
