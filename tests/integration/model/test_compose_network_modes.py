"""`network_mode: host`, `network_mode: container:NAME`, `network_mode: NETWORK` and `volumes_from:
[container:NAME]`, with Docker Compose itself as the oracle: the same file started by `docker compose up -d --wait`
and by the harness gives containers the same network mode and volumes (`docker inspect`), and a test in them sees
the same; a missing outside container or network fails both with Docker's words. The harness's own part: a host
service's URL is its container port on the engine's host, and faults are refused there."""

from __future__ import annotations

import socket
import textwrap
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import DockerError, InvalidFault, PortNotPublished

from ..conftest import harness_resources
from .test_compose_external_links import outside  # noqa: F401 - the fixture: a container and a network of no run
from .test_compose_mac import compose

OUTSIDE_FILE = """
name: {name}
services:
  sidecar:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: "container:{container}"
  backup:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    volumes_from: ["container:{container}:ro"]
  joined:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: "{network}"
  member:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    networks: [back]
  scoped:  # the name Compose gives the file's network `back`: that network of the run
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: "{name}_back"
networks:
  back: {{}}
"""
CALL_OUTSIDE = "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/', timeout=5).status)"


def seen(container: Any, names: tuple[str, str]) -> dict[str, Any]:  # noqa: ANN401 - a docker-py Container
    """What Docker was given and what a test in the container sees: its network mode, networks and volumes_from
    (the `names` of what is outside the run are the same on both sides; the run's own network is named by each its
    way), the outside container's HTTP server on 127.0.0.1 (exit code, last line), the outside container's file and
    whether it may write there."""
    def run(command: list[str]) -> tuple[int, str]:
        code, output = container.exec_run(command)
        return code, (output.decode().strip().splitlines() or [""])[-1]

    def named(network: str) -> str:
        return network if network in (*names, "none", "host") or network.startswith("container:") else "(run's)"

    host = container.attrs["HostConfig"]
    return {"NetworkMode": named(host["NetworkMode"]), "VolumesFrom": host.get("VolumesFrom"),
            "networks": sorted(map(named, container.attrs["NetworkSettings"]["Networks"])),
            "outside_on_localhost": run(["python3", "-c", CALL_OUTSIDE]),
            "shared": run(["cat", "/shared/file"]), "writes": run(["touch", "/shared/x"])[0] == 0,
            "resolves_member": run(["getent", "hosts", "member"])[0] == 0}


def test_containers_and_networks_outside_the_run_as_compose_gives_them(
        tmp_path: Path, docker_client: docker.DockerClient, outside: tuple[str, str]) -> None:  # noqa: F811
    container, network = outside
    name = f"outside-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(OUTSIDE_FILE.format(name=name, container=container, network=network)).lstrip())
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        by_compose = {c.labels["com.docker.compose.service"]: seen(c, outside) for c in docker_client.containers.list(
            filters={"label": f"com.docker.compose.project={name}"})}
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    spec = load_topology(file)
    with Topology.start(spec) as topology:
        by_harness = {s.name: seen(docker_client.containers.get(s.container.id), outside) for s in topology}
        with pytest.raises(Exception, match="has no URL of its own: network_mode container:"):
            topology["sidecar"].url  # noqa: B018 - the property raises
    assert harness_resources(docker_client, name) == []
    assert docker_client.containers.get(container).status == "running"  # outside the run: left as it was

    assert by_harness == by_compose
    # given by its name, as Compose gives it; the engine writes the id it resolved
    assert by_harness["sidecar"]["NetworkMode"] == f"container:{docker_client.containers.get(container).id}"
    assert by_harness["sidecar"]["outside_on_localhost"] == (0, "200")  # in the outside container's namespace
    assert by_harness["backup"]["VolumesFrom"] == [container]  # ":ro" dropped, as Compose drops it
    assert (by_harness["backup"]["shared"], by_harness["backup"]["writes"]) == ((0, "kept"), True)
    assert by_harness["backup"]["outside_on_localhost"][0] == 1  # on the run's network: its own 127.0.0.1
    assert (by_harness["joined"]["NetworkMode"], by_harness["joined"]["networks"]) == (network, [network])
    assert sorted(s for s, view in by_harness.items() if view["resolves_member"]) == ["member", "scoped"]
    assert by_harness["scoped"]["networks"] == ["(run's)"]
    assert spec.notes == [f"{file.name}:10: services.backup.volumes_from: ':ro' and ':rw' are not applied, as Docker "
                          "Compose does not apply them (it mounts the volumes as the other container has them)"]


HOST_FILE = """
name: {name}
services:
  web:
    image: python:3.11-slim
    command: ["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
    network_mode: host
    ports: ["{port}"]
    healthcheck:
      test: ["CMD", "python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:{port}/')"]
      interval: 1s
      retries: 60
  caller:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
  bare:  # on the machine's network too, with no port listed
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: host
"""


