"""What the harness tells a user to run after an engine of a run across engines died (issue #27, a new user's
trial): the command carries the DOCKER_HOST it depends on (pasted as printed, it acts on the same engine, never on
the machine's main one), `harness down --all` names the run's file rather than itself, and `harness ps` says the
engine that does not answer instead of a start that never finished. Two engines of its own (one is killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from harness.runtime import labels as L
from tests.integration.engines.conftest import pair_topology
from tests.integration.engines.netns import netns_engines
from tests.integration.engines.test_across_engines import killed_run


def harness_on(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`harness ARGS` with DOCKER_HOST=url, from / (so files are shown with their whole path)."""
    return subprocess.run([str(Path(sys.executable).parent / "harness"), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "DOCKER_HOST": url, "COLUMNS": "250"}, cwd="/")


def test_after_the_manager_died_ps_and_down_say_commands_with_their_engine(tmp_path: Path) -> None:
    script = netns_engines()
    if reason := script.missing():
        pytest.skip(f"engines in network namespaces: {reason}")
    pair = script.up(2, ["python:3.11-slim"], owner=os.getpid())
    try:
        manager_url, worker_url = pair.urls
        file = pair_topology(tmp_path, [manager_url, worker_url], "printed")
        run = killed_run(file, docker.DockerClient(base_url=manager_url, timeout=120))
        os.kill(pair.pids[0], signal.SIGKILL)  # the manager's dockerd: the mark of the finished start is there

        ps = harness_on(worker_url, "ps")
        assert ps.returncode == 0, ps.stderr
        assert (f"is gone; engine 'e0' ({manager_url}) does not answer (whether its start finished is not known); "
                f"remove it: DOCKER_HOST={worker_url} harness down --run {run}") in ps.stdout
        assert "its start never finished" not in ps.stdout

        down = harness_on(worker_url, "down", "--all")
        assert down.returncode != 0 and "Traceback" not in down.stderr
        assert down.stdout.startswith("removed 1 container(s)"), down.stdout
        assert f"engine 'e0' ({manager_url}) of run {run}" in down.stderr
        # the file names both engines: safer than `--all` again, and with the engine it was said on
        assert f"run `DOCKER_HOST={worker_url} harness down --topology {file.resolve()}` again" in down.stderr
        worker = docker.DockerClient(base_url=worker_url, timeout=120)
        assert worker.containers.list(all=True, filters={"label": f"{L.RUN}={run}"}) == []

        # the file's down with the manager gone: the engine that answers is done, the other named (no swarm check)
        down = harness_on(worker_url, "down", "--topology", str(file))
        assert (down.returncode, down.stdout) == (3, "removed 0 container(s) of topology printed from 1 engine\n")
        assert down.stderr.startswith(f"error: removed 0 container(s); not removed from engine 'e0' ({manager_url}) "
                                      f"of run {run}: no answer"), down.stderr
        assert f"run `DOCKER_HOST={worker_url} harness down --topology {file.resolve()}` again" in down.stderr
    finally:
        script.down(pair)


def test_a_docker_context_that_does_not_exist_is_bad_input_at_its_line(tmp_path: Path) -> None:
    """`host: NAME` is a value of the file: a context that does not exist here is refused as a bad value (exit 2,
    file:line), before any engine is called (the first one does not answer: it is not asked), by every command that
    reads the file's engines (not said as an engine that does not answer)."""
    file = tmp_path / "topology.yaml"
    file.write_text("""name: printed
engines:
  - {name: e0, host: "tcp://127.0.0.1:9"}
  - {name: e1, host: no-such-context}
services:
  backend:
    image: python:3.11-slim
    placement: e1
""")
    for command in (["up", "--detach"], ["ps"], ["down"], ["logs", "backend"], ["prune"]):  # each that reads it
        done = subprocess.run([str(Path(sys.executable).parent / "harness"), *command, "--topology", str(file)],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker-config")})
        assert done.returncode == 2, (command, done.stderr)
        assert ("topology.yaml:4: engines[1].host: the Docker context 'no-such-context' (engine 'e1' of topology "
                "printed) does not exist: there is no ") in done.stderr
        assert "Create it (`docker context create NAME --docker host=...`) or fix `engines:` in the topology file." \
            in done.stderr
        assert "Traceback" not in done.stderr
