"""A `build:` service is rebuilt when an image its Dockerfile starts from changes under the same name (a local tag
moved to another image): the build tag covers the bases' ids, so neither a cached image nor a kept run is reused."""

from __future__ import annotations

import io
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.runtime.topology import StartEvent

from ..conftest import harness_resources

TOPOLOGY = """
name: NAME
services:
  app:
    build: {context: ./app, args: {FLAVOUR: cur}}
    ports: [8000]
    ready: {tcp: 8000}
"""


class Bases:
    """Two small images of different content, `a` and `b`, and the tag `cur` that the service's Dockerfile starts
    from, moved between them. Removes what it made (and what the harness built from them)."""

    def __init__(self, client: docker.DockerClient) -> None:
        self.client = client
        self.repository = f"basetag-test-{uuid.uuid4().hex[:8]}"
        self.images = {}
        self.built: set[str] = set()  # tags the harness built from them
        for content in ("a", "b"):
            dockerfile = f"FROM python:3.11-slim\nRUN echo base-{content} > /base.txt\n".encode()
            self.images[content], _ = client.images.build(fileobj=io.BytesIO(dockerfile),
                                                          tag=f"{self.repository}:{content}", rm=True, pull=False)

    def point_to(self, content: str) -> None:
        self.images[content].tag(self.repository, "cur")

    def remove(self) -> None:
        for tag in [*self.built, f"{self.repository}:cur", f"{self.repository}:a", f"{self.repository}:b"]:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


@pytest.fixture
def bases(docker_client: docker.DockerClient) -> Iterator[Bases]:
    made = Bases(docker_client)
    yield made
    made.remove()


def project(tmp_path: Path, bases: Bases, name: str) -> Path:
    app = tmp_path / "app"
    app.mkdir()
    # the base through a build arg (an ARG default overridden), behind a stage alias, with --platform
    (app / "Dockerfile").write_text(f"ARG FLAVOUR=a\nFROM --platform=linux/amd64 {bases.repository}:${{FLAVOUR}} AS base\n"
                                    "FROM base\nWORKDIR /srv\nCMD [\"python\", \"-m\", \"http.server\", \"8000\"]\n")
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY.replace("NAME", name))
    return file


def base_content(topology: Topology) -> str:
    return topology["app"].exec(["cat", "/base.txt"]).output.strip()


def test_a_moved_base_tag_rebuilds_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bases: Bases,
                                             docker_client: docker.DockerClient) -> None:
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    file = project(tmp_path, bases, "basetag-rebuild")
    bases.point_to("a")
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:
        bases.built.add(topology["app"].container.image.tags[0])
        assert base_content(topology) == "base-a"
    events.clear()
    with Topology.start(load_topology(file), progress=events.append) as topology:  # nothing changed: cached
        assert base_content(topology) == "base-a"
    assert [e.kind for e in events if e.kind in ("built", "cached")] == ["cached"]

    bases.point_to("b")
    events.clear()
    with Topology.start(load_topology(file), progress=events.append) as topology:
        bases.built.add(topology["app"].container.image.tags[0])
        assert base_content(topology) == "base-b"
    assert [e.kind for e in events if e.kind in ("built", "cached")] == ["built"]
    assert harness_resources(docker_client, "basetag-rebuild", file) == []


def test_a_kept_run_on_a_moved_base_tag_is_restarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     bases: Bases, docker_client: docker.DockerClient) -> None:
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    file = project(tmp_path, bases, "basetag-reuse")
    bases.point_to("a")
    said: list[str] = []
    kept = Topology.kept_or_started(load_topology(file), say=said.append)
    runs = [kept]
    try:
        bases.built.add(kept["app"].container.image.tags[0])
        said.clear()
        again = Topology.kept_or_started(load_topology(file), say=said.append)
        runs.append(again)
        assert again.run_id == kept.run_id and again.reused, said

        bases.point_to("b")
        said.clear()
        restarted = Topology.kept_or_started(load_topology(file), say=said.append)
        runs.append(restarted)
        bases.built.add(restarted["app"].container.image.tags[0])
        assert restarted.run_id == kept.run_id and restarted.reused  # updated: its changed service replaced
        assert restarted["app"].container.id != kept["app"].container.id
        assert "  app changed (image): replacing it" in said, said
        assert base_content(restarted) == "base-b"
    finally:
        for run in runs:
            run.close()
    assert harness_resources(docker_client, "basetag-reuse", file) == []


def test_a_moved_substitute_of_a_from_image_restarts_a_kept_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                bases: Bases,
                                                                docker_client: docker.DockerClient) -> None:
    """FROM names an image that is not here; a substitute (`image_substitutes`) stands in for it through a local
    alias tag. The substitute's tag moving is a base change too."""
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    app = tmp_path / "app"
    app.mkdir()
    original = f"{bases.repository}-official:1"
    bases.built.add(original)  # the alias the harness makes
    (app / "Dockerfile").write_text(f"FROM {original}\nCMD [\"python\", \"-m\", \"http.server\", \"8000\"]\n")
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY.replace("NAME", "basetag-substitute").replace("{context: ./app, args: {FLAVOUR: cur}}",
                                                                           "./app")
                    + f"image_substitutes: {{'{original}': '{bases.repository}:cur'}}\n")
    bases.point_to("a")
    said: list[str] = []
    runs = [Topology.kept_or_started(load_topology(file), say=said.append)]
    try:
        bases.built.add(runs[0]["app"].container.image.tags[0])
        assert base_content(runs[0]) == "base-a"
        bases.point_to("b")
        said.clear()
        runs.append(Topology.kept_or_started(load_topology(file), say=said.append))
        bases.built.add(runs[1]["app"].container.image.tags[0])
        assert runs[1]["app"].container.id != runs[0]["app"].container.id
        assert "  app changed (image): replacing it" in said, said
        assert base_content(runs[1]) == "base-b"
    finally:
        for run in runs:
            run.close()
    assert harness_resources(docker_client, "basetag-substitute", file) == []


def test_a_moved_tag_a_copy_from_names_rebuilds_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          bases: Bases, docker_client: docker.DockerClient) -> None:
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text(f"FROM python:3.11-slim\nCOPY --from={bases.repository}:cur /base.txt /base.txt\n"
                                    "WORKDIR /srv\nCMD [\"python\", \"-m\", \"http.server\", \"8000\"]\n")
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY.replace("NAME", "basetag-copy"))
    bases.point_to("a")
    with Topology.start(load_topology(file)) as topology:
        bases.built.add(topology["app"].container.image.tags[0])
        assert base_content(topology) == "base-a"
    bases.point_to("b")
    events: list[StartEvent] = []
    with Topology.start(load_topology(file), progress=events.append) as topology:
        bases.built.add(topology["app"].container.image.tags[0])
        assert base_content(topology) == "base-b"
    assert [e.kind for e in events if e.kind in ("built", "cached")] == ["built"]
    assert harness_resources(docker_client, "basetag-copy", file) == []
