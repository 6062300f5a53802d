"""What installing pytest-topology costs a pytest run that uses none of its options (not a test: prints figures).

    .venv/bin/python bench/pytest_overhead.py [--rounds N] [--python PY ...]     (make bench-overhead)

For each interpreter (default: this one; `make bench-overhead` passes a venv with the core only, then the venv with
[all,dev]) one trivial test file is run, interleaved round by round, as:
    bare        PYTEST_DISABLE_PLUGIN_AUTOLOAD=1: pytest with no installed plugin at all (the peer)
    topology    the same plus only this plugin (-p harness.pytest): what the plugin itself costs
    installed   an ordinary run: every installed plugin loads (with [all]: pact-python's, hypothesis' and
                schemathesis' own pytest plugins too)
    opted-out   installed, with `-p no:schemathesis -p no:hypothesispytest -p no:pact` (what a project that does not
                use those libraries' pytest integrations can put in its addopts; --fuzz and --pact-verify still work)
Medians of wall-clock time (seconds) and the difference and ratio against bare, measured in the same run.
Target (issue 13): core installed, options unused: <= 0.3 s over bare.
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

OPT_OUT = ["-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:pact"]
VARIANTS: dict[str, tuple[list[str], dict[str, str]]] = {
    "bare": ([], {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
    "topology": (["-p", "harness.pytest"], {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
    "installed": ([], {}),
    "opted-out": (OPT_OUT, {}),
}


def one_run(python: str, folder: Path, args: list[str], env: dict[str, str]) -> float:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | env
    started = time.perf_counter()
    subprocess.run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, "test_trivial.py"], cwd=folder,
                   env=environment, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def plugins(python: str) -> list[str]:
    code = ("from importlib.metadata import entry_points; "
            "print(' '.join(sorted(e.name for e in entry_points(group='pytest11'))))")
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout.split()


def measure(python: str, rounds: int) -> None:
    installed = plugins(python)
    print(f"\n{python}\n  pytest plugins installed: {', '.join(installed)}")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        (folder / "test_trivial.py").write_text("def test_one():\n    assert True\n")
        one_run(python, folder, [], {})  # warm the file cache and write .pyc files
        times: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(rounds):
            for name, (args, env) in VARIANTS.items():
                times[name].append(one_run(python, folder, args, env))
    bare = statistics.median(times["bare"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:10} median {median:6.2f} s  (min {min(values):.2f}, max {max(values):.2f})  "
              f"+{median - bare:5.2f} s over bare, {median / bare:4.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--python", action="append", help="an interpreter of a venv with pytest-topology installed "
                                                          "(repeatable; default: this one)")
    options = parser.parse_args()
    for python in options.python or [sys.executable]:
        measure(str(Path(python).absolute()), options.rounds)  # not resolved: a venv is known by its own path


if __name__ == "__main__":
    main()
