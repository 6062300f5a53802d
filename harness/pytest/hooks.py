"""Hooks pytest-topology calls in conftest files and plugins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.runtime.topology import Topology


@pytest.hookspec
def pytest_topology_reused(topology: Topology, config: pytest.Config) -> None:
    """`--topology-reuse` attached to a topology kept by an earlier session: reset the data that session left behind
    (truncate tables, flush caches) so that the tests find what a fresh start gives. Called once per run, before any
    test uses it (under pytest-xdist: by the worker that attaches first, while the others wait), also when the kept
    run was updated to an edited file (its unchanged services keep their data); not called when the topology was
    started by this run."""
