"""Fuzzing throughput and wall time (not a test: prints figures).

    .venv/bin/python bench/fuzz.py [--max-examples N] [--seed S]

Against a Runnerly topology started here (its own run: never one another process is using):
1. requests per second of the harness's run of dataservice, next to schemathesis' own `st run` CLI against the same
   service with the same settings (token, seed, examples, phases, checks, mode); both count requests in the
   service's own log;
2. the wall time of every Runnerly service fuzzed one after another, next to all of them at once (`harness fuzz`).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from harness import Topology, load_topology
from harness.fuzz.auth import BearerToken
from harness.fuzz.session import (
    DEFAULT_CHECKS,
    FuzzOptions,
    checks_for,
    default_cache_dir,
    fuzz_all,
    fuzz_service,
    fuzz_targets,
)

RUNNERLY = Path(__file__).parent.parent / "scenarios" / "runnerly" / "topology.yaml"


def st_run(topology: Topology, name: str, max_examples: int, seed: int) -> tuple[int, float]:
    """`st run` against the same service; returns (requests, seconds) counted from the service's own log."""
    spec = topology.spec.services[name]
    assert spec.auth and spec.auth.client_credentials
    token = BearerToken(topology, spec.auth.client_credentials).headers()["Authorization"]
    service = topology[name]
    cache = default_cache_dir()  # not the working directory
    since = time.time()
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "st"), "run", service.url + (spec.openapi or ""),
                    "--url", service.url, "-H", f"Authorization: {token}", "--max-examples", str(max_examples),
                    "--seed", str(seed), "--checks", ",".join(checks_for(spec)), "--mode", "positive",
                    "--generation-database", "none", "--no-color"],
                   capture_output=True, text=True, env={**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(cache)})
    seconds = time.perf_counter() - started
    requests = len(re.findall(r"schemathesis/", service.logs(since=since)))
    return requests, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    spec = load_topology(RUNNERLY)
    with Topology.start(spec) as topology:
        options = FuzzOptions(max_examples=args.max_examples, seed=args.seed)
        since = time.time()
        ours = fuzz_service(topology, "dataservice", options)
        our_requests = len(re.findall(r"schemathesis/", topology["dataservice"].logs(since=since)))
        st_requests, st_seconds = st_run(topology, "dataservice", args.max_examples, args.seed)
        our_rate, st_rate = our_requests / ours.seconds, st_requests / st_seconds
        print(f"dataservice, max {args.max_examples} examples, seed {args.seed}, checks {DEFAULT_CHECKS}:")
        print(f"  harness fuzz: {our_requests} requests in {ours.seconds:.1f} s = {our_rate:.0f}/s "
              "(schema loading included)")
        print(f"  st run:       {st_requests} requests in {st_seconds:.1f} s = {st_rate:.0f}/s "
              "(process start and schema loading included)")
        print(f"  ratio: {our_rate / st_rate:.2f}")
        names = fuzz_targets(topology.spec)
        started, cpu = time.perf_counter(), time.process_time()
        one_by_one = [fuzz_service(topology, name, FuzzOptions(seed=args.seed)) for name in names]
        sequential, cpu = time.perf_counter() - started, time.process_time() - cpu
        started = time.perf_counter()
        at_once = fuzz_all(topology, names, FuzzOptions(seed=args.seed))
        concurrent = time.perf_counter() - started
        for label, results, seconds in (("one after another", one_by_one, sequential),
                                        ("all at once", at_once, concurrent)):
            print(f"default run of {len(results)} Runnerly services, {label}: {seconds:.1f} s, "
                  f"{sum(r.requests for r in results)} requests, {sum(len(r.findings) for r in results)} findings")
        print(f"  ratio all at once / one after another: {concurrent / sequential:.2f} (one after another used "
              f"{cpu:.1f} s of CPU in this process, on {os.cpu_count()} cores shared with the services and the "
              f"machine's other load: a run that is mostly CPU cannot gain more than the free cores)")


if __name__ == "__main__":
    main()
