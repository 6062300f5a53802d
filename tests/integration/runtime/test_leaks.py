"""Nothing is left on the engine after any way a run can end badly, checked through the Docker API by label."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import Topology, load_topology
from harness.errors import HarnessError

from ..conftest import harness_resources, write_topology

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


def harness_up(file: Path, until: str, processes: list[subprocess.Popen], *options: str) -> subprocess.Popen:
    """`harness up FILE [OPTIONS]` (in the foreground unless --detach), returned once a line containing `until` was
    printed."""
    process = subprocess.Popen([HARNESS, "up", str(file), *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_harness_up_ended_by_a_signal_removes_everything_and_exits_128_plus_it(
        tmp_path: Path, docker_client, processes: list[subprocess.Popen], sent: signal.Signals) -> None:  # noqa: ANN001
    """The running `harness up` ended by Ctrl-C exits 130, by SIGTERM (a CI cancelling the job) 143, as a shell
    reports a process a signal ended (Docker Compose exits 130 for both); everything is removed first."""
    name = f"leak-up-{sent.name.lower()}"
    file = write_topology(tmp_path, many(name, 1, slow=False))
    process = harness_up(file, "running; press Ctrl-C", processes)
    process.send_signal(sent)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 128 + sent, output
    assert output.rstrip().endswith("removed\ninterrupted"), output
    assert harness_resources(docker_client, name, file) == []


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


# engine_wide (also the next test): any start on the engine removes what a killed process left, so the other
# worker's starts would race this test for the leftover it looks at
@pytest.mark.engine_wide
def test_a_run_whose_owner_was_killed_while_starting_is_reaped_by_the_next_start(
        tmp_path: Path, docker_client, processes: list[subprocess.Popen]) -> None:  # noqa: ANN001
    file = write_topology(tmp_path, many("leak-killed", 2, slow=True))
    # Another session's start on the same engine removes runs whose owner is gone (as ours should): when it does so
    # between the kill and the look, there is no leftover to reap; kill one again (a CI run has no other session).
    for _ in range(10):
        process = harness_up(file, "wait slow", processes)
        process.kill()
        process.wait()
        if harness_resources(docker_client, "leak-killed", file):  # its owner is dead: a leftover
            break
    else:
        pytest.fail("another session removed the killed run before this test could look at it, 10 times")
    other = write_topology(tmp_path, many("leak-next", 1, slow=False), name="next.yaml")
    with Topology.start(load_topology(other)):
        assert harness_resources(docker_client, "leak-killed", file) == []


KILLED_WHILE_STARTING = """
name: ps-killed
services:
  web:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    ready: {tcp: 8000}
  slow:  # ready once /tmp/go exists, which nothing makes: `harness up` is killed while it waits for it
    image: python:3.11-slim
    command: [sleep, infinity]
    ready: {command: [test, -f, /tmp/go]}
    depends_on: [web]
    timeout: 600
