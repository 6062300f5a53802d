"""`use_api_socket` as Docker Compose v2.40 gives it, with Compose itself as the oracle against the real engine: the
engine's socket bound at /var/run/docker.sock (the container talks to the engine through it), this machine's
registry credentials in /run/secrets/docker/config.json and DOCKER_CONFIG pointing there, unless the service sets
DOCKER_CONFIG itself. The credentials are never printed."""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology

from ..conftest import harness_resources

PING = ("import socket; s = socket.socket(socket.AF_UNIX); s.connect('/var/run/docker.sock'); "
        "s.sendall(b'GET /_ping HTTP/1.0\\r\\n\\r\\n'); print(s.recv(4096).decode().split()[-1])")
COMPOSE = """
name: {name}
services:
  tool:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    use_api_socket: true
  own:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    environment: {{DOCKER_CONFIG: /somewhere}}
    use_api_socket: true
"""


def facts(container: docker.models.containers.Container) -> dict[str, object]:
    """What use_api_socket gave the container: the socket's mount, DOCKER_CONFIG, the credentials file, and whether
    the engine answers through the socket."""
    mounts = [(m["Type"], m["Source"], m["Destination"], m["RW"]) for m in container.attrs["Mounts"]]
    env = dict(entry.split("=", 1) for entry in container.attrs["Config"]["Env"])
    code, config = container.exec_run(["cat", "/run/secrets/docker/config.json"])
    assert code == 0, config
    ping = container.exec_run(["python", "-c", PING]).output.decode().strip()
    return {"mounts": mounts, "DOCKER_CONFIG": env.get("DOCKER_CONFIG"), "config": json.loads(config), "ping": ping}


def test_the_socket_and_the_credentials_are_given_as_compose_gives_them(
        tmp_path: Path, docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.model.compose_cli import compose_binary

    client_config = tmp_path / "docker-config"
    client_config.mkdir()
    auth = base64.b64encode(b"ci:s3cret-registry-pass").decode()
    (client_config / "config.json").write_text(json.dumps({"auths": {"registry.example:5000": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(client_config))  # this machine's Docker client: the harness's and Compose's
    name = f"apisocket-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(COMPOSE.format(name=name)).lstrip())

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([compose_binary(), "-f", str(file), *args], capture_output=True, text=True, timeout=300)

    try:
        up = compose("up", "-d")
        assert up.returncode == 0, up.stderr
        by_compose = {c.labels["com.docker.compose.service"]: facts(c) for c in docker_client.containers.list(
            filters={"label": f"com.docker.compose.project={name}"})}
    finally:
        assert compose("down", "-v", "--timeout", "0").returncode == 0
    with Topology.start(load_topology(file)) as topology:
        by_harness = {service.name: facts(docker_client.containers.get(service.container.id))
                      for service in topology}
        assert "s3cret-registry-pass" not in topology.masker(f"{auth} s3cret-registry-pass")
    assert harness_resources(docker_client, name) == []

    assert by_harness == by_compose
    assert by_harness["tool"] == {
        "mounts": [("bind", "/var/run/docker.sock", "/var/run/docker.sock", True)], "DOCKER_CONFIG":
        "/run/secrets/docker", "config": {"auths": {"registry.example:5000": {"auth": auth}}}, "ping": "OK"}
    assert by_harness["own"]["DOCKER_CONFIG"] == "/somewhere"  # the service's own: kept, as by Compose
