"""The verdict cache against the real engine: a rerun with nothing changed verifies nothing (and starts nothing) and
says so; a changed pact, provider environment, states module or provider image (a changed Dockerfile) is verified
again; a failing pact is never cached; --no-cache verifies every pact."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from xml.etree import ElementTree

import docker
import pytest

from harness.runtime import labels as L

from ..conftest import TOPOLOGIES, harness_resources

HARNESS = str(Path(sys.executable).parent / "harness")
PACT = Path(__file__).parent.parent / "pacts" / "v2-web-frontend-shop.json"

TOPOLOGY = """
name: verdict-cache-VARIANT
contracts:
  pacts: pacts
  states: [states.py]
services:
  shop:
    build: shop
    environment: {DRIFT: "DRIFT_FLAG"}
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
"""

STATES = """
from harness.contracts import provider_state

@provider_state("the shop has items", provider="shop")
def shop_has_items(topology, params):
    pass  # the shop always has its two items
"""


def project(tmp_path: Path, variant: str) -> Path:
    shutil.copytree(TOPOLOGIES / "pact-shop", tmp_path / "shop")  # its own Dockerfile, to change
    (tmp_path / "pacts").mkdir()
    shutil.copy(PACT, tmp_path / "pacts" / "web-frontend-shop.json")
    (tmp_path / "states.py").write_text(STATES)
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY.replace("VARIANT", variant).replace("DRIFT_FLAG", "0"))
    return topology


def verify(topology: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HARNESS, "verify", "--topology", str(topology), "--report", str(topology.parent / "out"),
                           "--junit", str(topology.parent / "junit.xml"), *args],
                          capture_output=True, text=True, cwd=topology.parent)


def verified_now(result: subprocess.CompletedProcess) -> bool:
    """The pact was verified by this run (not taken from the cache), and passed."""
    return result.returncode == 0 and "verified web-frontend->shop: 2 interaction(s) in" in result.stderr


def cached(result: subprocess.CompletedProcess) -> bool:
    return result.returncode == 0 and "verified (cached, from " in result.stderr


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "verdicts").glob("*.json"))


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(folder))
    return folder


def test_a_rerun_with_nothing_changed_verifies_nothing_starts_nothing_and_says_so(
        tmp_path: Path, cache: Path, docker_client: docker.DockerClient) -> None:
    topology = project(tmp_path, "same")
    first = verify(topology)
    assert verified_now(first), first.stderr
    assert "(cached, from" not in first.stderr
    assert len(entries(cache)) == 1

    since = int(time.time())
    rerun = verify(topology)
    assert cached(rerun), rerun.stderr
    assert "(cached, from " in rerun.stderr and "web-frontend->shop: 2 interaction(s)" in rerun.stderr
    assert "pacts: 1 verified (1 cached: verified by an earlier run against the same provider, topology and states; " \
           "--no-cache verifies them again), 0 failed, 0 error, 0 excluded" in rerun.stderr
    # nothing was started: no container of this topology was created after the first run
    created = docker_client.events(since=since, until=int(time.time()) + 1, decode=True,
                                   filters={"type": "container", "event": "create",
                                            "label": [f"{L.TOPOLOGY}=verdict-cache-same"]})
    assert list(created) == []
    # JUnit says it, as a property of each case; the matrix too
    cases = ElementTree.parse(tmp_path / "junit.xml").getroot().findall("testcase")
    assert len(cases) == 2 and all(c.find("failure") is None and c.find("error") is None for c in cases)
    assert all(c.find("properties/property[@name='pact-cached-from']") is not None for c in cases)
    edges = json.loads((tmp_path / "out" / "contract-matrix.json").read_text())["edges"]
    assert [(e["status"], bool(e["cached_from"])) for e in edges] == [("verified", True)]
    assert "verified (cached)" in rerun.stdout

    again = verify(topology, "--no-cache")
    assert verified_now(again), again.stderr
    assert "(cached, from" not in again.stderr
    reformatted = json.loads((tmp_path / "pacts" / "web-frontend-shop.json").read_text())
    (tmp_path / "pacts" / "web-frontend-shop.json").write_text(json.dumps(reformatted, indent=4, sort_keys=True))
    assert cached(verify(topology))  # the same JSON, written otherwise
    assert harness_resources(docker_client, "verdict-cache-same", topology) == []


def test_a_changed_pact_environment_states_module_or_image_is_verified_again(
        tmp_path: Path, cache: Path, docker_client: docker.DockerClient) -> None:
    topology = project(tmp_path, "changes")
    assert verified_now(verify(topology))

    # the provider's environment: DRIFT=1 breaks the pact, so only a verification gives this verdict
    topology.write_text(topology.read_text().replace('DRIFT: "0"', 'DRIFT: "1"'))
    drifted = verify(topology)
    assert drifted.returncode == 1 and "FAILED web-frontend->shop" in drifted.stderr, drifted.stderr
    again = verify(topology)  # a failure is never cached: verified again
    assert again.returncode == 1 and "FAILED web-frontend->shop" in again.stderr
    assert len(entries(cache)) == 1
    topology.write_text(topology.read_text().replace('DRIFT: "1"', 'DRIFT: "0"'))
    assert cached(verify(topology))  # back as it was: the first verdict

    # the states module
    (tmp_path / "states.py").write_text(STATES + "\n# the shop's items come from its code\n")
    assert verified_now(result := verify(topology)), result.stderr
    assert cached(verify(topology))

    # the provider's image: its Dockerfile changed, so it is built again
    dockerfile = tmp_path / "shop" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("ENV PYTHONUNBUFFERED=1", "ENV PYTHONUNBUFFERED=1 VARIANT=2"))
    assert verified_now(result := verify(topology)), result.stderr
    assert cached(verify(topology))

    # the pact: an interaction the provider does not keep, so only a verification gives this verdict
    data = json.loads(PACT.read_text())
    data["interactions"][1]["response"]["body"] = {"statuses": ["open", "closed", "lost"]}
    (tmp_path / "pacts" / "web-frontend-shop.json").write_text(json.dumps(data))
    changed = verify(topology)
    assert changed.returncode == 1 and "FAILED web-frontend->shop" in changed.stderr, changed.stderr
    assert len(entries(cache)) == 3  # first, states changed, image changed; no failure
    assert harness_resources(docker_client, "verdict-cache-changes", topology) == []


def test_pytest_pact_verify_takes_cached_verdicts_and_says_so(tmp_path: Path, cache: Path,
                                                              pytester: pytest.Pytester) -> None:
    topology = project(tmp_path, "pytest")

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--junitxml=junit.xml",
                                             "-p", "no:cacheprovider", *args)

    first = run()
    first.assert_outcomes(passed=2)
    assert "not verified again" not in first.stdout.str()
    rerun = run()
    rerun.assert_outcomes(passed=2)
    output = rerun.stdout.str()
    assert ("1 pact(s) not verified again: verified by an earlier run against the same provider, topology and states "
            "(--pact-no-cache verifies them again): web-frontend->shop (cached, from ") in output
    assert "verified (cached)" in output  # the matrix
    assert "starting topology" not in rerun.stderr.str()  # nothing else needs it: not started
    properties = ElementTree.parse(pytester.path / "junit.xml").getroot().findall(
        ".//testcase/properties/property[@name='pact-cached-from']")
    assert len(properties) == 2 and all(p.get("value") for p in properties)
    some = run("-k", "item")  # a part of a cached pact: its verdict serves
    some.assert_outcomes(passed=1)
    assert "not verified again" in some.stdout.str()
    forced = run("--pact-no-cache")
    forced.assert_outcomes(passed=2)
    assert "not verified again" not in forced.stdout.str()
    assert ElementTree.parse(pytester.path / "junit.xml").getroot().findall(".//property") == []


DATA_STATES = """
import json
import os
from pathlib import Path