"""
ONE_WEB = WEB.format(index="").replace("{{", "{").replace("}}", "}")
PS_HEADER = ["topology", "run", "service", "status", "ports (container -> 127.0.0.1)", "kept", "file", "run state"]


@pytest.mark.engine_wide
def test_ps_lists_a_run_whose_owner_was_killed_while_starting_with_the_command_that_removes_it(
        tmp_path: Path, docker_client, processes: list[subprocess.Popen]) -> None:  # noqa: ANN001
    """`harness up` SIGKILLed while it waits for a service: its containers keep running, and `harness ps` (piped:
    one tab-separated line per container) lists them as orphaned with the command that removes them, beside a kept
    run and a run of a live process, which stay as they were."""
    import os

    from harness.runtime import labels as L

    killed = write_topology(tmp_path, KILLED_WHILE_STARTING, name="killed.yaml")
    kept = Topology.start(load_topology(write_topology(tmp_path, f"name: ps-kept\nservices:\n{ONE_WEB}",
                                                       name="kept.yaml")), keep=True)
    own = Topology.start(load_topology(write_topology(tmp_path, f"name: ps-own\nservices:\n{ONE_WEB}",
                                                      name="own.yaml")))
    try:
        # Another session's start on the same engine removes runs whose owner is gone (as it should): when it does
        # so between the kill and `harness down`, the run is killed again (a CI run has no other session).
        for _ in range(10):
            process = harness_up(killed, "wait slow", processes)
            process.kill()
            process.wait()
            ps = subprocess.run([HARNESS, "ps"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
            assert ps.returncode == 0, ps.stderr
            assert "\x1b" not in ps.stdout
            header, *lines = [re.split(" {3,}", line.strip()) for line in ps.stdout.splitlines()]
            assert header == PS_HEADER and all(len(cells) == len(PS_HEADER) for cells in lines), ps.stdout
            rows = {(cells[6], cells[2]): cells for cells in lines}  # files are shown relative to the current folder
            if not {("killed.yaml", "web"), ("killed.yaml", "slow")} <= set(rows):
                # what exists after `ps` existed during it (nothing creates it after the kill): never hidden
                assert harness_resources(docker_client, "ps-killed", killed) == [], ps.stdout
                continue
            state = rows[("killed.yaml", "web")][7]
            down = subprocess.run([HARNESS, *state.split("remove it: harness ")[-1].split()], capture_output=True,
                                  text=True, timeout=120)
            if down.returncode == 2 and "removed already?" in down.stderr:
                continue
            break
        else:
            pytest.fail("another session removed the killed run before `harness down` could, 10 times")
        run = rows[("killed.yaml", "web")][1]
        assert state == (f"orphaned: owner process {process.pid} is gone, its start never finished; remove it: "
                         f"harness down --run {run}")
        for service in ("web", "slow"):
            assert rows[("killed.yaml", service)][:4] == ["ps-killed", run, service, "running"]
            assert rows[("killed.yaml", service)][5:] == ["false", "killed.yaml", state]
        assert down.stdout == f"removed 2 container(s) of run {run} (topology ps-killed)\n", down.stderr
        assert harness_resources(docker_client, "ps-killed", killed) == []
        assert rows[("kept.yaml", "web")][5:] == ["true", "kept.yaml", "started, kept"]
        assert rows[("own.yaml", "web")][5:] == ["false", "own.yaml", f"started (owner process {os.getpid()})"]
        refused = subprocess.run([HARNESS, "down", "--run", own.run_id], capture_output=True, text=True, timeout=120)
        assert refused.returncode == 2
        assert refused.stderr == (f"error: harness down --run {own.run_id}: run {own.run_id} of topology ps-own "
                                  f"belongs to process {os.getpid()}, which is still running (`harness up`, or a test "
                                  "session); stop that process (Ctrl-C) and it removes its run\n")
        assert len(harness_resources(docker_client, "ps-own")) == 2  # its container and network: untouched
    finally:
        own.close()
        kept.close()
        for leftover in L.list_runs(docker_client, killed.resolve()):  # a failed assertion above left it
            L.remove_run(docker_client, leftover.run_id)


def test_ps_lists_a_kept_run_whose_start_never_finished_with_the_command_that_removes_it(
        tmp_path: Path, docker_client, processes: list[subprocess.Popen]) -> None:  # noqa: ANN001
    """`harness up --detach` SIGKILLed while it waits for a service: a kept run (no other session's start removes
    it), which `harness ps` lists as not finished, with the command that removes it."""
    from harness.runtime import labels as L

    killed = write_topology(tmp_path, KILLED_WHILE_STARTING.replace("ps-killed", "ps-unfinished"))
    try:
        process = harness_up(killed, "wait slow", processes, "--detach")
        process.kill()
        process.wait()
        ps = subprocess.run([HARNESS, "ps"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        rows = {(cells[6], cells[2]): cells for cells in (re.split(" {3,}", line.strip()) for line in ps.stdout.splitlines())}
        run = rows[("topology.yaml", "web")][1]
        state = (f"start never finished: owner process {process.pid} is gone; remove it: harness down --run {run}")
        for service in ("web", "slow"):
            assert rows[("topology.yaml", service)] == ["ps-unfinished", run, service, "running",
                                                        *rows[("topology.yaml", service)][4:5], "true",
                                                        "topology.yaml", state]
        down = subprocess.run([HARNESS, *state.split("remove it: harness ")[-1].split()], capture_output=True,
                              text=True, timeout=120)
        assert down.stdout == f"removed 2 container(s) of run {run} (topology ps-unfinished)\n", down.stderr
        assert harness_resources(docker_client, "ps-unfinished", killed) == []
    finally:
        for leftover in L.list_runs(docker_client, killed.resolve()):  # a failed assertion above left it
            L.remove_run(docker_client, leftover.run_id)


HUNG_PROBE = """
name: {name}
services:
  web:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    ready: {{tcp: 8000}}
  hung:  # its probe's command runs for an hour: Docker cannot stop an exec, the harness must stop waiting for it
    image: python:3.11-slim
    command: [sleep, infinity]
    ready: {{command: [sleep, "3600"]}}
    timeout: 7200
