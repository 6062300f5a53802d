"""`-p NAME` / `--project-name NAME` on up, ps, logs and down, as Docker Compose has it: the project's name instead of
the file's (`${COMPOSE_PROJECT_NAME}` interpolates to it), and a run found by that name without the file."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import docker

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


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


def test_a_project_name_compose_refuses_is_refused_with_composes_rule(tmp_path: Path) -> None:
    refused = harness("up", "-p", "F23", "-f", "compose.yaml", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("error: --project-name: 'F23' is not a valid project name: it must contain only "
                                      "characters from [a-z0-9_-] and start with [a-z0-9] (Docker Compose's rule)")
