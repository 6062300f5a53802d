"""An image substitute that replaces no image of the topology is said, once, with why (it was silent): its image is
one a build of the topology makes, no `image:` or FROM line names it, or another rule wins. Pure logic on the files
(the Dockerfiles' FROM lines); `harness graph` shows the note without an engine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.model.loader import load_topology
from harness.runtime.substitutes import hub_prefix_note, unapplied_substitutes

TOPOLOGY = """
name: subs
services:
  shop:
    build: shop
    image: shop:dev
  cache:
    image: redis:7
"""


def project(tmp_path: Path) -> Path:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "Dockerfile").write_text("FROM python:3.11-slim\nCMD [\"python\"]\n")
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY)
    return file


def test_a_substitute_no_image_takes_is_said_with_why(tmp_path: Path) -> None:
    file = project(tmp_path)
    substitutes = {"redis:7": "my-redis:7", "python:3.11-slim": "my-python:3.11",  # applied: nothing said
                   "shop:dev": "other-shop:1",  # the image the shop's build makes
                   "postgres:15": "my-postgres:15", "quay.io/": "mirror.local/",  # named nowhere
                   "docker.io/": "hub-mirror.local/"}  # matches redis and python, but the exact rules win
    spec = load_topology(file, image_substitutes=substitutes)
    assert unapplied_substitutes(spec) == [
        "image substitute 'shop:dev=other-shop:1' replaces no image of topology subs: service 'shop' builds that "
        "image (its build: names it), and a built image is used as built, never substituted; substitute the FROM "
        "image of its Dockerfile instead",
        "image substitute 'postgres:15=my-postgres:15' replaces no image of topology subs: no `image:` and no FROM "
        "line of its builds names it",
        "image substitute 'quay.io/=mirror.local/' replaces no image of topology subs: no `image:` and no FROM line "
        "of its builds names an image under it",
        "image substitute 'docker.io/=hub-mirror.local/' replaces no image of topology subs: the substitute "
        "'redis:7' wins for redis:7"]
    assert unapplied_substitutes(load_topology(file, image_substitutes={"redis": "my-redis"})) == [
        "image substitute 'redis=my-redis' replaces no image of topology subs: no `image:` and no FROM line of its "
        "builds names it"]  # redis is redis:latest, as Docker reads it, not redis:7
    assert unapplied_substitutes(load_topology(file, image_substitutes={"docker.io/library/redis:7": "r"})) == []
    assert unapplied_substitutes(load_topology(file)) == []


def test_harness_says_it_once(tmp_path: Path) -> None:
    file = project(tmp_path)
    done = subprocess.run([str(Path(sys.executable).parent / "harness"), "graph", "--topology", str(file),
                           "--image-substitute", "shop:dev=other-shop:1"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("note: image substitute 'shop:dev=other-shop:1' replaces no image of topology subs: "
                             "service 'shop' builds that image") == 1, done.stderr


def test_the_hub_image_prefix_is_said_once_with_each_image_it_substitutes(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Testcontainers' prefix renames Docker Hub images nobody wrote under that name: said at the start, with its
    source; an image a project rule substitutes, and one another registry serves, are not the prefix's."""
    file = project(tmp_path)
    file.write_text(TOPOLOGY + "  db:\n    image: docker.io/library/postgres:15\n  app:\n    image: ghcr.io/org/app:1\n")
    monkeypatch.delenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.testcontainers.properties
    assert hub_prefix_note(load_topology(file)) == []
    monkeypatch.setenv("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX", "mirror.example/hub/")
    assert hub_prefix_note(load_topology(file, image_substitutes={"redis:7": "redis:7-local"})) == [
        "TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX=mirror.example/hub/ substitutes Docker Hub images of topology subs: "
        "docker.io/library/postgres:15 -> mirror.example/hub/postgres:15, "
        "python:3.11-slim -> mirror.example/hub/python:3.11-slim"]
