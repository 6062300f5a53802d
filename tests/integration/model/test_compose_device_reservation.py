"""A GPU reservation on an engine without the GPU's driver: Docker Compose fails at create with the engine's words
alone; the harness fails at the same point (exit 3, nothing left) and says where the reservation is (file:line, the
service, the key) and what to do. Against the real engine (this machine has no GPU), Compose itself as the oracle."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker

from harness.model.compose_cli import compose_binary

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
COMPOSE = """\
name: {name}
services:
  cache:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
  trainer:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: 1
              capabilities: [gpu]
"""
ENGINE = 'could not select device driver "nvidia" with capabilities: [[gpu]]'


def test_a_gpu_reservation_without_a_driver_is_said_at_its_key(tmp_path: Path,
                                                                docker_client: docker.DockerClient) -> None:
    name = f"b23gpu-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE.format(name=name))
    config = tmp_path / "docker-config"
    (config / "cli-plugins").mkdir(parents=True)
    (config / "cli-plugins" / "docker-compose").symlink_to(compose_binary())
    compose_env = {**os.environ, "DOCKER_CONFIG": str(config)}
    try:  # the oracle: the engine refuses it at create, and Compose says the engine's words
        up = subprocess.run(["docker", "compose", "up", "-d"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, env=compose_env)
        assert up.returncode != 0 and ENGINE in up.stderr, up.stderr
    finally:
        subprocess.run(["docker", "compose", "down", "--timeout", "0"], cwd=tmp_path, capture_output=True,
                       timeout=300, env=compose_env, check=True)

    try:
        started = subprocess.run([HARNESS, "up", "--detach", "-f", "compose.yaml"], cwd=tmp_path, capture_output=True,
                                 text=True, timeout=600, env={**os.environ, "COLUMNS": "400"})
        assert started.returncode == 3, started.stdout + started.stderr
        error = next(line for line in started.stderr.splitlines() if line.startswith("error: "))
        assert error == (f"error: compose.yaml:12: service 'trainer': deploy.resources.reservations.devices: this "
                         f"Docker engine has no driver for the devices it reserves ({ENGINE}); `docker compose up` "
                         "fails the same way")
        hint = started.stderr.splitlines()[-1]
        assert hint.startswith("Run it on an engine that has the device's driver (GPUs: the NVIDIA Container "
                               "Toolkit), or leave the reservation out of the test run: move it to an override file")
        assert harness_resources(docker_client, name, file) == []  # a failed start removes what it made
    finally:
        subprocess.run([HARNESS, "down", "-f", "compose.yaml"], cwd=tmp_path, capture_output=True, timeout=600)
    assert harness_resources(docker_client, name, file) == []
