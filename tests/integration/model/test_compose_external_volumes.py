"""An `external` volume, with Docker Compose itself as the oracle: the existing volume is mounted with its data and
outlives the run (`docker compose down -v` and the harness's teardown leave it); a missing one fails the start with
Compose's message."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import DockerError

from ..conftest import harness_resources
from .test_compose_mac import compose

FILE = """
name: {name}
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    volumes: ["data:/data"]
volumes:
  data: {{external: true, name: {volume}}}
"""


@pytest.fixture
def volume(docker_client: docker.DockerClient):  # noqa: ANN201 - the name of a volume made for the test, with a file
    name = f"external-{uuid.uuid4().hex[:8]}"
    docker_client.volumes.create(name)
    docker_client.containers.run("redis:7", ["sh", "-c", "echo kept > /data/seed"], volumes=[f"{name}:/data"],
                                 remove=True)
    yield name
    docker_client.volumes.get(name).remove(force=True)


def test_an_external_volume_is_mounted_with_its_data_and_outlives_the_run(
        tmp_path: Path, docker_client: docker.DockerClient, volume: str) -> None:
    name = f"extvol-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(FILE.format(name=name, volume=volume)).lstrip())
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        container = docker_client.containers.list(filters={"label": f"com.docker.compose.project={name}"})[0]
        by_compose = container.exec_run(["sh", "-c", "cat /data/seed; echo compose >> /data/seed"]).output
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    assert docker_client.volumes.get(volume)  # down -v leaves it
    with Topology.start(load_topology(file)) as topology:
        mounted = docker_client.containers.get(topology["app"].container.id).attrs["Mounts"]
        by_harness = topology["app"].container.exec_run(["cat", "/data/seed"]).output
    assert harness_resources(docker_client, name) == []

    assert by_compose == b"kept\n"
    assert by_harness == b"kept\ncompose\n"  # the same volume, with what Compose's run wrote
    assert [(m["Type"], m["Name"], m["Destination"]) for m in mounted] == [("volume", volume, "/data")]
    assert docker_client.volumes.get(volume)  # the run's teardown leaves it too


def test_a_missing_external_volume_fails_the_start_as_under_compose(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"extvol-{uuid.uuid4().hex[:8]}"
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(FILE.format(name=name, volume=missing)).lstrip())
    try:
        up = compose(file, "up", "-d")
        assert up.returncode == 1 and f'external volume "{missing}" not found' in up.stderr, up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(DockerError) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value).startswith(f'external volume "{missing}" not found (volumes.data: external)')
    assert harness_resources(docker_client, name) == []
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(missing)
