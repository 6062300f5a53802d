"""pytest-topology: contract and integration testing for Python microservices.

    from harness import load_topology, Topology
    with Topology.start(load_topology("topology.yaml")) as topology:
        topology["dataservice"].url
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError, TopologyFileError
from harness.loader import load_topology

if TYPE_CHECKING:
    from harness.runtime.topology import Service, Topology

__all__ = ["HarnessError", "Service", "Topology", "TopologyFileError", "load_topology"]


def __getattr__(name: str) -> Any:  # Docker-side classes load on first use, keeping `import harness` light
    if name in ("Topology", "Service"):
        from harness.runtime import topology

        return getattr(topology, name)
    raise AttributeError(name)
