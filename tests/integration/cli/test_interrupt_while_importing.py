"""Ctrl-C while `harness` is still importing what a command needs (seconds on a loaded machine) ends it as Ctrl-C
later does: exit 130 and one line, never a Python traceback. Deterministic: the installed console script runs with
an import hook that holds the import of one module until the signal has arrived, so the signal always lands inside
that import (no bet on how long importing takes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HARNESS = str(Path(sys.executable).parent / "harness")
HOOK = """\
import os, signal, sys

class HoldImport:  # the first import of $HOLD_IMPORT waits for a signal (its handler's exception ends the wait)
    def find_spec(self, name, path=None, target=None):
        if name == os.environ["HOLD_IMPORT"]:
            sys.meta_path.remove(self)
            open(os.environ["HOLD_READY"], "w").close()
            while True:
                signal.pause()
        return None

sys.meta_path.insert(0, HoldImport())
"""


@pytest.mark.parametrize("module", ["rich.console", "docker", "harness.runtime.engines"])
def test_ctrl_c_while_importing_exits_130_with_one_line(tmp_path: Path, module: str) -> None:
    (tmp_path / "sitecustomize.py").write_text(HOOK)
    ready = tmp_path / "holding"
    env = {**os.environ, "HOLD_IMPORT": module, "HOLD_READY": str(ready),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])])}
    process = subprocess.Popen([HARNESS, "ps"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    try:
        while not ready.exists() and process.poll() is None:  # until the import is held (or the process ended)
            time.sleep(0.05)
        assert ready.exists(), f"`harness ps` never imported {module}: {process.communicate()}"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert (process.returncode, err, out) == (130, "interrupted\n", "")
