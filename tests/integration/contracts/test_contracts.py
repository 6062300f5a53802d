"""Contracts end to end on a small topology: a consumer test writes a pact, `harness verify` checks it against the
provider running in the topology, and breaks loudly when the provider or the states do not keep the contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import html5lib
import pytest

from ..conftest import write_topology

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
    # not a terminal: the matrix in plain columns (harness.report.console.plain_table), no box drawing
    assert re.search(r"^ relay {3,}verified {3,}-$", result.stdout, re.M), result.stdout
    assert not re.search("[\u2500-\u257f]", result.stdout), result.stdout


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


def test_a_handler_registered_for_a_misspelt_provider_is_pointed_at(tmp_path: Path, pact_folder: Path) -> None:
    states = ("from harness.contracts import provider_state\n\n\n"
              "@provider_state('greeter is in a good mood', provider='greter')\n"
              "def mood(params):\n    pass\n")
    topology = project(tmp_path, pact_folder, "misspelt", states=states)
    result = verify(topology)
    assert result.returncode == 2
    assert ("provider state 'greeter is in a good mood' of relay->greeter (relay-greeter.json) has no handler: one is "
            "registered for provider 'greter', which is not a service of topology") in result.stderr
    assert "(did you mean 'greeter'?)" in result.stderr


def test_a_malformed_pact_file_is_named(tmp_path: Path, pact_folder: Path) -> None:
    topology = project(tmp_path, pact_folder, "malformed")
    (tmp_path / "pacts" / "broken.json").write_text('{"consumer": {"name": "x"},\n "provider": ')
    result = verify(topology)
    assert result.returncode == 2  # bad input: a pact file that is not JSON
    assert f"{tmp_path / 'pacts' / 'broken.json'}:2: not valid JSON" in result.stderr


def test_pytest_pact_verify_gives_one_test_per_interaction(tmp_path: Path, pact_folder: Path,
                                                           pytester: pytest.Pytester) -> None:
    topology = project(tmp_path, pact_folder, "pytest", greeting_key="salutation")
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-k", "relay",
                                           "--junitxml=junit.xml")
    result.assert_outcomes(failed=1, passed=1)  # the greeting fails, the missing route still answers 404
    output = result.stdout.str()
    assert "pact[relay->greeter: a request for a greeting]" in output
    assert "Actual map is missing the following keys: greeting" in output
    # the pact item carries its own provider log (no "Captured log of service" section for the plugin's items)
    assert "--- log of greeter during this verification ---" in output and "greeter: GET /hello -> 200" in output
    assert "contract matrix" in output and "failed" in output
    assert 'name="pact[relay-&gt;greeter: a request for a greeting]"' in (pytester.path / "junit.xml").read_text()


def greeter_document(key: str) -> dict:
    """The greeter's OpenAPI document, its /hello answer holding property `key` (and nothing else)."""
    hello = {"type": "object", "properties": {key: {"type": "string"}}, "additionalProperties": False}
    return {"openapi": "3.0.3", "info": {"title": "greeter", "version": "1"}, "paths": {
        "/hello": {"get": {"responses": {"200": {"description": "a greeting", "content": {
            "application/json": {"schema": hello}}}}}},
        "/nope": {"get": {"responses": {"404": {"description": "no such page"}}}}}}


def serving_its_document(topology: Path, document: dict) -> Path:
    """The greeter serves `document` at /openapi.json (and says so with `openapi:`)."""
    import yaml

    data = yaml.safe_load(topology.read_text())
    greeter = data["services"]["greeter"]
    greeter["openapi"] = "/openapi.json"
    greeter["environment"]["OPENAPI"] = json.dumps(document)
    topology.write_text(yaml.safe_dump(data, sort_keys=False))
    return topology


def test_verify_shows_the_drift_column_and_keeps_pact_pythons_verdict(tmp_path: Path, pact_folder: Path) -> None:
    """The greeter keeps its pact (verified), but the document it serves renamed the property: the drift column says
    so, fetched from the topology verify started, and the exit code stays the verification's."""
    topology = serving_its_document(project(tmp_path, pact_folder, "drift-column"), greeter_document("salutation"))
    result = verify(topology)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verified relay->greeter: 2 interaction(s)" in result.stderr
    first = ("'a request for a greeting' /response/body/greeting: property 'greeting' is not described by the schema "
             "(the pact says hello)")
    assert f"relay->greeter drift: 1 drift(s) in relay-greeter.json, first: {first}" in result.stdout
    assert "drift: 1" in result.stdout
    edges = json.loads((tmp_path / "out" / "contract-matrix.json").read_text())["edges"]
    edge = next(e for e in edges if e["pact"])
    assert (edge["status"], edge["drift"]["verdict"], edge["drift"]["count"], edge["drift"]["first"]) == (
        "verified", "drift", 1, first)
    assert edge["drift"]["source"].startswith("served by the running topology at http://127.0.0.1:")
    assert edge["drift"]["source"].endswith("/openapi.json (run " + edge["drift"]["source"].rsplit("(run ", 1)[1])
    html5lib.HTMLParser(strict=True).parse((tmp_path / "out" / "contract-matrix.html").read_text())


def test_the_drift_column_is_clean_when_the_served_document_agrees(tmp_path: Path, pact_folder: Path) -> None:
    topology = serving_its_document(project(tmp_path, pact_folder, "drift-clean"), greeter_document("greeting"))
    result = verify(topology)
    assert result.returncode == 0, result.stdout + result.stderr
    edge = next(e for e in json.loads((tmp_path / "out" / "contract-matrix.json").read_text())["edges"] if e["pact"])
    assert (edge["status"], edge["drift"]["verdict"], edge["drift"]["count"]) == ("verified", "clean", 0)
    assert "never changes it" not in result.stdout


def test_a_failed_verification_keeps_its_exit_code_whatever_the_drift(tmp_path: Path, pact_folder: Path) -> None:
    """The greeter breaks the pact and its document agrees with the pact: failed (exit 1), drift clean."""
    topology = serving_its_document(project(tmp_path, pact_folder, "drift-failed", greeting_key="salutation"),
                                    greeter_document("greeting"))
    result = verify(topology)
    assert result.returncode == 1
    edge = next(e for e in json.loads((tmp_path / "out" / "contract-matrix.json").read_text())["edges"] if e["pact"])
    assert (edge["status"], edge["drift"]["verdict"]) == ("failed", "clean")


def test_an_edited_states_module_is_imported_again_by_the_next_verify_of_the_same_process(
        tmp_path: Path, pact_folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `harness verify` runs in one process (harness.cli.main): the second sees the edited handler."""
    from harness.cli import main

    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # .pyc files as on a usual machine
    topology = project(tmp_path, pact_folder, "reloaded")
    states = tmp_path / "states.py"
    args = ["verify", "--topology", str(topology), "--report", str(tmp_path / "out")]
    assert main(args) == 0, capsys.readouterr()
    stamp = states.stat()
    edited = STATES.replace('{"mood": "cheerful"}', '{"mood": "grumpy!!"}')  # the same size: a stale .pyc fits
    assert len(edited) == len(STATES) and edited != STATES
    states.write_text(edited)
    os.utime(states, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # an edit within the same second
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "FAILED relay->greeter" in err
    # the handler's own error, beside the core's "state change handler has failed"
    assert ("""provider state 'greeter is in a good mood' {"mood": "cheerful"} raised AssertionError: """
            "{'mood': 'cheerful'}") in err
