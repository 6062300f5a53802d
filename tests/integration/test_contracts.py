"""Contracts end to end on a small topology: a consumer test writes a pact, `harness verify` checks it against the
provider running in the topology, and breaks loudly when the provider or the states do not keep the contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write_topology

HARNESS = str(Path(sys.executable).parent / "harness")

CONSUMER_TEST = """
import requests
from pact import match

def test_relay_reads_a_greeting(pact):
    p = pact("relay", "greeter")
    (p.upon_receiving("a request for a greeting").given("greeter is in a good mood", mood="cheerful")
      .with_request("GET", "/hello")
      .will_respond_with(200).with_body({"greeting": match.str("hello")}, content_type="application/json"))
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}/hello").json()["greeting"]

def test_relay_handles_a_missing_route(pact):
    p = pact("relay", "greeter")
    p.upon_receiving("a request for a page that does not exist").with_request("GET", "/nope").will_respond_with(404)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}/nope").status_code == 404
"""

STATES = """
from harness.contracts import provider_state

SEEN = []

@provider_state("greeter is in a good mood", provider="greeter")
def good_mood(topology, params):
    assert params == {"mood": "cheerful"}, params
    assert topology["greeter"].exec(["true"]).exit_code == 0  # handlers get the running topology
    yield
"""

TOPOLOGY = """
name: contracts-{variant}
contracts:
  pacts: pacts
  states: [states.py]
services:
  greeter:
    build: EXAMPLE_APP
    command: python app.py greeter
    environment: {{GREETING_KEY: {greeting_key}}}
    consumes: [relay]  # declared, but no pact: the matrix reports it
    ports: [8000]
    ready: {{http: {{port: 8000, path: /health}}}}
  relay:
    build: EXAMPLE_APP
    command: python app.py relay
    environment: {{GREETER_URL: "http://greeter:8000"}}
    ports: [8000]
    consumes: [greeter]
    ready: {{http: {{port: 8000, path: /health}}}}
"""


@pytest.fixture(scope="module")
def pact_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pacts written by running the consumer test in a pytest subprocess (twice, to compare the bytes)."""
    folder = tmp_path_factory.mktemp("contracts")
    (folder / "test_consumer.py").write_text(CONSUMER_TEST)
    for run in ("first", "second"):
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-dir",
                                 str(folder / run), "test_consumer.py"], cwd=folder, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    return folder


def project(tmp_path: Path, pact_folder: Path, variant: str, greeting_key: str = "greeting",
            states: str = STATES) -> Path:
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "relay-greeter.json").write_bytes((pact_folder / "first" / "relay-greeter.json").read_bytes())
    (tmp_path / "states.py").write_text(states)
    return write_topology(tmp_path, TOPOLOGY.format(variant=variant, greeting_key=greeting_key))


def verify(topology: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HARNESS, "verify", "--topology", str(topology), "--report", str(topology.parent / "out"),
                           *args], capture_output=True, text=True, cwd=topology.parent)


def test_pact_files_are_byte_identical_across_consumer_runs(pact_folder: Path) -> None:
    first = (pact_folder / "first" / "relay-greeter.json").read_bytes()
    assert first == (pact_folder / "second" / "relay-greeter.json").read_bytes()
    pact = json.loads(first)
    assert [i["description"] for i in pact["interactions"]] == [  # both tests of the pair, merged, sorted
        "a request for a greeting", "a request for a page that does not exist"]


def test_verify_passes_and_prints_the_edge_matrix(tmp_path: Path, pact_folder: Path) -> None:
    topology = project(tmp_path, pact_folder, "ok")
    result = verify(topology, "--junit", str(tmp_path / "junit.xml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified relay->greeter: 2 interaction(s)" in result.stderr
    matrix = json.loads((tmp_path / "out" / "contract-matrix.json").read_text())["edges"]
    assert {(e["consumer"], e["provider"], e["status"]) for e in matrix} == {
        ("relay", "greeter", "verified"), ("greeter", "relay", "no pact")}
    assert "<td" in (tmp_path / "out" / "contract-matrix.html").read_text()
    assert 'failures="0"' in (tmp_path / "junit.xml").read_text()
    assert "consumer \\ provider" in result.stdout


def test_a_renamed_response_field_fails_naming_the_field_and_the_interaction(tmp_path: Path,
                                                                             pact_folder: Path) -> None:
    topology = project(tmp_path, pact_folder, "renamed", greeting_key="salutation")
    result = verify(topology, "--junit", str(tmp_path / "junit.xml"))
    assert result.returncode == 1
    assert "FAILED relay->greeter" in result.stderr
    assert "a request for a greeting" in result.stderr
    assert "Actual map is missing the following keys: greeting" in result.stderr  # names the field
    assert "\x1b[" not in result.stderr + result.stdout  # no ANSI codes
    assert "greeter: GET /hello -> 200" in result.stderr  # the provider's log of this verification
    assert 'failures="1"' in (tmp_path / "junit.xml").read_text()


def test_a_missing_state_handler_fails_before_verifying(tmp_path: Path, pact_folder: Path) -> None:
    topology = project(tmp_path, pact_folder, "nostates", states="# no handlers\n")
    result = verify(topology)
    assert result.returncode == 2  # bad input: the states module lacks a handler
    assert "provider state 'greeter is in a good mood' of relay->greeter (relay-greeter.json)" in result.stderr
    assert "starting topology" not in result.stderr  # found before anything started


def test_a_malformed_pact_file_is_named(tmp_path: Path, pact_folder: Path) -> None:
    topology = project(tmp_path, pact_folder, "malformed")
    (tmp_path / "pacts" / "broken.json").write_text('{"consumer": {"name": "x"},\n "provider": ')
    result = verify(topology)
    assert result.returncode == 2  # bad input: a pact file that is not JSON
    assert f"{tmp_path / 'pacts' / 'broken.json'}:2: not valid JSON" in result.stderr


def test_pytest_pact_verify_gives_one_test_per_pact(tmp_path: Path, pact_folder: Path,
                                                    pytester: pytest.Pytester) -> None:
    topology = project(tmp_path, pact_folder, "pytest", greeting_key="salutation")
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-k", "relay",
                                           "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "pact[relay->greeter]" in output
    assert "Actual map is missing the following keys: greeting" in output
    assert "Captured log of service greeter call" in output and "GET /hello -> 200" in output
    assert "contract matrix" in output and "failed" in output
    assert 'name="pact[relay-&gt;greeter]"' in (pytester.path / "junit.xml").read_text()
