"""The stages of harness/ import only what the data flow allows (model -> runtime -> contracts, fuzz -> report ->
cli, pytest). Checked over the source with `ast`, lazy imports inside functions included."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).parents[2] / "harness"

# stage -> (third-party libraries it must not import, harness stages it may import)
RULES: dict[str, tuple[set[str], set[str]]] = {
    "model": ({"docker", "testcontainers", "pytest", "rich", "pact", "schemathesis", "requests"}, {"errors", "model"}),
    "runtime": ({"pytest", "rich", "pact", "schemathesis"}, {"errors", "model", "runtime"}),
    "contracts": ({"pytest", "rich", "schemathesis", "testcontainers"}, {"errors", "model", "runtime", "contracts"}),
    "fuzz": ({"pytest", "rich", "pact", "testcontainers"}, {"errors", "model", "runtime", "fuzz"}),
    "observe": ({"pytest", "rich", "schemathesis", "testcontainers"}, {"errors", "model", "runtime", "contracts", "observe"}),
    "report": ({"pytest", "testcontainers"}, {"errors", "model", "runtime", "contracts", "fuzz", "observe", "report"}),
    # the table of options and their resolution: no front-end's library; builds the inputs of model and fuzz
    "options": ({"docker", "testcontainers", "pytest", "rich", "pact", "schemathesis", "requests"},
                {"errors", "model", "fuzz", "options"}),
}
# modules under every stage: the errors, the one verdict of every check, and where the engine is (read from the
# environment and files only; the compose binary of model/ must target the engine that runtime/ connects to)
FOUNDATION = {"errors", "verdict", "engine_source", "hints"}  # hints: commands to run, with the engine
# (file, module): a convenience that reaches one stage further, imported lazily inside the function that needs it
ALLOWED = {("model/builder.py", "harness.runtime.topology")}
# the one adapter per library (a module or a package: its submodules count too)
ONLY_IN = {"testcontainers": {"runtime/containers.py"}, "openapi_core": {"contracts/drift/adapter.py"},
           "schemathesis.engine": {"fuzz/engine.py"}, "graphviz": {"report/graph.py"},
           "dockerfile_parse": {"runtime/dockerfile.py"}}


def _imports(file: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _files(stage: str) -> list[Path]:
    return sorted((HARNESS / stage).rglob("*.py"))


@pytest.mark.parametrize("stage", sorted(RULES))
def test_each_stage_imports_only_what_the_data_flow_allows(stage: str) -> None:
    forbidden, stages = RULES[stage]
    problems = []
    for file in _files(stage):
        relative = file.relative_to(HARNESS).as_posix()
        for module in _imports(file):
            top, _, rest = module.partition(".")
            if top in forbidden:
                problems.append(f"{relative} imports {module}")
            elif top == "harness" and rest and rest.split(".")[0] not in stages | FOUNDATION:
                if (relative, module) not in ALLOWED:
                    problems.append(f"{relative} imports {module}")
    assert problems == []


def test_each_stage_says_what_it_may_import() -> None:
    for stage in RULES:
        docstring = ast.get_docstring(ast.parse((HARNESS / stage / "__init__.py").read_text())) or ""
        assert "May import" in docstring, stage


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_one_adapter_per_library(library: str) -> None:
    users = {file.relative_to(HARNESS).as_posix() for file in HARNESS.rglob("*.py")
             if any(m == library or m.startswith(f"{library}.") for m in _imports(file))}
    assert users == ONLY_IN[library]


def test_errors_imports_only_the_standard_library() -> None:
    assert all(m.partition(".")[0] in {"__future__", "typing", "warnings"} for m in _imports(HARNESS / "errors.py"))


@pytest.mark.parametrize("script", sorted((HARNESS.parent / "bench").glob("*.py"))
                         + sorted((HARNESS.parent / "bench" / "plugins").glob("*.py")),
                         ids=lambda p: p.relative_to(HARNESS.parent / "bench").as_posix())
def test_bench_scripts_import(script: Path) -> None:
    """bench/ is not run by CI; importing each script (and each pytest plugin the scripts load into the runs they
    measure, bench/plugins/) at least catches names the harness no longer has."""
    import importlib.util

    loader = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    assert loader and loader.loader
    module = importlib.util.module_from_spec(loader)
    sys.modules[loader.name] = module  # as `python SCRIPT` has it: dataclasses look their module up there
    try:
        loader.loader.exec_module(module)
    finally:
        del sys.modules[loader.name]
    if script.parent.name == "plugins":
        assert any(name.startswith("pytest_") for name in vars(module))
    else:
        assert callable(getattr(module, "main", None))


def test_verdict_imports_only_the_standard_library_and_the_errors() -> None:
    allowed = {"__future__", "collections", "typing"}
    assert all(m.partition(".")[0] in allowed or m == "harness.errors" for m in _imports(HARNESS / "verdict.py"))


def test_no_module_passes_450_lines_and_no_class_250() -> None:
    """Rooms a newcomer can hold (issue #22): a module that grows past these is split by concern."""
    too_big = []
    for file in sorted(HARNESS.rglob("*.py")):
        relative = file.relative_to(HARNESS).as_posix()
        text = file.read_text()
        if len(text.splitlines()) > 450:
            too_big.append(f"{relative}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text, str(file))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None \
                    and node.end_lineno - node.lineno + 1 > 250:
                too_big.append(f"{relative}: class {node.name} {node.end_lineno - node.lineno + 1} lines")
    assert too_big == []
