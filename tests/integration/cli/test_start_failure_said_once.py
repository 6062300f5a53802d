"""A start that fails says why once, in the error `harness up` ends with: its progress line only marks the service
(it said the error's headline as well, so the reason was printed twice, one line above the other)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest

from ..conftest import harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")

FAILING = {  # kind: (the service's settings, the error's headline)
    "exits 1": ('    command: ["python", "-c", "import sys; print(\'no config\'); sys.exit(1)"]\n',
                "service 'web' exited with code 1 during startup; its log ends: no config"),
    "never healthy": ('    command: ["python", "-c", "import time; time.sleep(10**6)"]\n'
                      '    healthcheck: {test: ["CMD", "false"], interval: 120s}\n'  # Docker says nothing for 120 s
                      "    x-topology: {timeout: 5}\n",
                      "service 'web' was not ready after "),
}


@pytest.mark.parametrize("kind", list(FAILING))
def test_a_failed_start_says_its_error_once(tmp_path: Path, docker_client: docker.DockerClient, kind: str) -> None:
    name = f"b23c-once-{uuid.uuid4().hex[:8]}"
    settings, headline = FAILING[kind]
    (tmp_path / "compose.yaml").write_text(f"name: {name}\nservices:\n  web:\n    image: python:3.11-slim\n{settings}")
    up = subprocess.run([HARNESS, "up", "-f", "compose.yaml", "--detach"], capture_output=True, text=True,
                        timeout=600, cwd=tmp_path)
    said = up.stdout + up.stderr
    assert up.returncode == 1, said
    assert said.count(headline) == 1, said
    lines = up.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(f"error: {headline}"), said
    assert "FAILED web" in lines and not any(line.startswith("FAILED web ") for line in lines), said  # marked only
    assert harness_resources(docker_client, name) == []
