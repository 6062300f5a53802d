"""Every pact file ends in one verdict through the CLI and pytest: outside consumers are verified, names map to
services (or get a "did you mean"), exclusions need a reason, configuration errors are error verdicts with their
exit code, and the output suits CI (no ANSI, no hard wrap, the summary last, JUnit that a strict parser reads)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from xml.dom import minidom
from xml.etree import ElementTree

import docker
import pytest

from harness.runtime import labels as L

from ..conftest import TOPOLOGIES

HARNESS = str(Path(sys.executable).parent / "harness")
PACTS = Path(__file__).parent.parent / "pacts"
LONG = "a request for the item list " + "with a description far longer than any terminal is wide " * 3

TOPOLOGY = """
name: contract-verdicts-VARIANT
contracts:
  pacts: pacts
  states: [states.py]
  names: {Shop: shop}
  state_url: {shop: /_pact/provider_states}     # the shop sets its own states up
  exclude:
    - consumer: legacy-kiosk
      reason: the kiosk is retired at the end of the quarter
services:
  shop:
    build: SHOP_DIR
    environment: {DRIFT: "DRIFT_FLAG", COLOUR: "1"}
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
"""


def project(tmp_path: Path, variant: str, drift: bool, pacts: dict[str, dict]) -> Path:
    (tmp_path / "pacts").mkdir()
    for name, data in pacts.items():
        (tmp_path / "pacts" / name).write_text(json.dumps(data))
    (tmp_path / "states.py").write_text("")
    topology = tmp_path / "topology.yaml"
    topology.write_text(TOPOLOGY.replace("VARIANT", variant).replace("DRIFT_FLAG", "1" if drift else "0")
                        .replace("SHOP_DIR", str(TOPOLOGIES / "pact-shop")))
    return topology


def pact(consumer: str, provider: str, description: str = LONG) -> dict:
    data = json.loads((PACTS / "v2-web-frontend-shop.json").read_text())
    data["consumer"]["name"], data["provider"]["name"] = consumer, provider
    data["interactions"][0]["description"] = description
    return data


def verify(topology: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([HARNESS, "verify", "--topology", str(topology), "--report", str(topology.parent / "out"),
                           "--junit", str(topology.parent / "junit.xml"), *args],
                          capture_output=True, text=True, cwd=topology.parent)


def matrix(topology: Path) -> set[tuple]:
    edges = json.loads((topology.parent / "out" / "contract-matrix.json").read_text())["edges"]
    return {(e["consumer"], e["provider"], e["status"], e["outside"]) for e in edges}


def junit(topology: Path) -> list[tuple[str, str]]:
    """(case name, outcome) of the JUnit file, read by a strict XML parser (expat)."""
    document = minidom.parse(str(topology.parent / "junit.xml"))
    cases = []
    for case in document.getElementsByTagName("testcase"):
        outcome = next((tag for tag in ("failure", "error", "skipped") if case.getElementsByTagName(tag)), "passed")
        cases.append((case.getAttribute("name"), outcome))
    return cases


def test_an_outside_consumers_pact_fails_against_a_drifted_provider(tmp_path: Path) -> None:
    topology = project(tmp_path, "drift", True, {
        "web-frontend-shop.json": pact("web-frontend", "shop"),
        "legacy-kiosk-shop.json": pact("legacy-kiosk", "shop"),
        "mobile-Shop.json": pact("mobile", "Shop"),       # mapped by contracts.names
        "empty.json": {"consumer": {"name": "web-frontend"}, "provider": {"name": "shop"}, "interactions": []}})
    result = verify(topology)
    assert result.returncode == 3, result.stderr  # the empty pact: a verifier configuration error (environment)
    assert matrix(topology) == {
        ("web-frontend", "shop", "failed", True), ("web-frontend", "shop", "error", True),
        ("mobile", "shop", "failed", True), ("legacy-kiosk", "shop", "excluded", True)}
    err = result.stderr
    assert "\x1b[" not in err + result.stdout and "\x07" not in err  # the provider logs colours; nothing shows them
    assert "FAILED web-frontend->shop: 2 interaction(s), 2 failed" in err
    assert LONG.strip() in err  # not hard-wrapped
    assert ("ERROR web-frontend->shop (empty.json): empty.json: pact-python's Verifier could not verify it: "
            "RuntimeError: No transports have been set") in err
    assert "a pact needs at least one HTTP or message interaction the verifier can run" in err
    assert "excluded legacy-kiosk->shop (legacy-kiosk-shop.json): the kiosk is retired" in err
    log, failures = err.index("--- log of shop during this verification"), err.index("Failures:")
    assert log < failures  # the provider's log comes first, the verifier's summary after it
    assert err.rstrip().splitlines()[-1].startswith("  - a request for open and closed orders: $.statuses")  # last
    assert "pacts: 0 verified, 2 failed, 1 error, 1 excluded" in err
    assert "leaves out no pact" not in err
    cases = junit(topology)
    # a case per interaction, named as pytest's items; one per pact file that is empty or excluded
    assert (f"pact[mobile->Shop: {LONG}]", "failure") in cases
    assert ("pact[web-frontend->shop web-frontend-shop.json: a request for open and closed orders]", "failure") in cases
    assert ("pact[web-frontend->shop empty.json]", "error") in cases and ("pact[legacy-kiosk->shop]", "skipped") in cases


def test_a_provider_name_that_is_not_a_service_is_an_error_with_a_hint(tmp_path: Path) -> None:
    topology = project(tmp_path, "names", False, {"web-frontend-SHOP.json": pact("web-frontend", "SHOP", "items")})
    result = verify(topology)
    assert result.returncode == 2, result.stderr
    assert ("its provider 'SHOP' is not a service of topology 'contract-verdicts-names' (did you mean 'shop'? "
            "map the name with `pact_name: SHOP` on service shop") in result.stderr
    assert "nothing was started" in result.stderr and "starting topology" not in result.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "junit.xml").exists()  # nothing was verified
    result = verify(topology, "--provider", "shop")
    assert result.returncode == 2
    assert "no pact to verify for provider shop" in result.stderr
    assert "pacts name the provider 'SHOP': map it to service shop with `pact_name: SHOP`" in result.stderr


def test_a_filter_keeps_an_unreadable_pact_it_may_have_asked_for(tmp_path: Path) -> None:
    """`--provider` cannot know whose an unreadable file is: it is reported (never dropped silently), before anything
    starts."""
    topology = project(tmp_path, "filtered", False, {"web-frontend-shop.json": pact("web-frontend", "shop", "items")})
    (tmp_path / "pacts" / "truncated.json").write_text('{"consumer": {"name": "web-frontend"}, "provider": ')
    result = verify(topology, "--provider", "shop", "--consumer", "web-frontend")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "1 problem(s) in the pacts, the states modules or the options; nothing was started" in result.stderr
    assert f"{tmp_path / 'pacts' / 'truncated.json'}:1: not valid JSON" in result.stderr
    # the topology excludes the kiosk's pacts, and this folder has none: a typo would look the same, so it is said
    assert (f"note: contracts.exclude {{consumer: legacy-kiosk}} leaves out no pact in {tmp_path / 'pacts'} "
            "(consumers there: web-frontend; providers: shop)") in result.stderr


def test_a_failing_pending_interaction_is_shown_though_not_counted(tmp_path: Path, pytester: pytest.Pytester) -> None:
    """V4 `pending: true`: pact-python's Verifier does not fail the pact for it; both front-ends agree, and say so
    (pytest: a passed item, its report in the terminal and the item's JUnit property `pending`)."""
    v4 = json.loads((PACTS / "v4-mobile-shop.json").read_text())
    v4["interactions"] = v4["interactions"][:1]
    v4["interactions"][0]["pending"] = True
    v4["interactions"][0]["response"]["body"]["content"] = "Welcome to the mall"
    topology = project(tmp_path, "pending", False, {"mobile-app-shop.json": v4})
    result = verify(topology)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ("verified mobile-app->shop: 1 interaction(s), 1 failed (pending: shown, not counted, as pact-python's "
            "Verifier does)") in result.stderr
    assert "Welcome to the mall" in result.stderr  # the verifier's report of the pending interaction is printed
    run = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-rA", "--junitxml=j.xml",
                                        "-p", "no:cacheprovider", "--pact-no-cache")  # verified by pytest too
    run.assert_outcomes(passed=1)
    output = run.stdout.str()
    assert "pending interactions that failed (passed, as pact-python's Verifier counts them)" in output
    assert "verified mobile-app->shop: 1 interaction(s), 1 failed (pending: shown, not counted" in output
    assert "Captured pending failure call" in output and "Welcome to the mall" in output  # -rA: the report
    properties = {p.get("name"): p.get("value") for p in ElementTree.parse(pytester.path / "j.xml").iter("property")}
    assert "pending: shown, not counted, as pact-python's Verifier does" in properties["pending"]


