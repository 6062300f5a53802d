"""The harness counts, names and records fuzz failures as `st run` does on the same service and seed: one failure
two checks report alike (a response without Content-Type) is one finding and one baseline entry; a request of a
method the document does not declare (the coverage phase's TRACE on a documented path) is named by that method.
Against a real service and `st run` itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import Topology, load_topology

from ..conftest import fresh_examples, write_topology

BIN = Path(sys.executable).parent
SEED, EXAMPLES, PHASES = "5", "10", "examples,coverage,fuzzing"
APP = '''\
import http.server, json

DOCUMENT = {"openapi": "3.0.3", "info": {"title": "rates", "version": "1"}, "paths": {"/rates": {"get": {
    "responses": {"200": {"description": "rates", "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": {"type": "number"}}}}}}}}}}


class Handler(http.server.BaseHTTPRequestHandler):  # any other method: the standard library's 501
    def do_GET(self):
        body = json.dumps(DOCUMENT if self.path == "/openapi.json" else {"eur": 1.0}).encode()
        self.send_response(200)
        if self.path == "/openapi.json":
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))  # /rates: no Content-Type (the planted fault)
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("", 8000), Handler).serve_forever()
'''


@pytest.fixture(scope="module")
def rates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("st-counts")
    (folder / "app").mkdir()
    (folder / "app" / "app.py").write_text(APP)
    (folder / "app" / "Dockerfile").write_text('FROM python:3.11-slim\nCOPY app.py /app.py\nCMD ["python", "/app.py"]\n')
    topology = write_topology(folder, """
name: st-counts
services:
  rates:
    build: ./app
    ports: [8000]
    ready: {tcp: 8000}
    openapi: /openapi.json
""")
    with Topology.start(load_topology(topology), shared=True) as running:
        yield topology, running["rates"].url


def harness_fuzz(topology: Path, baseline: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "harness"), "fuzz", "--topology", str(topology), "--seed", SEED,
                           "--max-examples", EXAMPLES, "--phases", PHASES, "--baseline", str(baseline)],
                          capture_output=True, text=True, timeout=600)


def st_run(url: str, baseline: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "st"), "run", f"{url}/openapi.json", "-n", EXAMPLES, "--seed", SEED,
                           "--phases", PHASES, "--baseline", str(baseline), "--no-color",
                           "--generation-database", fresh_examples(cwd)],
                          capture_output=True, text=True, timeout=600, cwd=cwd)


def entries(baseline: Path) -> set[tuple[str, str, str, str]]:
    return {(e["operation"], e["check"], e["failure"], e["signature"])
            for e in json.loads(baseline.read_text())["entries"]}


def test_one_failure_two_checks_report_is_one_finding_and_one_baseline_entry(rates: tuple[Path, str],
                                                                              tmp_path: Path) -> None:
    topology, url = rates
    ours, theirs = tmp_path / "harness.json", tmp_path / "st.json"
    harness, plain = harness_fuzz(topology, ours), st_run(url, theirs, tmp_path)
    assert harness.returncode == 1 and plain.returncode == 1, (harness.stderr, plain.stdout)
    assert "ST104" in plain.stdout and "ST104" in harness.stderr
    # both checks see the missing header; `st run` counts it once, under the check that reported it first
    assert entries(ours) == entries(theirs), harness.stderr
    missing = [entry for entry in entries(ours) if entry[2] == "MissingContentType"]
    assert len(missing) == 1, missing
    # the 501 of a TRACE the coverage phase sent is named by its method, as `st run` names it
    assert "TRACE /rates" in plain.stdout
    assert "GET /rates: Server error (not_a_server_error [ST101], sent as TRACE /rates: a method the document does " \
           "not declare, coverage phase)" in harness.stderr, harness.stderr

    # each tool's baseline gives the same verdict under both: the failures each accepts, and the new ones (after an
    # accepted content_type_conformance, `st run` counts the same missing header under response_schema_conformance
    # as new: schemathesis' own rule, which the harness follows)
    for baseline in (ours, theirs):
        ran = harness_fuzz(topology, baseline)
        replay = st_run(url, baseline, tmp_path)
        assert ran.returncode == replay.returncode, (ran.stderr, replay.stdout)
        assert ("FAILED rates GET /rates: Missing Content-Type header" in ran.stderr) == \
            ("ST104 Missing Content-Type header: 1" in replay.stdout), (ran.stderr, replay.stdout)
