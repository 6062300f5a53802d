"""The public door (issue #22): what `harness` exports and what its documented submodules (`harness.pytest`,
`harness.contracts`, `harness.ready`, `harness.errors`) export, listed here so that the API changes only on purpose;
every name resolves, and what those modules define besides is private (a leading underscore)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from types import ModuleType

import harness
import harness.contracts
import harness.errors
import harness.pytest

HARNESS = Path(harness.__file__).parent

ERRORS = ["HarnessError", "TopologyFileError", "UnknownKeyword", "NotATopology", "DependencyCycle", "UnknownService",
          "UnknownProvider", "PortNotPublished", "InvalidCall", "OptionError", "BrokerRefused", "NothingToFuzz",
          "MalformedPact",
          "StatesModuleError", "MissingProviderStates", "MissingMessageProducer", "PactInputProblems",
          "ProviderStateFailed", "AuthHookError", "AuthRefused", "OpenAPIUnavailable", "SchemathesisUnsupported",
          "TopologyNotRunning", "InvalidFault", "ExtraMissing", "RemoteMount", "EnvironmentProblem",
          "DockerUnavailable", "DockerError", "ImageMissing", "ComposeUnavailable", "BuildFailed", "ServiceFailed",
          "ServiceNotReady", "ServiceExited", "HookFailed", "FaultError", "ObserveError", "TopologyShareError", "BrokerUnavailable",
          "PactVerifierError"]
HARNESS_API = ["AuthSpec", "BuildSpec", "ContainerFile", "ContractsSpec", "ExecResult", "FuzzSpec", "Healthcheck",
               "HttpCheck", "Mount", "ReadyProbe", "Service", "ServiceSpec", "StartEvent", "StartPlan", "Topology",
               "TopologyBuilder", "TopologySpec", "Ulimit", "VolumeMount", "load_topology", "ready", "topology"]
SUBMODULES = {
    "harness.pytest": ["pact", "pytest_addoption", "pytest_configure", "topology", "topology_fixture"],
    "harness.contracts": ["Message", "Registry", "bearer_token", "in_container", "load_states", "message_producer",
                          "provider_state"],
    "harness.ready": ["command", "http", "log", "tcp"],
    "harness.errors": ERRORS,
}


def _modules() -> dict[str, ModuleType]:
    return {"harness.pytest": harness.pytest, "harness.contracts": harness.contracts, "harness.ready": harness.ready,
            "harness.errors": harness.errors}


def test_harness_exports_the_listed_api_and_every_error_class() -> None:
    assert harness.__all__ == sorted([*HARNESS_API, *ERRORS])
    for name in harness.__all__:
        assert getattr(harness, name) is not None, name
    assert [name for name in harness.__all__ if name in ERRORS] == sorted(ERRORS)
    assert all(issubclass(getattr(harness, name), harness.HarnessError) for name in ERRORS)


def test_the_documented_submodules_export_the_listed_names_and_each_resolves() -> None:
    for module_name, module in _modules().items():
        assert list(module.__all__) == SUBMODULES[module_name], module_name
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module_name}.{name}"


def test_what_a_public_module_defines_besides_its_api_is_private() -> None:
    """Its own functions, classes and constants (not what it imports): in `__all__`, a pytest hook, or `_name`."""
    leaks = []
    for module_name, module in _modules().items():
        if module_name == "harness.contracts":  # a package door: it defines nothing, it imports its names
            continue
        tree = ast.parse(inspect.getsource(module))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [target.id for target in node.targets if isinstance(target, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            else:
                continue
            leaks += [f"{module_name}.{name}" for name in names if not name.startswith("_")
                      and not name.startswith("pytest_") and name not in module.__all__
                      and not (module_name == "harness.errors" and name.startswith("EXIT_"))]  # the exit codes
    assert leaks == []