def test_collect_only_starts_nothing_and_leaves_the_contract_matrix_alone(tmp_path: Path,
                                                                          pytester: pytest.Pytester) -> None:
    topology = project(tmp_path, "collect", False, {"web-frontend-shop.json": pact("web-frontend", "shop", "items")})
    matrix_file = pytester.path / "reports" / "contract-matrix.json"
    matrix_file.parent.mkdir()
    matrix_file.write_text('{"from": "the last run"}')
    since = int(time.time()) - 1
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--collect-only", "-q")
    assert "::pact[web-frontend->shop: items]" in result.stdout.str()
    assert "starting topology" not in result.stdout.str() + result.stderr.str()
    events = docker.from_env().events(since=since, until=int(time.time()) + 1, decode=True, filters={
        "type": "container", "label": f"{L.TOPOLOGY}=contract-verdicts-collect"})
    assert [event.get("Action") for event in events] == []  # pytest's convention: collection alone starts nothing
    assert "contract matrix" not in result.stdout.str()
    assert matrix_file.read_text() == '{"from": "the last run"}'


def test_pytest_pact_verify_has_an_item_per_interaction_and_reads_pacts(tmp_path: Path, pytester: pytest.Pytester) -> None:
    topology = project(tmp_path, "pytest", False, {})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "web-frontend-shop.json").write_text(json.dumps(pact("web-frontend", "shop", "items")))
    (elsewhere / "kiosk.json").write_text(json.dumps(pact("legacy-kiosk", "shop", "items")))
    (elsewhere / "other-nowhere.json").write_text(json.dumps(pact("other", "nowhere", "items")))
    shutil.copy(elsewhere / "web-frontend-shop.json", elsewhere / "mobile.json")
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--pacts", str(elsewhere),
                                           "-rA")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # a pact whose provider is not a service: before any test
    assert "other-nowhere.json: its provider 'nowhere' is not a service" in result.stderr.str()
    (elsewhere / "other-nowhere.json").unlink()
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--pacts", str(elsewhere),
                                           "-rA")
    result.assert_outcomes(passed=4, skipped=1)  # two interactions in each of two pacts; the excluded pact: one
    output = result.stdout.str()
    # mobile.json is a second pact of web-frontend->shop: file names keep the two items (and JUnit cases) apart
    assert "::pact[web-frontend->shop mobile.json: items]" in output
    assert "::pact[web-frontend->shop web-frontend-shop.json: items]" in output
    assert "excluded: the kiosk is retired" in output
    assert "web-frontend (outside)" in output  # the matrix marks consumers that are not services


