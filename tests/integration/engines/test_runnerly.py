"""Issue #27's Done-when, against real engines: Runnerly's scenarios, every pact verified and every service fuzzed
(`pytest scenarios/runnerly --topology ... --pact-verify --fuzz`, as `make test` runs it on one engine) with its
seven services spread over three engines joined by a swarm overlay (conftest.py), so that every edge between
services crosses engines; its per-edge faults (scenarios/runnerly/test_edge_faults.py: gateway on e2 -> dataservice on
e1, gateway -> tokendealer on e0) included. Images are built on this machine's engine and copied; nothing is left on
any engine afterwards."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import docker

from harness.runtime import labels as L
from tests.integration.conftest import FUZZ_CALM_PYTEST
from tests.integration.engines.netns import fixture_script

ROOT = Path(__file__).parents[3]
across = fixture_script("runnerly_across")


def outcomes(junit: Path) -> dict[str, list[str]]:
    """outcome -> the test ids of a JUnit file (a skipped one with its reason)."""
    found: dict[str, list[str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = [child for child in case if child.tag in ("failure", "error", "skipped")]
        test = f"{case.get('classname')}::{case.get('name')}"
        if kinds and kinds[0].tag == "skipped":
            test += f": {kinds[0].get('message')}"
        found.setdefault(kinds[0].tag if kinds else "passed", []).append(test)
    return found


def test_runnerly_scenarios_pacts_and_fuzzing_across_three_engines(swarm: Any, tmp_path: Path,  # noqa: ANN401
                                                                   docker_client: docker.DockerClient) -> None:
    file = across.runnerly_file(tmp_path, swarm.urls)
    junit = tmp_path / "junit.xml"
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly",
                           "scenarios/runnerly", "--topology", str(file), "--pact-verify", "--fuzz",
                           *FUZZ_CALM_PYTEST, "--junitxml", str(junit)],
                          cwd=ROOT, capture_output=True, text=True, timeout=2400, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    # each service started on its engine: its URL is that engine's host (the worker publishes no port)
    ready = dict(re.findall(r"^ ready (\w+) +[\d.]+s +http://([\d.]+):\d+$", done.stdout + done.stderr,
                                re.MULTILINE))
    assert ready == {name: swarm.addresses[int(engine[1:])] for name, engine in across.PLACEMENT.items() if name != "worker"}
    found = outcomes(junit)
    assert set(found) <= {"passed", "skipped"}, found
    # what is skipped on one engine too, each with its reason: the exclusions of the topology file, and the fuzz
    # items of the stateful phase of services whose documents have no links
    for skipped in found.get("skipped", []):
        assert "excluded: " in skipped or "no stateful sequence was run" in skipped, skipped
    passed = found["passed"]
    # the scenarios (the per-edge faults among them), one item per pact and per fuzzed service
    assert any("test_edge_faults" in test for test in passed), passed
    for pact in (ROOT / "contracts").glob("*.json"):
        edge = "{consumer[name]}->{provider[name]}".format(**json.loads(pact.read_text()))
        assert any(f"::pact[{edge}: " in test for test in passed), (edge, passed)
    for service in ("tokendealer", "dataservice", "strava", "gateway"):  # those with an OpenAPI document
        assert any(test.endswith(f"::fuzz[{service} setup]") for test in passed), (service, passed)
    label = {"label": f"{L.FILE}={file.resolve()}"}
    for url in swarm.urls:  # nothing of the run (containers, helpers, the overlay, volumes) on any engine
        engine = docker.DockerClient(base_url=url, timeout=120)
        assert (engine.containers.list(all=True, filters=label), engine.networks.list(filters=label),
                engine.volumes.list(filters=label)) == ([], [], [])
    assert docker_client.containers.list(all=True, filters=label) == []
