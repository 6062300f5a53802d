"""The core install without the extras: pytest --topology and the core CLI work; every option and command that needs
pytest-topology[contracts] or [fuzz] says which one to install.

Nothing is uninstalled: the subprocesses run with the extras' modules made unimportable (a sys.meta_path finder that
refuses them) and without their pytest plugins (`-p no:NAME`: their entry points would not exist without them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FUZZ_CALM_PYTEST, TOPOLOGIES, harness_resources

REDIS_ONLY = str(TOPOLOGIES / "redis-only.yaml")
# the top-level modules the extras bring: pact-python, openapi-core; schemathesis and hypothesis (its dependency)
BLOCKED = ("pact", "openapi_core", "schemathesis", "hypothesis")
# the extras' own pytest plugins (entry points of their distributions); pytest's assertion rewriting would import
# their packages past the blocker (it claims every plugin distribution's modules), so it is off
NO_EXTRA_PLUGINS = ["-p", "no:pact", "-p", "no:schemathesis", "-p", "no:hypothesispytest", "--assert=plain"]

RUNNER = f"""
import sys

class WithoutExtras:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {BLOCKED!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)", name=name)
        return None

sys.meta_path.insert(0, WithoutExtras())
tool = sys.argv.pop(1)
if tool == "pytest":
    import pytest
    sys.exit(pytest.main())
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run(tmp_path: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    runner = tmp_path / "without_extras.py"
    runner.write_text(RUNNER)
    extra = NO_EXTRA_PLUGINS if tool == "pytest" else []
    return subprocess.run([sys.executable, str(runner), tool, *extra, *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=180)


def test_the_runner_really_blocks_the_extras(tmp_path: Path) -> None:
    (tmp_path / "test_import.py").write_text("def test_a():\n    import schemathesis\n")
    result = run(tmp_path, "pytest", "-p", "no:cacheprovider", "test_import.py")
    assert result.returncode == 1
    assert "blocked by the test" in result.stdout


def test_pytest_topology_works_without_the_extras(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    (tmp_path / "test_redis.py").write_text(
        "import socket, sys\n"
        "def test_redis(topology):\n"
        "    with socket.create_connection(('127.0.0.1', topology['redis'].port(6379)), timeout=5) as s:\n"
        "        s.sendall(b'PING\\r\\n')\n"
        "        assert s.recv(7) == b'+PONG\\r\\n'\n"
        f"    assert not [m for m in {BLOCKED!r} if m in sys.modules]\n")
    result = run(tmp_path, "pytest", "-p", "no:cacheprovider", "--topology", REDIS_ONLY, "test_redis.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert harness_resources(docker_client, "redis-only") == []


@pytest.mark.parametrize(("option", "package", "extra"), [
    ("--pact-verify", "pact-python", "contracts"),
    ("--pact-drift", "openapi-core", "contracts"),
    ("--fuzz", "schemathesis", "fuzz"),
])
def test_a_pytest_option_that_needs_a_missing_extra_is_a_usage_error(tmp_path: Path, docker_client, option: str,  # noqa: ANN001
                                                                     package: str, extra: str) -> None:
    (tmp_path / "test_a.py").write_text("def test_a(topology):\n    pass\n")
    result = run(tmp_path, "pytest", "-p", "no:cacheprovider", "--topology", REDIS_ONLY, option, "test_a.py")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert f"{option} needs {package}: pip install 'pytest-topology[{extra}]'" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert harness_resources(docker_client, "redis-only") == []  # stopped before anything started


def test_the_pact_fixture_without_pact_python_fails_the_test_with_the_message(tmp_path: Path) -> None:
    (tmp_path / "test_consumer.py").write_text("def test_consumer(pact):\n    pact('a', 'b')\n")
    result = run(tmp_path, "pytest", "-p", "no:cacheprovider", "test_consumer.py")
    assert result.returncode == 1
    assert "the `pact` fixture needs pact-python: pip install 'pytest-topology[contracts]'" in result.stdout
    assert "Traceback" not in result.stdout


@pytest.mark.parametrize(("command", "package", "extra"), [
    ("verify", "pact-python", "contracts"),
    ("drift", "openapi-core", "contracts"),
    ("fuzz", "schemathesis", "fuzz"),
])
def test_a_command_that_needs_a_missing_extra_exits_2(tmp_path: Path, command: str, package: str, extra: str) -> None:
    result = run(tmp_path, "harness", command, "--topology", REDIS_ONLY)
    assert result.returncode == 2
    assert f"harness {command} needs {package}: pip install 'pytest-topology[{extra}]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_core_commands_work_without_the_extras(tmp_path: Path) -> None:
    graph = run(tmp_path, "harness", "graph", REDIS_ONLY, "--format", "text")
    assert graph.returncode == 0, graph.stderr
    assert "redis" in graph.stdout
    assert run(tmp_path, "harness", "ps").returncode == 0


def test_fuzz_does_not_need_the_extras_own_pytest_plugins(pytester: pytest.Pytester) -> None:
    # README: a project that does not use schemathesis' or pact-python's pytest integration may opt out of their
    # plugins (-p no:...) to save their start-up cost; the harness uses their Python APIs only
    result = pytester.runpytest_subprocess("-p", "no:schemathesis", "-p", "no:hypothesispytest", "-p", "no:pact",
                                           "--topology", str(TOPOLOGIES / "buggy.yaml"), "--fuzz", "-v",
                                           *FUZZ_CALM_PYTEST, "-k", "stats")
    outcomes = result.parseoutcomes()  # the other operations are deselected (-k): however many there are
    assert (outcomes.get("failed"), outcomes.get("passed", 0), outcomes.get("errors", 0)) == (1, 0, 0)
    assert "fuzz[buggy GET /stats] FAILED" in result.stdout.str()
