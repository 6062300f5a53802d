"""--observe on a kept run (--topology-reuse) against the real engine: the helpers stay with the run at the session's
end and the next observed session reuses them, counting its own calls only; a service started again between the
sessions gets a new helper; `harness down` removes them with the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from harness.runtime import labels as L
from harness.runtime.observe import OBSERVES

from ..conftest import TOPOLOGIES, harness_resources

HARNESS = Path(sys.executable).parent / "harness"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Path]:
    """The shop's folder (its own copy: its own kept run), the run taken down at the end whatever happened."""
    folder = tmp_path / "b26c-shop"
    shutil.copytree(TOPOLOGIES / "observe-app", folder)
    yield folder
    subprocess.run([HARNESS, "down", "--topology", str(folder / "topology.yaml")], capture_output=True, timeout=300)


RESTARTING_CHECKS = """\
import requests


def test_stock_started_again_then_orders(topology):
    topology["stock"].restart()
    for item in (1, 2, 1):
        assert requests.get(topology["shop"].url + f"/order/{item}", timeout=10).json()["price"]["price"] == 3 * item
"""


def observed_session(folder: Path, checks: str = "shop_checks.py") -> tuple[str, dict]:
    """(output, contract-matrix.json) of one `pytest --topology-reuse --observe` session of the shop's tests."""
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology", "topology.yaml",
                             "--topology-reuse", "--observe", checks], cwd=folder, capture_output=True,
                            text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, json.loads((folder / "reports" / "contract-matrix.json").read_text())


def helpers(client: docker.DockerClient, folder: Path) -> dict[str, str]:
    """Observed service -> its helper's id, of the shop's run (running or not)."""
    found = client.containers.list(all=True, sparse=True, filters={
        "label": [OBSERVES, f"{L.FILE}={(folder / 'topology.yaml').resolve()}"]})
    assert len(found) == len({c.attrs["Labels"][OBSERVES] for c in found}), "one helper per service"
    return {c.attrs["Labels"][OBSERVES]: c.id for c in found}


def stock_calls(matrix: dict) -> tuple[int, int]:
    edge = next(e for e in matrix["edges"] if e["consumer"] == "shop" and e["provider"] == "stock")
    return edge["observed"]["calls"], edge["observed"]["covered"]


def test_a_kept_run_keeps_its_helpers_and_each_session_counts_its_own_calls(
        shop: Path, docker_client: docker.DockerClient) -> None:
    output, matrix = observed_session(shop)
    assert stock_calls(matrix) == (7, 3)  # 3 items, 3 prices, 1 missing item (as in test_observe.py)
    first = helpers(docker_client, shop)
    assert sorted(first) == ["redis", "shop", "stock"]
    assert all(docker_client.containers.get(id_).status == "running" for id_ in first.values())

    output, matrix = observed_session(shop)  # the same helpers, what they saw before forgotten
    assert helpers(docker_client, shop) == first
    assert stock_calls(matrix) == (7, 3), output
    assert "shop -> stock: 7 HTTP call(s), 3 covered (42.9%), 4 uncovered" in output
    assert "(tests) -> shop: 4 HTTP call(s)\n" in output

    stock = docker_client.containers.get(next(c.id for c in docker_client.containers.list(filters={"label": [
        f"{L.SERVICE}=stock", f"{L.FILE}={(shop / 'topology.yaml').resolve()}"]})))
    stock.restart(timeout=5)  # a new network namespace: its old helper watches nothing any more
    output, matrix = observed_session(shop)
    third = helpers(docker_client, shop)  # (one per service: the others were removed)
    assert third["stock"] != first["stock"]  # a new one in its new namespace, the old one removed
    assert stock_calls(matrix) == (7, 3), output

    # started again by a test in two sessions: the second's new helper is named apart from the one it reused
    (shop / "restarting_checks.py").write_text(RESTARTING_CHECKS)
    for _ in range(2):
        output, matrix = observed_session(shop, "restarting_checks.py")
        assert stock_calls(matrix)[0] == 6, output  # 3 items, 3 prices, seen by the shop's capture (it ran through)
        assert "started again during the run and not observed since" not in output

    down = subprocess.run([HARNESS, "down", "--topology", str(shop / "topology.yaml")], capture_output=True,
                          text=True, timeout=300)
    assert down.returncode == 0, down.stdout + down.stderr
    assert helpers(docker_client, shop) == {}
    assert harness_resources(docker_client, "observe-shop", shop / "topology.yaml") == []
