"""Hashing a build context (not a test: prints figures).

    .venv/bin/python bench/buildcontext.py [--megabytes 200]

A context with one big file is hashed cold (no cached digests) and warm (unchanged, digests cached), each in a
fresh process, next to `sha256sum` of the same file (the peer); memory is the process's peak RSS growth during
the hash. Targets: cold within ~1.5x of sha256sum, warm <= 0.1 s, memory growth <= 20 MB.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys, time
from pathlib import Path
from harness.runtime.buildcontext import build_tag
from harness.model.parts import BuildSpec
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
build_tag(Path(sys.argv[1]), BuildSpec(context="."))
took = time.perf_counter() - started
print(took, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def hash_in_child(context: Path, cache: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTEST_TOPOLOGY_CACHE": str(cache)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(context)], env=env, check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp) / "ctx"
        context.mkdir()
        (context / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /data\n")
        with (context / "big.bin").open("wb") as big:
            for _ in range(args.megabytes):
                big.write(os.urandom(1 << 20))
        past = time.time() - 60  # settled files: their digests may be cached
        os.utime(context / "big.bin", (past, past))
        started = time.perf_counter()
        subprocess.run(["sha256sum", str(context / "big.bin")], check=True, capture_output=True)
        peer = time.perf_counter() - started
        cold, cold_mb = hash_in_child(context, Path(tmp) / "cache")
        warm, warm_mb = hash_in_child(context, Path(tmp) / "cache")
    print(f"context of {args.megabytes} MB")
    print(f"  sha256sum          {peer:7.3f} s")
    print(f"  cold hash          {cold:7.3f} s   ({cold / peer:.2f}x sha256sum)   peak RSS growth {cold_mb:6.1f} MB")
    print(f"  warm hash (cached) {warm:7.3f} s                            peak RSS growth {warm_mb:6.1f} MB")


if __name__ == "__main__":
    main()
