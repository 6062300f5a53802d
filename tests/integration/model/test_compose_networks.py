"""A compose file's networks as Docker Compose makes them: one network per declared network, each service on the
ones it lists with its aliases there and its fixed address; isolation holds (a service on `frontend` only cannot
resolve or reach one on `backend` only); a service only on an internal network has no published port. Compose
itself (`docker compose up`) is the oracle. Then: nothing is left after close and after `harness down`, a fault on
an edge over a shared network works, an edge between services that share no network is refused, a missing external
network is one clear error; the restore of a kept run gives back links, aliases and container_name."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from harness import Topology, load_topology
from harness.errors import DockerError, InvalidFault, PortNotPublished
from harness.runtime import labels as L

from ..conftest import harness_resources
from .test_compose_conformance import docker_compose  # noqa: F401 - the fixture

HARNESS = str(Path(sys.executable).parent / "harness")
SUBNET = "10.213.77"  # away from Docker's default pools
NETWORKS_FILE = f"""
services:
  db:
    image: redis:7
    command: ["redis-server", "--save", "", "--appendonly", "no"]
    ports: ["6379"]
    networks:
      backend:
        aliases: [database]
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      retries: 30
  proxy:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    ports: ["8000"]
    networks:
      frontend:
        aliases: [edge]
      backend:
        ipv4_address: {SUBNET}.10
  web:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    networks: [frontend]
networks:
  frontend:
  backend:
    internal: true
    ipam:
      config: [{{subnet: {SUBNET}.0/24}}]
"""
REACH = "import socket, sys; socket.create_connection((sys.argv[1], 6379), timeout=3).close()"


def seen(exec_in: Any) -> dict[str, Any]:  # noqa: ANN401 - exec_in(service, argv) -> exit code, output
    """What the services see of each other: names resolved (and to what), db reached."""
    def resolves(service: str, name: str) -> bool:
        return exec_in(service, ["getent", "hosts", name])[0] == 0

    return {
        "proxy resolves": {n: resolves("proxy", n) for n in ("db", "database", "web", "edge")},
        "web resolves": {n: resolves("web", n) for n in ("db", "database", "proxy", "edge")},
        "db resolves": {n: resolves("db", n) for n in ("proxy", "edge", "web")},
        "proxy reaches db": exec_in("proxy", ["python3", "-c", REACH, "database"])[0] == 0,
        "web reaches db": exec_in("web", ["python3", "-c", REACH, "db"])[0] == 0,
        "proxy on backend as seen by db": exec_in("db", ["getent", "hosts", "proxy"])[1].split()[:1],
    }


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / f"nets-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(NETWORKS_FILE).lstrip())
    return folder


def test_networks_aliases_addresses_and_isolation_as_compose_makes_them(project, docker_compose,  # noqa: F811
                                                                         docker_client) -> None:  # noqa: ANN001
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    try:
        up = docker_compose("-p", name, "up", "-d", "--wait", cwd=project)
        assert up.returncode == 0, up.stderr
        containers = {c.labels["com.docker.compose.service"]: c for c in docker_client.containers.list(
            filters={"label": f"com.docker.compose.project={name}"})}

        def in_compose(service: str, argv: list[str]) -> tuple[int, str]:
            code, output = containers[service].exec_run(argv)
            return code, output.decode()

        by_compose = seen(in_compose)
        db_ports_by_compose = containers["db"].attrs["NetworkSettings"]["Ports"]
    finally:
        down = docker_compose("-p", name, "down", "-v", "--timeout", "0", cwd=project)
    assert down.returncode == 0, down.stderr

    spec = load_topology(project / "docker-compose.yml")
    with Topology.start(spec) as topology:
        by_harness = seen(lambda service, argv: tuple(topology[service].exec(argv)))
        networks = {n.name: n.attrs for n in docker_client.networks.list(filters={"label": f"{L.RUN}="
                                                                                            f"{topology.run_id}"})}
        db_ports = topology["db"].ports
        with pytest.raises(PortNotPublished) as no_url:
            _ = topology["db"].url
        assert str(no_url.value).startswith("service 'db' publishes no ports: it is only on internal networks, "
                                            "and Docker publishes no port there")
        proxy_reached = topology["proxy"].ports != {}
    assert harness_resources(docker_client, project.name) == []  # containers and every network removed

    assert by_harness == by_compose
    assert by_harness["proxy resolves"] == {"db": True, "database": True, "web": True, "edge": True}
    assert by_harness["web resolves"] == {"db": False, "database": False, "proxy": True, "edge": True}
    assert by_harness["db resolves"] == {"proxy": True, "edge": False, "web": False}  # `edge`: a frontend alias
    assert by_harness["proxy reaches db"] and not by_harness["web reaches db"]
    assert by_harness["proxy on backend as seen by db"] == [f"{SUBNET}.10"]
    # one network per declared network, of the run; backend internal with its subnet
    assert sorted(n[L.NETWORK] for n in (a["Labels"] for a in networks.values())) == ["backend", "frontend"]
    backend = next(a for a in networks.values() if a["Labels"][L.NETWORK] == "backend")
    assert backend["Internal"] and backend["IPAM"]["Config"][0]["Subnet"] == f"{SUBNET}.0/24"
    # db is only on an internal network: Docker publishes none of its ports, under Compose as here
    assert not any(db_ports_by_compose.values()) and db_ports == {}
    assert proxy_reached


def test_a_kept_run_leaves_no_network_after_harness_down_and_faults_follow_shared_networks(
        project, docker_client) -> None:  # noqa: ANN001
    file = project / "docker-compose.yml"
    topology = Topology.start(load_topology(file), keep=True)
    try:
        assert topology["proxy"].exec(["python3", "-c", REACH, "db"]).exit_code == 0
        with topology.edge("proxy", "db").cut():
            assert topology["proxy"].exec(["python3", "-c", REACH, "db"]).exit_code != 0
        assert topology["proxy"].exec(["python3", "-c", REACH, "db"]).exit_code == 0
        with pytest.raises(InvalidFault) as refused:
            topology.edge("web", "db")
        assert str(refused.value).startswith("fault on web -> db: they share no network, so web cannot call db at "
                                             "all")
        topology["proxy"].disconnect()  # off both its networks; restore puts it back on both, with its address
        assert topology["proxy"].exec(["getent", "hosts", "db"]).exit_code != 0
        assert topology.restore() == ["proxy was left disconnected (.disconnect()): reconnected it"]
        assert topology["db"].exec(["getent", "hosts", "proxy"]).output.split()[:1] == [f"{SUBNET}.10"]
        assert len(harness_resources(docker_client, project.name, file)) == 3 + 2  # containers, networks
        # a changed network: made again, the kept run's containers on it restarted on it (as Docker Compose)
        file.write_text(file.read_text().replace("  frontend:\n  backend:", "  frontend:\n    labels: {tier: web}\n"
                                                                          "  backend:"))
        said: list[str] = []
        run = topology.run_id
        topology = Topology.kept_or_started(load_topology(file), say=said.append)
        assert topology.run_id == run
        assert "  network frontend changed: making it again (as Docker Compose does; the named volumes stay)" in said
        frontend = docker_client.networks.list(filters={"label": [f"{L.RUN}={topology.run_id}",
                                                                  f"{L.NETWORK}=frontend"]})
        assert [n.attrs["Labels"].get("tier") for n in frontend] == ["web"]
    except BaseException:
        topology.close()
        raise
    down = subprocess.run([HARNESS, "down", "--topology", str(file)], capture_output=True, text=True, timeout=300)
    assert down.returncode == 0, down.stderr
    assert harness_resources(docker_client, project.name, file) == []


def test_a_missing_external_network_is_one_clear_error(tmp_path, docker_client) -> None:  # noqa: ANN001
    missing = f"harness-test-missing-{uuid.uuid4().hex[:6]}"
    folder = tmp_path / "external"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(f"""
        services:
          app:
            image: redis:7
            networks: [shared]
        networks:
          shared: {{external: true, name: {missing}}}
    """).lstrip())
    with pytest.raises(DockerError) as error:
        Topology.start(load_topology(folder / "docker-compose.yml"))
    assert str(error.value).startswith(f"network {missing} declared as external, but could not be found "
                                       "(networks.shared of topology external)")
    assert f"docker network create {missing}" in str(error.value)
    assert harness_resources(docker_client, "external") == []


LINKS_FILE = """
services:
  db:
    image: redis:7
    command: ["redis-server", "--save", "", "--appendonly", "no"]
    container_name: primary-store
  app:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    hostname: appbox
    links: ["db:cache"]
    networks:
      default:
        aliases: [api]
  client:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
