"""Pact <-> OpenAPI drift times for Runnerly, without any container (not a test: prints figures).

    .venv/bin/python bench/drift.py [--rounds N]

- `harness drift` as a user runs it: a fresh process (imports included), wall time.
- of it, Python's start and the imports alone (a fresh process importing the same modules and doing nothing): the
  difference is the drift check itself, whose target is <= 1 s (imports depend on the machine's load and disk).
- `check_topology` in one process, every pact and interaction, documents read again each round.
- the peer: openapi-core alone reading and validating the same documents (what any check of them costs), so the
  ratio says what drift adds on top of reading the specs.
Each figure is the shortest of N rounds, the four run in turn so that the machine's load hits them alike.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import yaml

from harness.contracts.drift import check_topology
from harness.model.loader import load_topology

RUNNERLY = Path(__file__).parent.parent / "scenarios" / "runnerly" / "topology.yaml"
HARNESS = Path(sys.executable).parent / "harness"


def best_of(rounds: int, *runs) -> list[float]:  # noqa: ANN002 - functions of no arguments
    """The shortest wall time of each function over `rounds`, run in turn (so that load hits them alike)."""
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for run, mine in zip(runs, times, strict=True):
            started = time.perf_counter()
            run()
            mine.append(time.perf_counter() - started)
    return [min(mine) for mine in times]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    spec = load_topology(RUNNERLY)
    results = list(check_topology(spec))
    interactions = sum(len(r.interactions) for r in results)
    sources = sorted({r.source.split()[1] for r in results if r.source})

    def cli() -> None:
        subprocess.run([str(HARNESS), "drift", "--topology", str(RUNNERLY)], check=True, capture_output=True)

    def startup() -> None:
        subprocess.run([sys.executable, "-c", "import harness.cli, harness.contracts.drift, harness.model.loader, "
                                           "harness.report.drift, openapi_core, jsonschema_path, werkzeug"], check=True)

    def peer() -> None:
        from openapi_core import OpenAPI

        for file in sources:
            OpenAPI.from_dict(yaml.safe_load(Path(file).read_text()))

    whole, imports, inside, reading = best_of(args.rounds, cli, startup, lambda: list(check_topology(spec)), peer)
    print(f"{len(results)} pacts, {interactions} interactions, {len(sources)} OpenAPI documents, no container")
    print(f"harness drift (fresh process):      {whole:6.3f} s")
    print(f"  of which Python start and imports: {imports:6.3f} s   (the same modules imported, nothing run)")
    print(f"  the drift check itself:            {whole - imports:6.3f} s   target <= 1 s: "
          f"{'ok' if whole - imports <= 1 else 'MISSED'}")
    print(f"check_topology (in process):        {inside:6.3f} s")
    print(f"peer: openapi-core reads the specs: {reading:6.3f} s   drift / peer = {inside / reading:.2f}")


if __name__ == "__main__":
    main()
