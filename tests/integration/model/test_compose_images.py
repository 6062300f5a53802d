"""Images: a missing `image:` is pulled (from a real registry, Debian's docker-registry, started here on
127.0.0.1), every missing image is named at once before anything starts, and image substitution applies to
`image:` and to FROM lines (the book's second-edition compose shape: FROM python:3.9 and rabbitmq:latest)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import textwrap
import time
import urllib.request
import uuid
from pathlib import Path

import docker.errors
import pytest

from harness import Topology, load_topology
from harness.errors import ImageMissing
from harness.runtime.images import SUBSTITUTE_FOR, base_images, substitute

from ..conftest import harness_resources

BOOK_COMPOSE = """
services:
  dataservice:
    build: ./dataservice
    command: ["python3", "-m", "http.server", "8000"]
    ports: ["8000:8000"]
    networks: [runnerly]
    depends_on: [rabbit]
  tokendealer:
    build: ./tokendealer
    command: ["python3", "-m", "http.server", "8001"]
    networks: [runnerly]
  rabbit:
    image: rabbitmq:latest
    networks: [runnerly]
networks:
  runnerly:
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory):  # noqa: ANN201 - "127.0.0.1:PORT" of a registry that runs for this module
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("Debian's docker-registry is needed for the pull tests: apt-get install docker-registry "
                    "(fixtures/images/ensure-engine.sh installs it)", pytrace=False)
    folder = tmp_path_factory.mktemp("registry")
    port = free_port()
    config = folder / "config.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {folder / 'storage'}\n"
                      f"http:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n")
    server = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=1):
                break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"docker-registry did not start: {server.stderr.read().decode()[-500:]}", pytrace=False)
            time.sleep(0.1)
    yield address
    server.terminate()
    server.wait(timeout=10)


def push(client, source: str, name: str) -> None:  # noqa: ANN001 - put `source` into the registry as `name`, not local
    client.images.get(source).tag(*name.rsplit(":", 1))  # repository, tag: Podman refuses 'repo:tag' in one
    for line in client.api.push(name, stream=True, decode=True):
        assert "error" not in line, line
    client.images.remove(name)


def remove_image(client, name: str) -> None:  # noqa: ANN001
    try:
        client.images.remove(name, noprune=False)
    except docker.errors.ImageNotFound:
        pass


# --- pure logic ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("rabbitmq:latest", "my-rabbit:3"), ("rabbitmq", "my-rabbit:3"), ("docker.io/library/rabbitmq", "my-rabbit:3"),
     ("redis:7", "mirror.test/redis:7"), ("bitnami/redis:7", "mirror.test/bitnami/redis:7"),
     ("docker.io/bitnami/redis:7", "mirror.test/bitnami/redis:7"), ("quay.io/x/y:1", "quay.io/x/y:1"),
     ("127.0.0.1:5000/app:1", "127.0.0.1:5000/app:1")],
)
def test_substitution_rules(name, expected):
    assert substitute(name, {"rabbitmq:latest": "my-rabbit:3", "docker.io/": "mirror.test/"}) == expected


def test_base_images_of_a_dockerfile():
    dockerfile = textwrap.dedent("""
        ARG PY=3.9
        FROM --platform=linux/amd64 python:${PY}-slim AS base
        FROM base AS test
        FROM node:20 AS assets
        FROM scratch AS release
        FROM redis:7
    """)
    assert base_images(dockerfile, {}) == ["python:3.9-slim", "node:20", "redis:7"]
    assert base_images(dockerfile, {"PY": "3.12"}, target="test") == ["python:3.12-slim"]


# --- against the engine and a real registry ------------------------------------------------------------------------


def test_a_missing_image_is_pulled(registry, tmp_path, docker_client) -> None:  # noqa: ANN001
    name = f"{registry}/pull-test/cache:{uuid.uuid4().hex[:8]}"
    push(docker_client, "redis:7", name)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(name)
    (tmp_path / "docker-compose.yml").write_text(f"name: pulled\nservices:\n  cache:\n    image: {name}\n")
    try:
        with Topology.start(load_topology(tmp_path / "docker-compose.yml")) as topology:
            assert topology["cache"].exec(["redis-cli", "ping"]).output.strip() == "PONG"
        assert docker_client.images.get(name).id == docker_client.images.get("redis:7").id
    finally:
        remove_image(docker_client, name)
    assert harness_resources(docker_client, "pulled") == []