"""


def test_a_restored_kept_run_gives_back_links_and_aliases(tmp_path, docker_client) -> None:  # noqa: ANN001
    """A service taken off its network and put back by the restore of a kept run (`harness up` again, reuse by
    pytest): its `links` alias, the `container_name` and `aliases:` of services and its `hostname` resolve again."""
    folder = tmp_path / f"b23-links-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    file = folder / "docker-compose.yml"
    file.write_text(LINKS_FILE)

    def resolved(topology: Topology) -> dict[str, bool]:
        app = {n: topology["app"].exec(["getent", "hosts", n]).exit_code == 0 for n in ("cache", "primary-store")}
        client = {n: topology["client"].exec(["getent", "hosts", n]).exit_code == 0 for n in ("api", "app")}
        return {**{f"app: {n}": ok for n, ok in app.items()}, **{f"client: {n}": ok for n, ok in client.items()}}

    every = {"app: cache": True, "app: primary-store": True, "client: api": True, "client: app": True}
    topology = Topology.start(load_topology(file), keep=True)
    try:
        assert resolved(topology) == every
        topology["app"].disconnect()
        assert not any(resolved(topology).values())
        kept = Topology.kept_or_started(load_topology(file))  # as `harness up` again, or pytest reusing it
        assert kept.run_id == topology.run_id
        assert kept.restore() == ["app was left disconnected from the network: reconnected it"]
        assert resolved(kept) == every
        assert kept["app"].exec(["hostname"]).output.strip() == "appbox"
    finally:
        down = subprocess.run([HARNESS, "down", "--topology", str(file)], capture_output=True, text=True, timeout=300)
    assert down.returncode == 0, down.stderr
    assert harness_resources(docker_client, folder.name, file) == []
