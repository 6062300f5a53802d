"""`harness verify/fuzz --junit` when no engine answers: the JUnit file pytest's --junitxml writes for the same
failure (one case `topology NAME` with an <error>), not none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.unit.pytest.test_front_end_rules import drift_project

NO_ENGINE = {"DOCKER_HOST": "tcp://127.0.0.1:1"}  # nothing listens there: refused at once


def cases(file: Path) -> list[tuple[str, str, str, str]]:
    """(classname, name, outcome, message) of every case."""
    found = []
    for case in ElementTree.parse(file).getroot().iter("testcase"):
        outcome = next((tag for tag in ("failure", "error", "skipped") if case.find(tag) is not None), "passed")
        element = case.find(outcome)
        found.append((case.get("classname", ""), case.get("name", ""), outcome,
                      "" if element is None else element.get("message", "")))
    return found


@pytest.mark.parametrize(("command", "flag"), [("verify", "--pact-verify"), ("fuzz", "--fuzz")])
def test_no_engine_gives_the_junit_error_case_pytest_gives(command: str, flag: str, pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    topology = drift_project(pytester.path)
    pact = json.loads((pytester.path / "pacts" / "web-catalog.json").read_text())
    pact["interactions"] = [i for i in pact["interactions"] if not i.get("providerState")][:1]  # no state handler
    (pytester.path / "pacts" / "web-catalog.json").write_text(json.dumps(pact))
    pytester.makeini("[pytest]\n")
    result = subprocess.run([sys.executable, "-m", "harness.cli", command, "--topology", topology.name, "--junit",
                             "cli.xml"], cwd=pytester.path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, **NO_ENGINE})
    assert result.returncode == 3, result.stderr
    assert "no Docker engine answers at DOCKER_HOST=tcp://127.0.0.1:1" in result.stderr
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE["DOCKER_HOST"])  # pytester's subprocess takes this environment
    run = pytester.runpytest_subprocess("--topology", topology.name, flag, f"--junitxml={pytester.path}/pytest.xml",
                                        "-p", "no:cacheprovider")
    assert run.ret == 3
    expected = [("topology-openapi30.yaml", "topology drift-openapi30", "error",
                 "topology drift-openapi30 did not start: no Docker engine answers at DOCKER_HOST=tcp://127.0.0.1:1: "
                 "Connection refused.")]
    assert cases(pytester.path / "cli.xml") == expected
    assert [case[:3] for case in cases(pytester.path / "pytest.xml")] == [case[:3] for case in expected]
