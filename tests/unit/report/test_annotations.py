"""CI annotations as pure logic: GitHub's escaping, where a pact's interactions and an OpenAPI document's operations
are, the commands and the step summary written for given cases, and a topology file error's line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.annotations import (
    Annotation,
    Location,
    case_annotations,
    command,
    enabled,
    file_line_location,
    json_array_lines,
    pact_lines,
    run_url,
    step_summary,
    write_ci,
    yaml_lines,
)
from harness.report.junit import Case, write_junit

PACTS = Path(__file__).parent.parent.parent / "integration" / "pacts"


def test_escaping_follows_githubs_workflow_commands(tmp_path: Path) -> None:
    note = Annotation("pact[a->b: 100%, done]", "line one\r\nline two: 50% off", Location(tmp_path / "p,1.json", 7))
    assert command(note, tmp_path) == ("::error file=p%2C1.json,line=7,title=pact[a->b%3A 100%25%2C done]::"
                                       "line one%0D%0Aline two: 50%25 off")
    outside = Annotation("t", "m", Location(Path("/elsewhere/x.yaml")))
    assert command(outside, tmp_path) == "::error file=/elsewhere/x.yaml,title=t::m"
    assert command(Annotation("t", "m"), tmp_path) == "::error title=t::m"


@pytest.mark.parametrize(("mode", "environ", "on"), [
    ("auto", {"GITHUB_ACTIONS": "true"}, True), ("auto", {}, False), ("auto", {"GITHUB_ACTIONS": "false"}, False),
    ("github", {}, True), ("off", {"GITHUB_ACTIONS": "true"}, False)])
def test_auto_means_github_actions(mode: str, environ: dict[str, str], on: bool) -> None:
    assert enabled(mode, environ) is on


def test_interaction_lines_of_pacts_as_pact_python_and_people_write_them(tmp_path: Path) -> None:
    for file in sorted(PACTS.glob("*.json")):  # written by pact-python (and V2 by hand): each starts at its `{`
        text = file.read_text()
        data = json.loads(text)
        key = "interactions" if "interactions" in data else "messages"
        lines = text.splitlines()
        found = pact_lines(file)
        assert len(found) == len(data[key]), file.name
        for line, interaction in zip(found, data[key], strict=True):
            block = "\n".join(lines[line - 1:line + 3])  # the object's start and its first keys
            assert lines[line - 1].strip().startswith("{") and json.dumps(interaction["description"]) in block, \
                file.name
    # by hand: one line, strings holding brackets, braces, quotes and keys, nested arrays, a messages key elsewhere
    compact = tmp_path / "compact.json"
    compact.write_text('{"consumer": {"name": "a", "interactions": [{}]}, "metadata": {"messages": [1]},\n'
                       ' "interactions": [{"description": "x \\" ], {["}, {"description": "y",\n'
                       '  "request": {"path": "/[a]"}},\n'
                       '\n   {"description": "z"}]}')
    assert pact_lines(compact) == [2, 2, 5]
    assert json_array_lines('{"messages": [\n{"a": [1]},\n{}]}') == {"messages": [2, 3]}
    assert json_array_lines('{"interactions": [1, {"a": 1}') == {"interactions": [1]}  # cut short: what was seen
    assert pact_lines(tmp_path / "missing.json") == []


def test_operation_lines_of_a_yaml_and_a_json_document(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text("openapi: 3.0.3\npaths:\n  /items:\n    get:\n      responses: {}\n"
                                       "  /items/{id}:\n    parameters: []\n    delete:\n      responses: {}\n")
    assert yaml_lines(tmp_path / "api.yaml")[("paths", "/items/{id}", "delete")] == 8
    (tmp_path / "api.json").write_text(json.dumps({"paths": {"/a": {"get": {}, "post": {}}}}, indent=2))
    assert yaml_lines(tmp_path / "api.json")[("paths", "/a", "post")] == 5
    (tmp_path / "bad.yaml").write_text("a: [")
    assert yaml_lines(tmp_path / "bad.yaml") == {}


def test_a_topology_file_errors_location_names_its_line(tmp_path: Path) -> None:
    files = [tmp_path / "compose.yaml", tmp_path / "override.yaml"]
    assert file_line_location("override.yaml:12", files) == Location(files[1], 12)
    assert file_line_location(str(files[0]), files) == Location(files[0], None)
    assert file_line_location("topology 'shop'", files) is None


def test_failing_cases_become_commands_and_a_step_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    cases = [Case("t", "pact[a->b: ok]", file="pacts/a-b.json", line=4),
             Case("t", "pact[a->b: motd]", failure="motd: expected 418 but was 200", file="pacts/a-b.json", line=9),
             Case("t", "pact[c->b]", error="error c->b: not a pact file", file="pacts/c-b.json"),
             Case("t", "fuzz[b excluded x]", skipped="excluded: why")]
    written: list[str] = []
    write_ci("github", "harness verify", cases, written.append, matrix="| a | b |\n",
             links=[tmp_path / "out" / "page.html", None], notes=["7 accepted by the baseline b.json"])
    assert written == [
        "::error file=pacts/a-b.json,line=9,title=pact[a->b%3A motd]::motd: expected 418 but was 200",
        "::error file=pacts/c-b.json,title=pact[c->b]::error c->b: not a pact file"]
    assert summary.read_text().splitlines() == [
        "### harness verify", "", "**1** passed | **1** failed | **1** error | **1** excluded", "",
        r"7 accepted by the baseline b\.json", "",
        r"- pact\[a\-\>b: motd\]: motd: expected 418 but was 200",
        r"- pact\[c\-\>b\]: error c\-\>b: not a pact file", "",
        "<details open><summary>contract matrix</summary>", "", "| a | b |", "", "</details>",
        "", "Reports: `out/page.html`", ""]  # a summary page resolves no relative link: the artifact's path
    written.clear()
    write_ci("off", "harness verify", cases, written.append)
    write_ci("auto", "harness verify", cases, written.append)  # GITHUB_ACTIONS is not set here
    assert written == [] and summary.read_text().count("###") == 1


def test_junit_cases_carry_file_and_line(tmp_path: Path) -> None:
    file = write_junit(tmp_path / "j.xml", "s", [Case("c", "n", file="pacts/a.json", line=3), Case("c", "m")])
    text = file.read_text()
    assert 'name="n" time="0.000" file="pacts/a.json" line="3"' in text
    assert '<testcase classname="c" name="m" time="0.000" />' in text


def test_case_annotations_are_at_the_cases_files(tmp_path: Path) -> None:
    cases = [Case("c", "drift[a->b: x]", failure="x: 1 drift(s)", file="p.json", line=2),
             Case("c", "drift[a->b: y]", skipped="not applicable")]
    assert case_annotations(cases, tmp_path) == [Annotation("drift[a->b: x]", "x: 1 drift(s)",
                                                            Location(tmp_path / "p.json", 2))]
    assert step_summary("t", {"passed": 0}).startswith("### t\n\n**0** passed")


def test_harness_drift_annotates_each_drifting_interaction_at_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main
    from harness.model.loader import load_topology
    from harness.report.annotations import Location, operation_location, service_location
    from tests.unit.contracts.test_drift import ROOT, _mutated_runnerly, _three_ways

    topology = _mutated_runnerly(tmp_path, _three_ways)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(ROOT))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["drift", "--topology", str(topology), "--provider", "dataservice"]) == 1
    rows = [row for row in capsys.readouterr().out.splitlines() if row.startswith("::")]
    pact = (ROOT / "contracts" / "gateway-dataservice.json").read_text().splitlines()
    assert len(rows) == 3, rows
    for row in rows:  # at the `{` of the interaction the title names
        line = int(row.split(",line=", 1)[1].split(",", 1)[0])
        description = row.split("title=drift[gateway->dataservice%3A ", 1)[1].split("]::", 1)[0]
        assert row.startswith("::error file=contracts/gateway-dataservice.json,line=")
        assert pact[line - 1].strip() == "{" and f'"description": {json.dumps(description)}' in "".join(
            pact[line:line + 3]), row
    assert summary.read_text().splitlines()[2] == "**4** passed | **3** failed | **0** error | **0** excluded"

    spec = load_topology(topology)
    document = (tmp_path / "dataservice.yaml").read_text().splitlines()
    where = operation_location(spec, "dataservice", "GET /api/users/{userId}")
    assert where is not None and where.file == tmp_path / "dataservice.yaml" and where.line is not None
    assert document[where.line - 1].strip() == "get:" and "/api/users/{userId}:" in "\n".join(document[:where.line])
    for whole in ("(service)", "stateful"):  # the document as a whole: no line (nothing of it is at line 1)
        assert operation_location(spec, "dataservice", whole) == Location(tmp_path / "dataservice.yaml", None)
    served = operation_location(spec, "gateway", "GET /api/runs")  # a document the service serves: the service
    assert served == service_location(spec, "gateway")
    assert served is not None and served.file == topology and served.line is not None
    assert (topology.read_text().splitlines()[served.line - 1]).strip() == "gateway:"


def test_an_error_that_ends_a_command_is_annotated_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    (tmp_path / "topology.yaml").write_text("name: plain\nservices:\n  cache:\n    image: redis:7\n")
    assert main(["fuzz", "--topology", "topology.yaml", "--annotations", "github"]) == 2
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["::error title=harness fuzz::nothing to fuzz: no service of topology plain "
                                         "declares `openapi:` (services with one: none)"]
    assert "error: nothing to fuzz" in captured.err

    (tmp_path / "bad.yaml").write_text("name: bad\nservices:\n  cache:\n    image: redis:7\n    colour: red\n")
    assert main(["verify", "--topology", "bad.yaml", "--annotations", "github"]) == 2
    rows = capsys.readouterr().out.splitlines()
    assert len(rows) == 1 and rows[0].startswith("::error file=bad.yaml,line=5,title=topology file::bad.yaml:5: "), rows
    assert main(["verify", "--topology", "bad.yaml", "--annotations", "off"]) == 2
    assert capsys.readouterr().out == ""


def test_report_files_link_the_runs_page_only_when_github_says_where_it_is() -> None:
    environ = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42",
               "GITHUB_WORKSPACE": "/w"}
    text = step_summary("t", {"passed": 1}, links=[Path("/w/reports/junit.xml")], environ=environ)
    assert text.splitlines()[-1] == ("Reports: `reports/junit.xml` (the run's artifacts, when uploaded: "
                                     "[https://github.com/o/r/actions/runs/42](https://github.com/o/r/actions/runs/42))")
    assert run_url({"GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42"}) == ""
    assert not any(line.endswith(" ") for line in text.splitlines())


def test_the_stateful_sequences_are_at_their_failing_step_else_the_document_as_a_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stateful item's place: the operation of the step where its first new finding's sequence failed (the
    findings in the item's order); the document without a line when none names a step (no finding, an accepted
    one, an error of the phase as a whole), never line 1, where nothing is."""
    from harness.fuzz.results import SERVICE_WIDE, Finding, ServiceResult
    from harness.model.loader import load_topology
    from harness.report.fuzz import fuzz_cases
    from tests.unit.contracts.test_drift import _mutated_runnerly

    topology = _mutated_runnerly(tmp_path, lambda document: None)
    spec, document = load_topology(topology), tmp_path / "dataservice.yaml"
    lines = document.read_text().splitlines()
    step, accepted = "POST /api/runs", "GET /api/users/{userId}"
    findings = [Finding("stateful", "network_error", "no answer", kind="error"),
                Finding(f"stateful ({accepted})", "not_a_server_error", "Server error", accepted="a1"),
                Finding(f"stateful ({step})", "not_a_server_error", "Server error"),
                Finding("stateful (GET /api/users/{userId}/runs)", "response_schema_conformance", "schema")]
    result = ServiceResult("dataservice", "http://127.0.0.1:1", 1, operations=[step], findings=findings,
                           stateful_requests=3, phases=["stateful"])
    assert result.place_of("stateful") == step and result.place_of(step) == step
    assert result.place_of(SERVICE_WIDE) == SERVICE_WIDE

    def places(result: ServiceResult) -> dict[str, tuple[str | None, int | None]]:
        return {case.name: (case.file, case.line) for case in fuzz_cases([result], topology, spec=spec)}

    monkeypatch.chdir(tmp_path)  # JUnit's file: relative to the folder the run is made from
    found = places(result)
    assert found["fuzz[dataservice stateful]"][0] == "dataservice.yaml"
    line = found["fuzz[dataservice stateful]"][1]
    assert line is not None and lines[line - 1].strip() == "post:" and lines[line - 2].strip() == "/api/runs:", line
    assert found["fuzz[dataservice stateful]"] == found[f"fuzz[dataservice {step}]"]
    assert found["fuzz[dataservice setup]"] == ("dataservice.yaml", None)  # the document: no line
    for kept in ([], findings[:2]):  # nothing found; only an error of the phase and an accepted failure
        quiet = ServiceResult("dataservice", "http://127.0.0.1:1", 1, findings=kept, phases=["stateful"])
        assert quiet.place_of("stateful") == "stateful"
        assert places(quiet)["fuzz[dataservice stateful]"] == ("dataservice.yaml", None)
