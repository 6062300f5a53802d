"""The real engine found through each source Testcontainers and Docker use, with DOCKER_HOST unset and the default
socket out of reach (the resolution's DEFAULT_SOCKET points at a path that does not exist; the machine's dockerd is
shared and stays up): a Docker context made by the docker CLI, ~/.testcontainers.properties, Docker Desktop's socket
in the home folder. A topology starts through each and its service answers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from harness import Topology, engine_source, load_topology
from harness.engine_source import resolve_engine
from harness.errors import DockerUnavailable
from harness.runtime import labels as L
from harness.runtime.engine import connect
from harness.runtime.topology import StartEvent

from ..conftest import harness_resources

REAL_SOCKET = "/var/run/docker.sock"
VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "TC_HOST",
             "TESTCONTAINERS_HOST_OVERRIDE", "TOPOLOGY_HOST", "TOPOLOGY_PUBLISH_ADDRESS",
             "TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home and Docker config folder; the default socket does not exist, so no engine is found yet."""
    if not os.path.exists(REAL_SOCKET):
        pytest.skip(f"the machine's engine is not at {REAL_SOCKET}")
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    monkeypatch.setattr(engine_source, "DEFAULT_SOCKET", str(tmp_path / "no-engine.sock"))
    with pytest.raises(DockerUnavailable, match="no Docker engine answers at unix://.*/no-engine.sock"):
        connect()
    return tmp_path


def redis_answers(home: Path, docker_client: docker.DockerClient, compose: bool = False) -> None:
    """A redis topology of this test's own (a compose file: read by the Compose binary, given the same engine)
    starts, answers PING on 127.0.0.1, and is gone afterwards."""
    if compose:
        file = home / "compose.yaml"
        file.write_text(f"name: engine-source-{os.getpid()}\nservices:\n  redis:\n    image: redis:7\n"
                        '    ports: ["6379"]\n    healthcheck:\n      test: ["CMD", "redis-cli", "ping"]\n'
                        "      interval: 1s\n")
    else:
        file = home / "topology.yaml"
        file.write_text(f"name: engine-source-{os.getpid()}\nservices:\n  redis:\n    image: redis:7\n"
                        "    ports: [6379]\n    ready:\n      tcp: 6379\n")
    with Topology.start(load_topology(file)) as topology:
        redis = topology["redis"]
        assert redis.host == "127.0.0.1"
        with socket.create_connection((redis.host, redis.port(6379)), timeout=10) as connection:
            connection.sendall(b"PING\r\n")
            assert connection.recv(16) == b"+PONG\r\n"
    assert harness_resources(docker_client, f"engine-source-{os.getpid()}", file) == []


def test_a_docker_context_made_by_the_docker_cli(home: Path, docker_client: docker.DockerClient) -> None:
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        pytest.skip("needs the docker CLI")
    env = {**os.environ, "DOCKER_CONFIG": str(home / "docker-config")}
    for command in (["context", "create", "harness-test", "--docker", f"host=unix://{REAL_SOCKET}"],
                    ["context", "use", "harness-test"]):
        subprocess.run([docker_cli, *command], env=env, check=True, capture_output=True, timeout=30)
    engine = resolve_engine()
    assert (engine.address, engine.source, engine.context) == (
        f"unix://{REAL_SOCKET}", "Docker context 'harness-test' from currentContext in $DOCKER_CONFIG/config.json",
        "harness-test")
    redis_answers(home, docker_client)
    redis_answers(home, docker_client, compose=True)


@pytest.mark.parametrize("key", ["docker.host", "tc.host"])
def test_the_testcontainers_properties_file(home: Path, docker_client: docker.DockerClient, key: str) -> None:
    (home / ".testcontainers.properties").write_text(f"{key}=unix\\://{REAL_SOCKET}\n")
    assert (resolve_engine().address, resolve_engine().source) == (f"unix://{REAL_SOCKET}",
                                                                   f"{key} in ~/.testcontainers.properties")
    redis_answers(home, docker_client)


def test_docker_desktops_socket_in_the_home_folder(home: Path, docker_client: docker.DockerClient) -> None:
    desktop = home / ".docker" / "run" / "docker.sock"
    desktop.parent.mkdir(parents=True)
    desktop.symlink_to(REAL_SOCKET)
    assert (resolve_engine().address, resolve_engine().source) == (f"unix://{desktop}", "Docker Desktop's socket")
    redis_answers(home, docker_client)


