"""A remote Docker engine, for real: a second dockerd inside a network namespace of its own, reached over TCP
(fixtures/engines/netns_engines.py, one engine, no swarm), with the base image loaded into it.

Needs root, `ip`, `nsenter` and `dockerd`; without them every test of the second engine is skipped with the reason.
Everything created (dockerd, its containerd, the namespaces, the veth pairs, the data folders) is removed at the end,
also on failure.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from harness import RemoteMount, Topology, load_topology
from harness.errors import ImageMissing
from harness.runtime import labels as L
from tests.integration.engines.netns import netns_engines

IMAGE = "python:3.11-slim"
PORT = 2375


@dataclass(frozen=True)
class RemoteEngine:
    address: str  # where this machine reaches the engine (the namespace's end of the veth pair)
    second: str  # another address of the engine's machine, on the same veth pair (for TOPOLOGY_HOST)
    client: docker.DockerClient

    @property
    def docker_host(self) -> str:
        return f"tcp://{self.address}:{PORT}"


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteEngine]:
    script = netns_engines()
    reason = script.missing()
    if reason:
        pytest.skip(f"remote engine tests: {reason}")
    engine = script.up(1, [IMAGE], owner=os.getpid(), swarm=False)
    try:
        yield RemoteEngine(engine.addresses[0], engine.seconds[0],
                           docker.DockerClient(base_url=engine.urls[0], timeout=120))
    finally:
        script.down(engine)


@pytest.fixture
def on_remote(remote: RemoteEngine, monkeypatch: pytest.MonkeyPatch) -> RemoteEngine:
    monkeypatch.setenv("DOCKER_HOST", remote.docker_host)
    for name in ("TOPOLOGY_HOST", "TOPOLOGY_PUBLISH_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    return remote


def web_topology(folder: Path, copy: bool = True) -> Path:
    """`web` serves a folder with Python's http.server; hello.txt is put into it from this machine."""
    (folder / "hello.txt").write_text("hello from this machine\n")
    file = folder / "topology.yaml"
    file.write_text(f"""
name: remote-web
services:
  web:
    image: {IMAGE}
    command: ["python", "-m", "http.server", "8000", "--directory", "/srv"]
    ports: [8000]
    mounts:
      - {{source: hello.txt, target: /srv/hello.txt{", copy: true" if copy else ""}}}
    ready:
      http: {{port: 8000, path: /hello.txt}}
""")
    return file


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read().decode()


def left_on(client: docker.DockerClient, project: str) -> list[str]:
    label = {"label": f"{L.TOPOLOGY}={project}"}
    return ([c.name for c in client.containers.list(all=True, filters=label)]
            + [n.name for n in client.networks.list(filters=label)])


def test_urls_use_the_engines_host_and_the_services_answer(on_remote: RemoteEngine, tmp_path: Path,
                                                          docker_client: docker.DockerClient) -> None:
    spec = load_topology(web_topology(tmp_path))
    with Topology.start(spec) as topology:
        web = topology["web"]
        assert web.host == on_remote.address
        assert web.url == f"http://{on_remote.address}:{web.port(8000)}"
        assert get(web.url + "/hello.txt") == "hello from this machine\n"  # the copy, uploaded before the start
        bindings = web.container.attrs["HostConfig"]["PortBindings"]["8000/tcp"]
        assert bindings == [{"HostIp": "0.0.0.0", "HostPort": str(web.port(8000))}]
        assert left_on(docker_client, "remote-web") == []  # nothing on the local engine
        url = web.url
        web.stop()
        web.start()  # the port stays: it was chosen by the harness and accepted by the engine, not left to Docker
        assert web.url == url
        assert get(url + "/hello.txt") == "hello from this machine\n"
    assert left_on(on_remote.client, "remote-web") == []


def test_a_host_network_service_is_reached_on_the_engines_host(on_remote: RemoteEngine, tmp_path: Path) -> None:
    """`network_mode: host` on a remote engine: the container's ports are its machine's, so its URL is the engine's
    host and the container port (nothing published)."""
    port = random.randint(20000, 30000)  # the namespace is this module's own: any port of it is free
    file = tmp_path / "topology.yaml"
    file.write_text(f"""
name: remote-host
services:
  web:
    image: {IMAGE}
    command: ["python", "-m", "http.server", "{port}"]
    network_mode: host
    ports: [{port}]
    ready:
      http: {{port: {port}, path: /}}
""")
    with Topology.start(load_topology(file)) as topology:
        web = topology["web"]
        assert (web.url, web.port(port)) == (f"http://{on_remote.address}:{port}", port)
        assert web.container.attrs["HostConfig"]["NetworkMode"] == "host"
        assert "Directory listing" in get(web.url + "/")
    assert left_on(on_remote.client, "remote-host") == []


