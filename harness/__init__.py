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

if TYPE_CHECKING:
    from harness.errors import *  # noqa: F403
    from harness.runtime.service import ExecResult, Service
    from harness.runtime.topology import StartEvent, Topology
    from harness.spec import ready
    from harness.spec.builder import TopologyBuilder, topology
    from harness.spec.loader import load_topology
    from harness.spec.model import (
        AuthSpec,
        BuildSpec,
        ContainerFile,
        ContractsSpec,
        FuzzSpec,
        Healthcheck,
        HttpCheck,
        Mount,
        ReadyProbe,
        ServiceSpec,
        TopologySpec,
        Ulimit,
        VolumeMount,
    )
    from harness.spec.plan import StartPlan

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
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