def created_containers(docker_client: Any, topology: str, since: float) -> list[str]:
    """Containers of `topology` the engine created since `since` (its event log: also one removed again)."""
    events = docker_client.events(since=int(since) - 1, until=int(time.time()) + 1, decode=True,
                                  filters={"type": "container", "event": "create", "label": f"{L.TOPOLOGY}={topology}"})
    return [event["id"] for event in events]


def problem_folder(tmp_path: Path, variant: str) -> tuple[Path, list[str]]:
    """A project whose pacts have four problems the files alone show, and the text of each."""
    topology = project(tmp_path, variant, False, {
        "web-frontend-SHOP.json": pact("web-frontend", "SHOP", "items"),       # provider not a service
        "billing-shop.json": json.loads((PACTS / "v3-billing-shop.json").read_text()),  # no message producer
        "not-a-pact.json": {"hello": "world"}})
    (tmp_path / "pacts" / "truncated.json").write_text('{"consumer": {"name": "web-frontend"},\n "provider": ')
    pacts = tmp_path / "pacts"
    return topology, [
        f"{pacts / 'truncated.json'}:2: not valid JSON",
        f"{pacts / 'not-a-pact.json'}: not a pact file: it needs consumer.name, provider.name",
        f"web-frontend-SHOP.json: its provider 'SHOP' is not a service of topology 'contract-verdicts-{variant}' (did "
        "you mean 'shop'?",
        "message producer 'an order created event' of billing->shop (billing-shop.json) is missing"]


