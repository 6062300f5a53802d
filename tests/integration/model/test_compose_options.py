"""The compose options as a user gives them: pytest options and ini keys (profiles, env file, image substitutes),
the same options on the CLI, and notes for ignored keys printed one line each."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ..conftest import harness_resources

COMPOSE = """
name: optioned
services:
  api:
    image: ${API_IMAGE}
    command: ["sleep", "infinity"]
    restart: always
  admin:
    image: redis:7
    profiles: [debug]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> Path:
    (pytester.path / "docker-compose.yml").write_text(textwrap.dedent(COMPOSE).lstrip())
    (pytester.path / "ci.env").write_text("API_IMAGE=api-under-test:1\n")
    return pytester.path


def test_profiles_env_file_and_substitutes_from_ini(project, pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    pytester.makeini("""
        [pytest]
        topology = docker-compose.yml
        topology_profiles = debug
        topology_env_file = ci.env
        image_substitutes =
            api-under-test:1=python:3.11-slim
    """)
    pytester.makepyfile(test_it="""
        def test_both_services_run_on_their_images(topology):
            assert topology["admin"].status == "running"
            assert topology["api"].container.attrs["Config"]["Image"] == "python:3.11-slim"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["note: docker-compose.yml:6: services.api.restart: ignored for a test run "
                                 "(containers live only for the run; a service that stops is reported, not "
                                 "restarted)"])
    assert result.stdout.str().count("services.api.restart: ignored") == 1  # once per run
    assert "Warning" not in result.stdout.str()
    assert harness_resources(docker_client, "optioned") == []


def test_options_win_and_a_bad_substitute_is_a_usage_error(project, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it="def test_nothing(topology):\n    pass\n")
    result = pytester.runpytest_subprocess("--topology", "docker-compose.yml", "--topology-env-file", "ci.env",
                                           "--image-substitute", "api-under-test", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--image-substitute 'api-under-test': expected IMAGE=SUBSTITUTE*"])


def test_the_cli_takes_the_same_options(project) -> None:
    harness = shutil.which("harness", path=str(Path(sys.executable).parent))
    assert harness is not None
    graph = subprocess.run([harness, "graph", "docker-compose.yml", "--format", "text", "--topology-profile", "debug",
                            "--topology-env-file", "ci.env"], cwd=project, capture_output=True, text=True)
    assert graph.returncode == 0, graph.stderr
    assert "admin" in graph.stdout and "api" in graph.stdout
    assert "note: docker-compose.yml:6: services.api.restart: ignored for a test run" in graph.stderr
    bad = subprocess.run([harness, "graph", "docker-compose.yml"], cwd=project, capture_output=True, text=True)
    assert bad.returncode == 2
    assert "docker-compose.yml" in bad.stderr and "Traceback" not in bad.stderr
