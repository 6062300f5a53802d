"""Ctrl-C (or SIGTERM) again while an interrupted pytest session removes its topology: the removal is forced (its
pre_stop hooks no longer waited for), never cut short, and the session ends as interrupted (pytest's exit code 2)
without a traceback. For the `--topology` session and for a `topology_fixture`."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from ..conftest import remove_own_runs
from ..runtime.test_forced_removal import OURS, STUBBORN, hook_running, left_of

TEST_THAT_HANGS = """
import time
{fixture}
def test_hangs({name}):
    print("TOPOLOGY-UP", flush=True)
    time.sleep(3600)
"""


@pytest.fixture
def sessions(docker_client: docker.DockerClient) -> Iterator[list[subprocess.Popen]]:
    """The pytest sessions a test started: one a failed assertion left running is killed, and what it left of the
    test's own topologies removed by label."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()
    remove_own_runs(docker_client, OURS)


def in_its_test(folder: Path, sessions: list[subprocess.Popen], *args: str) -> subprocess.Popen:
    """`pytest -s ARGS` in `folder`, returned once its test runs (the topology is up)."""
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-s", "-p", "no:cacheprovider", *args], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    sessions.append(process)
    lines = []
    for line in process.stdout:  # type: ignore[union-attr]
        lines.append(line)
        if "TOPOLOGY-UP" in line:
            return process
    raise AssertionError(f"the session ended before its test ran (exit code {process.wait()}):\n" + "".join(lines))


@pytest.mark.parametrize("again", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
@pytest.mark.parametrize("how", ["--topology", "topology_fixture"])
def test_a_second_signal_while_the_session_removes_its_topology_removes_everything(
        tmp_path: Path, docker_client: docker.DockerClient, sessions: list[subprocess.Popen], how: str,
        again: signal.Signals) -> None:
    name = f"{OURS}session-{uuid.uuid4().hex[:6]}"
    (tmp_path / "compose.yaml").write_text(STUBBORN.format(name=name, hook="pre_stop"))
    if how == "--topology":
        (tmp_path / "test_hangs.py").write_text(TEST_THAT_HANGS.format(fixture="", name="topology"))
        process = in_its_test(tmp_path, sessions, "--topology", "compose.yaml")
    else:
        fixture = textwrap.dedent("""
            from harness.pytest import topology_fixture
            stack = topology_fixture("compose.yaml", scope="module")
        """)
        (tmp_path / "test_hangs.py").write_text(TEST_THAT_HANGS.format(fixture=fixture, name="stack"))
        process = in_its_test(tmp_path, sessions)
    process.send_signal(signal.SIGINT)
    hook_running(docker_client, name, "stubborn")  # the graceful part of the removal has begun
    process.send_signal(again)
    output = process.communicate(timeout=300)[0]  # not the hook's hour
    assert process.returncode == pytest.ExitCode.INTERRUPTED, output
    assert (f"interrupted: still removing topology {name}, no longer waiting for pre_stop hooks; it finishes "
            "in a moment") in output
    if how == "--topology":
        assert (f"removing topology {name}: its pre_stop hooks run first (press Ctrl-C again not to wait for "
                "them)") in output
    assert "Traceback" not in output and "INTERNALERROR" not in output, output
    assert left_of(docker_client, name) == []