from harness.contracts import provider_state

@provider_state("the shop has items", provider="shop")
def shop_has_items(topology, params):
    json.loads((Path(__file__).parent / "items.json").read_text())  # the data beside the states module
    os.environ.get("SHOP_STOCK")
"""


def test_a_changed_data_file_or_variable_the_states_read_is_verified_again(
        tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The states' data file beside their module and the environment variable their code reads by name are part of
    the key (their values hashed); what a run writes beside them (its JUnit file) is not."""
    monkeypatch.delenv("SHOP_STOCK", raising=False)
    topology = project(tmp_path, "states-data")
    (tmp_path / "states.py").write_text(DATA_STATES)
    (tmp_path / "items.json").write_text('["kettle"]\n')
    assert verified_now(result := verify(topology)), result.stderr
    assert cached(result := verify(topology)), result.stderr
    (tmp_path / "items.json").write_text('["kettle", "teapot"]\n')
    assert verified_now(result := verify(topology)), result.stderr
    assert cached(verify(topology))
    monkeypatch.setenv("SHOP_STOCK", "low")
    assert verified_now(result := verify(topology)), result.stderr
    assert cached(verify(topology))
    assert len(entries(cache)) == 3
    assert "low" not in "".join(entry.read_text() for entry in entries(cache))


