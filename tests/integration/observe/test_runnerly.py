"""The issue's Done-when on Runnerly, against the real engine: `pytest --topology scenarios/runnerly/topology.yaml
--observe` of Runnerly's main story and the planted calls of planted_checks.py shows every edge's coverage in the
console, contract-matrix.json and the report page; the planted gaps are found, and nothing else is flagged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from harness.runtime import labels as L

ROOT = Path(__file__).parents[3]
RUNNERLY = ROOT / "scenarios" / "runnerly" / "topology.yaml"


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict, str]:
    """(the run, contract-matrix.json, the report page) of the main story and the planted calls, with
    --observe-strict."""
    folder = tmp_path_factory.mktemp("runnerly-observed")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-rA",
                             "--topology", str(RUNNERLY), "--observe", "--observe-strict",
                             "--topology-report", str(folder / "report.html"),
                             str(ROOT / "scenarios" / "runnerly" / "test_main_story.py"),
                             str(Path(__file__).with_name("planted_checks.py"))],
                            cwd=ROOT, capture_output=True, text=True, timeout=1200,
                            env={**os.environ, "COLUMNS": "250"})
    matrix = json.loads((folder / "contract-matrix.json").read_text())
    return result, matrix, (folder / "report.html").read_text()


def cell(matrix: dict, consumer: str, provider: str) -> dict:
    return next(e for e in matrix["edges"] if e["consumer"] == consumer and e["provider"] == provider)


def test_the_planted_uncovered_call_fails_the_strict_gate_and_only_it(observed) -> None:  # noqa: ANN001
    result, matrix, _ = observed
    assert result.returncode == 1, result.stdout[-5000:] + result.stderr[-3000:]
    summary = [line for line in result.stdout.splitlines()  # pytest's short summary (-rA): one line per item
               if line.startswith(("PASSED ", "FAILED ", "ERROR ")) and "::" in line]
    assert [line for line in summary if not line.startswith("PASSED")] == [
        "FAILED scenarios/runnerly/topology.yaml::observed coverage, strict - observed coverage, strict: 3 call(s) "
        "between services uncovered, 1 breaking the provider's document"]
    gateway = cell(matrix, "gateway", "dataservice")["observed"]
    assert [c for c in gateway["uncovered"] if c.startswith("GET /api/users -> 401: 1 call(s): Pact: request not found")]
    assert "gateway -> dataservice: 2 uncovered call(s) (no interaction covers them)" in result.stdout


def test_a_provider_answer_breaking_its_document_is_reported(observed) -> None:  # noqa: ANN001
    _, matrix, _ = observed
    gateway = cell(matrix, "gateway", "dataservice")["observed"]
    assert gateway["breaking"] == 1
    assert gateway["breaks"][0].startswith("GET /api/nothing-here -> 404: 1 call(s): ")


def test_an_edge_with_traffic_and_no_pact_appears(observed) -> None:  # noqa: ANN001
    result, matrix, page = observed
    strava = cell(matrix, "strava", "tokendealer")
    assert strava["status"] == "no pact" and strava["observed"]["label"] == "observed: 1, no pact"
    assert "strava -> tokendealer: 1 HTTP call(s), no pact covers this edge" in result.stdout
    assert "observed: 1, no pact" in page


def test_redis_and_postgresql_edges_are_counted_not_parsed(observed) -> None:  # noqa: ANN001
    _, matrix, _ = observed
    redis = cell(matrix, "gateway", "redis")["observed"]
    assert redis["calls"] == 0 and redis["not_inspected"] and all(" other: " in n or "before the capture" in n
                                                                  for n in redis["not_inspected"])
    postgres = cell(matrix, "dataservice", "postgres")["observed"]
    assert postgres["calls"] == 0 and postgres["not_inspected"]


def test_every_other_edge_with_an_http_pact_is_covered_and_nothing_else_flagged(observed) -> None:  # noqa: ANN001
    _, matrix, page = observed
    for edge in matrix["edges"]:
        observed_cell = edge["observed"]
        if observed_cell is None or (edge["consumer"], edge["provider"]) in (("gateway", "dataservice"),
                                                                             ("strava", "tokendealer")):
            continue
        assert observed_cell["uncovered"] == [] and observed_cell["breaking"] == 0, edge
    story = [(e["consumer"], e["provider"]) for e in matrix["edges"] if e["observed"] and e["observed"]["calls"]]
    for pair in [("gateway", "dataservice"), ("gateway", "tokendealer"), ("worker", "dataservice"),
                 ("worker", "strava"), ("worker", "tokendealer")]:  # the HTTP edges the main story takes
        assert pair in story
    assert cell(matrix, "worker", "strava")["observed"]["percent"] == 100
    # a pact interaction no test exercised is listed (the error cases only the consumers' own tests reach)
    assert "gateway-dataservice.json: a request for user 1 with a token dataservice refuses" in \
        cell(matrix, "gateway", "dataservice")["observed"]["never_exercised"]
    assert "Observed traffic (--observe)" in page


def test_nothing_is_left_running(observed, docker_client: docker.DockerClient) -> None:  # noqa: ANN001
    # (a kept run of the same file, e.g. bench/observe.py's, is not this session's)
    left = docker_client.containers.list(all=True, filters={"label": [f"{L.FILE}={RUNNERLY}"]})
    assert [c.name for c in left if c.labels.get(L.KEEP) != "true"] == []  # helpers (OBSERVES) included
