"""pytest-topology[contracts] declares every library harness.contracts.drift imports (or the core does): drift must not
rely on what openapi-core happens to pull in. Checked over the source with `ast`, lazy imports included."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parents[2]


def _libraries(folder: Path) -> set[str]:
    """The top-level modules outside the standard library and harness that the files under `folder` import."""
    names: set[str] = set()
    for file in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            if isinstance(node, ast.Import):
                names |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.partition(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "harness"}


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _names(requirements: list[str]) -> set[str]:
    return {_normalised(re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0)) for requirement in requirements}


def test_the_contracts_extra_declares_every_library_drift_imports() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _names(project["dependencies"]) | _names(project["optional-dependencies"]["contracts"])
    distributions = packages_distributions()
    imported = {module: {_normalised(d) for d in distributions.get(module, [module])}
                for module in _libraries(ROOT / "harness" / "contracts" / "drift")}
    assert {"openapi_core", "yaml"} <= set(imported)  # the scan sees lazy imports and top-level ones
    assert {module: sorted(names) for module, names in imported.items() if not names & declared} == {}
