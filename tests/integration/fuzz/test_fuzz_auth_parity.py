"""A service behind auth is fuzzed as plain `st run -H` fuzzes it: with the same seed and examples, the same requests
per operation and the same findings (tests/topologies/fuzz-app behind an API key; only GET operations, so the
answers do not depend on what was sent before and both runs can share one running service).

Schemathesis' negative mode makes cases that leave a required security header out. `st run -H` sends its headers with
every request all the same; the harness used to give its `auth:` to schemathesis as an auth provider instead, which
leaves those cases without the key: other answers (401), other data drawn after them, other requests and findings
(Runnerly's dataservice: 359 requests from `st run`, 345 from the harness with the same seed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from harness import Topology, load_topology
from harness.fuzz.options import FuzzOptions
from harness.fuzz.service import fuzz_service

from ..conftest import TOPOLOGIES, fresh_examples, write_topology

BIN = Path(sys.executable).parent
SEED, EXAMPLES, KEY = 5, 10, "fuzz-key"
TOPOLOGY = f"""
name: fuzz-auth-parity
services:
  keyed:
    build: {TOPOLOGIES / "fuzz-app"}
    environment: {{API_KEY: {KEY}}}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: /openapi.json
    auth:
      headers: {{X-API-Key: {KEY}}}
"""


def st_run(url: str, folder: Path) -> tuple[Counter[str], set[tuple[str, str]], str]:
    """Plain `st run` with its defaults, the key as `-H`, the seed, the examples and an empty example database: the
    requests it sent per operation ("GET /items/{id}": from its HAR report, a request of a method the path does not
    have counted under the path's operation, as schemathesis sends it for that operation), its failures as
    (operation, title), and its output."""
    har = folder / "st.har"
    result = subprocess.run([str(BIN / "st"), "run", f"{url}/openapi.json", "-H", f"X-API-Key: {KEY}", "-n",
                             str(EXAMPLES), "--seed", str(SEED), "--generation-database", fresh_examples(folder),
                             "--no-color", "--report", "har", "--report-har-path", str(har)],
                            capture_output=True, text=True, timeout=600, cwd=folder)
    assert result.returncode in (0, 1) and har.is_file(), result.stdout + result.stderr
    document = json.loads(subprocess.run(["curl", "-s", "-H", f"X-API-Key: {KEY}", f"{url}/openapi.json"],
                                         capture_output=True, text=True, check=True).stdout)
    paths = {template: re.compile(re.sub(r"\{[^}]+\}", "[^/]+", template) + "$") for template in document["paths"]}
    sent = Counter[str]()
    for entry in json.loads(har.read_text())["log"]["entries"]:
        method, path = entry["request"]["method"], urlsplit(entry["request"]["url"]).path
        template = next(t for t, pattern in paths.items() if pattern.match(path))
        methods = [m.upper() for m in document["paths"][template]]
        sent[f"{method if method in methods else methods[0]} {template}"] += 1
    found, operation = set(), ""
    for line in result.stdout.split("=== FAILURES ===", 1)[-1].splitlines():
        if header := re.fullmatch(r"_+ (.+?) _+", line):
            operation = header[1]
        elif failure := re.fullmatch(r"- (?:ST\d+ )?(.+)", line):
            found.add((operation, failure[1].strip()))
    return sent, found, result.stdout


def test_a_service_behind_auth_gets_the_requests_and_findings_of_st_run_with_its_headers(tmp_path: Path) -> None:
    spec = load_topology(write_topology(tmp_path, TOPOLOGY))
    with Topology.start(spec) as running:
        sent, found, output = st_run(running["keyed"].url, tmp_path)
        result = fuzz_service(running, "keyed", FuzzOptions(seed=SEED, max_examples=EXAMPLES))
    ours = {(f.operation, f.title) for f in result.findings if f.kind == "failure"}
    assert Counter(result.requests_by_operation) == sent, output
    assert result.requests == sum(sent.values()) and sent["GET /items"] and sent["GET /items/{id}"], output
    assert ours == found, output
