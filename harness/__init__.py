"""pytest-topology: contract and integration testing for Python microservices.

    from harness import load_topology, Topology
    with Topology.start(load_topology("topology.yaml")) as topology:
        topology["dataservice"].url
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.errors import HarnessError, TopologyFileError
    from harness.spec.loader import load_topology
    from harness.runtime.topology import Service, Topology

__all__ = ["HarnessError", "Service", "Topology", "TopologyFileError", "load_topology"]
_WHERE = {"HarnessError": "harness.errors", "TopologyFileError": "harness.errors", "load_topology": "harness.spec.loader",
          "Topology": "harness.runtime.topology", "Service": "harness.runtime.topology"}


def __getattr__(name: str) -> Any:
    # Loaded on first use, so that the pytest plugin (imported by every pytest run) costs nothing without --topology.
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
