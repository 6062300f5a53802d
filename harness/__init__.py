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
    spec/ -> runtime/ -> contracts/, fuzz/ -> report/ -> cli.py, pytest_plugin/
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness import errors as _errors

if TYPE_CHECKING:  # `X as X`: re-exported, for the type checkers of code that uses harness (py.typed)
    from harness.errors import *  # noqa: F403
    from harness.runtime.service import ExecResult as ExecResult
    from harness.runtime.service import Service as Service
    from harness.runtime.topology import StartEvent as StartEvent
    from harness.runtime.topology import Topology as Topology
    from harness.spec import ready as ready
    from harness.spec.builder import TopologyBuilder as TopologyBuilder
    from harness.spec.builder import topology as topology
    from harness.spec.loader import load_topology as load_topology
    from harness.spec.model import AuthSpec as AuthSpec
    from harness.spec.model import BuildSpec as BuildSpec
    from harness.spec.model import ContainerFile as ContainerFile
    from harness.spec.model import ContractsSpec as ContractsSpec
    from harness.spec.model import FuzzSpec as FuzzSpec
    from harness.spec.model import Healthcheck as Healthcheck
    from harness.spec.model import HttpCheck as HttpCheck
    from harness.spec.model import Mount as Mount
    from harness.spec.model import ReadyProbe as ReadyProbe
    from harness.spec.model import ServiceSpec as ServiceSpec
    from harness.spec.model import TopologySpec as TopologySpec
    from harness.spec.model import Ulimit as Ulimit
    from harness.spec.model import VolumeMount as VolumeMount
    from harness.spec.plan import StartPlan as StartPlan

_WHERE = {
    "load_topology": "harness.spec.loader",
    "topology": "harness.spec.builder", "TopologyBuilder": "harness.spec.builder",
    "ready": None,  # the module harness.spec.ready
    "TopologySpec": "harness.spec.model", "ServiceSpec": "harness.spec.model", "BuildSpec": "harness.spec.model",
    "ReadyProbe": "harness.spec.model", "HttpCheck": "harness.spec.model", "Mount": "harness.spec.model",
    "AuthSpec": "harness.spec.model", "ContractsSpec": "harness.spec.model", "FuzzSpec": "harness.spec.model",
    "Healthcheck": "harness.spec.model", "VolumeMount": "harness.spec.model", "ContainerFile": "harness.spec.model",
    "Ulimit": "harness.spec.model",  # the model classes the builder's keywords take, beside plain dicts
    "StartPlan": "harness.spec.plan",
    "Topology": "harness.runtime.topology", "StartEvent": "harness.runtime.topology",
    "Service": "harness.runtime.service", "ExecResult": "harness.runtime.service",
}
_ERRORS = list(_errors.__all__)
__all__ = sorted([*_WHERE, *_ERRORS])


def __getattr__(name: str) -> Any:
    if name in _ERRORS or name == "SpecUnavailable":  # the latter: a deprecated alias of OpenAPIUnavailable
        return getattr(_errors, name)
    if name == "ready":
        return importlib.import_module("harness.spec.ready")
    if (module := _WHERE.get(name)) is not None:
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
