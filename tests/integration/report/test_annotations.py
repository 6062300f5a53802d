"""Under GITHUB_ACTIONS=true, `harness verify` and `pytest --pact-verify` write one `::error` annotation per failing
interaction, at its line in the pact file, and a step summary to $GITHUB_STEP_SUMMARY; JUnit cases carry file and
line (harness --junit always, pytest's under junit_family=xunit1); a topology that does not start is annotated at
its service in the topology file; a failing stateful sequence at the operation of its failing step in the OpenAPI
document."""

from __future__ import annotations

import json
import os
import runpy
import subprocess
from pathlib import Path
from xml.dom import minidom

import pytest
import yaml

from tests.integration.contracts.test_contracts_verdicts import HARNESS, project
from tests.integration.contracts.test_pact_items import MOTD, three_interactions

from ..conftest import FUZZ_CALM, FUZZ_CALM_PYTEST, TOPOLOGIES

TITLE = f"pact[web-frontend->shop%3A {MOTD}]"
MESSAGE = f"{MOTD}: expected 418 but was 200"


def github_env(tmp_path: Path, summary: Path) -> dict[str, str]:
    return {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path),
            "GITHUB_STEP_SUMMARY": str(summary)}


def test_harness_verify_links_the_contract_matrix_only_when_it_wrote_it(tmp_path: Path) -> None:
    """Every pact excluded: nothing starts, nothing is verified and the last run's matrix stays; the step summary
    names the JUnit file this run wrote, not a matrix it did not write."""
    kiosk = json.loads((Path(__file__).parent.parent / "pacts" / "v2-web-frontend-shop.json").read_text())
    kiosk["consumer"]["name"], kiosk["provider"]["name"] = "legacy-kiosk", "shop"
    topology = project(tmp_path, "matrix-link", False, {"kiosk.json": kiosk})
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "contract-matrix.html").write_text("<p>the last run's</p>")
    summary = tmp_path / "summary.md"
    cli = subprocess.run([HARNESS, "verify", "--topology", str(topology), "--report", "out", "--junit", "junit.xml"],
                         capture_output=True, text=True, cwd=tmp_path, env=github_env(tmp_path, summary))
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "nothing was verified (every pact is excluded)" in cli.stdout
    assert (tmp_path / "out" / "contract-matrix.html").read_text() == "<p>the last run's</p>"
    assert summary.read_text().rstrip().splitlines()[-1] == "Reports: `junit.xml`", summary.read_text()


