"""`extra_hosts` with a host given twice, with Docker Compose itself as the oracle: `docker compose config` sorts the
addresses, `docker compose up` keeps the file's order (and a lookup returns the first); so does the harness."""

from __future__ import annotations

import uuid
from pathlib import Path

import docker

from harness import Topology, load_topology

from ..conftest import harness_resources
from .test_compose_mac import compose

HOSTS = """name: {name}
services:
  app:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    extra_hosts:
      - "legacy-db:10.0.0.9"
      - "legacy-db=10.0.0.1"
      - "alpha:10.0.0.5"
"""
def per_host(entries: list[str]) -> dict[str, list[str]]:
    """`name:address` entries as {name: [addresses in order]}."""
    hosts: dict[str, list[str]] = {}
    for entry in entries:
        host, address = entry.split(":", 1)
        hosts.setdefault(host, []).append(address)
    return hosts


LOOKUP = ["python", "-c", "import socket; print(socket.gethostbyname('legacy-db'))"]


def test_a_host_given_twice_keeps_the_files_order_as_compose_up_does(tmp_path: Path,
                                                                     docker_client: docker.DockerClient) -> None:
    name = f"hosts-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(HOSTS.format(name=name))
    spec = load_topology(file)
    assert list(spec.services["app"].extra_hosts.items()) == [("legacy-db", ["10.0.0.9", "10.0.0.1"]),
                                                             ("alpha", "10.0.0.5")]
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        by_compose = docker_client.containers.list(filters={"label": f"com.docker.compose.project={name}"})[0]
        with Topology.start(spec) as topology:
            by_harness = docker_client.containers.get(topology["app"].container.id)
            # per host, the addresses in the file's order; between hosts Compose's order varies from run to run
            # (compose-go keeps extra_hosts in a Go map), so only the per-host order is Compose's behaviour
            assert per_host(by_harness.attrs["HostConfig"]["ExtraHosts"]) == \
                per_host(by_compose.attrs["HostConfig"]["ExtraHosts"])
            answers = [c.exec_run(LOOKUP).output.decode().strip() for c in (by_compose, by_harness)]
            assert answers == ["10.0.0.9", "10.0.0.9"]
    finally:
        compose(file, "down", "-v", "--timeout", "0")
    assert harness_resources(docker_client, name, file) == []
