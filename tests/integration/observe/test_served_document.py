"""Which OpenAPI document judges observed calls, against the real engine: for `openapi: /openapi.json` the one the
running service serves (what `st run` on its URL would use), not an older file of that name in its build context;
the file only when nothing runs to fetch it from. Each edge says which one judged its calls."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import requests

from harness.contracts.drift.sources import find_document, running_fetcher
from harness.model.loader import load_topology
from harness.observe import ObserveRun
from harness.report.observe import observed_text
from harness.runtime.topology import Topology

from ..conftest import TOPOLOGIES


def test_the_served_document_judges_the_calls_not_an_older_file_of_the_build_context(tmp_path: Path) -> None:
    shutil.copytree(TOPOLOGIES / "buggy-app", tmp_path / "buggy-app")
    # an older document next to the app: it said a fraction was a string; the service now serves "number"
    older = {"openapi": "3.0.3", "info": {"title": "buggy, older", "version": "0.9"}, "paths": {
        "/fraction/{n}": {"get": {"parameters": [{"name": "n", "in": "path", "required": True,
                                                  "schema": {"type": "integer"}}],
                                  "responses": {"200": {"description": "n / 100", "content": {"application/json": {
                                      "schema": {"type": "object", "properties": {"fraction": {"type": "string"}}}}}}}}}}}
    file = tmp_path / "buggy-app" / "openapi.json"
    file.write_text(json.dumps(older))
    (tmp_path / "topology.yaml").write_text(
        "name: f26h-served\nservices:\n  buggy:\n    build: ./buggy-app\n    ports: [8000]\n"
        "    ready:\n      http: {port: 8000, path: /health}\n    openapi: /openapi.json\n")
    spec = load_topology(tmp_path / "topology.yaml")
    with Topology.start(spec) as topology:
        run = ObserveRun(spec, topology)
        run.start()
        try:
            assert requests.get(f"{topology['buggy'].url}/fraction/5", timeout=30).json() == {"fraction": 0.05}
        finally:
            result = run.finish()
        url = f"{topology['buggy'].url}/openapi.json"
        [tests] = result.edges
        assert (tests.calls, tests.breaking) == (1, 0)  # the older file: "0.05 is not of type 'string'"
        assert tests.document == f"served by the running topology at {url} (run {topology.run_id}), not the file " \
                                 f"{file} in its build context"
        assert "breaks the document" not in observed_text(result)
        data, source, _ = find_document(spec, "buggy", running_fetcher(spec, topology))  # drift's rule: the same
        assert data["info"]["title"] == "buggy" and source == tests.document
    data, source, found = find_document(spec, "buggy", running_fetcher(spec))  # nothing runs: the file, and why
    assert (data["info"]["title"], found) == ("buggy, older", file)
    assert source == f"file {file} in the build context of buggy (it serves /openapi.json; not fetched: no running " \
                     "topology f26h-served)"