"""


def running_command(client, topology: str, file: Path, service: str, command: str) -> None:  # noqa: ANN001
    """Wait until `command` runs in `service`'s container (a probe's exec), with a bound for a loaded machine."""
    from harness.runtime import labels as L

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for container in client.containers.list(filters={"label": [f"{L.TOPOLOGY}={topology}", f"{L.SERVICE}={service}",
                                                                   f"{L.FILE}={file.resolve()}"]}):
            if any(command in " ".join(process) for process in container.top().get("Processes") or []):
                return
        time.sleep(0.2)
    raise AssertionError(f"{command!r} never ran in {service}")


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_cancel_while_a_probe_command_runs_removes_everything(tmp_path: Path, docker_client,  # noqa: ANN001
                                                                 processes: list[subprocess.Popen],
                                                                 sent: signal.Signals) -> None:
    """Ctrl-C or SIGTERM while a `ready: {command: ...}` runs (an hour): the start stops waiting for it, removes
    every container (which ends the command) and exits 128 + the signal (130, 143); nothing is left running."""
    name = f"leak-hung-{sent.name.lower()}"
    file = write_topology(tmp_path, HUNG_PROBE.format(name=name))
    process = harness_up(file, "wait hung", processes)
    running_command(docker_client, name, file, "hung", "sleep 3600")
    process.send_signal(sent)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 128 + sent, output
    assert output.rstrip().endswith("interrupted"), output
    assert "Traceback" not in output
    assert harness_resources(docker_client, name, file) == []


def test_a_cancelled_wait_for_a_probe_command_is_given_up_at_once(docker_client) -> None:  # noqa: ANN001
    """The wait for an exec that runs an hour ends when the start is cancelled (it waited for the command: up to a
    healthcheck's timeout, or without end for a `ready:` command), not when the command ends."""
    import threading

    from harness.runtime.probes import Abandoned, exec_within

    container = docker_client.containers.run("python:3.11-slim", ["sleep", "infinity"], detach=True,
                                             labels={"pytest-topology.test": "probe-cancel"})
    try:
        cancelled = threading.Event()
        outcome: list[object] = []

        def probe() -> None:
            try:
                outcome.append(exec_within(container, ["sleep", "3600"], None, cancelled))
            except Abandoned as abandoned:
                outcome.append(abandoned)

        waiting = threading.Thread(target=probe, daemon=True)
        waiting.start()
        deadline = time.monotonic() + 300  # until the exec runs (a bound for a loaded machine)
        while not any("sleep 3600" in " ".join(p) for p in container.top().get("Processes") or []):
            assert time.monotonic() < deadline, "the exec never ran"
            time.sleep(0.2)
        cancelled.set()
        waiting.join(300)  # a bound for a loaded machine: the command itself runs an hour
        assert not waiting.is_alive() and len(outcome) == 1 and isinstance(outcome[0], Abandoned), outcome
    finally:
        container.remove(force=True)
