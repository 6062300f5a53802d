"""The package is typed for the code that uses it (PEP 561): the built package ships `py.typed`, and a type checker
in strict mode sees every public name of `harness` with its type, so that it finds a user's type errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import harness

ROOT = Path(__file__).parents[2]


def test_a_type_checker_sees_the_public_names_of_the_built_package_with_their_types(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT / "harness", source / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    built = tmp_path / "built"
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py", "--build-lib",
                    str(built)], cwd=source, check=True, capture_output=True)
    assert (built / "harness" / "py.typed").is_file()

    user = tmp_path / "user.py"
    user.write_text(f"import harness.pytest\nfrom harness import {', '.join(harness.__all__)}\n"
                    "with topology('shop').service('redis', image='redis:7', ports=[6379]).start() as running:\n"
                    "    url: int = running['redis'].url\n"
                    "spec = TopologySpec(name='s', services={'a': {'image': 'redis:7'}, 'b': ServiceSpec(image='x')})\n"
                    "fixture = harness.pytest.topology_fixture(spec, scope='module')\n"
                    "wrong = harness.pytest.topology_fixture(42)\n")
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--cache-dir",
                              str(tmp_path / "cache"), user.name], cwd=tmp_path, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(built)})
    # the user's own errors (a URL is a str, 42 is no topology); no name is missing and none is Any; a spec's
    # services may be plain mappings, as at run time
    assert checked.stdout.splitlines()[0] == (
        'user.py:4: error: Incompatible types in assignment (expression has type "str", variable has type "int")  '
        "[assignment]")
    assert checked.stdout.splitlines()[1].startswith(
        'user.py:7: error: Argument 1 to "topology_fixture" has incompatible type "int"; expected ')
    assert checked.stdout.splitlines()[2:] == ["Found 2 errors in 1 file (checked 1 source file)"]