def test_every_problem_the_files_show_is_reported_once_before_anything_starts(tmp_path: Path,
                                                                             docker_client: Any) -> None:
    topology, problems = problem_folder(tmp_path, "static")
    previous = tmp_path / "out" / "contract-matrix.json"
    previous.parent.mkdir()
    previous.write_text('{"from": "the last run"}')
    since = time.time()
    result = verify(topology)
    assert result.returncode == 2, result.stdout + result.stderr
    err = result.stderr
    assert "4 problem(s) in the pacts, the states modules or the options; nothing was started:" in err
    for problem in problems:
        assert err.count(problem) == 1, (problem, err)
    assert err.count("Register provider states and message producers with @provider_state") == 1
    assert "Traceback" not in err and "starting topology" not in err
    assert previous.read_text() == '{"from": "the last run"}'  # the last matrix stays
    assert not (tmp_path / "junit.xml").exists()
    assert created_containers(docker_client, "contract-verdicts-static", since) == []


def test_pytest_pact_verify_reports_the_same_problems_as_one_usage_error(tmp_path: Path, docker_client: Any,
                                                                         pytester: pytest.Pytester) -> None:
    topology, problems = problem_folder(tmp_path, "static-pytest")
    previous = pytester.path / "reports" / "contract-matrix.json"
    previous.parent.mkdir()
    previous.write_text('{"from": "the last run"}')
    pytester.makepyfile("def test_nothing(topology):\n    pass\n")
    since = time.time()
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "4 problem(s) in the pacts, the states modules or the options; nothing was started:" in err
    for problem in problems:
        assert err.count(problem) == 1, (problem, err)
    assert "Traceback" not in err + result.stdout.str()
    assert previous.read_text() == '{"from": "the last run"}'
    assert created_containers(docker_client, "contract-verdicts-static-pytest", since) == []


def test_a_folder_of_unreadable_pacts_is_one_report_and_starts_nothing(tmp_path: Path, docker_client: Any) -> None:
    topology = project(tmp_path, "unreadable", False, {"a.json": {"consumer": {"name": "x"}}})
    (tmp_path / "pacts" / "b.json").write_text("[1, 2,")
    since = time.time()
    result = verify(topology)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "2 problem(s)" in result.stderr
    assert result.stderr.count("a.json: not a pact file") == 1 and result.stderr.count("b.json:1: not valid JSON") == 1
    assert "no pact to verify" not in result.stderr  # each problem once: the two files say why
    assert not (tmp_path / "out").exists()
    assert created_containers(docker_client, "contract-verdicts-unreadable", since) == []


def test_pact_verify_without_a_topology_or_pacts_without_pact_verify_is_a_usage_error(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--pact-verify")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--pact-verify needs a topology to verify the pacts against" in result.stderr.str()
    result = pytester.runpytest_subprocess("--pacts", "contracts")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--pacts contracts names the folder --pact-verify verifies and --pact-drift checks, and neither is given" in (
        result.stderr.str())


def test_a_run_whose_every_pact_is_excluded_starts_nothing_and_keeps_the_last_matrix(tmp_path: Path,
                                                                                    docker_client: Any) -> None:
    topology = project(tmp_path, "all-excluded", False, {"kiosk.json": pact("legacy-kiosk", "shop", "items")})
    previous = tmp_path / "out" / "contract-matrix.json"
    previous.parent.mkdir()
    previous.write_text('{"from": "the last run"}')
    since = time.time()
    result = verify(topology)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "excluded legacy-kiosk->shop (kiosk.json): the kiosk is retired" in result.stderr
    assert (f"nothing was verified (every pact is excluded): the contract matrix in {tmp_path / 'out'} is left as the "
            "last run that verified wrote it") in result.stdout
    assert previous.read_text() == '{"from": "the last run"}'
    assert junit(topology) == [("pact[legacy-kiosk->shop]", "skipped")]  # named as its pytest item
    assert created_containers(docker_client, "contract-verdicts-all-excluded", since) == []
