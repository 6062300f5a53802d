"""`pytest --pact-verify` gives one item per pact interaction (one Verifier run per pact file): -x, --lf, -k pick
interactions, JUnit has a case per interaction named and classed as `harness verify --junit` writes it, the contract
matrix lands where `harness verify` writes it, and the output suits CI (one short-summary line per failure, the
collected count equals the number run, real times)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from xml.dom import minidom

import pytest

from tests.integration.contracts.test_contracts_verdicts import HARNESS, PACTS, pact, project, verify

MOTD = "a request for the message of the day - in plain text"  # " - " and "(" are literal in the Verifier's filter


def three_interactions() -> dict:
    """The item list and the orders (the shop answers as the pact says) and the message of the day, which the pact
    expects to be a 418 (the shop answers 200)."""
    data = json.loads((PACTS / "v2-web-frontend-shop.json").read_text())
    data["interactions"].append({"description": MOTD, "request": {"method": "GET", "path": "/motd"},
                                 "response": {"status": 418}})
    return data


def cases(file: Path) -> dict[str, tuple[str, float]]:
    """JUnit case name -> (outcome, time), by a strict XML parser."""
    found = {}
    for case in minidom.parse(str(file)).getElementsByTagName("testcase"):
        outcome = next((tag for tag in ("failure", "error", "skipped") if case.getElementsByTagName(tag)), "passed")
        found[case.getAttribute("name")] = (outcome, float(case.getAttribute("time")))
    return found


def test_each_interaction_is_an_item_that_lf_sw_and_k_pick(tmp_path: Path, pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")  # pytest's CI mode: the short summary shows each failure's whole message
    topology = project(tmp_path, "items", False, {"web-frontend-shop.json": three_interactions()})
    names = ["pact[web-frontend->shop: a request for open and closed orders]",
             "pact[web-frontend->shop: a request for the item list]", f"pact[web-frontend->shop: {MOTD}]"]

    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-rfE",
                                           "--junitxml=junit.xml", "-p", "cacheprovider")
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    assert "collected 3 items" in output
    summary = output[output.index("short test summary info"):].splitlines()[1:]
    assert summary[0].startswith("FAILED ") and summary[0].endswith(f"::{names[2]} - {MOTD}: expected 418 but was "
                                                                    "200"), summary
    assert summary[1].startswith("="), summary  # one line per failure, then pytest's closing line
    assert "shop: GET /motd -> 200" in output  # the failure section keeps the provider's log and the report
    junit = cases(pytester.path / "junit.xml")
    assert {name: outcome for name, (outcome, _) in junit.items()} == {
        names[0]: "passed", names[1]: "passed", names[2]: "failure"}
    suite = minidom.parse(str(pytester.path / "junit.xml")).getElementsByTagName("testsuite")[0]
    assert float(suite.getAttribute("time")) > 0 and any(seconds > 0 for _, seconds in junit.values())

    rerun = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--lf", "-p", "cacheprovider",
                                          "--topology-report", "page.html")
    rerun.assert_outcomes(failed=1, deselected=2)
    assert "expected 418 but was 200" in rerun.stdout.str()
    page = (pytester.path / "page.html").read_text()
    assert "web-frontend-&gt;shop: 1 of 3 interaction(s) (the others not selected), 1 failed" in page
    assert "a request for the item list" not in page  # verified alone: the Verifier's report has only this one
    assert "only 1 of its 3 interactions were verified (the others were not selected)" in rerun.stdout.str()  # matrix

    stepwise = ["--topology", str(topology), "--pact-verify", "--sw", "-p", "cacheprovider"]
    pytester.runpytest_subprocess(*stepwise).assert_outcomes(passed=2, failed=1)  # stops at the failing interaction
    pytester.runpytest_subprocess(*stepwise).assert_outcomes(failed=1, deselected=2)  # and starts again there

    # the node id pytest printed (with "->", ": " and " - " in it) selects that item when pasted back
    printed = summary[0][len("FAILED "):summary[0].index(names[2]) + len(names[2])]
    pasted = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", printed, "-p",
                                           "no:cacheprovider")
    pasted.assert_outcomes(failed=1, deselected=2)
    pasted_output = pasted.stdout.str()
    assert "collected 3 items / 2 deselected / 1 selected" in pasted_output  # as -k counts, never negative
    assert ("web-frontend->shop failed: 'a request for the message of the day - in plain text': expected 418 but was "
            "200; only 1 of its 3 interactions were verified (the others were not selected)") in pasted_output
    whole = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", printed.split("::")[0],
                                          "-p", "no:cacheprovider")
    whole.assert_outcomes(passed=2, failed=1)  # the topology file alone: all its items
    typo = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", printed + "x",
                                         "-p", "no:cacheprovider")
    assert typo.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: not found: {printed}x (no item of topology.yaml has that name" in typo.stderr.str()

    picked = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-k", "orders", "-v")
    picked.assert_outcomes(passed=1, deselected=2)
    assert "collected 3 items / 2 deselected / 1 selected" in picked.stdout.str()
    assert f"::{names[0]} PASSED" in picked.stdout.str()

    cli = verify(topology)  # its JUnit: the same cases, named as pytest's items
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert f"web-frontend->shop failed: '{MOTD}': expected 418 but was 200" in cli.stdout + cli.stderr  # matrix
    assert {name: outcome for name, (outcome, _) in cases(tmp_path / "junit.xml").items()} == {
        names[0]: "passed", names[1]: "passed", names[2]: "failure"}
    cli_suite = minidom.parse(str(tmp_path / "junit.xml")).getElementsByTagName("testsuite")[0]
    assert float(cli_suite.getAttribute("time")) > 0  # the verification's time, not a sum of zeros


def shapes(file: Path) -> list[tuple[str, str, str]]:
    """(classname, name, outcome) of every JUnit case, sorted."""
    found = []
    for case in minidom.parse(str(file)).getElementsByTagName("testcase"):
        outcome = next((tag for tag in ("failure", "error", "skipped") if case.getElementsByTagName(tag)), "passed")
        found.append((case.getAttribute("classname"), case.getAttribute("name"), outcome))
    return sorted(found)


def verdicts(matrix: Path) -> list[tuple[str, str, str, str | None]]:
    """(consumer, provider, status, pact file) of each edge of a contract-matrix.json (times and the drift column
    left out: `harness verify` adds drift where pytest needs --pact-drift)."""
    return [(e["consumer"], e["provider"], e["status"], e["pact"]) for e in json.loads(matrix.read_text())["edges"]]


def test_one_verdict_has_one_junit_shape_and_one_matrix_place_from_both_front_ends(pytester: pytest.Pytester) -> None:
    """The same pacts through `pytest --pact-verify --junitxml` and `harness verify --junit`, run from the project's
    folder (pytest's rootdir, where its ini file is): the same test cases (classname, name, outcome: passed, failed,
    an error verdict, an excluded pact), and the contract matrix in the same place: reports/ of that folder, or
    beside the report page when one is written."""
    pytester.makeini("[pytest]\n")
    (pytester.path / "shop").mkdir()
    empty = {"consumer": {"name": "mobile"}, "provider": {"name": "shop"}, "interactions": []}  # the Verifier refuses it
    topology = project(pytester.path / "shop", "shapes", False, {"web-frontend-shop.json": three_interactions(),
                                                                 "kiosk.json": pact("legacy-kiosk", "shop", "items"),
                                                                 "mobile-shop.json": empty})
    matrix = pytester.path / "reports" / "contract-matrix.json"

    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--junitxml=pytest.xml")
    result.assert_outcomes(passed=2, failed=1, skipped=1, errors=1)
    from_pytest = shapes(pytester.path / "pytest.xml")
    edges = verdicts(matrix)
    assert f"matrix written to {Path('reports') / 'contract-matrix.json'}" in result.stdout.str()
    matrix.unlink()

    cli = subprocess.run([HARNESS, "verify", "--topology", str(topology), "--junit", "cli.xml"],
                         capture_output=True, text=True, cwd=pytester.path)
    assert cli.returncode == 3, cli.stdout + cli.stderr  # the Verifier's refusal: an environment error
    from_cli = shapes(pytester.path / "cli.xml")
    classname = "shop.topology.yaml"  # the topology file's path from the rootdir, `/` as `.`
    assert from_cli == from_pytest == sorted([
        (classname, "pact[legacy-kiosk->shop]", "skipped"),
        (classname, "pact[mobile->shop]", "error"),
        (classname, "pact[web-frontend->shop: a request for open and closed orders]", "passed"),
        (classname, "pact[web-frontend->shop: a request for the item list]", "passed"),
        (classname, f"pact[web-frontend->shop: {MOTD}]", "failure")])
    assert verdicts(matrix) == edges  # the same place, the same verdicts
    matrix.unlink()

    page = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--topology-report",
                                         "pages/run.html")
    page.assert_outcomes(passed=2, failed=1, skipped=1, errors=1)
    assert verdicts(pytester.path / "pages" / "contract-matrix.json") == edges
    assert not matrix.exists()  # beside the page, as `harness verify --report pages/run.html` writes it


def test_only_an_item_whose_verdict_is_still_to_be_made_puts_back_what_an_earlier_test_left(
        tmp_path: Path, pytester: pytest.Pytester) -> None:
    """The pact's second interaction reports the Verifier run of its first: a service a test paused between them is
    put back before the next item that uses the topology, whose report names the items since the last check."""
    topology = project(tmp_path, "restore", False,
                       {"web-frontend-shop.json": json.loads((PACTS / "v2-web-frontend-shop.json").read_text())})
    topology.write_text(topology.read_text() + "  redis:\n    image: redis:7\n    ready: {tcp: 6379}\n")
    pytester.makeconftest("""
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_collection_modifyitems(items):
            tests = [item for item in items if item.name.startswith("test_")]
            pacts = [item for item in items if item.name.startswith("pact[")]
            items[:] = [pacts[0], tests[0], pacts[1], tests[1]]  # the pause between the pact's two interactions
    """)
    pytester.makepyfile("""
        def test_pauses_redis(topology):
            topology["redis"].pause()

        def test_finds_redis_running(topology):
            assert topology["redis"].status == "running"
    """)
    result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-rA", "-v")
    result.assert_outcomes(passed=4)
    output = result.stdout.str()
    assert output.count("Captured topology restored setup") == 1, output  # not on the pact's second item
    report = output[output.index("== PASSES =="):].splitlines()
    assert "test_finds_redis_running" in report[1], report
    assert report[2].startswith("--") and "Captured topology restored setup" in report[2], report
    assert report[3].endswith("::test_pauses_redis or an item after it:"), report
    assert report[4] == "- redis was left paused (.pause()): unpaused it", report
