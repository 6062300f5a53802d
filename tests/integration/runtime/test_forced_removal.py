"""A further Ctrl-C (or SIGTERM) during a removal forces it as under Docker Compose (the pre_stop hooks are no longer
waited for) but never cuts it short; a cancel does not wait for a post_start hook. Checked by label on the real
engine: containers, networks and volumes of the run."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.runtime import labels as L

from ..conftest import harness_resources, remove_own_runs
from .test_leaks import HARNESS, default_sigint

OURS = "bexit-"  # the topologies of these tests: what a failed one leaves is removed by this prefix
# `stubborn` ignores SIGTERM and its pre_stop hook runs for an hour, within a grace of two: a removal that waits
# for it gracefully would take that hour
STUBBORN = """
name: {name}
services:
  web:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
  stubborn:
    image: python:3.11-slim
    command: ["sh", "-c", "trap '' TERM; sleep infinity & wait"]
    volumes: ["data:/data"]
    stop_grace_period: 2h
    {hook}:
      - command: ["sleep", "3600"]
volumes:
  data: {{}}
"""


@pytest.fixture
def processes(docker_client: docker.DockerClient) -> Iterator[list[subprocess.Popen]]:
    """The `harness up` processes a test started: one a failed assertion left running is killed, and what it left
    of its topology (the test's own name) removed by label."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()
    remove_own_runs(docker_client, OURS)


def compose_file(folder: Path, name: str, hook: str) -> Path:
    file = folder / "compose.yaml"
    file.write_text(STUBBORN.format(name=name, hook=hook))
    return file


def left_of(client: docker.DockerClient, name: str) -> list[str]:
    """Containers, networks and volumes of topology `name` still on the engine."""
    volumes = client.volumes.list(filters={"label": f"{L.TOPOLOGY}={name}"})
    return harness_resources(client, name) + [f"volume {v.name}" for v in volumes]


def hook_running(client: docker.DockerClient, name: str, service: str) -> None:
    """Wait until the hook's `sleep 3600` runs in `service`'s container (a bound for a loaded machine)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        for container in L.listed(lambda: client.containers.list(filters={"label": [f"{L.TOPOLOGY}={name}",
                                                                                  f"{L.SERVICE}={service}"]})):
            try:
                if any("sleep 3600" in " ".join(p) for p in container.top().get("Processes") or []):
                    return
            except docker.errors.APIError:  # it stopped meanwhile: looked at again
                pass
        time.sleep(0.2)
    raise AssertionError(f"the hook never ran in {service}")


def up(file: Path, until: str, processes: list[subprocess.Popen]) -> tuple[subprocess.Popen, list[str]]:
    """`harness up FILE` in the foreground, returned once a line containing `until` was printed (with the lines)."""
    process = subprocess.Popen([HARNESS, "up", str(file)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, preexec_fn=default_sigint)
    processes.append(process)
    lines = []
    for line in process.stdout:  # type: ignore[union-attr]
        lines.append(line)
        if until in line:
            return process, lines
    raise AssertionError(f"harness up ended before printing {until!r} (exit code {process.wait()}):\n"
                         + "".join(lines))


@pytest.mark.parametrize("again", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_second_signal_during_the_pre_stop_hooks_removes_everything_at_once(
        tmp_path: Path, docker_client: docker.DockerClient, processes: list[subprocess.Popen],
        again: signal.Signals) -> None:
    name = f"{OURS}forced-{again.name.lower()}-{uuid.uuid4().hex[:6]}"
    file = compose_file(tmp_path, name, "pre_stop")
    process, _ = up(file, "running; press Ctrl-C", processes)
    assert any(left.startswith("volume ") for left in left_of(docker_client, name))
    process.send_signal(signal.SIGINT)
    hook_running(docker_client, name, "stubborn")  # the graceful part of the removal has begun
    process.send_signal(again)
    output = process.communicate(timeout=300)[0]  # not the hook's hour
    assert process.returncode == 130, output
    assert "running the pre_stop hooks, then removing it (press Ctrl-C again not to wait for the hooks)" in output
    assert (f"interrupted: still removing topology {name}, no longer waiting for pre_stop hooks; it finishes "
            "in a moment") in output
    assert output.rstrip().endswith("removed\ninterrupted"), output
    assert "Traceback" not in output
    assert left_of(docker_client, name) == []


def test_a_cancel_does_not_wait_for_a_post_start_hook(tmp_path: Path, docker_client: docker.DockerClient,
                                                      processes: list[subprocess.Popen]) -> None:
    """Ctrl-C while a post_start hook runs (an hour; Compose gives it no time limit): the start stops waiting for it
    and removes every container (which ends the hook), as for a probe's command."""
    name = f"{OURS}poststart-{uuid.uuid4().hex[:6]}"
    file = compose_file(tmp_path, name, "post_start")
    process, _ = up(file, "starting topology", processes)
    hook_running(docker_client, name, "stubborn")
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 130, output
    assert output.rstrip().endswith("interrupted"), output
    assert "Traceback" not in output
    assert left_of(docker_client, name) == []


@pytest.mark.parametrize("kind", ["post_start", "pre_stop"])
def test_a_cancelled_wait_for_a_hook_is_given_up_at_once(docker_client: docker.DockerClient, kind: str) -> None:
    """The wait for a hook that runs an hour ends when the start is cancelled (post_start: it waited for the hook
    without end, as Compose) or the removal forced (pre_stop: it waited up to the grace period), not when the hook
    ends."""
    import threading

    from harness.model.service import ServiceSpec
    from harness.runtime import hooks
    from harness.runtime.probes import Abandoned

    spec = ServiceSpec.model_validate({"image": "python:3.11-slim", "stop_grace_period": 7200,
                                       kind: [{"command": ["sleep", "3600"]}]})
    container = docker_client.containers.run("python:3.11-slim", ["sleep", "infinity"], detach=True,
                                             labels={"pytest-topology.test": "hook-cancel"})
    try:
        cancelled = threading.Event()
        outcome: list[object] = []

        def run_hook() -> None:
            try:
                if kind == "post_start":
                    outcome.append(hooks.post_start("app", spec, container, cancelled))
                else:
                    outcome.append(hooks.pre_stop("app", spec, container, cancelled))
            except Abandoned as abandoned:
                outcome.append(abandoned)

        waiting = threading.Thread(target=run_hook, daemon=True)
        waiting.start()
        deadline = time.monotonic() + 300  # until the exec runs (a bound for a loaded machine)
        while not any("sleep 3600" in " ".join(p) for p in container.top().get("Processes") or []):
            assert time.monotonic() < deadline, "the hook never ran"
            time.sleep(0.2)
        cancelled.set()
        waiting.join(300)  # a bound for a loaded machine: the hook itself runs an hour
        assert not waiting.is_alive() and len(outcome) == 1 and isinstance(outcome[0], Abandoned), outcome
    finally:
        container.remove(force=True)
