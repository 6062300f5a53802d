"""The error classes: fields declared on each class (typed keyword parameters, no `**fields`), kept through pickling
(errors travel between processes), the exit code of their kind, and no plain HarnessError raised anywhere."""

from __future__ import annotations

import ast
import inspect
import pickle
import warnings
from pathlib import Path

import pytest

import harness
from harness import errors

HARNESS = Path(harness.__file__).parent


@pytest.mark.parametrize("name", errors.__all__)
def test_every_error_class_declares_its_fields(name: str) -> None:
    parameters = inspect.signature(getattr(errors, name).__init__).parameters.values()
    assert not [p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert all(p.annotation is not inspect.Parameter.empty for p in parameters if p.name != "self")


@pytest.mark.parametrize(("error", "fields"), [
    (errors.ServiceExited("web exited 3", service="web", container_exit=3, oom_killed=True),
     {"service": "web", "container_exit": 3, "oom_killed": True, "exit_code": 1}),
    (errors.ServiceNotReady("slow", service="web", probe="tcp :80", waited=2.5, hint="raise timeout:"),
     {"service": "web", "probe": "tcp :80", "waited": 2.5, "hint": "raise timeout:", "exit_code": 1}),
    (errors.DockerError("refused", service="web", operation="start"),
     {"service": "web", "operation": "start", "run": None, "exit_code": 3}),
    (errors.ProviderStateFailed("`false` exited 1", service="api", command="false", command_exit=127),
     {"service": "api", "command": "false", "command_exit": 127, "exit_code": 1}),
    (errors.ImageMissing("Python:3.11 is no reference", images=["Python:3.11"], exit_code=2),
     {"images": ["Python:3.11"], "exit_code": 2}),
    (errors.OpenAPIUnavailable("no document", service="api", location="/openapi.json", status=404),
     {"service": "api", "location": "/openapi.json", "status": 404, "exit_code": 2}),
    (errors.UnknownService("web", ["api"], "shop"), {"name": "web", "known": ["api"], "topology": "shop",
                                                     "suggestion": None}),
    (errors.PactInputProblems(["a", "b"], ["fix", "fix"]), {"problems": ["a", "b"], "hints": ["fix"]}),
])
def test_fields_are_attributes_and_survive_pickling(error: errors.HarnessError, fields: dict[str, object]) -> None:
    copy = pickle.loads(pickle.dumps(error))
    for found in (error, copy):
        assert {name: getattr(found, name) for name in fields} == fields
        assert str(found) == str(error) and type(found) is type(error)


def test_a_hint_ends_the_message() -> None:
    error = errors.AuthHookError("cannot import shop.auth", service="api", hook="shop.auth:headers",
                                 hint="Check the module path.")
    assert str(error) == "cannot import shop.auth\nCheck the module path."
    assert (error.message, error.hint, error.service, error.hook) == ("cannot import shop.auth",
                                                                     "Check the module path.", "api",
                                                                     "shop.auth:headers")


def test_spec_unavailable_is_a_deprecated_name_of_openapi_unavailable() -> None:
    with pytest.warns(DeprecationWarning, match="SpecUnavailable is deprecated: use OpenAPIUnavailable"):
        assert harness.SpecUnavailable is errors.OpenAPIUnavailable
    with pytest.warns(DeprecationWarning):
        from harness.errors import SpecUnavailable  # noqa: F401
    assert "SpecUnavailable" not in harness.__all__ and "OpenAPIUnavailable" in harness.__all__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert harness.OpenAPIUnavailable is errors.OpenAPIUnavailable


def test_no_plain_harness_error_is_raised() -> None:
    """Each failure has a class of its kind (a program tells them apart by class, not by message)."""
    plain = []
    for file in HARNESS.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == \
                    "HarnessError":
                plain.append(f"{file.relative_to(HARNESS)}:{node.lineno}")
    assert plain == []
