"""The build-context hash covers exactly what `docker build` sends: compared with the docker CLI itself on tricky
`.dockerignore` files, and a stale image is never served after a change docker would see."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

from harness import Topology, load_topology
from harness.runtime.buildcontext import sent_paths

from ..conftest import write_topology

LISTS_ITS_CONTEXT = ('FROM python:3.11-slim\nCOPY . /ctx\n'
                     'RUN cd /ctx && find . -mindepth 1 -not -type d | sed "s|^./||" | sort > /sent.txt\n')


def files_docker_sends(context: Path, dockerfile: str = "Dockerfile") -> set[str]:
    """The files (not folders) the docker CLI sends for `context`: built, then listed inside the image."""
    tag = f"pytest-topology-test/sent:{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}  # the classic builder: the CLI applies .dockerignore itself
    subprocess.run(["docker", "build", "-q", "-t", tag, "-f", str(context / dockerfile), str(context)],
                   check=True, capture_output=True, env=env)
    try:
        listing = subprocess.run(["docker", "run", "--rm", tag, "cat", "/sent.txt"], check=True,
                                 capture_output=True, text=True).stdout
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
    return set(listing.split())


@pytest.mark.parametrize("dockerignore", [
    "*.txt\n*.md\n!README.md\n",
    "data\n!data/sub/keep.json\n/build/\n",
    "docs/**/*.html\n# a comment\n\n  spaced.py  \n",
    "*\n!Dockerfile\n!app\napp/**/*.pyc\n",
])
def test_the_hashed_files_are_the_files_docker_sends(tmp_path: Path, dockerignore: str) -> None:
    context = tmp_path / "ctx"
    for name in ["a.txt", "data/config.txt", "data/sub/x.json", "data/sub/keep.json", "README.md", "NOTES.md",
                 "build/out.bin", "docs/a.html", "docs/x/y.html", "spaced.py", "app/main.py",
                 "app/__pycache__/main.pyc", "app/deep/er/mod.pyc"]:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text(name)
    (context / "Dockerfile").write_text(LISTS_ITS_CONTEXT)
    (context / ".dockerignore").write_text(dockerignore)
    hashed = {p for p in sent_paths(context) if not (context / p).is_dir()}
    # The daemon drops a .dockerignore that its own patterns match after reading it; it is hashed all the same,
    # since it decides everything else.
    assert hashed - {".dockerignore"} == files_docker_sends(context) - {".dockerignore"}


def served(topology: Topology, path: str) -> str:
    return requests.get(f"{topology['app'].url}/{path}", timeout=5).text


def test_every_change_docker_sees_rebuilds_the_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    app = tmp_path / "svc"
    (app / "conf").mkdir(parents=True)
    (tmp_path / "Dockerfile.svc").write_text('FROM python:3.11-slim\nWORKDIR /srv\nCOPY . .\n'
                                             'CMD ["python", "-m", "http.server", "8000"]\n')
    (app / ".dockerignore").write_text("*.ini\n*.rst\n!INDEX.rst\n")
    (app / "conf" / "app.ini").write_text("first\n")
    (app / "INDEX.rst").write_text("index one\n")
    file = write_topology(tmp_path, """
name: rebuilds
services:
  app:
    build: {context: ./svc, dockerfile: ../Dockerfile.svc}
    ports: [8000]
    ready: {http: {port: 8000, path: /}}
""")
    tags = []
    changes = [(app / "conf" / "app.ini", "second\n", "conf/app.ini"),
               (app / "INDEX.rst", "index two\n", "INDEX.rst"),
               (tmp_path / "Dockerfile.svc", None, "extra.txt")]
    try:
        for changed, text, path in changes:
            if text is None:
                with changed.open("a") as dockerfile:
                    dockerfile.write("RUN echo from-the-dockerfile > /srv/extra.txt\n")
                text = "from-the-dockerfile\n"
            else:
                changed.write_text(text)
            with Topology.start(load_topology(file)) as topology:
                tags.append(topology["app"].container.image.tags[0])
                assert served(topology, path) == text
        assert len(set(tags)) == 3
    finally:
        for tag in set(tags):
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
