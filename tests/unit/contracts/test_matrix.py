"""The contract matrix with its drift column (no Docker): Runnerly's pacts with their verification verdicts and their
drift against a dataservice document mutated three ways, in the terminal table, contract-matrix.json (parseable, a
`drift` object per pact, null where not checked) and contract-matrix.html (valid HTML5)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import html5lib
import pytest

from harness.contracts.drift import check_files, pact_files
from harness.contracts.matrix import DriftCell, edge_matrix
from harness.contracts.pactfiles import read_pact
from harness.contracts.results import PactResult
from harness.model.loader import load_topology
from harness.report.matrix import DRIFT_NOTE, matrix_text, write_reports
from tests.unit.contracts.test_drift import ROOT, _mutated_runnerly, _three_ways

PACTS = ROOT / "contracts"
FIRST = ("'a request for the runs of user 1 in March 2026' /request/query/limit: required query parameter 'limit' "
         "(the pact says absent)")  # the first of the six drifts test_drift.py names


def _verified(files: list[Path]) -> list[PactResult]:
    """Every pact verified, as pact-python gave it: drift must not change that."""
    results = []
    for file in files:
        pact = read_pact(file)
        results.append(PactResult(file, "verified", pact.consumer, pact.provider, pact.consumer, pact.provider,
                                  len(pact.interactions)))
    return results


@pytest.fixture
def edges(tmp_path: Path) -> list:  # noqa: ANN001
    spec = load_topology(_mutated_runnerly(tmp_path, _three_ways))
    files = pact_files(PACTS)
    return edge_matrix(spec, _verified(files), check_files(spec, files))


def _by_pact(edges: list) -> dict:  # noqa: ANN001
    return {Path(e.pact).name: e for e in edges if e.pact}


def test_each_pact_has_its_drift_beside_its_verdict(edges: list) -> None:
    by_pact = _by_pact(edges)
    assert {name: e.drift.verdict for name, e in by_pact.items()} == {
        "dataservice-tokendealer.json": "clean", "gateway-dataservice.json": "drift",
        "gateway-tokendealer.json": "clean", "worker-dataservice.json": "clean", "worker-gateway.json": "not applicable",
        "worker-strava.json": "clean", "worker-tokendealer.json": "clean"}
    assert {e.status for e in by_pact.values()} == {"verified"}  # the verdicts stay pact-python's
    gateway = by_pact["gateway-dataservice.json"].drift
    assert gateway.count == 6 and gateway.label == "drift: 6" and gateway.first == FIRST
    assert by_pact["worker-gateway.json"].drift == DriftCell(
        "not applicable", reason="a message pact: no HTTP request to check against OpenAPI")
    assert all(e.drift is None for e in edges if e.status == "no pact")


def test_json_has_a_drift_object_per_pact_and_null_elsewhere(edges: list, tmp_path: Path) -> None:
    as_json, _ = write_reports(edges, tmp_path / "out", "contracts of topology runnerly")
    data = json.loads(as_json.read_text())
    by_pact = {Path(e["pact"]).name: e for e in data["edges"] if e["pact"]}
    assert by_pact["gateway-dataservice.json"]["status"] == "verified"
    assert by_pact["gateway-dataservice.json"]["drift"] == {
        "verdict": "drift", "count": 6, "first": FIRST, "reason": "", "source": f"file {tmp_path / 'dataservice.yaml'}"}
    clean = by_pact["dataservice-tokendealer.json"]["drift"]
    assert (clean["verdict"], clean["count"], clean["first"], clean["reason"]) == ("clean", 0, "", "")
    assert clean["source"].startswith("file ")
    assert [e["drift"] for e in data["edges"] if e["status"] == "no pact"] == [None] * sum(
        e["status"] == "no pact" for e in data["edges"])


def test_html_is_valid_and_has_a_drift_column(edges: list, tmp_path: Path) -> None:
    _, as_html = write_reports(edges, tmp_path / "out", "contracts of topology runnerly")
    text = as_html.read_text()
    document = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(text)  # raises on a parse error
    pacts = document.findall(".//table")[1]
    head = [th.text for th in pacts.find(".//tr").findall("th")]
    assert head == ["consumer", "provider", "pact", "verdict", "drift", "first drift, or why not"]
    rows = {tds[2].text: [td.text for td in tds] for tr in pacts.findall(".//tr")[1:] if (tds := tr.findall("td"))}
    assert rows["gateway-dataservice.json"][3:] == ["verified", "6", FIRST]
    assert rows["worker-gateway.json"][3:] == ["verified", "n/a",
                                               "a message pact: no HTTP request to check against OpenAPI"]
    assert rows["worker-strava.json"][4] == "clean"
    assert "verified <small>(drift: 6)</small>" in text  # the grid's cell too


def test_the_terminal_table_shows_the_drift_under_the_verdict_and_names_the_first(edges: list) -> None:
    text = matrix_text(edges, "contracts of topology runnerly", width=200)
    assert "drift: 6" in text and "drift: clean" in text and "drift: n/a" in text
    assert f"gateway->dataservice drift: 6 drift(s) in gateway-dataservice.json, first: {FIRST}" in text
    assert DRIFT_NOTE in " ".join(text.split())


def test_without_drift_results_the_column_says_not_checked(tmp_path: Path) -> None:
    spec = load_topology(_mutated_runnerly(tmp_path, _three_ways))
    edges = edge_matrix(spec, _verified(pact_files(PACTS)))
    assert all(e.drift is None for e in edges)
    assert "drift: not checked" in matrix_text(edges, "t", width=200)
    _, as_html = write_reports(edges, tmp_path / "out", "t")
    html5lib.HTMLParser(strict=True).parse(as_html.read_text())


def test_two_pacts_of_one_pair_are_told_apart_by_file_in_the_printed_matrix() -> None:
    from harness.contracts.matrix import Edge
    from harness.report.matrix import matrix_text

    text = matrix_text([Edge("shop", "stock", "failed", pact="/p/shop-stock-broken.json"),
                        Edge("shop", "stock", "verified", pact="/p/shop-stock.json"),
                        Edge("web", "stock", "verified", pact="/p/web-stock.json")], "contracts")
    assert "failed shop-stock-broken.json" in text and "verified shop-stock.json" in text
    assert "web-stock.json" not in text  # one pact of its pair: the cell needs no name


def test_the_step_summarys_matrix_is_a_markdown_table_with_the_notes_under_it(edges: list) -> None:
    from harness.report.matrix import matrix_markdown

    text = matrix_markdown(edges, "contracts of topology runnerly")
    lines = text.splitlines()
    assert lines[0] == "**contracts of topology runnerly**" and lines[2].startswith("| consumer \\\\ provider | ")
    assert set(lines[3].replace(" ", "")) == {"|", "-"}  # the header's separator row
    assert any(line.startswith("| gateway |") and "drift: 6" in line for line in lines), text
    assert "- gateway-\\>dataservice drift: 6 drift(s) in gateway-dataservice.json" in text
    assert "```" not in text and "┃" not in text
    assert not any(line.endswith(" ") for line in lines)
    row = next(line for line in lines if line.startswith("| gateway |"))
    assert row.count("|") == lines[2].count("|")  # a cell's lines joined by <br>: the row stays one row


def _outside_results(tmp_path: Path) -> tuple:  # noqa: ANN001
    """A topology of three services sharing a prefix (t24c's trial), two consumers outside it: one failed pact, one
    verified, one verified for 1 of its 4 interactions."""
    from harness.contracts.results import InteractionResult
    from harness.model.builder import TopologyBuilder

    spec = (TopologyBuilder("t24c", tmp_path).service("t24c-db", image="postgres:15")
            .service("t24c-notes", image="python:3.11-slim").service("t24c-shop", image="python:3.11-slim").spec)
    missing = InteractionResult("a request for a missing note", False,
                                problems=["$: Actual map is missing the following keys: message", "second line"])
    failed = PactResult(tmp_path / "web-notes.json", "failed", "t24c-web", "t24c-notes", None, "t24c-notes", 4,
                        [InteractionResult("a note", True), missing], labels=["a", "b", "c", "d"])
    verified = PactResult(tmp_path / "web-shop.json", "verified", "t24c-web", "t24c-shop", None, "t24c-shop", 2,
                          labels=["a", "b"])
    partial = PactResult(tmp_path / "indexer-notes.json", "failed", "t24c-indexer", "t24c-notes", None, "t24c-notes",
                         4, [missing], labels=["b"])
    return spec, [failed, verified, partial]


def test_an_outside_consumers_edge_gives_its_failure_not_a_did_you_mean(tmp_path: Path) -> None:
    from harness.report.matrix import matrix_markdown

    spec, results = _outside_results(tmp_path)
    by_pact = {Path(e.pact).name: e for e in edge_matrix(spec, results)}
    assert by_pact["web-notes.json"].reason == (
        "'a request for a missing note': $: Actual map is missing the following keys: message")
    assert by_pact["web-shop.json"].reason == ""  # verified: nothing to say, being outside is normal
    assert by_pact["indexer-notes.json"].reason == (
        "'a request for a missing note': $: Actual map is missing the following keys: message; only 1 of its 4 "
        "interactions were verified (the others were not selected)")
    assert all(e.outside and e.note == "" for e in by_pact.values())  # t24c-web is not close to t24c-db
    text = matrix_markdown(list(by_pact.values()), "contracts of topology t24c")
    assert "did you mean" not in text and "not a service" not in text
    assert ("- t24c-web-\\>t24c-notes failed: 'a request for a missing note': $: Actual map is missing the following "
            "keys: message") in text.splitlines()
    _, as_html = write_reports(list(by_pact.values()), tmp_path / "out", "t")
    assert "Actual map is missing the following keys: message" in as_html.read_text()


def test_a_consumer_name_close_to_a_service_gets_one_note_for_all_its_edges(tmp_path: Path) -> None:
    from harness.contracts.names import near_service

    spec, results = _outside_results(tmp_path)
    assert [near_service(spec, n) for n in ("t24c-web", "t24c-indexer", "t24c-note", "T24C_Shop")] == [
        None, None, "t24c-notes", "t24c-shop"]
    close = [dataclass_replace(r, consumer="t24c-note") for r in results[:2]]
    edges = edge_matrix(spec, close)
    assert {e.note for e in edges} == {
        "consumer 't24c-note' is not a service of the topology (did you mean 't24c-notes'? map the name with "
        "`pact_name: t24c-note` on service t24c-notes, or under `contracts.names` in the topology file; in a compose "
        "file both go under `x-topology:`, of the service and at the top)"}
    text = matrix_text(edges, "t", width=400)
    assert text.count("did you mean") == 1  # once, not once per edge, and not as the verified edge's reason
    assert "t24c-note->t24c-shop verified" not in text
    data = json.loads(write_reports(edges, tmp_path / "out", "t")[0].read_text())
    assert all(e["note"].startswith("consumer 't24c-note' is not a service") for e in data["edges"])


def dataclass_replace(result: PactResult, **changes: str) -> PactResult:
    import dataclasses

    return dataclasses.replace(result, **changes)


def test_a_provider_without_a_document_is_na_whether_drift_was_checked_or_not(tmp_path: Path) -> None:
    """Trial t25e: "drift: n/a" in a run that checked drift, "drift: not checked" in one that started nothing, for
    the same pacts of a provider that declares no `openapi:`: nothing to check against is one situation, one word."""
    topology = tmp_path / "topology.yaml"
    topology.write_text("name: t25e\nservices:\n  catalog: {image: 'redis:7'}\n")
    spec = load_topology(topology)
    pact = tmp_path / "web-catalog.json"
    pact.write_text(json.dumps({"consumer": {"name": "web"}, "provider": {"name": "catalog"}, "interactions": [
        {"description": "a request for items", "request": {"method": "GET", "path": "/items"},
         "response": {"status": 200}}], "metadata": {"pactSpecification": {"version": "3.0.0"}}}))
    results = [PactResult(pact, "verified", "web", "catalog", None, "catalog", 1)]
    checked, unchecked = edge_matrix(spec, results, check_files(spec, [pact])), edge_matrix(spec, results)
    assert checked[0].drift == unchecked[0].drift == DriftCell(
        "not applicable", reason="provider 'catalog' declares no `openapi:` in the topology: no document to check")
    assert "drift: not checked" not in matrix_text(unchecked, "t", width=200)
    assert "drift: n/a" in matrix_text(unchecked, "t", width=200)


def test_a_verdict_from_the_brokers_results_makes_up_no_time() -> None:
    from harness.report.contracts import headline

    result = PactResult(Path("web-catalog.json"), "verified", "web", "catalog", None, "catalog", 4, seconds=0.0,
                        cached_from="2026-12-06T09:40:00+00:00", cached_by="the Pact Broker (catalog 3.0.0)")
    said = headline(result)
    assert said.startswith("verified (cached, from the Pact Broker (catalog 3.0.0), verified ")
    assert said.endswith(" web->catalog: 4 interaction(s) (web-catalog.json)") and " s then" not in said
    here = headline(dataclasses.replace(result, cached_by="", seconds=0.41))
    assert here.endswith(" web->catalog: 4 interaction(s), in 0.41 s then (web-catalog.json)")


def test_without_a_terminal_the_matrix_is_a_plain_table_with_its_notes(edges: list) -> None:
    text = matrix_text(edges, "contracts of topology runnerly", width=80, terminal=False)
    lines = text.splitlines()
    assert lines[0] == "contracts of topology runnerly" and lines[1].split()[:3] == ["consumer", "\\", "provider"]
    assert not re.search("[\u2500-\u257f]", text) and "\x1b" not in text
    assert any(line.startswith(" gateway ") and "verified" in line for line in lines), text
    assert f"gateway->dataservice drift: 6 drift(s) in gateway-dataservice.json, first: {FIRST}" in lines
    assert DRIFT_NOTE in text  # a note on one line, not wrapped at `width`