def test_a_stale_desktop_socket_is_passed_over_for_the_working_default_socket(
        home: Path, docker_client: docker.DockerClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Docker Desktop quit and left ~/.docker/run/docker.sock (nothing listens): the docker CLI and testcontainers
    use the default socket, and so does the harness, saying why it passed the Desktop socket over."""
    desktop = home / ".docker" / "run" / "docker.sock"
    desktop.parent.mkdir(parents=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left_behind:
        left_behind.bind(str(desktop))
    assert desktop.is_socket()
    monkeypatch.setattr(engine_source, "DEFAULT_SOCKET", REAL_SOCKET)
    engine = resolve_engine()
    assert (engine.address, engine.source) == (f"unix://{REAL_SOCKET}", "the default socket")
    assert engine.tried[-1] == ("Docker Desktop's socket (~/.docker/run/docker.sock: Connection refused, passed over; "
                                "~/.docker/desktop/docker.sock: absent)")
    assert connect().ping()
    redis_answers(home, docker_client)


def test_tc_host_with_the_local_engine_gives_urls_that_answer(tmp_path: Path, docker_client: docker.DockerClient,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """TC_HOST set to an address of this machine other than loopback (its docker0 gateway): ports are published on
    every interface, as testcontainers publishes them, so the URLs at TC_HOST answer; said once at the start."""
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    gateway = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    monkeypatch.setenv("TC_HOST", gateway)
    file = tmp_path / "topology.yaml"
    file.write_text(f"name: f23i-tchost-{os.getpid()}\nservices:\n  redis:\n    image: redis:7\n    ports: [6379]\n")
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:
        redis = topology["redis"]
        assert redis.host == gateway
        with socket.create_connection((gateway, redis.port(6379)), timeout=10) as connection:
            connection.sendall(b"PING\r\n")
            assert connection.recv(16) == b"+PONG\r\n"
    assert [e.detail for e in events if e.kind == "note"] == [
        f"TC_HOST={gateway} with a local engine: ports are published on every interface (0.0.0.0, as testcontainers "
        f"publishes them) so that URLs at {gateway} reach them; set TOPOLOGY_PUBLISH_ADDRESS to publish on one "
        "address only"]
    assert harness_resources(docker_client, f"f23i-tchost-{os.getpid()}", file) == []


def test_the_hub_image_prefix_names_the_image_that_runs(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX, set before the harness (and testcontainers) start: `redis:7` runs as
    PREFIX + `redis:7`, prefixed once (testcontainers' own prefixing is off: the harness checked that name)."""
    prefix = f"harness-hub-prefix-{os.getpid()}/"
    docker_client.images.get("redis:7").tag(f"{prefix}redis", "7")
    file = tmp_path / "topology.yaml"
    project = f"hub-prefix-{os.getpid()}"
    file.write_text(f"name: {project}\nservices:\n  redis:\n    image: redis:7\n    ready:\n      tcp: 6379\n")
    harness = str(Path(sys.executable).parent / "harness")
    env = {**os.environ, "TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX": prefix}
    try:
        up = subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, text=True, timeout=300,
                            env=env)
        assert up.returncode == 0, up.stderr
        running = docker_client.containers.list(filters={"label": f"{L.FILE}={file.resolve()}"})
        assert [c.attrs["Config"]["Image"] for c in running] == [f"{prefix}redis:7"]
    finally:
        down = subprocess.run([harness, "down", str(file)], capture_output=True, text=True, timeout=300, env=env)
        docker_client.images.remove(f"{prefix}redis:7")
    assert down.returncode == 0, down.stderr
    assert harness_resources(docker_client, project, file) == []


def test_a_hub_prefix_image_that_cannot_be_pulled_names_the_variable(tmp_path: Path,
                                                                     docker_client: docker.DockerClient) -> None:
    """The prefix made a name nobody wrote: said at the start, and the pull failure says which variable made it."""
    prefix = "localhost:1/f23i-mirror/"  # a registry nothing listens on: the pull fails at once
    file = tmp_path / "compose.yaml"
    project = f"f23i-hub-missing-{os.getpid()}"
    file.write_text(f"name: {project}\nservices:\n  cache:\n    image: docker.io/library/redis:7\n")
    harness = str(Path(sys.executable).parent / "harness")
    env = {**os.environ, "TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX": prefix}
    up = subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, text=True, timeout=300, env=env)
    assert up.returncode == 3, up.stderr
    assert (f"note: TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX={prefix} substitutes Docker Hub images of topology "
            f"{project}: docker.io/library/redis:7 -> {prefix}redis:7") in up.stderr
    assert (f"{prefix}redis:7 (needed by service 'cache'; docker.io/library/redis:7 with "
            f"TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX={prefix}): ") in up.stderr
    assert harness_resources(docker_client, project, file) == []
