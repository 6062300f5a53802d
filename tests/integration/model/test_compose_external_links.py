"""`external_links`, with Docker Compose itself as the oracle: each network endpoint of the service carries the link
(Links), the container outside the run answers to its alias where it shares a network (an external one), and a link
to a container that is not there starts all the same, as under Compose."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology

from ..conftest import harness_resources
from .test_compose_mac import compose

FILE = """
name: {name}
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    external_links: ["{outside}:legacy", "{missing}"]
    networks: [shared, own]
networks:
  shared: {{external: true, name: {network}}}
  own: {{}}
"""


OUTSIDE_COMMAND = "echo kept > /shared/file && exec python3 -m http.server 8000 --bind 127.0.0.1"


@pytest.fixture
def outside(docker_client: docker.DockerClient):  # noqa: ANN201 - (container, network) started outside any run
    """A container and a network of no run (also for test_compose_network_modes.py): the container is on the
    network, serves HTTP on its own 127.0.0.1:8000 and has a volume /shared holding `file` ("kept")."""
    suffix = uuid.uuid4().hex[:8]
    network = docker_client.networks.create(f"outside-{suffix}")
    container = docker_client.containers.run("python:3.11-slim", ["sh", "-c", OUTSIDE_COMMAND],
                                             name=f"legacy-{suffix}", network=network.name, volumes=["/shared"],
                                             detach=True)
    yield container.name, network.name
    container.remove(force=True, v=True)
    network.remove()


def seen(client: docker.DockerClient, container_id: str) -> tuple[dict[str, list[str]], int, bytes]:
    """Links per network (by the file's name), and how the container resolves `legacy`."""
    container = client.containers.get(container_id)
    networks = container.attrs["NetworkSettings"]["Networks"]
    links = {("shared" if name.startswith("outside-") else "own"): sorted(settings.get("Links") or [])
             for name, settings in networks.items()}
    code, output = container.exec_run(["getent", "hosts", "legacy"])
    return links, code, output.split()[-1] if code == 0 else b""


def test_external_links_are_given_as_compose_gives_them(tmp_path: Path, docker_client: docker.DockerClient,
                                                       outside: tuple[str, str]) -> None:
    container, network = outside
    name = f"extlink-{uuid.uuid4().hex[:8]}"
    missing = f"nowhere-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(FILE.format(name=name, outside=container, missing=missing,
                                                network=network)).lstrip())
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        by_compose = seen(docker_client, docker_client.containers.list(
            filters={"label": f"com.docker.compose.project={name}"})[0].id)
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with Topology.start(load_topology(file)) as topology:
        by_harness = seen(docker_client, topology["app"].container.id)
    assert harness_resources(docker_client, name) == []

    links = sorted([f"{container}:legacy", f"{missing}:{missing}"])
    assert by_harness == by_compose == ({"shared": links, "own": links}, 0, b"legacy")
