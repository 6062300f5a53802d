"""Pact verification times for Runnerly (not a test: prints figures).

    .venv/bin/python bench/verify.py [--rounds N]

Uses the running Runnerly topology (`harness up --detach -f scenarios/runnerly/topology.yaml`) or starts one. All
verifications share one verifier process, as in `harness verify`. Per pact: the median wall time of a
verification, that time per interaction, and the time per interaction beyond the provider's own answer time
(each HTTP interaction's request replayed once, with its headers and body, and subtracted; a message pact's
provider time is its producer's). The target (issue 10): <= 0.05 s per interaction beyond the provider.

Then the verdict cache (issue 25), per round and per pact: every pact verified by a VerifyRun without the cache (the
peer: verification as before the cache), by one with an empty cache folder (the first run: verify and keep), and the
rerun with nothing changed (a new VerifyRun on that folder: the topology's identity asked of the engine, the states
code hashed, each pact looked up; nothing verified, nothing started), in alternating order. Targets: the cached
rerun <= 0.05 s per pact; the first run no slower than the peer (ratio first / peer about 1).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from harness import Topology, load_topology
from harness.contracts.pactfiles import PactFile, is_message
from harness.contracts.run import VerifyOptions, VerifyRun, select_pacts
from harness.contracts.verify import verify_pact
from harness.contracts.worker import VerifierWorker

RUNNERLY = Path(__file__).parent.parent / "scenarios" / "runnerly" / "topology.yaml"


def provider_time(topology: Topology, pact: PactFile) -> float:
    """Seconds the provider takes to answer the pact's HTTP requests once (replayed as written)."""
    total = 0.0
    for interaction in pact.interactions:
        request: dict[str, Any] | None = interaction.get("request")
        if not request or is_message(interaction):
            continue
        body = request.get("body")
        if isinstance(body, dict) and "content" in body:  # V4: {"content": ..., "contentType": ...}
            body = body["content"]
        headers = {k: v[0] if isinstance(v, list) else v for k, v in (request.get("headers") or {}).items()}
        data = body if isinstance(body, str) else json.dumps(body) if body is not None else None
        started = time.perf_counter()
        requests.request(request["method"], topology[pact.provider].url + request["path"], timeout=10,
                         params=request.get("query"), headers=headers, data=data)
        total += time.perf_counter() - started
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    spec = load_topology(RUNNERLY)
    selection = select_pacts(spec)
    pacts = [p for p in selection.sources if isinstance(p, PactFile)]
    with Topology.reused_or_started(spec) as topology, VerifierWorker() as worker:
        verify_pact(topology, pacts[0], selection.registry, worker)  # the worker's start-up, once per run
        whole = []
        print(f"{'pact':26} {'interactions':>12} {'verify':>8} {'per interaction':>16} {'beyond provider':>16}")
        rows: dict[str, list[float]] = {p.edge: [] for p in pacts}
        for _ in range(args.rounds):
            started = time.perf_counter()
            for pact in pacts:
                result = verify_pact(topology, pact, selection.registry, worker)
                if not result.passed:
                    raise SystemExit(f"{pact.edge} is {result.verdict}: {result.reason or result.report[-2000:]}")
                rows[pact.edge].append(result.seconds)
            whole.append(time.perf_counter() - started)
        worst = 0.0
        for pact in pacts:
            seconds = statistics.median(rows[pact.edge])
            count = len(pact.interactions)
            beyond = (seconds - provider_time(topology, pact)) / count
            worst = max(worst, beyond)
            print(f"{pact.edge:26} {count:12} {seconds:7.2f}s {seconds / count:15.3f}s {beyond:15.3f}s")
        print(f"all {len(pacts)} pacts ({sum(len(p.interactions) for p in pacts)} interactions), topology up: "
              f"{statistics.median(whole):.2f}s (median of {args.rounds}); worst beyond provider: {worst:.3f}s "
              f"per interaction (target <= 0.050s)")
        cache_rounds(spec, topology, len(pacts), args.rounds)


def cache_rounds(spec: Any, topology: Topology, count: int, rounds: int) -> None:
    """Per pact: the peer (no cache), the first run with the cache and the cached rerun, in alternating order."""
    times: dict[str, list[float]] = {"peer": [], "first": [], "rerun": []}
    for index in range(rounds):
        with tempfile.TemporaryDirectory(prefix="verdict-cache-") as folder:
            order = ["peer", "first"] if index % 2 == 0 else ["first", "peer"]
            for kind in [*order, "rerun"]:
                started = time.perf_counter()
                run = VerifyRun(spec, VerifyOptions(cache=None if kind == "peer" else Path(folder)))
                try:
                    results = run.run(topology if kind != "rerun" or run.needs_topology else None)
                finally:
                    run.close()
                times[kind].append((time.perf_counter() - started) / count)
                cached = sum(bool(r.cached_from) for r in results)
                if any(not r.passed for r in results) or cached != (count if kind == "rerun" else 0):
                    raise SystemExit(f"{kind}: {[(r.edge, r.verdict, r.cached_from) for r in results]}")
    peer, first, rerun = (statistics.median(times[k]) for k in ("peer", "first", "rerun"))
    print(f"verdict cache, per pact (median of {rounds}, each a new VerifyRun: states loaded, one verifier process "
          f"started): peer (no cache) {peer:.3f}s, first run {first:.3f}s (ratio {first / peer:.2f}, target about 1), "
          f"cached rerun {rerun:.3f}s (target <= 0.050s; ratio to the peer {rerun / peer:.3f})")


if __name__ == "__main__":
    main()
