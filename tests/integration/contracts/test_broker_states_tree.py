"""Three false passes of the t25b trial (issue #25): what the states code may read and a base image built on this
machine decide whether the checkout's commit names what the providers run. A data file one folder below the states
module, or an untracked file beside it, that differs from the commit; a provider whose image builds FROM a locally
built image. Each time the broker's result for the commit does not count (one note says why) and publishing under
the commit is refused, against the test broker and the real engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.broker.server import BrokerServer

from .conftest import TOKEN
from .test_broker import harness_verify
from .test_broker_checkout import Broker, checkout, git, not_counted, refusal

TOPOLOGY = """
name: f25b-states
contracts:
  states: [states.py]
services:
  shop:
    build: ./shop
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
"""
STATES = """
import json
from pathlib import Path

from harness.contracts import provider_state

HERE = Path(__file__).parent


@provider_state("the shop has items", provider="shop")
def items(topology, params):
    data = HERE / "stock.local.json"  # a developer's override when there, else the team's data
    if not data.exists():
        data = HERE / "data" / "stock.json"
    return {"item": json.loads(data.read_text())["item"]}
"""
COMMIT = "commit or stash the changes"


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the states module's folder goes on it in this process


def test_a_data_file_below_the_states_module_is_a_file_of_the_commit(tmp_path: Path, broker: BrokerServer,
                                                                     clean: None) -> None:
    """Finding 1: data/stock.json, read by the states code one folder down, set back in the working tree after a
    commit that broke it: the broker's result for that commit counted and a success was published under it."""
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"topology.yaml": TOPOLOGY, "states.py": STATES,
                               "data/stock.json": '{"item": "teapot"}\n'})
    file = repo / "topology.yaml"
    commit = at.verified(repo)
    assert at.decided(file) == (False, [])
    (repo / "data" / "stock.json").write_text('{"item": "kettle"}\n')
    why = "data/stock.json has uncommitted changes"
    assert at.decided(file) == (True, [not_counted(why, COMMIT)])
    assert at.refused(file) == refusal(commit, why, COMMIT)
    done = harness_verify(file, "--pact-selector", "mainBranch", "--no-cache", "--publish-verification-results",
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN})
    assert done.returncode == 2, done.stdout + done.stderr
    assert refusal(commit, why, COMMIT) in done.stderr and "Traceback" not in done.stderr
    assert len(broker.broker.verifications) == 1  # only the one the test made


def test_an_untracked_file_beside_the_states_module_is_not_of_the_commit(tmp_path: Path, broker: BrokerServer,
                                                                         clean: None) -> None:
    """Finding 2: stock.local.json, untracked, read by the states code when it is there. An ignored file is no data
    of the project's (git status does not list it), nor is what runs write."""
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"topology.yaml": TOPOLOGY, "states.py": STATES,
                               "data/stock.json": '{"item": "teapot"}\n'}, ignored="team.local.json\n")
    file = repo / "topology.yaml"
    commit = at.verified(repo)
    (repo / "team.local.json").write_text("{}\n")
    (repo / "out").mkdir()
    (repo / "out" / "contract-matrix.html").write_text("<html/>\n")
    (repo / "verify.log").write_text("a run's log\n")
    assert at.decided(file) == (False, [])
    (repo / "stock.local.json").write_text('{"item": "kettle"}\n')
    why = "stock.local.json is untracked"
    assert at.decided(file) == (True, [not_counted(why, COMMIT)])
    assert at.refused(file) == refusal(commit, why, COMMIT)



def test_a_provider_built_from_a_local_base_image_is_not_named_by_the_commit(tmp_path: Path, broker: BrokerServer,
                                                                            clean: None, local_base: str) -> None:
    """Finding 4: the shop builds FROM an image built here from a folder outside the checkout; rebuilt with other
    code, it took the broker's result for the unchanged commit. The stand-in of a registry image (python:3.11-slim on
    this machine) still counts as the registry's: the clean checkout FROM it is named by its commit."""
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"topology.yaml": TOPOLOGY, "states.py": STATES,
                               "data/stock.json": '{"item": "teapot"}\n'})
    file = repo / "topology.yaml"
    assert at.verified(repo) and at.decided(file) == (False, [])
    dockerfile = repo / "shop" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("FROM python:3.11-slim", f"FROM {local_base}"))
    git(repo, "commit", "-q", "-am", "the shop from the org's base image")
    commit = at.verified(repo)
    why = (f"the image of shop builds FROM {local_base}, an image built on this machine (no registry digest in "
           "docker image inspect): no commit of the checkout names what it holds")
    remedy = "build FROM an image pulled from a registry"
    assert at.decided(file) == (True, [
        f"the Pact Broker's verification results do not count as cached for shop: the git checkout's commit does "
        f"not name what it runs ({why}; {remedy})"])
    assert at.refused(file) == refusal(commit, why, remedy)