def free_port() -> int:
    """A port free on this machine now (the engine's machine: host networking binds it there): parallel runs of
    this test get different ones."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def host_view(container: Any) -> dict[str, Any]:  # noqa: ANN401 - a docker-py Container
    settings = container.attrs["NetworkSettings"]
    return {"NetworkMode": container.attrs["HostConfig"]["NetworkMode"], "networks": sorted(settings["Networks"]),
            "published": {port: bound for port, bound in (settings.get("Ports") or {}).items() if bound}}


def answers(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - a URL of this test's own service
        return int(response.status)


def test_host_network_as_compose_gives_it_with_its_url_on_the_engines_host(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"hostnet-{uuid.uuid4().hex[:8]}"
    port = free_port()
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(HOST_FILE.format(name=name, port=port)).lstrip())
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        assert "Published ports are discarded when using host network mode" in up.stderr
        web = docker_client.containers.list(filters={"label": [f"com.docker.compose.project={name}",
                                                               "com.docker.compose.service=web"]})[0]
        by_compose = host_view(web)
        assert answers(f"http://127.0.0.1:{port}/") == 200  # the container port, on the machine
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    spec = load_topology(file)
    assert spec.notes == [f"{file.name}:7: services.web.ports: published ports are discarded when using host network "
                          "mode (as Docker Compose warns): the service's ports are the engine machine's own"]
    with Topology.start(spec) as topology:
        web_service = topology["web"]
        by_harness = host_view(docker_client.containers.get(web_service.container.id))
        assert (web_service.url, web_service.port(port)) == (f"http://127.0.0.1:{port}", port)
        assert answers(web_service.url + "/") == 200
        for fault in (lambda: web_service.faults.delay(ms=100), lambda: topology.edge("caller", "web").cut()):
            with pytest.raises(InvalidFault) as refused:
                fault()
            assert "has network_mode host: its network is the engine machine's own; faults are rules put in the " \
                   "network namespaces the run made, and the harness never puts them on the machine's network" \
                   in str(refused.value)
        assert topology.faults.active() == []
        with pytest.raises(PortNotPublished) as no_url:
            topology["bare"].url  # noqa: B018 - the property raises
        assert str(no_url.value) == ("service 'bare' uses the engine machine's network (network_mode host): its ports "
                                     "are the machine's own; list the one its URL is on in `ports:` (or call port(N): "
                                     "N itself)")
        assert topology["bare"].port(port + 1) == port + 1
    assert harness_resources(docker_client, name) == []

    assert by_harness == by_compose == {"NetworkMode": "host", "networks": ["host"], "published": {}}


MISSING = {
    "container": ("network_mode: \"container:{missing}\"", "No such container: {missing}"),
    "volumes_from": ("volumes_from: [\"container:{missing}\"]", "No such container: {missing}"),
    "network": ("network_mode: {missing}", "network {missing} not found"),
}


@pytest.mark.parametrize("kind", sorted(MISSING))
def test_what_is_missing_outside_the_run_fails_the_start_with_dockers_words(
        kind: str, tmp_path: Path, docker_client: docker.DockerClient) -> None:
    key, words = MISSING[kind]
    name, missing = f"missing-{uuid.uuid4().hex[:8]}", f"nowhere-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(f"name: {name}\nservices:\n  app:\n    image: python:3.11-slim\n"
                    f"    command: [\"sleep\", \"infinity\"]\n    {key.format(missing=missing)}\n")
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode != 0
        assert f"Error response from daemon: {words.format(missing=missing)}" in up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(DockerError) as failed:
        Topology.start(load_topology(file))
    setting = key.format(missing=missing).replace('"', "").replace("[", "").replace("]", "")
    setting = setting.replace("network_mode: ", "network_mode ").replace("volumes_from: ", "volumes_from ")
    assert str(failed.value).startswith(
        f"service 'app': {setting}: {words.format(missing=missing)} (Docker Compose fails the same way: \"Error "
        f"response from daemon: {words.format(missing=missing)}\")")
    assert harness_resources(docker_client, name) == []


KEY_FILE = """
name: {name}
services:
  member:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    networks: ["{key}"]
  joined:  # the key of the file's network, named {name}_{key} on the engine: Compose gives Docker `{key}` as written
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: "{key}"
networks:
  "{key}": {{{named}}}
"""


@pytest.mark.parametrize("named", ["", "name: {name}_front"])
def test_a_file_networks_key_as_network_mode_is_the_engines_network_of_that_name_as_under_compose(
        named: str, tmp_path: Path, docker_client: docker.DockerClient, outside: tuple[str, str]) -> None:  # noqa: F811
    """The key of a file's network whose name on the engine is another (project-scoped, or its `name:`) names, as
    network_mode, the engine's network of that literal name: here one outside the run (the file's key is its name),
    not the run's network of that key."""
    _, network = outside
    name = f"netkey-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(KEY_FILE.format(name=name, key=network, named=named.format(name=name))).lstrip())
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        by_compose = {c.labels["com.docker.compose.service"]: seen(c, (network, "")) for c in
                      docker_client.containers.list(filters={"label": f"com.docker.compose.project={name}"})}
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    spec = load_topology(file)
    assert (spec.services["joined"].network_mode, spec.services["joined"].outside_network_mode) == (network, True)
    with Topology.start(spec) as topology:
        by_harness = {s.name: seen(docker_client.containers.get(s.container.id), (network, "")) for s in topology}
    assert harness_resources(docker_client, name) == []
    assert by_harness == by_compose
    assert (by_harness["joined"]["NetworkMode"], by_harness["joined"]["networks"]) == (network, [network])
    assert by_harness["member"]["networks"] == ["(run's)"]


def test_a_file_networks_key_as_network_mode_with_no_engine_network_of_that_name_fails_as_under_compose(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name, key = f"netkey-{uuid.uuid4().hex[:8]}", f"front{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(KEY_FILE.format(name=name, key=key, named="")).lstrip())
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode != 0
        assert f"Error response from daemon: network {key} not found" in up.stderr, up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(DockerError) as failed:
        Topology.start(load_topology(file))
    assert str(failed.value).startswith(
        f"service 'joined': network_mode {key}: network {key} not found (Docker Compose fails the same way: "
        f"\"Error response from daemon: network {key} not found\")"), str(failed.value)
    assert harness_resources(docker_client, name) == []
