"""The `note:` of each compose key ignored for a test run is said once per run: not once per command inside it, nor
twice (the loader's notes, the start, the reuse of a kept run), for a file with several ignored keys over several
services, in `harness verify` (a run of its own, and a kept run it uses), `harness up --detach` (a start, a reuse)
and `pytest --topology`; `harness logs` and `harness down`, which start nothing, say none. Against the real
engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import docker

from ..conftest import TOPOLOGIES, harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
COMPOSE = """\
name: {name}
services:
  shop:
    build: {shop}
    ports: ["8000"]
    restart: always
    logging: {{driver: json-file}}
    x-topology: {{ready: {{http: {{port: 8000, path: /health}}}}}}
  cache:
    image: redis:7
    restart: on-failure
    annotations: {{team: shop}}
    attach: false
    volumes: [data:/data]
volumes:
  data: {{labels: {{team: shop}}}}  # honoured: put on the run's volume, no note
"""
NOTES = [  # in the order of Compose's canonical form (services and keys by name), once each
    "note: compose.yaml:12: services.cache.annotations: ignored for a test run (OCI runtime annotations, read by "
    "runtime hooks only (docker-py has no argument for them))",
    "note: compose.yaml:13: services.cache.attach: ignored for a test run (only decides whose logs `docker compose up` "
    "prints)",
    "note: compose.yaml:11: services.cache.restart: ignored for a test run (containers live only for the run; a "
    "service that stops is reported, not restarted)",
    "note: compose.yaml:7: services.shop.logging: ignored for a test run (logs are read through the Docker API, "
    "from the engine's default log driver)",
    "note: compose.yaml:6: services.shop.restart: ignored for a test run (containers live only for the run; a "
    "service that stops is reported, not restarted)",
]
PACT = {"consumer": {"name": "web"}, "provider": {"name": "shop"}, "metadata": {"pactSpecification": {
    "version": "2.0.0"}}, "interactions": [{"description": "a health check", "request": {"method": "GET",
                                                                                        "path": "/health"},
                                            "response": {"status": 200}}]}


def said_notes(output: str) -> list[str]:
    """The note lines of a command's output (pytest's and rich's wrapping undone: a note is one line)."""
    return [line.strip() for line in output.splitlines() if line.strip().startswith("note: compose.yaml")]


def run(*words: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "400"}  # a note is one line, however long
    return subprocess.run(list(words), cwd=cwd, capture_output=True, text=True, timeout=900, env=env)


def test_each_ignored_key_is_noted_once_per_run_in_each_front_end(tmp_path: Path,
                                                                 docker_client: docker.DockerClient) -> None:
    name = f"notes-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE.format(name=name, shop=TOPOLOGIES / "pact-shop"))
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "web-shop.json").write_text(json.dumps(PACT))
    (tmp_path / "test_shop.py").write_text("import requests\n\n\ndef test_health(topology):\n"
                                           "    assert requests.get(topology['shop'].url + '/health').ok\n")
    try:
        alone = run(HARNESS, "verify", "-f", "compose.yaml", cwd=tmp_path)  # a run of its own, removed after
        assert alone.returncode == 0, alone.stdout + alone.stderr
        assert said_notes(alone.stderr + alone.stdout) == NOTES

        up = run(HARNESS, "up", "--detach", "-f", "compose.yaml", cwd=tmp_path)
        assert up.returncode == 0, up.stdout + up.stderr
        assert said_notes(up.stderr + up.stdout) == NOTES
        again = run(HARNESS, "up", "--detach", "-f", "compose.yaml", cwd=tmp_path)  # reusing the kept run
        assert again.returncode == 0 and said_notes(again.stderr + again.stdout) == NOTES, again.stderr

        kept = run(HARNESS, "verify", "-f", "compose.yaml", cwd=tmp_path)  # on the kept run
        assert kept.returncode == 0, kept.stdout + kept.stderr
        assert said_notes(kept.stderr + kept.stdout) == NOTES
        logs = run(HARNESS, "logs", "shop", "-f", "compose.yaml", cwd=tmp_path)  # starts nothing: says nothing
        assert logs.returncode == 0 and said_notes(logs.stderr + logs.stdout) == [], logs.stderr
    finally:
        down = run(HARNESS, "down", "-f", "compose.yaml", cwd=tmp_path)
        assert down.returncode == 0, down.stderr
    assert said_notes(down.stderr + down.stdout) == []

    session = run(sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology", "compose.yaml",
                  "test_shop.py", cwd=tmp_path)
    assert session.returncode == 0, session.stdout + session.stderr
    assert said_notes(session.stdout + session.stderr) == NOTES
    assert harness_resources(docker_client, name, file.resolve()) == []
