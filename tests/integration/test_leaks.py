"""Nothing is left on the engine after any way a run can end badly, checked through the Docker API by label."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Topology, load_topology
from harness.errors import HarnessError

from .conftest import harness_resources, write_topology

HARNESS = str(Path(sys.executable).parent / "harness")
SLOW_AND_MANY = """
name: {name}
services:
{services}
  slow:
    image: python:3.11-slim
    command: ["python", "-c", "import time; time.sleep(600)"]
    ready: {{log: never printed}}
    timeout: 120
"""
WEB = """  web{index}:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    ready: {{tcp: 8000}}
"""


def many(name: str, count: int, slow: bool) -> str:
    text = SLOW_AND_MANY.format(name=name, services="".join(WEB.format(index=i) for i in range(count)))
    return text if slow else text.split("  slow:")[0]


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    """The `harness up` processes a test started: one a failed assertion left running is stopped (Ctrl-C, then
    killed), so that a failure does not leave a topology running for the rest of the session."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


def default_sigint() -> None:
    """In the child: Ctrl-C as a terminal delivers it. A runner that started the tests in the background (`nohup`,
    `cmd &` in a script) passes SIGINT on as ignored, and a process that inherits it ignored rightly keeps ignoring
    it; these tests are about what a Ctrl-C does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def harness_up(file: Path, until: str, processes: list[subprocess.Popen]) -> subprocess.Popen:
    """`harness up FILE` in the foreground, returned once a line containing `until` was printed."""
    process = subprocess.Popen([HARNESS, "up", str(file)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, preexec_fn=default_sigint)
    processes.append(process)
    for line in process.stdout:  # type: ignore[union-attr]
        if until in line:
            return process
    raise AssertionError(f"harness up ended before printing {until!r} (exit code {process.wait()})")


def interrupt_twice(process: subprocess.Popen) -> str:
    process.send_signal(signal.SIGINT)
    time.sleep(0.05)  # the second Ctrl-C lands while the first one's removal runs
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    return output


def test_a_second_ctrl_c_during_removal_does_not_stop_it(tmp_path: Path, docker_client,  # noqa: ANN001
                                                         processes: list[subprocess.Popen]) -> None:
    file = write_topology(tmp_path, many("leak-ctrl-c-running", 5, slow=False))
    process = harness_up(file, "running; press Ctrl-C", processes)
    assert len(harness_resources(docker_client, "leak-ctrl-c-running", file)) == 6
    output = interrupt_twice(process)
    assert "Traceback" not in output
    assert harness_resources(docker_client, "leak-ctrl-c-running", file) == []


def test_two_ctrl_c_while_starting_leave_nothing(tmp_path: Path, docker_client,  # noqa: ANN001
                                                 processes: list[subprocess.Popen]) -> None:
    file = write_topology(tmp_path, many("leak-ctrl-c-starting", 4, slow=True))
    process = harness_up(file, "wait slow", processes)
    output = interrupt_twice(process)
    assert "Traceback" not in output
    assert harness_resources(docker_client, "leak-ctrl-c-starting", file) == []


@pytest.mark.parametrize(("bad", "error"), [
    ("  bad:\n    image: Python:3.11-slim\n", "image(s) of topology leak-early are not in the local Docker engine"),
    ("  bad:\n    build: ./broken\n", "service 'bad': docker build of "),
])
def test_a_start_that_fails_at_once_leaves_no_network(tmp_path: Path, docker_client, bad: str,  # noqa: ANN001
                                                      error: str) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "Dockerfile").write_text("FROM python:3.11-slim\nNOT-AN-INSTRUCTION here\n")
    file = write_topology(tmp_path, many("leak-early", 3, slow=False) + bad)
    with pytest.raises(HarnessError) as raised:
        Topology.start(load_topology(file))
    assert error in str(raised.value)
    assert harness_resources(docker_client, "leak-early", file) == []  # at once: nothing still being created


def test_a_run_whose_owner_was_killed_while_starting_is_reaped_by_the_next_start(
        tmp_path: Path, docker_client, processes: list[subprocess.Popen]) -> None:  # noqa: ANN001
    file = write_topology(tmp_path, many("leak-killed", 2, slow=True))
    process = harness_up(file, "wait slow", processes)
    process.kill()
    process.wait()
    assert harness_resources(docker_client, "leak-killed", file)  # its owner is dead: a leftover
    other = write_topology(tmp_path, many("leak-next", 1, slow=False), name="next.yaml")
    with Topology.start(load_topology(other)):
        assert harness_resources(docker_client, "leak-killed", file) == []
