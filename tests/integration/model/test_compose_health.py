"""A compose healthcheck decides readiness as Docker Compose decides it, against the real engine: a test that takes
longer than its `timeout` fails (Docker counts it failed), and a service Docker marks unhealthy is refused at once,
naming Docker's verdict; Docker Compose (`up --wait`) is the oracle."""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import ServiceNotReady

from ..conftest import harness_resources

TOO_SLOW = """
name: {name}
services:
  db:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    healthcheck: {{test: ["CMD-SHELL", "sleep 3; true"], interval: 1s, timeout: 1s, retries: 2}}
  api:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    depends_on: {{db: {{condition: service_healthy}}}}
"""

ALWAYS_FAILS = """
name: {name}
services:
  db:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    healthcheck: {{test: ["CMD", "false"], interval: 1s, retries: 2}}
"""


def compose(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from harness.model.compose_cli import compose_binary

    return subprocess.run([compose_binary(), "-f", str(file), *args], capture_output=True, text=True, timeout=300)


def written(folder: Path, text: str) -> Path:
    file = folder / "compose.yaml"
    file.write_text(textwrap.dedent(text).lstrip())
    return file


@pytest.mark.parametrize(("text", "docker_says"), [
    (TOO_SLOW, "Health check exceeded timeout (1s)"),
    (ALWAYS_FAILS, "exit code 1"),
], ids=["test-longer-than-timeout", "test-always-fails"])
def test_an_unhealthy_service_is_refused_by_both(text: str, docker_says: str, tmp_path: Path,
                                                 docker_client: docker.DockerClient) -> None:
    name = f"health-{uuid.uuid4().hex[:8]}"
    file = written(tmp_path, text.format(name=name))
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode != 0 and "is unhealthy" in up.stderr, up.stderr
    finally:
        compose(file, "down", "-v", "--timeout", "0")

    with pytest.raises(ServiceNotReady) as raised:
        Topology.start(load_topology(file))
    message = str(raised.value)
    assert raised.value.service == "db"
    assert message.startswith("service 'db' is not ready: Docker's healthcheck marked it unhealthy: "), message
    assert docker_says in message, message
    assert "Docker Compose refuses an unhealthy dependency too" in message
    assert "Traceback" not in message
    assert harness_resources(docker_client, name) == []