def test_a_registry_prefix_rule_pulls_hub_images_from_a_mirror(registry, tmp_path, docker_client) -> None:  # noqa: ANN001
    tag = uuid.uuid4().hex[:8]
    push(docker_client, "redis:7", f"{registry}/mirrored-cache:{tag}")
    (tmp_path / "docker-compose.yml").write_text(f"name: mirrored\nservices:\n  cache:\n    image: mirrored-cache:{tag}\n")
    spec = load_topology(tmp_path / "docker-compose.yml", image_substitutes={"docker.io/": f"{registry}/"})
    try:
        with Topology.start(spec) as topology:
            assert topology["cache"].container.attrs["Config"]["Image"] == f"{registry}/mirrored-cache:{tag}"
    finally:
        remove_image(docker_client, f"{registry}/mirrored-cache:{tag}")
    assert harness_resources(docker_client, "mirrored") == []


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """The book's second-edition shape: services built FROM python:3.9, a rabbitmq:latest service, a network."""
    folder = tmp_path / "book2e"
    for service in ("dataservice", "tokendealer"):
        (folder / service).mkdir(parents=True)
        (folder / service / "Dockerfile").write_text("FROM python:3.9\nWORKDIR /srv\nCOPY . /srv\n")
        (folder / service / "app.py").write_text("print('hello')\n")
    (folder / "docker-compose.yml").write_text(textwrap.dedent(BOOK_COMPOSE).lstrip())
    return folder / "docker-compose.yml"


@pytest.fixture
def fake_rabbit(docker_client) -> str:  # noqa: ANN001 - a local image that stands in for rabbitmq:latest
    import io

    tag = "pytest-topology-test/fake-rabbit:1"
    docker_client.images.build(fileobj=io.BytesIO(b'FROM redis:7\nCMD ["redis-server", "--port", "5672"]\n'),
                               tag=tag, rm=True)
    return tag


def test_the_book_shape_without_its_images_is_one_error_naming_both(book, docker_client) -> None:  # noqa: ANN001
    for image in ("python:3.9", "rabbitmq:latest"):
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(image)  # the premise: this machine has neither
    with pytest.raises(ImageMissing) as error:
        Topology.start(load_topology(book))
    message = str(error.value)
    assert message.startswith("2 image(s) of topology book2e are not in the local Docker engine and could not be "
                              "pulled:\n")
    assert "  python:3.9 (needed by FROM of service 'dataservice', FROM of service 'tokendealer'): pulling it failed" \
        in message
    assert "  rabbitmq:latest (needed by service 'rabbit'): pulling it failed" in message
    assert "--image-substitute NAME=LOCAL_IMAGE" in message
    assert error.value.images == ["python:3.9", "rabbitmq:latest"]
    assert harness_resources(docker_client, "book2e") == []


def test_the_book_shape_starts_with_substitutes_for_image_and_from(book, fake_rabbit, docker_client,
                                                                   pytester: pytest.Pytester) -> None:  # noqa: ANN001
    pytester.makepyfile(test_book="""
        def test_every_service_runs_on_its_substitute(topology):
            assert topology["rabbit"].exec(["redis-cli", "-p", "5672", "ping"]).output.strip() == "PONG"
            version = topology["dataservice"].exec(["python3", "--version"]).output
            assert version.startswith("Python 3.11"), version
            assert topology["tokendealer"].exec(["cat", "/srv/app.py"]).output == "print('hello')\\n"
    """)
    try:
        result = pytester.runpytest_subprocess(
            "--topology", str(book), "--image-substitute", "python:3.9=python:3.11-slim",
            "--image-substitute", f"rabbitmq:latest={fake_rabbit}", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=1)
        assert "image substitute" not in result.stdout.str()  # both replace an image: no note
        alias = docker_client.images.get("python:3.9")
        assert alias.labels[SUBSTITUTE_FOR] == "python:3.9"  # labelled, so that `harness prune` can remove it
    finally:
        alias = None
        try:
            alias = docker_client.images.get("python:3.9")
        except docker.errors.ImageNotFound:
            pass
        if alias is not None and (alias.labels or {}).get(SUBSTITUTE_FOR) == "python:3.9":
            docker_client.images.remove("python:3.9")
        remove_image(docker_client, fake_rabbit)
    assert harness_resources(docker_client, "book2e") == []
