"""Three Docker engines joined into a swarm, for tests of one topology across several engines (issue #27): each a
dockerd in a network namespace of its own (fixtures/engines/netns_engines.py), with no image: the harness copies
what each engine runs from this machine's engine (runtime/transfer.py). Made once per session of these tests and removed at its end, also when a test fails; without root, `ip`, `nsenter` or `dockerd`
every test here is skipped with the reason."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.engines.netns import netns_engines


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
