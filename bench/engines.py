"""A topology across engines against one engine (issue #27; not a test: prints figures). Needs root (the engines are
dockerd in network namespaces: fixtures/engines/netns_engines.py, three joined into a swarm, made and removed here).

    .venv/bin/python bench/engines.py [--rounds N] [--calls N]

Ready: Runnerly (seven services) started until every service is ready, images cached (a warm-up start of each
layout copies them first), in the same round, one after the other, alternating their order:
  - across: spread over the three engines (fixtures/engines/runnerly_across.py's PLACEMENT: every edge crosses
    engines);
  - one engine: the same file without `engines:`, on engine e0 (DOCKER_HOST), its own network a bridge (the peer:
    what the topology costs on one engine of the same kind);
  - one engine of the swarm: every service placed on e0, on the run's overlay network (what spreading costs apart
    from the overlay).
Ratio across / one engine per round, and its median (target <= 1.3).

Calls: the time of one HTTP call (a new connection each, GET /health, `--calls` per sample, median) to strava (on
e1) from dataservice (also on e1: the same engine, through the overlay) and from gateway (on e2: across engines),
both in the same across run, alternating: the latency a call across engines adds.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

import docker

from harness import Topology, load_topology
from harness.runtime.transfer import copy_image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "engines"
CALLS = """
import sys, time, urllib.request
samples = []
for _ in range(int(sys.argv[1])):
    started = time.perf_counter()
    urllib.request.urlopen("http://strava:8080/health", timeout=10).read()
    samples.append(time.perf_counter() - started)
samples.sort()
print(samples[len(samples) // 2])
"""


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, FIXTURES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def ready_seconds(file: Path, docker_host: str | None = None) -> tuple[float, Topology]:
    """Seconds until every service of `file` is ready (DOCKER_HOST: `docker_host` for a file without `engines:`)."""
    saved = os.environ.get("DOCKER_HOST")
    if docker_host:
        os.environ["DOCKER_HOST"] = docker_host
    try:
        spec = load_topology(file)
        started = time.perf_counter()
        topology = Topology.start(spec)
        return time.perf_counter() - started, topology
    finally:
        if docker_host:
            os.environ.pop("DOCKER_HOST")
            if saved is not None:
                os.environ["DOCKER_HOST"] = saved


def call_seconds(topology: Topology, caller: str, calls: int) -> float:
    result = topology[caller].exec(["python", "-c", CALLS, str(calls)])
    assert result.exit_code == 0, result.output
    return float(result.output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    arguments = parser.parse_args()
    netns, across = script("netns_engines"), script("runnerly_across")
    if reason := netns.missing():
        raise SystemExit(f"engines in network namespaces: {reason}")
    engines = netns.up(3, owner=os.getpid())
    try:
        with tempfile.TemporaryDirectory(prefix="bench-engines-") as folder:
            spread = across.runnerly_file(Path(folder), engines.urls)
            on_e0 = across.runnerly_file(Path(folder), engines.urls, dict.fromkeys(across.PLACEMENT, "e0"),
                                         name="runnerly-e0.yaml")
            alone = across.runnerly_file(Path(folder), [], name="runnerly-one.yaml")
            # the content tags of builds on e0 alone go by e0's base images: the same as this machine's
            copy_image(docker.from_env(timeout=300), docker.DockerClient(base_url=engines.urls[0], timeout=300),
                       "python:3.11-slim")
            layouts = {"across": (spread, None), "one engine of the swarm": (on_e0, None),
                       "one engine": (alone, engines.urls[0])}
            # warm-up, not measured: the images copied to the engines (e0 gets every image before the start
            # without `engines:`, which builds and pulls on e0 itself: it finds them there)
            for file, host in layouts.values():
                ready_seconds(file, host)[1].close()
            seconds: dict[str, list[float]] = {name: [] for name in layouts}
            same, crossing = [], []
            for round_ in range(arguments.rounds):
                order = list(layouts) if round_ % 2 == 0 else list(reversed(layouts))
                for name in order:
                    took, topology = ready_seconds(*layouts[name])
                    seconds[name].append(took)
                    with topology:
                        if name == "across":
                            callers = [("dataservice", same), ("gateway", crossing)]
                            for caller, into in callers if round_ % 2 == 0 else reversed(callers):
                                into.append(call_seconds(topology, caller, arguments.calls))
                ratio = seconds["across"][-1] / seconds["one engine"][-1]
                print(f"round {round_ + 1}: ready across {seconds['across'][-1]:.2f} s, one engine "
                      f"{seconds['one engine'][-1]:.2f} s (x{ratio:.2f}), one engine of the swarm "
                      f"{seconds['one engine of the swarm'][-1]:.2f} s; call same engine {same[-1] * 1000:.2f} ms, "
                      f"across {crossing[-1] * 1000:.2f} ms; load average {os.getloadavg()[0]:.1f}", flush=True)
            ratios = [a / b for a, b in zip(seconds["across"], seconds["one engine"], strict=True)]
            print(json.dumps({
                "ready_seconds": {name: [round(s, 2) for s in values] for name, values in seconds.items()},
                "ratio_across_to_one_engine": {"rounds": [round(r, 2) for r in ratios],
                                               "median": round(statistics.median(ratios), 2), "target": 1.3},
                "call_ms": {"same_engine": round(statistics.median(same) * 1000, 2),
                            "across_engines": round(statistics.median(crossing) * 1000, 2),
                            "added": round((statistics.median(crossing) - statistics.median(same)) * 1000, 2)}},
                indent=2))
    finally:
        netns.down(engines)


if __name__ == "__main__":
    main()
