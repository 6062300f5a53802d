"""Pact verification times for Runnerly (not a test: prints figures).

    .venv/bin/python bench/verify.py [--rounds N]

Uses the running Runnerly topology (`harness up scenarios/runnerly/topology.yaml --detach`) or starts one.
Per pact: the median wall time of a verification, and that time per interaction. The provider's own answer time
is measured by replaying each HTTP interaction's request once, and subtracted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import requests

from harness import Topology, load_topology
from harness.contracts.run import select_pacts
from harness.contracts.verify import verify_pact

RUNNERLY = Path(__file__).parent.parent / "scenarios" / "runnerly" / "topology.yaml"


def provider_time(topology: Topology, pact) -> float:  # noqa: ANN001
    total = 0.0
    for interaction in pact.interactions:
        request = interaction.get("request")
        if not request:
            continue
        started = time.perf_counter()
        requests.request(request["method"], topology[pact.provider].url + request["path"], timeout=10)
        total += time.perf_counter() - started
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    spec = load_topology(RUNNERLY)
    pacts, registry = select_pacts(spec)
    with Topology.reused_or_started(spec) as topology:
        whole = []
        print(f"{'pact':26} {'interactions':>12} {'verify':>8} {'per interaction':>16} {'beyond provider':>16}")
        rows = {p.edge: [] for p in pacts}
        for _ in range(args.rounds):
            started = time.perf_counter()
            for pact in pacts:
                rows[pact.edge].append(verify_pact(topology, pact, registry).seconds)
            whole.append(time.perf_counter() - started)
        for pact in pacts:
            seconds = statistics.median(rows[pact.edge])
            count = len(pact.interactions)
            beyond = (seconds - provider_time(topology, pact)) / count
            print(f"{pact.edge:26} {count:12} {seconds:7.2f}s {seconds / count:15.3f}s {beyond:15.3f}s")
        print(f"all {len(pacts)} pacts ({sum(len(p.interactions) for p in pacts)} interactions), topology up: "
              f"{statistics.median(whole):.2f}s (median of {args.rounds})")


if __name__ == "__main__":
    main()
