"""Fuzzing throughput and wall time (not a test: prints figures).

    .venv/bin/python bench/fuzz.py [--max-examples N] [--seed S]

Against a Runnerly topology started here (its own run: never one another process is using):
1. requests per second of the harness's run of dataservice, next to schemathesis' own `st run` CLI against the same
   service with the same settings (token, seed, examples, phases, checks, mode); both count requests in the
   service's own log; and the CPU time of each (this process's; the `st` process's), which a loaded machine
   changes far less than the wall time;
2. the wall time of every Runnerly service fuzzed one after another in this process, next to `harness fuzz`'s way
   (one after another, each in a process forked from a server started before the topology, as the CLI does), with
   where the CPU went: this process, the fuzzing processes (the fork server's reaped children), each container (the
   engine's stats).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from harness import Topology, load_topology
from harness.fuzz.auth import BearerToken
from harness.fuzz.options import FuzzOptions, checks_for, default_cache_dir, fuzz_targets, mode_for
from harness.fuzz.service import fuzz_service
from harness.fuzz.session import FuzzRun, prepare_runs
from harness.options import CLI, flags
from harness.runtime.engine import connect
from harness.runtime.labels import RUN

RUNNERLY = Path(__file__).parent.parent / "scenarios" / "runnerly" / "topology.yaml"


def st_run(topology: Topology, name: str, max_examples: int, seed: int) -> tuple[int, float, float]:
    """`st run` against the same service; returns (requests counted from the service's own log, seconds, CPU
    seconds of the `st` process: user + system, its start and its document's load included)."""
    spec = topology.spec.services[name]
    assert spec.auth and spec.auth.client_credentials
    token = BearerToken(topology, spec.auth.client_credentials).headers()["Authorization"]
    service = topology[name]
    cache = default_cache_dir()  # not the working directory
    since = time.time()
    started, cpu = time.perf_counter(), _children_rusage()
    subprocess.run([str(Path(sys.executable).parent / "st"), "run", service.url + (spec.openapi or ""),
                    "--url", service.url, "-H", f"Authorization: {token}", "--max-examples", str(max_examples),
                    "--seed", str(seed), "--checks", ",".join(checks_for(spec)), "--mode", mode_for(spec),
                    "--generation-database", "none", "--no-color"],
                   capture_output=True, text=True, env={**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(cache)})
    seconds, cpu = time.perf_counter() - started, _children_rusage() - cpu
    requests = len(re.findall(r"schemathesis/", service.logs(since=since)))
    return requests, seconds, cpu


def _children_rusage() -> float:
    """User + system CPU seconds of this process's waited-for children (the `st` processes)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def containers_cpu(topology: Topology) -> dict[str, float]:
    """CPU seconds each container of the run has used so far (the engine's cgroup counters)."""
    client = connect()
    return {c.name: c.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
            for c in client.containers.list(filters={"label": f"{RUN}={topology.run_id}"})}


def children_cpu() -> float:
    """CPU seconds of the reaped children of this process's children (the fork server's fuzzing processes)."""
    total, ticks = 0.0, os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[13]) + int(fields[14])) / ticks  # cutime, cstime
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    spec = load_topology(RUNNERLY)
    prepare_runs(fuzz_targets(spec))  # as `harness fuzz` does, while the topology starts
    with Topology.start(spec) as topology:
        options = FuzzOptions(max_examples=args.max_examples, seed=args.seed)
        since, our_cpu = time.time(), time.process_time()
        ours = fuzz_service(topology, "dataservice", options)
        our_cpu = time.process_time() - our_cpu  # this process: the run is in it (no fork server here)
        our_requests = len(re.findall(r"schemathesis/", topology["dataservice"].logs(since=since)))
        st_requests, st_seconds, st_cpu = st_run(topology, "dataservice", args.max_examples, args.seed)
        our_rate, st_rate = our_requests / ours.seconds, st_requests / st_seconds
        print(f"dataservice, max {args.max_examples} examples, seed {args.seed}, checks "
              f"{checks_for(topology.spec.services['dataservice'])}:")
        print(f"  harness fuzz: {our_requests} requests in {ours.seconds:.1f} s = {our_rate:.0f}/s "
              "(schema loading included)")
        print(f"  st run:       {st_requests} requests in {st_seconds:.1f} s = {st_rate:.0f}/s "
              "(process start and schema loading included)")
        print(f"  ratio: {our_rate / st_rate:.2f}; CPU harness {our_cpu:.1f} s, st run {st_cpu:.1f} s (its start "
              f"included): {our_cpu / st_cpu:.2f} (load average {os.getloadavg()[0]:.1f}: CPU time is what the "
              "load changes least)")
        names = fuzz_targets(topology.spec)
        load = os.getloadavg()[0]
        containers = containers_cpu(topology)  # before the clock starts: the engine's stats take a while
        started, cpu = time.perf_counter(), time.process_time()
        one_by_one = [fuzz_service(topology, name, FuzzOptions(seed=args.seed)) for name in names]
        sequential, cpu = time.perf_counter() - started, time.process_time() - cpu
        services = sum(containers_cpu(topology).values()) - sum(containers.values())
        children, containers = children_cpu(), containers_cpu(topology)
        started, main_cpu = time.perf_counter(), time.process_time()
        at_once = FuzzRun(topology.spec, FuzzOptions(seed=args.seed), names, flags(CLI, "fuzz")).run(topology)
        concurrent, main_cpu = time.perf_counter() - started, time.process_time() - main_cpu
        time.sleep(0.5)  # the fuzzing processes end (and are reaped) just after their results arrive
        workers = children_cpu() - children
        services_at_once = sum(containers_cpu(topology).values()) - sum(containers.values())
        total = main_cpu + workers + services_at_once
        for label, results, seconds in (("one after another", one_by_one, sequential),
                                        ("all at once", at_once, concurrent)):
            print(f"default run of {len(results)} Runnerly services, {label}: {seconds:.1f} s, "
                  f"{sum(r.requests for r in results)} requests, {sum(len(r.findings) for r in results)} findings")
        print(f"  ratio all at once / one after another: {concurrent / sequential:.2f} (load average {load:.1f} "
              f"before, {os.cpu_count()} cores shared with the services and the machine's other load)")
        print(f"  CPU one after another: harness {cpu:.1f} s + containers {services:.1f} s = "
              f"{cpu + services:.1f} s in {sequential:.1f} s")
        print(f"  CPU all at once: harness {main_cpu:.1f} s + fuzzing processes {workers:.1f} s + containers "
              f"{services_at_once:.1f} s = {total:.1f} s in {concurrent:.1f} s; "
              f"on {os.cpu_count()} cores no less than {total / (os.cpu_count() or 1):.1f} s, "
              f"nor than the longest service alone ({max(r.seconds for r in one_by_one):.1f} s one after another)")

if __name__ == "__main__":
    main()
