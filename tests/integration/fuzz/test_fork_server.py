"""The fork server of the fuzzing runs (harness.fuzz.session.prepare_runs): the script that launched the process
(pytest's or harness's console script) is imported once, by the server, and not again by each run's process, as
multiprocessing's spawn would do for a main module that is a script. No engine needed: the runs here are plain
functions in the forked processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import os

with open(os.environ["IMPORTS"], "a") as log:  # one line per process that imports this script
    log.write(f"{os.getpid()}\\n")


def pid():
    return os.getpid()


if __name__ == "__main__":
    from concurrent.futures import ProcessPoolExecutor

    from harness.fuzz.session import _fork_server, prepare_runs

    prepare_runs(["one", "two"])
    for _ in range(2):  # a process per run, as start_runs makes them
        with ProcessPoolExecutor(max_workers=1, mp_context=_fork_server(), max_tasks_per_child=1) as pool:
            print(pool.submit(pid).result())
"""


def test_the_launching_script_is_imported_once_by_the_fork_server_not_by_each_run(tmp_path: Path) -> None:
    script, imports = tmp_path / "launcher.py", tmp_path / "imports.txt"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "IMPORTS": str(imports), "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert done.returncode == 0, done.stdout + done.stderr
    runs = [int(line) for line in done.stdout.split()]
    importers = [int(line) for line in imports.read_text().split()]
    assert len(set(runs)) == 2  # two runs, each in a process of its own
    assert len(importers) == 2 and importers[0] != importers[1], importers  # this process, then the fork server
    assert not set(runs) & set(importers), (runs, importers)  # the runs found it imported
