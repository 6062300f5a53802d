"""`harness ps --topology FILE`: only the runs of that file, as `harness down --topology FILE` takes them."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import docker

from harness.runtime import labels as L

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


def test_ps_with_a_topology_lists_only_the_runs_of_that_file(tmp_path: Path,
                                                             docker_client: docker.DockerClient) -> None:
    names = {part: f"ps{part}-{uuid.uuid4().hex[:8]}" for part in ("a", "b", "c")}
    files = {}
    for part, name in names.items():
        (tmp_path / part).mkdir()
        files[part] = tmp_path / part / "compose.yaml"
        files[part].write_text(f"name: {name}\nservices:\n  {part}app: {{image: python:3.11-slim, command: [sleep, "
                               "infinity]}\n")
    try:
        for part in ("a", "b"):
            up = harness("up", "--topology", str(files[part]), "--detach", cwd=tmp_path)
            assert up.returncode == 0, up.stdout + up.stderr
        every = harness("ps", cwd=tmp_path)
        assert every.returncode == 0 and names["a"] in every.stdout and names["b"] in every.stdout, every.stdout
        only = harness("ps", "--topology", str(files["a"]), cwd=tmp_path)
        assert only.returncode == 0, only.stdout + only.stderr
        rows = only.stdout.splitlines()[1:]
        assert len(rows) == 1 and rows[0].split()[0] == names["a"] and " aapp " in rows[0], only.stdout
        assert names["b"] not in only.stdout
        none = harness("ps", "-f", str(files["c"]), cwd=tmp_path)
        assert none.returncode == 0, none.stdout + none.stderr
        assert none.stdout == f"no run of topology {names['c']} ({files['c'].resolve()}) is running\n"
    finally:
        for file in files.values():
            L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    for name in names.values():
        assert harness_resources(docker_client, name) == []