def test_a_failing_interaction_is_annotated_at_its_line_by_both_front_ends(tmp_path: Path,
                                                                            pytester: pytest.Pytester) -> None:
    topology = project(tmp_path, "annotations", False, {})
    pact = tmp_path / "pacts" / "web-frontend-shop.json"
    pact.write_text(json.dumps(three_interactions(), indent=2))  # as pact-python writes it: one key a line
    text = pact.read_text().splitlines()
    line = text.index(f'      "description": {json.dumps(MOTD)},') + 1 - 1  # its object's `{` is the line above
    assert text[line - 1] == "    {"
    expected = f"::error file=pacts/web-frontend-shop.json,line={line},title={TITLE}::{MESSAGE}"

    summary = tmp_path / "summary.md"
    cli = subprocess.run([HARNESS, "verify", "--topology", str(topology), "--report", "out", "--junit", "junit.xml"],
                         capture_output=True, text=True, cwd=tmp_path, env=github_env(tmp_path, summary))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert [row for row in cli.stdout.splitlines() if row.startswith("::")] == [expected]
    assert "::" not in cli.stderr
    assert summary.read_text().splitlines()[:5] == [
        "### harness verify", "", "**2** passed | **1** failed | **0** error | **0** excluded", "",
        rf"- pact\[web\-frontend\-\>shop: {MOTD.replace('-', chr(92) + '-')}\]: {MESSAGE.replace('-', chr(92) + '-')}"]
    matrix = summary.read_text().split("<summary>contract matrix</summary>", 1)[1]
    assert "| web-frontend (outside) | failed<br>drift: n/a |" in matrix and "```" not in matrix  # a Markdown table, not a text block
    # the failing interaction's own reason; a consumer outside the topology (a web front-end) is normal: no note
    assert f"- web-frontend-\\>shop failed: '{MOTD}': expected 418 but was 200" in matrix.splitlines(), matrix
    assert "not a service" not in matrix and "did you mean" not in matrix
    assert not any(row.endswith(" ") for row in summary.read_text().splitlines())
    # a summary page resolves no relative link: the files by path (what an artifact upload keeps)
    assert summary.read_text().rstrip().endswith("Reports: `out/contract-matrix.html`, `junit.xml`")
    case = next(c for c in minidom.parse(str(tmp_path / "junit.xml")).getElementsByTagName("testcase")
                if c.getAttribute("name") == f"pact[web-frontend->shop: {MOTD}]")
    assert (case.getAttribute("file"), case.getAttribute("line")) == ("pacts/web-frontend-shop.json", str(line))

    off = subprocess.run([HARNESS, "verify", "--topology", str(topology), "--report", "out", "--annotations", "off"],
                         capture_output=True, text=True, cwd=tmp_path, env=github_env(tmp_path, tmp_path / "off.md"))
    assert off.returncode == 1 and "::error" not in off.stdout and not (tmp_path / "off.md").exists()

    pytest_summary = tmp_path / "pytest-summary.md"
    for name, value in github_env(tmp_path, pytest_summary).items():
        if name.startswith("GITHUB_"):
            os.environ[name] = value  # runpytest_subprocess passes the environment on
    try:
        result = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--junitxml=x1.xml",
                                               "-o", "junit_family=xunit1", "-p", "no:cacheprovider")
        # xdist: the controller writes them, once, each on its own line (after the progress line xdist leaves open)
        workers = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-n", "2",
                                                "-p", "no:cacheprovider")
        whole_runs = pytest_summary.read_text()
        listed = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "--collect-only")
        picked = pytester.runpytest_subprocess("--topology", str(topology), "--pact-verify", "-k", "day",
                                               "-p", "no:cacheprovider")
    finally:
        for name in ("GITHUB_ACTIONS", "GITHUB_WORKSPACE", "GITHUB_STEP_SUMMARY"):
            os.environ.pop(name, None)
    result.assert_outcomes(passed=2, failed=1)
    assert [row for row in result.stdout.lines if row.startswith("::")] == [expected]
    workers.assert_outcomes(passed=2, failed=1)
    assert [row for row in workers.stdout.lines if "::error" in row] == [expected]
    assert pytest_summary.read_text().splitlines()[:3] == [
        "### pytest", "", "**2** passed | **1** failed | **0** error | **0** excluded"]
    case = next(c for c in minidom.parse(str(pytester.path / "x1.xml")).getElementsByTagName("testcase")
                if c.getAttribute("name") == f"pact[web-frontend->shop: {MOTD}]")
    # pytest's xunit1 writes the 0-based line of its item's location
    assert (Path(case.getAttribute("file")).name, case.getAttribute("line")) == (pact.name, str(line - 1))

    assert listed.ret == 0 and "3 tests collected" in listed.stdout.str()  # --collect-only ran nothing: no summary
    picked.assert_outcomes(failed=1, deselected=2)
    partial = pytest_summary.read_text().removeprefix(whole_runs)
    assert partial.startswith("### pytest\n\n**0** passed | **1** failed"), partial
    # the matrix files stay as the whole run wrote them: not this run's, so not linked; its matrix is in the summary
    assert "contract-matrix.html" not in partial and "only 1 of its 3 interactions were verified" in partial
    assert "contract-matrix.html" in whole_runs


