"""The gates (--observe-fail-under, --observe-strict) and pytest-xdist, against the real engine: the shop's tests of
tests/topologies/observe-app run by pytest as a team runs them (7 calls shop -> stock: 3 covered, 4 uncovered, one of
them a 404 its document lacks)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import docker
import pytest

from harness.runtime import labels as L
from harness.runtime.observe import OBSERVES

from ..conftest import TOPOLOGIES, harness_resources


def run_shop(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict, ElementTree.Element]:
    """pytest --observe of the shop's tests in a copy of the project: (the run, contract-matrix.json, JUnit root)."""
    shutil.copytree(TOPOLOGIES / "observe-app", folder)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", "--topology",
                             "topology.yaml", "--observe", "--junitxml", "junit.xml", *args, "shop_checks.py"],
                            cwd=folder, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "COLUMNS": "200"})
    matrix = json.loads((folder / "reports" / "contract-matrix.json").read_text())
    return result, matrix, ElementTree.parse(folder / "junit.xml").getroot()


def stock(matrix: dict) -> dict:
    return next(e for e in matrix["edges"] if e["consumer"] == "shop" and e["provider"] == "stock")["observed"]


def cases(junit: ElementTree.Element) -> dict[str, str]:
    """JUnit testcase name -> passed / failure / error."""
    return {case.get("name", ""): next((child.tag for child in case if child.tag in ("failure", "error")), "passed")
            for case in junit.iter("testcase")}


def no_leftovers(client: docker.DockerClient, folder: Path) -> None:
    file = (folder / "topology.yaml").resolve()
    assert harness_resources(client, "observe-shop", file) == []
    assert client.containers.list(all=True, filters={"label": [OBSERVES, f"{L.FILE}={file}"]}) == []


def test_the_gates_are_test_cases_of_their_own(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    result, matrix, junit = run_shop(tmp_path / "shop", "--observe-fail-under", "30", "--observe-strict", "-v")
    assert result.returncode == 1, result.stdout + result.stderr
    # the gates count as collected: pytest's progress ends at 100% with them (it read 150%, 200%)
    progress = [line.rsplit("[", 1)[-1] for line in result.stdout.splitlines() if line.rstrip().endswith("%]")]
    assert progress == [" 25%]", " 50%]", " 75%]", "100%]"], result.stdout
    assert cases(junit) == {"test_orders": "passed", "test_missing": "passed",
                            "observed coverage >= 30%": "passed", "observed coverage, strict": "failure"}
    assert "passed observed coverage >= 30%: 1 of 3 kinds of calls between services (edge, method, path template, " \
           "status) covered by a pact interaction in every call (33.3%), at least 30%" in result.stdout
    assert "FAILED topology.yaml::observed coverage, strict - observed coverage, strict: 4 call(s) between services " \
           "uncovered, 1 breaking the provider's document" in result.stdout
    assert "shop -> stock: 4 uncovered call(s) (no interaction covers them): GET /items/{id}/price -> 200 (3): " \
           "Pact: request not found; GET /items/{id} -> 404 (1): " \
           "no interaction answers 404" in result.stdout
    assert "1 failed, 3 passed" in result.stdout.splitlines()[-1]
    assert (stock(matrix)["calls"], stock(matrix)["covered"]) == (7, 3)
    no_leftovers(docker_client, tmp_path / "shop")


def test_a_gate_without_observe_is_refused(tmp_path: Path) -> None:
    shutil.copytree(TOPOLOGIES / "observe-app", tmp_path / "shop")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology", "topology.yaml",
                             "--observe-strict", "shop_checks.py"], cwd=tmp_path / "shop", capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 4
    assert "--observe-strict is a gate on the observed traffic: add --observe (or the ini key topology_observe = " \
           "true)" in result.stderr


@pytest.mark.parametrize("mode", [[], ["--topology-per-worker"]], ids=["shared", "per-worker"])
def test_under_xdist_every_workers_calls_count_once(tmp_path: Path, docker_client: docker.DockerClient,
                                                     mode: list[str]) -> None:
    """-n 2: the two tests run on two workers; the calls of both are on the edge, each once, as without xdist."""
    result, matrix, junit = run_shop(tmp_path / "shop", "-n", "2", "--dist", "load", "--observe-fail-under", "30",
                                     *mode)
    assert result.returncode == 0, result.stdout + result.stderr
    assert cases(junit) == {"test_orders": "passed", "test_missing": "passed", "observed coverage >= 30%": "passed"}
    # the gate is counted as it is reported (xdist counts its workers' items): the progress stays at 100%
    assert "[100%]" in result.stdout and "[150%]" not in result.stdout, result.stdout
    observed = stock(matrix)
    assert (observed["calls"], observed["covered"], observed["breaking"]) == (7, 3, 1)
    assert observed["uncovered"] == [
        "GET /items/{id}/price -> 200: 3 call(s): Pact: request not found",
        "GET /items/{id} -> 404: 1 call(s): no interaction answers 404"]
    redis = next(e for e in matrix["edges"] if e["provider"] == "redis")["observed"]
    assert redis["not_inspected"] == ["port 6379 other: 3 connection(s), 51 bytes"]
    assert "(tests) -> shop: 4 HTTP call(s)" in result.stdout
    no_leftovers(docker_client, tmp_path / "shop")


def test_harness_up_judges_the_gates_at_ctrl_c_with_a_junit_case_each(tmp_path: Path,
                                                                      docker_client: docker.DockerClient) -> None:
    import re
    import signal

    import requests

    folder = tmp_path / "shop"
    shutil.copytree(TOPOLOGIES / "observe-app", folder)
    up = subprocess.Popen([str(Path(sys.executable).parent / "harness"), "up", "--topology", "topology.yaml",
                           "--observe", "--observe-fail-under", "30", "--observe-strict", "--junit", "gates.xml"],
                          cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    try:
        assert up.stdout is not None
        lines = []
        for line in up.stdout:  # until the table shows the shop's URL: the capture has started by then
            lines.append(line)
            if line.startswith(" shop "):  # (a row of the table without a terminal)
                break
        shop = re.search(r"http://127\.0\.0\.1:\d+", lines[-1])
        assert shop is not None, lines
        for item in (1, 2, 1):
            assert requests.get(f"{shop.group(0)}/order/{item}", timeout=30).status_code == 200
        assert requests.get(f"{shop.group(0)}/missing", timeout=30).status_code == 200
        for line in up.stdout:  # (Ctrl-C once it runs: before, it stops the start and says nothing observed)
            lines.append(line)
            if line.startswith("running, observing the calls between services; press Ctrl-C"):
                break
        up.send_signal(signal.SIGINT)
        out, err = up.communicate(timeout=300)
        out = "".join(lines) + out
    finally:
        if up.poll() is None:
            up.kill()
            subprocess.run([str(Path(sys.executable).parent / "harness"), "down", "--topology", "topology.yaml"],
                           cwd=folder, capture_output=True)
    assert up.returncode == 1, out + err
    assert "passed observed coverage >= 30%: 1 of 3 kinds of calls between services (edge, method, path template, " \
           "status) covered by a pact interaction in every call (33.3%), at least 30%" in out
    assert "FAILED observed coverage, strict: 4 call(s) between services uncovered, 1 breaking the provider's " \
           "document" in out
    assert cases(ElementTree.parse(folder / "gates.xml").getroot()) == {"observed coverage >= 30%": "passed",
                                                                        "observed coverage, strict": "failure"}
    no_leftovers(docker_client, folder)
