"""pytest-topology: contract and integration testing for Python microservices.

    from harness import load_topology, Topology
    with Topology.start(load_topology("topology.yaml")) as running:
        running["dataservice"].url

    from harness import ready, topology
    with topology("shop").service("redis", image="redis:7", ready=ready.tcp(6379), ports=[6379]).start() as running:
        ...

The public door: everything here is stable API; modules below are private. Names load on first use, so that the
pytest plugin (imported by every pytest run) costs nothing without --topology.

Stages, in the order data flows (each stage's __init__ says what it may import):
    model/ -> runtime/ -> contracts/, fuzz/ -> report/ -> cli/, pytest/
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness import errors as _errors

if TYPE_CHECKING:  # `X as X`: re-exported, for the type checkers of code that uses harness (py.typed)
    from harness.errors import *  # noqa: F403
    from harness.model import ready as ready
    from harness.model.builder import TopologyBuilder as TopologyBuilder
    from harness.model.builder import topology as topology
    from harness.model.loader import load_topology as load_topology
    from harness.model.parts import AuthSpec as AuthSpec
    from harness.model.parts import BuildSpec as BuildSpec
    from harness.model.parts import ContainerFile as ContainerFile
    from harness.model.parts import FuzzSpec as FuzzSpec
    from harness.model.parts import Healthcheck as Healthcheck
    from harness.model.parts import HttpCheck as HttpCheck
    from harness.model.parts import Mount as Mount
    from harness.model.parts import ReadyProbe as ReadyProbe
    from harness.model.parts import Ulimit as Ulimit
    from harness.model.parts import VolumeMount as VolumeMount
    from harness.model.plan import StartPlan as StartPlan
    from harness.model.service import ServiceSpec as ServiceSpec
    from harness.model.topology import ContractsSpec as ContractsSpec
    from harness.model.topology import TopologySpec as TopologySpec
    from harness.runtime.service import ExecResult as ExecResult
    from harness.runtime.service import Service as Service
    from harness.runtime.topology import StartEvent as StartEvent
    from harness.runtime.topology import Topology as Topology

_WHERE = {
    "load_topology": "harness.model.loader",
    "topology": "harness.model.builder", "TopologyBuilder": "harness.model.builder",
    "ready": None,  # the module harness.model.ready
    "TopologySpec": "harness.model.topology", "ContractsSpec": "harness.model.topology",
    "ServiceSpec": "harness.model.service", "BuildSpec": "harness.model.parts", "ReadyProbe": "harness.model.parts",
    "HttpCheck": "harness.model.parts", "Mount": "harness.model.parts", "AuthSpec": "harness.model.parts",
    "FuzzSpec": "harness.model.parts", "Healthcheck": "harness.model.parts", "VolumeMount": "harness.model.parts",
    # the model classes the builder's keywords take, beside plain dicts
    "ContainerFile": "harness.model.parts", "Ulimit": "harness.model.parts",
    "StartPlan": "harness.model.plan",
    "Topology": "harness.runtime.topology", "StartEvent": "harness.runtime.topology",
    "Service": "harness.runtime.service", "ExecResult": "harness.runtime.service",
}
_ERRORS = list(_errors.__all__)
__all__ = sorted([*_WHERE, *_ERRORS])


def __getattr__(name: str) -> Any:
    if name in _ERRORS or name == "SpecUnavailable":  # the latter: a deprecated alias of OpenAPIUnavailable
        return getattr(_errors, name)
    if name == "ready":
        return importlib.import_module("harness.model.ready")
    if (module := _WHERE.get(name)) is not None:
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
