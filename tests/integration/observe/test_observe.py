"""Observed traffic against the real engine: a shop calling a stock service (and Redis), run by pytest --observe as a
team runs its tests. Every call is made by the shop's own code inside its container; the harness only watches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import docker
import pytest

from harness.runtime import labels as L
from harness.runtime.observe import OBSERVES

from ..conftest import TOPOLOGIES, harness_resources

HARNESS = Path(sys.executable).parent / "harness"


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    """(pytest's output, contract-matrix.json, the topology file) of one `pytest --observe` run of the shop's
    tests: three orders (the item and its price on one kept-alive connection, and an INCR in Redis) and one missing
    item (a 404 the stock's document lacks)."""
    folder = tmp_path_factory.mktemp("observe") / "shop"
    shutil.copytree(TOPOLOGIES / "observe-app", folder)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology", "topology.yaml",
                             "--observe", "shop_checks.py"], cwd=folder, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, json.loads((folder / "reports" / "contract-matrix.json").read_text()), \
        folder / "topology.yaml"


def edge(matrix: dict, consumer: str, provider: str) -> dict:
    return next(e for e in matrix["edges"] if e["consumer"] == consumer and e["provider"] == provider)


def test_the_calls_between_services_are_counted_per_edge(observed: tuple[str, dict, Path]) -> None:
    output, matrix, _ = observed
    stock = edge(matrix, "shop", "stock")["observed"]
    assert (stock["calls"], stock["covered"]) == (7, 3)  # 3 items, 3 prices, 1 missing item; 3 items covered
    assert "shop -> stock: 7 HTTP call(s), 3 covered (42.9%), 4 uncovered" in output
    # the tests' own calls to the shop come in through the network's gateway: told apart, not an edge
    assert "from outside the topology (the tests, the harness; not between services, not counted):\n" \
           "  (tests) -> shop: 4 HTTP call(s)\n" in output
    assert not any(e["consumer"] == "(tests)" for e in matrix["edges"])


def test_a_call_no_interaction_covers_is_reported_with_its_operation(observed: tuple[str, dict, Path]) -> None:
    output, matrix, _ = observed
    # with Pact's reason: its mock server, given the pact, refuses the request
    assert edge(matrix, "shop", "stock")["observed"]["uncovered"] == [
        "GET /items/{id}/price -> 200: 3 call(s): Pact: request not found",
        "GET /items/{id} -> 404: 1 call(s): no interaction answers 404"]
    assert "shop->stock uncovered: GET /items/{id}/price -> 200: 3 call(s): Pact: request not found" in output


def test_an_interaction_no_test_exercised_is_listed(observed: tuple[str, dict, Path]) -> None:
    output, matrix, _ = observed
    assert edge(matrix, "shop", "stock")["observed"]["never_exercised"] == ["shop-stock.json: an item deleted"]
    assert "shop->stock never exercised: shop-stock.json: an item deleted" in output


def test_a_status_the_providers_document_lacks_is_reported(observed: tuple[str, dict, Path]) -> None:
    output, matrix, _ = observed
    cell = edge(matrix, "shop", "stock")["observed"]
    assert cell["breaking"] == 1
    assert cell["breaks"] == ["GET /items/{id} -> 404: 1 call(s): GET /items/{id} documents 200"]


def test_the_pact_of_an_observed_edge_is_said_not_verified(observed: tuple[str, dict, Path]) -> None:
    _, matrix, _ = observed
    stock = edge(matrix, "shop", "stock")
    assert stock["status"] == "not verified" and stock["pact"].endswith("shop-stock.json")


def test_redis_is_counted_per_edge_not_parsed(observed: tuple[str, dict, Path]) -> None:
    output, matrix, _ = observed
    redis = edge(matrix, "shop", "redis")
    assert redis["status"] == "no pact"
    assert redis["observed"]["calls"] == 0
    # one connection per order; 3 x (INCR orders\r\n + :N\r\n) = 3 x 17 bytes
    assert redis["observed"]["not_inspected"] == ["port 6379 other: 3 connection(s), 51 bytes"]
    assert "shop -> redis: 3 other connection(s) on port 6379 (51 bytes, not inspected)" in output


def test_no_helper_is_left_running(observed: tuple[str, dict, Path], docker_client: docker.DockerClient) -> None:
    _, _, file = observed
    assert harness_resources(docker_client, "observe-shop", file) == []
    assert docker_client.containers.list(all=True, filters={"label": [OBSERVES, f"{L.FILE}={file.resolve()}"]}) == []


def test_up_observe_detach_is_refused_with_what_to_do(tmp_path: Path) -> None:
    result = subprocess.run([HARNESS, "up", "--observe", "--detach", "--topology",
                             str(TOPOLOGIES / "observe-app" / "topology.yaml")], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "harness up --observe --detach: nothing would read the capture once `up` returns; run `harness up " \
           "--observe`" in result.stderr
