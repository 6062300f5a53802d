"""Shared helpers for the unit tests: write a topology (or compose) file to tmp_path and load it.

YAML text given to these helpers is dedented and its leading newline dropped, so line 1 of the file is the
first line of the text: tests can count lines from the triple-quoted string.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.errors import TopologyFileError
from harness.model.loader import load_topology
from harness.model.topology import TopologySpec

Write = Callable[..., Path]
Load = Callable[..., TopologySpec]
LoadError = Callable[..., str]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """write(text, name="topology.yaml") -> path of the written file (sub-folders in `name` are created)."""

    def write(text: str, name: str = "topology.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return write


@pytest.fixture
def load(write: Write) -> Load:
    """load(text, name="topology.yaml") -> the TopologySpec that load_topology makes of it."""

    def load(text: str, name: str = "topology.yaml") -> TopologySpec:
        return load_topology(write(text, name))

    return load


@pytest.fixture
def load_error(load: Load) -> LoadError:
    """load_error(text, name="topology.yaml") -> str() of the TopologyFileError that loading raises."""

    def load_error(text: str, name: str = "topology.yaml") -> str:
        with pytest.raises(TopologyFileError) as info:
            load(text, name)
        return str(info.value)

    return load_error


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """A build context `./app` next to the topology file, with a Dockerfile and a Dockerfile.dev."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text("FROM scratch\n")
    (app / "Dockerfile.dev").write_text("FROM scratch\n")
    return app


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    """A folder `./conf` holding `app.conf`, next to the topology file (a mount source)."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "app.conf").write_text("key = value\n")
    return conf
