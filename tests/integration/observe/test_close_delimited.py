"""Issue #26, end to end against the real engine: calls whose responses end when the server closes the connection
(Python's BaseHTTPRequestHandler by default: HTTP/1.0, no Content-Length) are counted with their status, and
--observe-strict fails on them when no pact covers them (it passed on "0 call(s)" before: a false pass)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker

from harness.runtime import labels as L
from harness.runtime.observe import OBSERVES

from ..conftest import TOPOLOGIES, harness_resources


def test_close_delimited_responses_are_calls_with_their_status(tmp_path: Path,
                                                               docker_client: docker.DockerClient) -> None:
    folder = tmp_path / "close"
    shutil.copytree(TOPOLOGIES / "observe-close", folder)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "--topology",
                             "topology.yaml", "--observe", "--observe-strict", "frontapi_checks.py"],
                            cwd=folder, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "COLUMNS": "200"})
    output = result.stdout + result.stderr
    assert result.returncode == 1, output  # the strict gate fails: five calls no pact covers
    matrix = json.loads((folder / "reports" / "contract-matrix.json").read_text())
    edge = next(e for e in matrix["edges"] if e["consumer"] == "frontapi" and e["provider"] == "backend")
    observed = edge["observed"]
    assert (observed["calls"], observed["covered"]) == (5, 0), observed
    assert observed["uncovered"] == ["GET /items/1 -> 200: 5 call(s)"], observed
    assert "frontapi -> backend: 5 HTTP call(s), no pact covers this edge" in output
    assert "(tests) -> frontapi: 1 HTTP call(s)" in output  # (its answer ended by the close too)
    # said once in full (FAILURES), once in pytest's short summary: not again in the coverage section
    lines = output.splitlines()
    assert sum(line.startswith("observed coverage, strict: 5 call(s) between services uncovered") for line in lines) \
        == 1, output
    assert not any(line.startswith("FAILED observed coverage") for line in lines), output
    assert "FAILED topology.yaml::observed coverage, strict - observed coverage, strict: 5 call(s)" in output
    assert "no response" not in output
    file = (folder / "topology.yaml").resolve()
    assert harness_resources(docker_client, "observe-close", file) == []
    assert docker_client.containers.list(all=True, filters={"label": [OBSERVES, f"{L.FILE}={file}"]}) == []
