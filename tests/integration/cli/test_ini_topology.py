"""`harness up/logs/down` with no topology file given use the one the pytest ini file names (found from the current
folder upwards, its path relative to the ini file); `harness down` where no ini names one removes the kept runs of the
topology files under the current folder, as before. Against the real engine."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from ..conftest import harness_resources, write_topology

HARNESS = str(Path(sys.executable).parent / "harness")
WEB = """name: {name}
services:
  web:
    image: python:3.11-slim
    command: ["python", "-u", "-c", "print('web is up'); import http.server as h; h.test(h.SimpleHTTPRequestHandler, port=8000)"]
    ready: {{tcp: 8000}}
"""


def harness(*words: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *words], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_up_logs_and_down_use_the_ini_topology_and_down_without_one_keeps_its_folder_rule(
        tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    project, bare = tmp_path / "project", tmp_path / "bare"
    (project / "tests").mkdir(parents=True)
    bare.mkdir()
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntopology = ["topology.yaml"]\n')
    names = [f"ini-{uuid.uuid4().hex[:8]}", f"no-ini-{uuid.uuid4().hex[:8]}"]
    files = [write_topology(project, WEB.format(name=names[0])), write_topology(bare, WEB.format(name=names[1]))]
    try:
        up = harness("up", "--detach", cwd=project / "tests")  # no file given: the ini's
        assert up.returncode == 0, up.stderr
        assert harness_resources(docker_client, names[0], files[0])
        logs = harness("logs", "web", cwd=project / "tests")
        assert (logs.returncode, logs.stdout.splitlines()[:1]) == (0, ["web is up"]), logs.stderr
        down = harness("down", cwd=project / "tests")
        assert down.returncode == 0, down.stderr
        assert " ".join(down.stdout.split()) == (f"removed 1 container(s) of topology {names[0]} (the ini key "
                                                 f"`topology` in {project / 'pyproject.toml'}; `harness down --all`: "
                                                 "every kept topology)")
        assert harness_resources(docker_client, names[0], files[0]) == []

        up = harness("up", "--detach", "--topology", "topology.yaml", cwd=bare)  # no ini file from here upwards
        assert up.returncode == 0, up.stderr
        down = harness("down", cwd=bare)
        assert down.returncode == 0, down.stderr
        assert " ".join(down.stdout.split()) == (f"removed 1 container(s) of topology files under {bare} (`harness "
                                                 "down --all`: wherever their file is)")
        assert harness_resources(docker_client, names[1], files[1]) == []
    finally:
        for file in files:  # scoped to this test's own files
            harness("down", "--topology", str(file), cwd=file.parent)
