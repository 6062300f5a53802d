"""Three Docker engines joined into a swarm, for tests of one topology across several engines (issue #27): each a
dockerd in a network namespace of its own (fixtures/engines/netns_engines.py), with no image: the harness copies
what each engine runs from this machine's engine (runtime/transfer.py). Made once per session of these tests and removed at its end, also when a test fails; without root, `ip`, `nsenter` or `dockerd`
every test here is skipped with the reason."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.engines.netns import netns_engines

NAME = "across"  # the topology of these tests (its runs are found and removed by it)


@pytest.fixture(scope="session")
def swarm() -> Iterator[object]:
    """The engines (netns_engines.Engines): `.urls` (the first is the manager), `.addresses`, `.folder`."""
    engines_script = netns_engines()
    reason = engines_script.missing()
    if reason:
        pytest.skip(f"engines in network namespaces: {reason}")
    for stale in engines_script.stale():  # left by a killed session of these tests
        engines_script.down(stale)
    engines = engines_script.up(3, owner=os.getpid())
    try:
        yield engines
    finally:
        engines_script.down(engines)


@pytest.fixture
def pair() -> Iterator[Any]:
    """Two engines in no swarm (netns_engines.Engines) with python:3.11-slim, removed at the end whatever their
    swarm state."""
    yield from engines_in_no_swarm(2)


def engines_in_no_swarm(count: int) -> Iterator[Any]:
    """`count` engines of a test's own in no swarm, with python:3.11-slim (a fixture's body: yields them, removes
    them at the end whatever their swarm state; skips without what netns engines need)."""
    script = netns_engines()
    if reason := script.missing():
        pytest.skip(f"engines in network namespaces: {reason}")
    engines = script.up(count, ["python:3.11-slim"], owner=os.getpid(), swarm=False)
    try:
        yield engines
    finally:
        script.down(engines)


def pair_topology(folder: Path, urls: list[str], name: str = NAME, front_depends: bool = False) -> Path:
    """FOLDER/topology.yaml across two engines (e0, e1 at `urls`): backend placed on e0 by weight, front on e1
    (after backend when `front_depends`), each an http.server on 8000."""
    file = folder / "topology.yaml"
    file.write_text(f"""name: {name}
engines:
  - {{name: e0, host: "{urls[0]}"}}
  - {{name: e1, host: "{urls[1]}"}}
services:
  backend:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    ports: [8000]
    ready: {{http: {{port: 8000, path: /}}}}
  front:
    image: python:3.11-slim
    placement: e1
{"    depends_on: [backend]" + chr(10) if front_depends else ""}    command: ["python", "-m", "http.server", "8000"]
    ports: [8000]
    ready: {{http: {{port: 8000, path: /}}}}
""")
    return file
