"""`harness ps --topology FILE`: only the runs of that file, as `harness down --topology FILE` takes them."""

from __future__ import annotations

import re
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
                               "infinity], ports: ['8000']}\n")
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
        # on this machine's engine the header names the host; a cell gives the port alone (scripts read it)
        assert "ports (container -> 127.0.0.1)" in only.stdout.splitlines()[0], only.stdout
        assert re.search(r"   8000 -> \d+   ", rows[0]), only.stdout
        none = harness("ps", "-f", str(files["c"]), cwd=tmp_path)
        assert none.returncode == 0, none.stdout + none.stderr
        assert none.stdout == f"no run of topology {names['c']} ({files['c'].resolve()}) is running\n"
    finally:
        for file in files.values():
            L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    for name in names.values():
        assert harness_resources(docker_client, name) == []


def test_up_and_ps_show_every_binding_of_a_port_and_a_finished_job_with_its_exit_code(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """A container port bound twice (`ports: ["8080:8000", "8081:8000"]`) has two host ports, as `docker compose ps`
    lists them; a job that ended well is `exited (0)` (Compose: "Exited (0)"); a healthcheck's exec form is said as a
    line a shell would run."""
    name = f"psbind-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(f"""name: {name}
services:
  job:
    image: python:3.11-slim
    command: [python, -c, "print('migrated')"]
  app:
    image: python:3.11-slim
    command: [python, -m, http.server, "8000"]
    ports: ["8080:8000", "8081:8000"]
    healthcheck: {{test: [CMD, python, -c, 'import socket; socket.create_connection(("127.0.0.1", 8000))'],
                  interval: 1s}}
    depends_on: {{job: {{condition: service_completed_successfully}}}}
""")
    try:
        up = harness("up", "--topology", str(file), "--detach", cwd=tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        shown = "command `python -c 'import socket; socket.create_connection((\"127.0.0.1\", 8000))'` exits 0"
        assert shown in up.stderr, up.stderr  # one argument, quoted as a shell would need it
        # no terminal: the table's rows as plain columns, three spaces apart (harness.report.console.plain_table)
        rows = [re.split(" {3,}", row.strip()) for row in up.stdout.splitlines() if row.startswith(" ")]
        table = {cells[0]: cells[1:] for cells in rows[1:]}
        bound = re.fullmatch(r"8000 -> (\d+), 8000 -> (\d+)", table["app"][1])
        assert bound and bound[1] != bound[2], up.stdout
        assert table["job"][2] == "exited (0)", up.stdout
        for port in bound.groups():  # both answer
            assert subprocess.run(["curl", "-sf", "-o", "/dev/null", f"http://127.0.0.1:{port}/"]).returncode == 0
        ps = harness("ps", "--topology", str(file), cwd=tmp_path)
        rows = {row.split()[2]: row for row in ps.stdout.splitlines()[1:]}
        assert f"8000 -> {bound[1]}, 8000 -> {bound[2]}" in rows["app"], ps.stdout
        assert " exited (0) " in rows["job"], ps.stdout
    finally:
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name) == []