def test_topology_host_and_publish_address_override(on_remote: RemoteEngine, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPOLOGY_HOST", on_remote.second)
    monkeypatch.setenv("TOPOLOGY_PUBLISH_ADDRESS", on_remote.second)
    with Topology.start(load_topology(web_topology(tmp_path))) as topology:
        web = topology["web"]
        assert web.url == f"http://{on_remote.second}:{web.port(8000)}"
        assert get(web.url + "/hello.txt") == "hello from this machine\n"
        with pytest.raises(OSError):  # published on the second address only
            get(f"http://{on_remote.address}:{web.port(8000)}/hello.txt")


def test_a_bind_mount_is_refused_before_anything_starts(on_remote: RemoteEngine, tmp_path: Path) -> None:
    spec = load_topology(web_topology(tmp_path, copy=False))
    with pytest.raises(RemoteMount) as raised:
        Topology.start(spec)
    message = str(raised.value)
    assert f"the Docker engine is remote (DOCKER_HOST=tcp://{on_remote.address}:{PORT})" in message
    assert "service 'web': hello.txt -> /srv/hello.txt" in message
    assert "copy: true" in message
    assert left_on(on_remote.client, "remote-web") == []


def test_an_image_missing_on_the_remote_engine_names_it(on_remote: RemoteEngine, tmp_path: Path) -> None:
    file = tmp_path / "topology.yaml"
    file.write_text("name: remote-absent\nservices:\n  web:\n    image: pytest-topology-test/absent:1\n")
    with pytest.raises(ImageMissing) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value).startswith(
        f"1 image(s) of topology remote-absent are not in the remote Docker engine (DOCKER_HOST=tcp://"
        f"{on_remote.address}:{PORT}) and could not be pulled:\n  pytest-topology-test/absent:1 (needed by service "
        "'web'): pulling it failed: ")
    assert left_on(on_remote.client, "remote-absent") == []


def test_pytest_topology_on_a_remote_engine(on_remote: RemoteEngine, pytester: pytest.Pytester) -> None:
    file = web_topology(pytester.path)
    pytester.makepyfile(f"""
        import urllib.request

        def test_web(topology):
            assert topology["web"].url.startswith("http://{on_remote.address}:")
            assert urllib.request.urlopen(topology["web"].url + "/hello.txt").read() == b"hello from this machine\\n"
    """)
    result = pytester.runpytest_subprocess("--topology", str(file))
    result.assert_outcomes(passed=1)
    assert left_on(on_remote.client, "remote-web") == []


