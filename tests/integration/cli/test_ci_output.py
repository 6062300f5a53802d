"""What a CI log shows (no terminal, `CI=true`, an 80-column `COLUMNS`): the tables of `harness up` and of pytest's
topology in one plain form (harness.report.console.plain_table), without ANSI codes, box drawing or a wrapped row."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
SERVICE = "f24f-payments-reconciliation-worker-for-eu-region"  # 49 characters: a row is wider than 80
BOX = re.compile("[\u2500-\u257f]")


def _topology(folder: Path) -> tuple[str, Path]:
    name = f"f24f-{uuid.uuid4().hex[:8]}"
    file = folder / "topology.yaml"
    file.write_text(f"name: {name}\nservices:\n  {SERVICE}:\n    image: python:3.11-slim\n"
                    "    command: [python, -m, http.server, '8000']\n    ports: ['8000']\n")
    return name, file


def _row_of_the_service(output: str) -> list[str]:
    """The service's row, split into its cells; asserts it is one line, unboxed and uncoloured."""
    assert "\x1b" not in output and not BOX.search(output), output
    rows = [line for line in output.splitlines() if line.startswith(f" {SERVICE} ")]
    assert len(rows) == 1, output
    assert len(rows[0]) > 80, output  # whole, past the 80 columns of COLUMNS
    return re.split(" {3,}", rows[0].strip())


def test_harness_up_prints_its_table_plain_in_a_ci_log(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name, file = _topology(tmp_path)
    env = {**os.environ, "CI": "true", "COLUMNS": "80"}
    try:
        up = subprocess.run([HARNESS, "up", "--detach", "--topology", str(file)], capture_output=True, text=True,
                            timeout=600, cwd=tmp_path, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        assert re.search(r"^ service {3,}url {3,}ports \(container -> [\d.]+\) {3,}status$", up.stdout, re.M), up.stdout
        service, url, ports, status = _row_of_the_service(up.stdout)
        assert (service, status) == (SERVICE, "running")
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and re.fullmatch(r"8000 -> \d+", ports), up.stdout
        assert "\x1b" not in up.stderr and not BOX.search(up.stderr), up.stderr  # the progress lines too
    finally:
        down = subprocess.run([HARNESS, "down", "--topology", str(file)], capture_output=True, text=True,
                              timeout=600, cwd=tmp_path, env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert harness_resources(docker_client, name) == []


def test_pytests_topology_table_is_plain_in_a_ci_log(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                      docker_client: docker.DockerClient) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("COLUMNS", "80")
    name, _ = _topology(pytester.path)
    pytester.makepyfile(test_x="def test_a(topology): assert topology\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--topology", "topology.yaml")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    output = result.stdout.str() + result.stderr.str()
    assert re.search(rf"^topology {name} \(run \w+\)$", output, re.M), output
    service, url, _, status = _row_of_the_service(output)
    assert service == SERVICE and url.startswith("http://127.0.0.1:") and status == "running", output
    assert harness_resources(docker_client, name) == []
