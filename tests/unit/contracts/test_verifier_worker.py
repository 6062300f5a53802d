"""The verifier's worker process ends when its parent is killed outright (no orphan verifying on)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

PARENT = """
import time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing, os
from harness.contracts.worker import _silence_fd1

if __name__ == "__main__":
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_silence_fd1)
    print(pool.submit(os.getpid).result(), flush=True)
    pool.submit(time.sleep, 600)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone for this purpose
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_the_worker_ends_when_its_parent_is_killed(tmp_path) -> None:  # noqa: ANN001
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        assert _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 60  # a bound for a loaded machine, not a speed check
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(worker), "the worker outlived its parent"
    finally:
        parent.kill()
