"""`pytest --fuzz --collect-only` starts nothing (pytest's convention: collection alone runs nothing): the operations
of a document next to the topology are listed, those of a document a service serves are known once it runs (a line
says so), and every name listed is one a real run reports."""

from __future__ import annotations

import os
import shutil
import time
from xml.etree import ElementTree

import docker
import pytest

from harness.runtime import labels as L

from ..conftest import FUZZ_CALM_PYTEST, TOPOLOGIES

NAME = f"b24-collect-only-{os.getpid()}"  # of this process: other sessions may run these tests on the same engine
TOPOLOGY = f"""
name: {NAME}
services:
  served:
    build: {TOPOLOGIES / "fuzz-app"}
    environment: {{BASE: /api/v1}}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: /openapi.json
  filed:
    build: {TOPOLOGIES / "fuzz-app"}
    environment: {{BASE: /api/v1}}
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
    openapi: items-v1.yaml
    fuzz:
      exclude:
        - check: response_schema_conformance
          reason: listed as a skipped item, also by --collect-only
"""


def listed(output: str) -> set[str]:
    """The fuzz items `pytest --collect-only -q` lists (their names, without the topology file's path)."""
    return {line.split("::", 1)[1] for line in output.splitlines() if "::fuzz[" in line}


def container_events(client: docker.DockerClient, since: int) -> list[str]:
    """The actions of the engine's events, since `since` (epoch seconds) until now, on containers of the topology."""
    events = client.events(since=since, until=int(time.time()) + 1, decode=True,
                           filters={"type": "container", "label": f"{L.TOPOLOGY}={NAME}"})
    return [str(event.get("Action")) for event in events]


def test_collect_only_starts_nothing_and_lists_names_a_run_reports(pytester: pytest.Pytester,
                                                                    docker_client: docker.DockerClient) -> None:
    shutil.copy(TOPOLOGIES / "fuzz-specs" / "items-v1.yaml", pytester.path / "items-v1.yaml")
    topology = pytester.path / "topology.yaml"
    topology.write_text(TOPOLOGY)
    since = int(time.time()) - 1
    collected = pytester.runpytest_subprocess("--topology", str(topology), "--fuzz", "--collect-only", "-q",
                                              "-p", "no:cacheprovider")
    assert collected.ret == pytest.ExitCode.OK, collected.stdout.str() + collected.stderr.str()
    output = collected.stdout.str()
    assert "starting topology" not in output + collected.stderr.str()
    # nothing was even created for a moment (the engine's events of the topology's label, not only what is left)
    assert container_events(docker_client, since) == []
    assert ("note: --collect-only starts nothing: the operations of served are read from the documents they serve "
            "once the topology runs (listed here: each service's setup, stateful and exclusion items)") in output
    names = listed(output)
    filed = {name for name in names if name.startswith("fuzz[filed ")}
    assert {"fuzz[served setup]", "fuzz[served stateful]"} == names - filed
    assert {"fuzz[filed setup]", "fuzz[filed stateful]", "fuzz[filed excluded response_schema_conformance]",
            "fuzz[filed GET /items]"} <= filed

    junit = pytester.path / "run.xml"
    ran = pytester.runpytest_subprocess("--topology", str(topology), "--fuzz", "--fuzz-max-examples", "5",
                                        *FUZZ_CALM_PYTEST, "-q", "-p", "no:cacheprovider", f"--junitxml={junit}")
    assert "starting topology" in ran.stderr.str()
    assert "create" in container_events(docker_client, since)  # the events seen as the check above reads them
    reported = {case.get("name", "") for case in ElementTree.parse(junit).iter("testcase")}
    assert filed == {name for name in reported if name.startswith("fuzz[filed ")}  # the same items, all known
    assert names < reported  # a served document's operations are only known once it runs
    assert any(name.startswith("fuzz[served GET ") for name in reported - names)
