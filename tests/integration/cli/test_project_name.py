"""`-p NAME` / `--project-name NAME` on up, ps, logs and down, as Docker Compose has it: the project's name instead of
the file's (`${COMPOSE_PROJECT_NAME}` interpolates to it; the variable set is -p too), one file run as several
projects, and a run found by that name without the file."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker

from harness.model.base import topology_name

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")


def harness(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, timeout=600, cwd=cwd, env=env)


def test_up_ps_logs_and_down_by_project_name(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"f23-p-{uuid.uuid4().hex[:8]}"
    (tmp_path / "compose.yaml").write_text("""services:
  web:
    image: python:3.11-slim
    command: ["python", "-u", "-c", "print('web of ${COMPOSE_PROJECT_NAME}'); import time; time.sleep(10**6)"]
""")
    try:
        up = harness("up", "-p", name, "-f", "compose.yaml", "--detach", cwd=tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"remove it with: harness down -p {name} --topology compose.yaml" in up.stdout, up.stdout
        ps = harness("ps", "--project-name", name, cwd=tmp_path)
        rows = [line.split() for line in ps.stdout.splitlines()[1:]]  # under the header: that project's only
        assert [(row[0], row[2]) for row in rows] == [(name, "web")], ps.stdout
        other = harness("ps", "-p", f"{name}-other", cwd=tmp_path)
        assert other.stdout.strip() == "no topology is running", other.stdout
        logs = harness("logs", "-p", name, "web", cwd=tmp_path)
        assert logs.stdout == f"web of {name}\n", logs.stdout + logs.stderr
        mixed = harness("down", "-p", name, "--all", cwd=tmp_path)
        assert mixed.returncode == 2 and "give one of --topology FILE (with -p NAME or not), -p NAME, --run RUN or " \
                                          "--all" in mixed.stderr, mixed.stderr
    finally:
        down = harness("down", "-p", name, cwd=tmp_path)
    assert down.returncode == 0 and down.stdout.strip() == f"removed 1 container(s) of topology {name}", down.stdout
    assert harness_resources(docker_client, name) == []


def test_one_file_runs_as_two_projects_as_under_compose(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`up -p a` then `up -p b` (and COMPOSE_PROJECT_NAME) of one file: two projects, each its own run, as `docker
    compose -p a up -d` then `-p b`; `down` of one (by -p with the file, by the variable) leaves the others."""
    a, b, c = (f"b23c-{tag}-{uuid.uuid4().hex[:6]}" for tag in "abc")
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web:\n    image: python:3.11-slim\n"
                       "    command: [\"python\", \"-c\", \"import time; time.sleep(10**6)\"]\n")
    by_variable = {**os.environ, "COMPOSE_PROJECT_NAME": c}
    try:
        for name in (a, b):
            up = harness("up", "-p", name, "-f", "compose.yaml", "--detach", cwd=tmp_path)
            assert up.returncode == 0, up.stdout + up.stderr
        up = harness("up", "-f", "compose.yaml", "--detach", cwd=tmp_path, env=by_variable)
        assert up.returncode == 0 and f"topology {c} (run " in up.stdout, up.stdout + up.stderr
        runs = {name: _ps_rows(harness("ps", "-p", name, "-f", "compose.yaml", cwd=tmp_path)) for name in (a, b)}
        assert [row[:3] for row in runs[a]] == [[a, runs[a][0][1], "web"]], runs
        assert [row[:3] for row in runs[b]] == [[b, runs[b][0][1], "web"]] and runs[a][0][1] != runs[b][0][1], runs
        assert [row[0] for row in _ps_rows(harness("ps", cwd=tmp_path, env=by_variable))] == [c]
        down = harness("down", "-p", a, "-f", "compose.yaml", cwd=tmp_path)
        assert down.returncode == 0 and down.stdout.strip() == "removed 1 container(s)", down.stdout + down.stderr
        assert harness_resources(docker_client, a) == []
        # the others are another project each: named, with what removes them
        assert f"note: topology {b} of compose.yaml is running too (another project name); remove it with: harness " \
               f"down -p {b} --topology compose.yaml" in down.stderr, down.stderr
        assert harness_resources(docker_client, b) and harness_resources(docker_client, c)
        # without -p: the file's own project (its folder's name), as `docker compose down`: none of these
        default = harness("down", "-f", "compose.yaml", cwd=tmp_path)
        assert default.stdout.strip() == f"removed 0 container(s): no run of topology {topology_name(tmp_path.name)} " \
                                         "(compose.yaml) to remove", default.stdout
        assert harness_resources(docker_client, b) and harness_resources(docker_client, c)
        down = harness("down", "-f", "compose.yaml", cwd=tmp_path, env=by_variable)
        assert down.returncode == 0 and down.stdout.strip() == "removed 1 container(s)", down.stdout + down.stderr
        assert harness_resources(docker_client, c) == [] and harness_resources(docker_client, b)
    finally:
        for name in (a, b, c):
            harness("down", "-p", name, cwd=tmp_path)
    assert [harness_resources(docker_client, name) for name in (a, b, c)] == [[], [], []]


def _ps_rows(ps: subprocess.CompletedProcess[str]) -> list[list[str]]:
    assert ps.returncode == 0, ps.stdout + ps.stderr
    return [line.split() for line in ps.stdout.splitlines()[1:]]  # under the header


def test_a_project_name_compose_refuses_is_refused_with_composes_rule(tmp_path: Path) -> None:
    rule = ("must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a "
            "letter or number (Docker Compose's rule)")
    refused = harness("up", "-p", "F23", "-f", "compose.yaml", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"error: --project-name: invalid project name 'F23': {rule}; give 'f23', say"
    for command in (("down",), ("ps",), ("logs", "web")):
        refused = harness(*command, cwd=tmp_path, env={**os.environ, "COMPOSE_PROJECT_NAME": "My shop"})
        assert refused.returncode == 2, refused.stdout
        assert refused.stderr.strip() == (f"error: COMPOSE_PROJECT_NAME: invalid project name 'My shop': {rule}; "
                                          "give 'myshop', say")
