"""harness's output streams: a reader that goes away or an encoding without some characters changes nothing of the
run (its exit code, its files)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.report.console import make_console
from tests.unit.pytest.test_front_end_rules import drift_project


def harness(args: list[str], cwd: Path, stdout: int | None = subprocess.PIPE,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=cwd, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_a_closed_stdout_keeps_the_exit_code_and_the_junit_file(tmp_path: Path) -> None:
    """`harness drift ... --junit j.xml | true`: the reader is gone before the first line."""
    topology = drift_project(tmp_path)
    piped = harness(["drift", "--topology", str(topology), "--junit", "piped.xml"], tmp_path)
    assert piped.returncode == 1, piped.stderr  # one interaction drifts
    read, write = os.pipe()
    os.close(read)
    try:
        closed = harness(["drift", "--topology", str(topology), "--junit", "closed.xml"], tmp_path, stdout=write)
    finally:
        os.close(write)
    assert closed.returncode == 1, closed.stderr
    assert "Traceback" not in closed.stderr and "internal error" not in closed.stderr
    assert (tmp_path / "closed.xml").read_text().count("<testcase") == (tmp_path / "piped.xml").read_text().count(
        "<testcase") == 3


def test_a_character_the_stream_cannot_encode_is_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(raw, encoding="ascii"))
    console = make_console()
    console.print("│ shop ✓", markup=False)
    console.file.flush()
    assert raw.getvalue().decode("ascii") == "\\u2502 shop \\u2713\n"