def test_a_service_that_does_not_start_is_annotated_at_its_line(tmp_path: Path, pytester: pytest.Pytester,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    topology = tmp_path / "topology.yaml"
    topology.write_text("name: annotations-start\nservices:\n  ok:\n    image: redis:7\n"
                        "  broken:\n    image: python:3.11-slim\n"
                        "    command: [python, -c, \"print('f24 starting'); print('f24 no config'); raise SystemExit(3)\"]\n"
                        "    ports: [8000]\n    ready: {http: {port: 8000, path: /}}\n    openapi: /openapi.json\n")
    summary = tmp_path / "summary.md"
    cli = subprocess.run([HARNESS, "fuzz", "--topology", str(topology)], capture_output=True, text=True,
                         cwd=tmp_path, env=github_env(tmp_path, summary))
    annotations = [row for row in cli.stdout.splitlines() if row.startswith("::")]
    assert len(annotations) == 1, cli.stdout + cli.stderr
    assert annotations[0].startswith("::error file=topology.yaml,line=5,title=topology annotations-start did not "
                                     "start::"), annotations
    assert "broken" in annotations[0]
    # every one-line form says why it stopped: the log's last line (the whole log only in the long report)
    reason = "exited with code 3 during startup; its log ends: f24 no config"
    assert reason in annotations[0].split("%0A")[0], annotations
    assert reason in summary.read_text().replace("\\", ""), summary.read_text()

    pytester.makepyfile("def test_uses(topology): pass")
    monkeypatch.setenv("CI", "true")  # pytest's short summary keeps its lines whole on a CI
    result = pytester.runpytest_subprocess("--topology", str(topology), "--topology-annotations", "github",
                                           "-p", "no:cacheprovider")
    assert result.ret == 1  # the service exited: a failure of the topology, as harness says it
    rows = [row for row in result.stdout.lines if row.startswith("::")]
    assert len(rows) == 1 and rows[0].startswith(f"::error file={topology.as_posix()},line=5,title=topology "
                                                 "annotations-start::topology annotations-start did not start: service 'broken' "
                                                 "exited with code 3 during startup"), rows
    assert rows[0].endswith(reason), rows  # one line: the reason, not a dangling "its log:"
    short = [row for row in result.stdout.lines if row.startswith("ERROR ")]
    assert len(short) == 1 and short[0].endswith(reason), result.stdout.lines


def test_a_failing_stateful_sequence_is_annotated_at_its_failing_step_by_both_front_ends(
        tmp_path: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The buggy service's item POST /items creates 500s on GET /items/{id}: only a sequence reaches it (the ids are
    random UUIDs), so with the stateful phase alone its finding is the sequences' own, at the step that failed."""
    app = TOPOLOGIES / "buggy-app"
    document = tmp_path / "buggy-openapi.yaml"  # the document the service serves, as a file: lines to point at
    document.write_text(yaml.safe_dump(runpy.run_path(str(app / "app.py"))["OPENAPI"], sort_keys=False))
    text = document.read_text().splitlines()
    line = text.index("  /items/{id}:") + 2  # its `get:`, the line after (1-based)
    assert text[line - 1] == "    get:"
    topology = tmp_path / "topology.yaml"
    topology.write_text(f"name: annotations-stateful-{os.getpid()}\nservices:\n  buggy:\n    build: {app}\n"
                        "    ports: [8000]\n    ready: {http: {port: 8000, path: /health}}\n"
                        f"    openapi: {document.name}\n")
    prefix = f"::error file={document.name},line={line},title=fuzz[buggy stateful]::"

    summary = tmp_path / "summary.md"
    cli = subprocess.run([HARNESS, "fuzz", "--topology", str(topology), "--phases", "stateful", "--seed", "1",
                          *FUZZ_CALM, "--junit", "junit.xml"], capture_output=True, text=True, cwd=tmp_path,
                         env=github_env(tmp_path, summary), timeout=300)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    rows = [row for row in cli.stdout.splitlines() if row.startswith("::error") and "stateful" in row]
    assert len(rows) == 1 and rows[0].startswith(prefix) and "Server error" in rows[0], cli.stdout
    cases = {c.getAttribute("name"): c for c in minidom.parse(str(tmp_path / "junit.xml")).getElementsByTagName("testcase")}
    case = cases["fuzz[buggy stateful]"]
    assert case.getElementsByTagName("failure"), case.toxml()
    assert (case.getAttribute("file"), case.getAttribute("line")) == (document.name, str(line))
    setup = cases["fuzz[buggy setup]"]  # the document as a whole: no line (not line 1, where nothing is)
    assert (setup.getAttribute("file"), setup.hasAttribute("line")) == (document.name, False)

    for name, value in github_env(tmp_path, tmp_path / "pytest-summary.md").items():
        if name.startswith("GITHUB_"):
            monkeypatch.setenv(name, value)  # runpytest_subprocess passes the environment on
    result = pytester.runpytest_subprocess("--topology", str(topology), "--fuzz", "--fuzz-phases", "stateful",
                                           "--fuzz-seed", "1", *FUZZ_CALM_PYTEST, "--junitxml=x1.xml",
                                           "-o", "junit_family=xunit1", "-p", "no:cacheprovider")
    assert [row for row in result.stdout.lines if row.startswith("::error") and "stateful" in row] == rows
    case = next(c for c in minidom.parse(str(pytester.path / "x1.xml")).getElementsByTagName("testcase")
                if c.getAttribute("name") == "fuzz[buggy stateful]")
    # pytest's xunit1 writes the 0-based line of its item's location
    assert (Path(case.getAttribute("file")).name, case.getAttribute("line")) == (document.name, str(line - 1))
    # an item at the document as a whole (the service's setup item) has no line, in either front-end's JUnit
    setup = next(c for c in minidom.parse(str(pytester.path / "x1.xml")).getElementsByTagName("testcase")
                 if c.getAttribute("name") == "fuzz[buggy setup]")
    assert (Path(setup.getAttribute("file")).name, setup.hasAttribute("line")) == (document.name, False)
