"""The requests the harness makes or has made to the services are not the tests' calls, against the real engine:
under `pytest --observe --pact-verify --fuzz`, pact-python's Verifier replays the shop's pact to the stock service
and schemathesis fuzzes it, both from the tests' address (through the published port). Each is counted on a line of
its own (the verifier's by the header the harness has it add, schemathesis' by its own headers and its raw
liveness probe), never as the tests' calls nor as an edge's coverage."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from ..conftest import TOPOLOGIES


@pytest.fixture(scope="module")
def verified_and_fuzzed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """(pytest's output, contract-matrix.json) of the shop's tests (three orders, one missing item: 4 calls to the
    shop) with the shop -> stock pact verified (2 interactions) and stock fuzzed, all observed."""
    folder = tmp_path_factory.mktemp("b26b-harness-calls") / "shop"
    shutil.copytree(TOPOLOGIES / "observe-app", folder)
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology", "topology.yaml",
                             "--observe", "--pact-verify", "--pact-no-cache", "--fuzz", "--fuzz-service", "stock",
                             "--fuzz-max-examples", "5", "--fuzz-seed", "1", "shop_checks.py"],
                            cwd=folder, capture_output=True, text=True, timeout=900,
                            env={**os.environ, "COLUMNS": "200"})
    assert "shop_checks.py::test_orders PASSED" in result.stdout or "shop_checks.py .." in result.stdout, \
        result.stdout + result.stderr
    return result.stdout, json.loads((folder / "reports" / "contract-matrix.json").read_text())


def test_the_verifier_s_requests_are_counted_on_their_own_line(verified_and_fuzzed: tuple[str, dict]) -> None:
    output, _ = verified_and_fuzzed
    assert "the Pact verifier's requests (--pact-verify): 2, not counted\n" in output  # one per interaction


def test_schemathesis_requests_are_counted_on_their_own_line(verified_and_fuzzed: tuple[str, dict]) -> None:
    output, _ = verified_and_fuzzed
    found = re.search(r"^schemathesis' requests \(fuzzing\): (\d+), not counted$", output, re.MULTILINE)
    assert found is not None and int(found.group(1)) > 0, output


def test_the_tests_line_has_the_tests_calls_only(verified_and_fuzzed: tuple[str, dict]) -> None:
    output, matrix = verified_and_fuzzed
    assert "  (tests) -> shop: 4 HTTP call(s)\n" in output
    # neither the verifier's requests nor schemathesis' (its test cases, its probes of the API, its check that a
    # server which reset a connection is alive: HEAD / on a raw socket) are the tests'
    assert "(tests) -> stock" not in output
    [stock] = [e for e in matrix["edges"] if (e["consumer"], e["provider"]) == ("shop", "stock")]
    # the shop's own calls only (3 items, 3 prices, 1 missing item), covered as without the verifier (3 items)
    assert (stock["observed"]["calls"], stock["observed"]["covered"]) == (7, 3)
