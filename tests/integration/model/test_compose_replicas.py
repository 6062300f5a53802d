"""A service of several replicas (`scale: N`, `deploy.replicas: N`) and of none (`scale: 0`), with Docker Compose
itself as the oracle: the same containers (`docker inspect`, compared as the conformance corpus compares them), one
per replica, each under the service's name on its networks (Docker's DNS answers with all of them); what Compose
refuses or fails to start (a fixed host port for two replicas, a namespace of a service of none) is refused before
anything starts, with Compose's reason at `file:line`."""

from __future__ import annotations

import socket
import subprocess
import textwrap
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import TopologyFileError
from harness.model.compose_cli import compose_binary
from harness.runtime import labels as L

from ..conftest import harness_resources
from .conformance.view import COMPOSE, compare, view

SCALED = """
name: {name}
services:
  cache:
    image: redis:7
    command: ["sleep", "infinity"]
    scale: 0
  web:
    image: redis:7
    deploy: {{replicas: 2}}
    ports: ["6379", "{low}-{high}:7000"]
    volumes: [/data]
    labels: {{team: shop}}
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      retries: 30
    depends_on: [cache]
  client:
    image: redis:7
    command: ["sleep", "infinity"]
    depends_on:
      web: {{condition: service_healthy}}
"""


def compose(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([compose_binary(), "-f", str(file), *args], capture_output=True, text=True, timeout=300)


def free_ports(count: int) -> int:
    """The first of `count` consecutive ports free on 127.0.0.1 now (Compose publishes a range there)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            first = int(probe.getsockname()[1])
        if first + count > 65535:
            continue
        try:
            for port in range(first, first + count):
                with socket.socket() as other:
                    other.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue


def write(tmp_path: Path, text: str, **values: Any) -> Path:  # noqa: ANN401 - format values
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(text.format(**values) if values else text).lstrip())
    return file


def replica_views(client: docker.DockerClient, containers: list[Any], service: str, number: str
                  ) -> dict[str, dict[str, Any]]:
    """`SERVICE-N` -> the container's view (view.py), by the labels of Compose or of the harness."""
    return {f"{c.labels[service]}-{c.labels[number]}": view(client, client.containers.get(c.id).attrs)
            for c in containers}


def test_compose_and_the_harness_start_the_same_replicas(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    low = free_ports(2)
    file = write(tmp_path, SCALED, name=name, low=low, high=low + 1)
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        listed = docker_client.containers.list(all=True, filters={"label": f"{COMPOSE}project={name}"})
        by_compose = replica_views(docker_client, listed, COMPOSE + "service", COMPOSE + "container-number")
        compose_ranged = sorted(int(b[0]["HostPort"]) for c in listed for key, b in
                                (docker_client.containers.get(c.id).attrs["NetworkSettings"]["Ports"] or {}).items()
                                if key == "7000/tcp")
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    assert sorted(by_compose) == ["client-1", "web-1", "web-2"]  # none of `cache` (scale 0)
    assert compose_ranged == [low, low + 1]  # each replica a port of the range

    spec = load_topology(file)
    assert (spec.services["web"].replicas, spec.services["cache"].replicas) == (2, 0)
    with Topology.start(spec) as topology:
        web = topology["web"]
        assert [r.number for r in web.replicas] == [1, 2] and "cache" not in topology
        assert web.url == f"http://127.0.0.1:{web.ports[6379]}"  # replica 1's
        assert web.replicas[1].ports[6379] != web.ports[6379]  # each replica its own free host port
        by_harness = replica_views(docker_client, [r.container for s in topology for r in s.replicas], L.SERVICE,
                                   L.REPLICA)
        # the service's name resolves to every replica, from another service's container
        code, output = topology["client"].exec(["getent", "ahostsv4", "web"])
        assert code == 0, output
        resolved = {line.split()[0] for line in output.splitlines()}
        assert resolved == {r.address() for r in web.replicas} and len(resolved) == 2
        run = {"label": f"{L.RUN}={topology.run_id}"}
        anonymous = sorted(v.name for v in docker_client.volumes.list(filters=run) if "-anon" in v.name)
        assert anonymous == [f"harness-{name}-web-2-anon0-{topology.run_id}",  # each replica's own
                             f"harness-{name}-web-anon0-{topology.run_id}"]
    # every replica, its volumes and the network are removed
    assert (docker_client.containers.list(all=True, filters=run), docker_client.networks.list(filters=run),
            docker_client.volumes.list(filters=run)) == ([], [], [])
    assert harness_resources(docker_client, name) == []

    assert sorted(by_harness) == sorted(by_compose)
    differences = compare(by_compose, by_harness)
    assert not differences, "\n".join(map(str, differences))


def test_a_fixed_host_port_of_two_replicas_is_refused_as_compose_fails_to_start_them(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    port = free_ports(1)
    file = write(tmp_path, """
        name: {name}
        services:
          web:
            image: redis:7
            command: ["sleep", "infinity"]
            scale: 2
            ports: ["127.0.0.1:{port}:80"]
        """, name=name, port=port)
    try:
        up = compose(file, "up", "-d")
        assert up.returncode == 1 and f"Bind for 127.0.0.1:{port} failed: port is already allocated" in up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(TopologyFileError) as raised:
        load_topology(file)
    assert str(raised.value) == (
        f"compose.yaml:7: services.web.ports[0]: host port {port} for 2 replicas: Docker Compose fails to start "
        "replica 2 (\"port is already allocated\": each replica needs a host port of its own); give only the "
        "container port (80), or a range of at least 2 host ports")
    assert harness_resources(docker_client, name) == []


def test_the_namespace_of_a_service_of_no_replica_is_refused_as_compose_refuses_it(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    file = write(tmp_path, """
        name: {name}
        services:
          db:
            image: redis:7
            command: ["sleep", "infinity"]
            scale: 0
          web:
            image: redis:7
            command: ["sleep", "infinity"]
            network_mode: "service:db"
        """, name=name)
    try:
        up = compose(file, "up", "-d")
        assert up.returncode == 1 and "cannot share network namespace with service db: container missing" in up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(TopologyFileError) as raised:
        load_topology(file)
    assert str(raised.value).startswith("compose.yaml:10: services.web.network_mode: cannot share network namespace "
                                        "with service db: container missing (it has 0 replicas")


@pytest.mark.parametrize(("key", "value", "line", "message"), [
    ("scale", "-1", 5, "services.web.scale: must be greater than or equal to 0"),
    ("scale", '"two"', 5, 'services.web.scale: failed to cast to expected type: strconv.Atoi: parsing "two"'),
    ("deploy", "{replicas: -1}", 5, "services.web.deploy.replicas: must be greater than or equal to 0"),
    ("deploy", '{replicas: "two"}', 5, "services.web.deploy.replicas: failed to cast to expected type"),
])
def test_a_bad_count_is_one_error_at_its_line(tmp_path: Path, key: str, value: str, line: int, message: str) -> None:
    file = write(tmp_path, """
        name: bad
        services:
          web:
            image: redis:7
            {key}: {value}
        """.replace("{key}", key).replace("{value}", value))
    with pytest.raises(TopologyFileError) as raised:
        load_topology(file)
    text = str(raised.value)
    assert text.startswith(f"compose.yaml:{line}: Docker Compose: ") and message in text
    assert len(text.splitlines()) == 1


def test_a_fixed_address_of_two_replicas_is_refused_as_compose_fails_to_start_them(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"replicas-{uuid.uuid4().hex[:8]}"
    subnet = f"10.197.{uuid.uuid4().int % 250}"
    file = write(tmp_path, """
        name: {name}
        services:
          web:
            image: redis:7
            command: ["sleep", "infinity"]
            scale: 2
            networks:
              net:
                ipv4_address: {subnet}.10
        networks:
          net:
            ipam: {{config: [{{subnet: {subnet}.0/24}}]}}
        """, name=name, subnet=subnet)
    try:
        up = compose(file, "up", "-d")
        assert up.returncode == 1 and "Error response from daemon: Address already in use" in up.stderr, up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(TopologyFileError) as raised:
        load_topology(file)
    assert str(raised.value) == (
        f"compose.yaml:9: services.web.networks.net.ipv4_address: ipv4_address {subnet}.10 for 2 replicas: Docker "
        "Compose fails to start all of them (\"Error response from daemon: Address already in use\": each replica "
        "needs an address of its own); leave the address out (Docker gives each replica one), or run 1 replica")
    assert harness_resources(docker_client, name) == []


def test_a_container_name_of_two_replicas_is_composes_error_at_the_services_line(tmp_path: Path) -> None:
    file = write(tmp_path, """
        name: cname
        services:
          db:
            image: redis:7
          tap:
            image: redis:7
            container_name: tapper
            scale: 2
        """)
    with pytest.raises(TopologyFileError) as raised:
        load_topology(file)
    assert str(raised.value) == ("compose.yaml:5: Docker Compose: services.scale: can't set container_name and tap as "
                                 "container name must be unique: invalid compose project")
