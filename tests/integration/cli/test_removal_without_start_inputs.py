"""What only a start needs (the variable of an `environment:` secret) is not needed to find and remove a run: Docker
Compose refuses `up` without it, but its `down`, `ps` and `logs` work. The harness likewise: `up` refuses (and leaves
the kept run as it was), `logs` and `down` work, and nothing is left. Against the real engine."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
VARIABLE = "F23_SECRET_VALUE"
COMPOSE = """\
name: {name}
services:
  api:
    image: python:3.11-slim
    command: ["python", "-c", "print(open('/run/secrets/token').read(), flush=True); import time; time.sleep(3600)"]
    secrets: [token]
secrets:
  token:
    environment: {variable}
"""
REFUSAL = (f"error: compose.yaml:6: services.api.secrets[0]: environment variable '{VARIABLE}' required by secret "
           "'token' is not set (Docker Compose refuses to start it too); set it, or put it in .env")


def run(*words: str, cwd: Path, secret: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != VARIABLE}
    env.update({"COLUMNS": "400", **({VARIABLE: secret} if secret is not None else {})})
    return subprocess.run([HARNESS, *words], cwd=cwd, capture_output=True, text=True, timeout=600, env=env)


def test_down_and_logs_need_no_variable_that_only_a_start_needs(tmp_path: Path,
                                                                 docker_client: docker.DockerClient) -> None:
    name = f"startonly-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE.format(name=name, variable=VARIABLE))
    try:
        up = run("up", "--detach", "-f", "compose.yaml", cwd=tmp_path, secret="s3cret-value")
        assert up.returncode == 0, up.stdout + up.stderr
        started = harness_resources(docker_client, name, file)
        assert len(started) == 2, started  # the container and the run's network

        refused = run("up", "--detach", "-f", "compose.yaml", cwd=tmp_path, secret=None)
        assert (refused.returncode, refused.stderr.strip(), refused.stdout) == (2, REFUSAL, "")
        assert harness_resources(docker_client, name, file) == started  # the kept run is left as it was

        logs = run("logs", "api", "-f", "compose.yaml", cwd=tmp_path, secret=None)
        assert (logs.returncode, logs.stderr) == (0, ""), logs.stderr
        assert logs.stdout.strip() == "[hidden]"  # the value it was started with, hidden though not set now

        down = run("down", "-f", "compose.yaml", cwd=tmp_path, secret=None)
        assert (down.returncode, down.stderr) == (0, ""), down.stderr
        assert down.stdout.strip() == "removed 1 container(s)"
        assert harness_resources(docker_client, name, file) == []
    finally:
        run("down", "-f", "compose.yaml", cwd=tmp_path, secret="s3cret-value")
    assert harness_resources(docker_client, name, file) == []


def test_down_removes_the_runs_of_a_file_compose_refuses_now_by_their_label(tmp_path: Path,
                                                                            docker_client: docker.DockerClient) -> None:
    """`${VAR:?}` unset: `docker compose down` refuses the file too (interpolation comes first) and leaves the run;
    the harness finds the run by the file label it carries and removes it, saying why the file is not used."""
    name = f"needsvar-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(f"name: {name}\nservices:\n  app:\n    image: ${{{VARIABLE}:?set it to the image}}\n"
                    "    command: [sleep, infinity]\n")
    try:
        up = run("up", "--detach", "-f", "compose.yaml", cwd=tmp_path, secret="python:3.11-slim")
        assert up.returncode == 0, up.stdout + up.stderr
        down = run("down", "-f", "compose.yaml", cwd=tmp_path, secret=None)
        assert (down.returncode, down.stdout) == (0, f"removed 1 container(s) of topology {name}\n"), down.stderr
        assert down.stderr.splitlines() == [
            f"note: compose.yaml:4: Docker Compose: error while interpolating services.app.image: required variable "
            f"{VARIABLE} is missing a value: set it to the image",
            "note: its runs are removed by their label, without the pre_stop hooks of the file (it cannot be used as "
            "it is now)"]
        assert harness_resources(docker_client, name, file) == []
    finally:
        run("down", "-f", "compose.yaml", cwd=tmp_path, secret="python:3.11-slim")
    assert harness_resources(docker_client, name, file) == []