DEPENDENCY = """
  db:
    image: DB_IMAGE
  queue:
    build: {context: queue}
"""


def build(folder: Path, tag: str, text: str) -> None:
    (folder / "Dockerfile").write_text(text)
    subprocess.run(["docker", "build", "-q", "-t", tag, str(folder)], check=True, capture_output=True)


def test_a_dependency_whose_image_changed_is_verified_again(tmp_path: Path, cache: Path,
                                                             docker_client: docker.DockerClient) -> None:
    """The key holds every service's image id, not only the provider's (its verdict depends on its database):
    a database image rebuilt on this machine under the same tag with other init SQL, or a dependency built FROM a
    base rebuilt so, is verified again, as the broker's results do not count for them (harness.contracts.localbase)."""
    tag = f"verdict-cache-db-{uuid.uuid4().hex[:8]}"
    topology = project(tmp_path, "dependency")
    topology.write_text(topology.read_text().replace("    ready:", "    depends_on: [db, queue]\n    ready:")
                        + DEPENDENCY.replace("DB_IMAGE", f"{tag}:dev"))
    for folder in ("db", "base", "queue"):
        (tmp_path / folder).mkdir()
    (tmp_path / "queue" / "Dockerfile").write_text(f'FROM {tag}-base:dev\nCMD ["sleep", "infinity"]\n')
    initdb = 'FROM python:3.11-slim\nRUN echo "SQL" > /init.sql\nCMD ["sleep", "infinity"]\n'
    try:
        build(tmp_path / "db", f"{tag}:dev", initdb.replace("SQL", "create table item (name text);"))
        build(tmp_path / "base", f"{tag}-base:dev", initdb.replace("SQL", "v1"))
        assert verified_now(result := verify(topology)), result.stderr
        assert cached(result := verify(topology)), result.stderr

        build(tmp_path / "db", f"{tag}:dev", initdb.replace("SQL", "create table item (name text, price int);"))
        assert verified_now(result := verify(topology)), result.stderr
        assert cached(result := verify(topology)), result.stderr

        build(tmp_path / "base", f"{tag}-base:dev", initdb.replace("SQL", "v2"))
        assert verified_now(result := verify(topology)), result.stderr
        assert cached(result := verify(topology)), result.stderr
        assert len(entries(cache)) == 3
        assert harness_resources(docker_client, "verdict-cache-dependency", topology) == []
    finally:
        for image in (f"{tag}:dev", f"{tag}-base:dev"):
            subprocess.run(["docker", "rmi", "-f", image], capture_output=True)
