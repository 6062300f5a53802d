"""Three Docker engines joined into a swarm, for tests of one topology across several engines (issue #27): each a
dockerd in a network namespace of its own (fixtures/engines/netns_engines.py), with the base images loaded. Made once
per session of these tests and removed at its end, also when a test fails; without root, `ip`, `nsenter` or `dockerd`
every test here is skipped with the reason."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[3] / "fixtures" / "engines" / "netns_engines.py"
IMAGES = ("python:3.11-slim", "redis:7")


def netns_engines() -> ModuleType:
    spec = importlib.util.spec_from_file_location("netns_engines", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["netns_engines"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def swarm() -> Iterator[object]:
    """The engines (netns_engines.Engines): `.urls` (the first is the manager), `.addresses`, `.folder`."""
    engines_script = netns_engines()
    reason = engines_script.missing()
    if reason:
        pytest.skip(f"engines in network namespaces: {reason}")
    for stale in engines_script.stale():  # left by a killed session of these tests
        engines_script.down(stale)
    engines = engines_script.up(3, IMAGES, owner=os.getpid())
    try:
        yield engines
    finally:
        engines_script.down(engines)