def test_the_harness_cli_on_a_remote_engine(on_remote: RemoteEngine, tmp_path: Path) -> None:
    harness = str(Path(sys.executable).parent / "harness")
    refused = subprocess.run([harness, "up", str(web_topology(tmp_path, copy=False)), "--detach"],
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2
    assert "a bind mount would name a path on its machine" in refused.stderr
    assert "Traceback" not in refused.stderr
    file = web_topology(tmp_path)
    try:
        up = subprocess.run([harness, "up", str(file), "--detach"], capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        assert f"http://{on_remote.address}:" in up.stdout
        assert left_on(on_remote.client, "remote-web") != []
    finally:
        down = subprocess.run([harness, "down", str(file)], capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert left_on(on_remote.client, "remote-web") == []


def test_a_copy_works_on_the_local_engine_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DOCKER_HOST", "TOPOLOGY_HOST", "TOPOLOGY_PUBLISH_ADDRESS"):
        monkeypatch.delenv(name, raising=False)
    with Topology.start(load_topology(web_topology(tmp_path))) as topology:
        web = topology["web"]
        assert web.url.startswith("http://127.0.0.1:")
        assert get(web.url + "/hello.txt") == "hello from this machine\n"
        assert web.container.attrs["Mounts"] == []  # a copy, not a bind mount
        assert web.container.attrs["HostConfig"]["PortBindings"]["8000/tcp"][0]["HostIp"] == "127.0.0.1"


def hello_pact(folder: Path, body: str) -> None:
    """A V3 pact of consumer `reader` on `web`: GET /hello.txt answers 200 with `body`."""
    folder.mkdir(exist_ok=True)
    (folder / "reader-web.json").write_text(json.dumps({
        "consumer": {"name": "reader"}, "provider": {"name": "web"},
        "interactions": [{"description": "the greeting file", "request": {"method": "GET", "path": "/hello.txt"},
                          "response": {"status": 200, "body": body}}],
        "metadata": {"pactSpecification": {"version": "3.0.0"}}}))


@pytest.mark.parametrize(("body", "code", "verdict"), [("hello from this machine\n", 0, "verified"),
                                                       ("hello from elsewhere\n", 1, "failed")])
def test_pacts_are_verified_against_the_provider_on_the_remote_engine(on_remote: RemoteEngine, tmp_path: Path,
                                                                      body: str, code: int, verdict: str) -> None:
    """The verifier runs here and reaches the provider at the engine's host: the remote container decides the
    verdict (a wrong body fails), and nothing is left on either engine."""
    file = web_topology(tmp_path)
    hello_pact(tmp_path / "pacts", body)
    harness = str(Path(sys.executable).parent / "harness")
    done = subprocess.run([harness, "verify", "--topology", str(file), "--pacts", str(tmp_path / "pacts"),
                           "--report", str(tmp_path / "reports")], capture_output=True, text=True, timeout=180)
    assert done.returncode == code, done.stdout + done.stderr
    matrix = json.loads((tmp_path / "reports" / "contract-matrix.json").read_text())
    assert [(edge["consumer"], edge["status"]) for edge in matrix["edges"] if edge["pact"]] == [("reader", verdict)]
    assert "Traceback" not in done.stderr
    assert left_on(on_remote.client, "remote-web") == []


def test_a_pact_with_http_and_messages_is_an_error_on_a_remote_engine(on_remote: RemoteEngine,
                                                                      tmp_path: Path) -> None:
    """pact-python's Verifier has one host for every transport: messages produced here and HTTP answered there
    cannot be verified together; the pact gets an error with the reason, never a pass."""
    file = web_topology(tmp_path)
    file.write_text(file.read_text() + "contracts: {states: [states.py]}\n")
    (tmp_path / "states.py").write_text(
        "from harness.contracts import message_producer\n\n\n"
        "@message_producer('a greeting event', provider='web')\n"
        "def greeting(params):\n    return {'hello': 'world'}\n")
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "reader-web.json").write_text(json.dumps({
        "consumer": {"name": "reader"}, "provider": {"name": "web"},
        "interactions": [
            {"type": "Synchronous/HTTP", "description": "the greeting file",
             "request": {"method": "GET", "path": "/hello.txt"}, "response": {"status": 200}},
            {"type": "Asynchronous/Messages", "description": "a greeting event",
             "contents": {"content": {"hello": "world"}, "contentType": "application/json", "encoded": False}}],
        "metadata": {"pactSpecification": {"version": "4.0"}}}))
    harness = str(Path(sys.executable).parent / "harness")
    done = subprocess.run([harness, "verify", "--topology", str(file), "--pacts", str(tmp_path / "pacts"),
                           "--report", str(tmp_path / "reports")], capture_output=True, text=True, timeout=180)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "HTTP and message interactions in one pact cannot be verified on a remote engine" in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert left_on(on_remote.client, "remote-web") == []


def test_a_docker_context_of_the_remote_engine_gives_urls_on_its_host(remote: RemoteEngine, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      docker_client: docker.DockerClient) -> None:
    """DOCKER_HOST unset: the current Docker context (made by the docker CLI) decides, for docker-py, testcontainers
    (a service without copies is testcontainers' container) and the host of URLs alike."""
    docker_cli = shutil.which("docker")
    if docker_cli is None:
        pytest.skip("needs the docker CLI")
    for name in ("DOCKER_HOST", "DOCKER_CONTEXT", "TOPOLOGY_HOST", "TOPOLOGY_PUBLISH_ADDRESS", "TC_HOST",
                 "TESTCONTAINERS_HOST_OVERRIDE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    for command in (["context", "create", "harness-remote", "--docker", f"host={remote.docker_host}"],
                    ["context", "use", "harness-remote"]):
        subprocess.run([docker_cli, *command], check=True, capture_output=True, timeout=30)
    file = tmp_path / "topology.yaml"
    file.write_text(f"name: remote-context\nservices:\n  web:\n    image: {IMAGE}\n"
                    '    command: ["python", "-m", "http.server", "8000", "--directory", "/etc"]\n'
                    "    ports: [8000]\n    ready:\n      http: {port: 8000, path: /hostname}\n")
    with Topology.start(load_topology(file)) as topology:
        web = topology["web"]
        assert web.url == f"http://{remote.address}:{web.port(8000)}"
        assert get(web.url + "/hostname") == web.container.attrs["Config"]["Hostname"] + "\n"
        assert left_on(remote.client, "remote-context") != []
        assert left_on(docker_client, "remote-context") == []  # nothing on the local engine
        assert "DOCKER_HOST" not in os.environ  # testcontainers did not write its own pick into it
    assert left_on(remote.client, "remote-context") == []
