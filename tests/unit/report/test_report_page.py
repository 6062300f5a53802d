"""The report page from data made here (no Docker): its graph with and without Graphviz at 10 services and 30 edges,
every verdict of the matrix, both shapes of fuzz results, secrets kept out, and `--report` of the CLI."""

from __future__ import annotations

import dataclasses
import html
import re
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.contracts.results import InteractionResult, PactResult
from harness.model.topology import TopologySpec
from harness.options import CLI, PYTEST, flags
from harness.report.fuzz import Rerun
from harness.report.page import FailedTest, RunRecorder, Scrubber, write_page

from ..conftest import Load

RUNNERLY = Path(__file__).parent.parents[2] / "scenarios" / "runnerly" / "topology.yaml"
NAMES = ["edge", "auth", "users", "orders", "stock", "billing", "mail", "search", "db", "cache"]


def _ten_services(load: Load) -> TopologySpec:
    """10 services and 30 edges: each service calls the next three (in a ring), `db` and `cache` are started first."""
    lines = ["services:"]
    for i, name in enumerate(NAMES):
        calls = [NAMES[(i + k) % len(NAMES)] for k in (1, 2, 3)]
        depends = [d for d in ("db", "cache") if d in calls and name not in ("db", "cache")]
        lines += [f"  {name}:", "    image: redis:7", f"    consumes: [{', '.join(c for c in calls if c not in depends)}]"]
        if depends:
            lines.append(f"    depends_on: [{', '.join(depends)}]")
        lines.append(f"    environment: {{API_TOKEN: tok-{name}-0123456789, MODE: fast}}")
    return load("\n".join(lines) + "\n")


def _boxes(svg: str) -> list[tuple[float, float, float, float]]:
    return [tuple(float(v) for v in m) for m in
            re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg)]


def test_without_graphviz_the_built_in_layout_keeps_10_services_and_30_edges_apart(
        load: Load, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` to be found
    page = write_page(RunRecorder("test").page(_ten_services(load)), tmp_path / "page.html").read_text()
    assert "simple built-in layout (Graphviz&#x27;s dot was not found" in page
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert len(re.findall(r'<g class="node service', svg)) == 10
    assert len(re.findall(r'<g class="edge ', svg)) == 30
    boxes = _boxes(svg)
    assert len(boxes) == 10
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1:]:
            assert x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1, "two boxes overlap"
    width, height = (int(v) for v in re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    assert width <= 2400 and height <= 1200


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed (make setup installs it)")
def test_graphviz_draws_a_node_per_service_and_an_edge_per_pair(load: Load, tmp_path: Path) -> None:
    page = html.unescape(write_page(RunRecorder("test").page(_ten_services(load)), tmp_path / "page.html").read_text())
    assert "drawn by Graphviz dot" in page
    assert sorted(re.findall(r'<g id="svc-([\w-]+)" class="node service', page)) == sorted(NAMES)
    assert len(re.findall(r'<g id="edge-[\w.-]+" class="edge ', page)) == 30
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_every_verdict_of_the_matrix_with_its_reason_and_the_interactions(tmp_path: Path) -> None:
    from harness import load_topology

    spec = load_topology(RUNNERLY)
    folder = tmp_path / "pacts"
    pacts = [
        PactResult(folder / "gateway-dataservice.json", "failed", "gateway", "dataservice", "gateway", "dataservice", 2,
                   [InteractionResult("a request for user 1", True, 0.1),
                    InteractionResult("a request for user 999", False, 0.1, ["$: missing key error_code"])],
                   report="Verifying a pact between gateway and dataservice ... FAILED"),
        PactResult(folder / "kiosk-tokendealer.json", "excluded", "kiosk", "tokendealer", None, "tokendealer",
                   reason="the kiosk is retired next month"),
        PactResult(folder / "mobile-gateway.json", "verified", "mobile", "gateway", None, "gateway", 1,
                   [InteractionResult("a run summary", True, 0.2)]),
        PactResult(folder / "broken.json", "error", reason="broken.json: not JSON (line 1)"),
    ]
    page = html.unescape(write_page(RunRecorder("test").page(spec, pacts=pacts), tmp_path / "page.html").read_text())
    for text in ("the kiosk is retired next month", "broken.json: not JSON (line 1)", "$: missing key error_code",
                 "a request for user 999", "mobile (outside)", "Verifying a pact between gateway and dataservice"):
        assert text in page, text
    assert re.search(r'<details id="pact-gateway-dataservice" class="pact failed" data-edge="gateway--dataservice" '
                     r"open>", page)
    assert 'class="pact excluded"' in page and 'class="pact error"' in page
    assert re.search(r'class="[^"]*\bno_pact\b|v-no_pact', page)  # worker->strava etc. have no pact here
    assert re.search(r'id="edge-gateway--dataservice" class="edge (edge )?contract verdict-failed failed', page)


def test_fuzzing_per_operation_with_requests_check_detail_curl_log_and_seed(tmp_path: Path) -> None:
    from harness import load_topology
    from harness.fuzz.results import SERVICE_WIDE, Finding, ServiceResult

    spec = load_topology(RUNNERLY)
    strava = ServiceResult("strava", "http://127.0.0.1:1", 11, operations=["GET /health", "GET /openapi.json"],
                           requests=12, requests_by_operation={"GET /health": 5, "GET /openapi.json": 7},
                           log="strava: GET /health -> 200\nstrava: GET /openapi.json -> 200\n", findings=[
        Finding("GET /health", "response_schema_conformance", "Response violates schema",
                detail="'ok' was expected to be 'healthy'", request="GET /health", phases=["coverage", "fuzzing"],
                log=["strava: GET /health -> 200"], curl="curl -X GET -H 'Authorization: Bearer strava-token-bob' http://127.0.0.1:1/health")])
    gateway = ServiceResult("gateway", "http://127.0.0.1:2", 22, operations=["GET /health"], requests=3,
                            requests_by_operation={"GET /health": 3}, findings=[
        Finding("stateful", "network_error", "Connection refused", kind="error"),
        Finding(SERVICE_WIDE, "no_requests", "every answer was 404", kind="error")])
    rerun = Rerun(["harness", "fuzz", "--topology", "t.yaml"], flags(CLI, "fuzz"))  # as harness fuzz makes it
    page = write_page(RunRecorder("test", rerun).page(spec, fuzz=[strava, gateway]), tmp_path / "page.html").read_text()
    assert re.search(r'<tr class="op failed" data-service="strava" data-operation="GET /health">'
                     r"<td><code>GET /health</code></td><td class=num>5</td>", page)
    assert re.search(r'<tr class="op passed" data-service="strava" data-operation="GET /openapi.json">', page)
    assert re.search(r'<tr class="op error" data-service="gateway" data-operation="stateful">', page)
    assert re.search(r'<tr class="op error" data-service="gateway" data-operation="\(service\)">', page)
    assert "&#x27;ok&#x27; was expected to be &#x27;healthy&#x27;" in page
    assert '<pre class="log">strava: GET /health -&gt; 200</pre>' in page  # the service's log line for the request
    assert "coverage, fuzzing phases; seed 11" in page
    assert "rerun with <code>harness fuzz --topology t.yaml --seed 11 --service strava</code>" in page
    assert "strava-token-bob" not in page and "Authorization: [hidden]" in page
    assert re.search(r'<details class="fuzz-service error" id="fuzz-gateway" open>', page)
    # a run on a topology that was already running: its hint is not presented as a reproduction
    reused = dataclasses.replace(rerun, reused="harness down --topology t.yaml")
    page = write_page(RunRecorder("test", reused).page(spec, fuzz=[strava]), tmp_path / "page.html").read_text()
    assert "rerun with" not in page
    assert ("; same seed and options: <code>harness fuzz --topology t.yaml --seed 11 --service strava</code> (not a "
            "reproduction: this run used a topology that was already running, whose state earlier runs left; "
            "<code>harness down --topology t.yaml</code> first for a fresh one)") in page


def test_secrets_never_reach_the_page(tmp_path: Path) -> None:
    from harness import load_topology

    spec = load_topology(RUNNERLY)
    scrub = Scrubber(spec)
    log = ("connecting to postgresql://runnerly:runnerly@postgres:5432/runnerly with gateway-secret; token "
           "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJnYXRld2F5In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ; "
           '{"Authorization": "Bearer abc123456"} client_secret=scenarios-secret')
    cleaned = scrub(log)
    for secret in ("postgresql://runnerly:runnerly@postgres", "gateway-secret", "eyJhbGciOiJSUzI1NiJ9",
                   "abc123456", "scenarios-secret"):
        assert secret not in cleaned
    failed = [FailedTest("test_x.py::test_y", "call", log, (("Captured log of service gateway call", log),))]
    page = write_page(RunRecorder("test").page(spec, failed_tests=failed), tmp_path / "page.html").read_text()
    values = {v for s in spec.services.values() for v in s.environment.values() if len(v) >= 8} - {spec.name}
    assert {v for v in values if v in page} == set()
    assert "GATEWAY_CLIENT_SECRET" in page and "Captured log of service gateway call" in page
    assert "topology runnerly" in page  # the project's name stays, although the database password is the same


def test_cli_report_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "out" / "drift.html"
    assert main(["drift", "--topology", str(RUNNERLY), "--report", str(page)]) == 0
    assert f"report page written to {page}" in capsys.readouterr().out
    text = page.read_text()
    assert '<section id="drift">' in text and "harness drift --topology" in text
    assert main(["fuzz", "--topology", str(RUNNERLY), "--report", str(tmp_path)]) == 2
    assert (f"--report: the report page is one HTML file; give a name ending in .html, e.g. {tmp_path}/report.html, "
            f"not '{tmp_path}'") in capsys.readouterr().err
    assert main(["verify", "--topology", str(RUNNERLY), "--report", str(tmp_path / "contract-matrix.html")]) == 2
    assert "that name is the contract matrix's file" in capsys.readouterr().err


def test_pytest_topology_report_needs_a_topology(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess("--topology-report", "page.html")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--topology-report (ini topology_report) needs a topology: run pytest with "
                                 "--topology FILE (or set the ini key `topology`)*"])


def test_pytest_pact_drift_writes_the_page_without_starting_anything(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--topology", str(RUNNERLY), "--pact-drift", "--topology-report",
                                           "out/page.html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=15, skipped=1)  # one item per interaction of the 7 pacts
    page = pytester.path / "out" / "page.html"
    result.stdout.fnmatch_lines([f"report page written to {page}"])
    text = page.read_text()
    assert '<section id="drift">' in text and text.count('<details class="drift clean"') == 6
    assert "15 passed, 1 skipped" in text and text.count('v-not_started">not started<') == 7  # nothing started


def test_findings_of_one_failing_request_share_one_collapsed_curl_and_every_finding_is_listed(
        tmp_path: Path) -> None:
    """As schemathesis' HTML report shows a failing test case: the findings of one request (a 500 fails ST101 and
    ST103) named one after the other, the answer they both quote once, the curl once and collapsed; another request's
    finding has its own."""
    from harness import load_topology
    from harness.fuzz.results import Finding, ServiceResult

    five_hundred = "curl -X GET http://127.0.0.1:1/api/users/0"
    answer = "[500] Internal Server Error: `boom`"
    strava = ServiceResult("strava", "http://127.0.0.1:1", 11, operations=["GET /api/users/{id}"],
                           requests_by_operation={"GET /api/users/{id}": 9}, findings=[
        Finding("GET /api/users/{id}", "not_a_server_error", "Server error", code="ST101", detail=answer,
                curl=five_hundred, log=["Traceback: boom"]),
        Finding("GET /api/users/{id}", "status_code_conformance", "Undocumented HTTP status code", code="ST103",
                detail="Received: 500\nDocumented: 200, 404\n\n" + answer, curl=five_hundred),
        Finding("GET /api/users/{id}", "response_schema_conformance", "Response violates schema", code="ST108",
                detail="'id' is a required property", curl="curl -X GET http://127.0.0.1:1/api/users/7")])
    page = write_page(RunRecorder("test", None).page(load_topology(RUNNERLY), fuzz=[strava]),
                      tmp_path / "page.html").read_text()
    for label in ("not_a_server_error [ST101]", "status_code_conformance [ST103]", "response_schema_conformance [ST108]"):
        assert page.count(f"<b>{label}</b>") == 1, label
    assert page.count(html.escape(five_hundred)) == 1 and page.count("/api/users/7") == 1
    assert page.count('<details class="curl"><summary>reproduce (curl)</summary>') == 2  # collapsed: no `open`
    assert page.count(html.escape(answer)) == 1  # quoted by both findings, shown once (in ST103's longer detail)
    assert page.count("Traceback: boom") == 1
    assert page.count('<div class="finding failure">') == 2


def test_fuzzing_shows_codes_accepted_findings_and_the_baseline(tmp_path: Path) -> None:
    from harness import load_topology
    from harness.fuzz.baseline import BaselineOutcome
    from harness.fuzz.results import Finding, ServiceResult

    spec = load_topology(RUNNERLY)
    strava = ServiceResult("strava", "http://127.0.0.1:1", 11, operations=["GET /health", "GET /openapi.json"],
                           requests_by_operation={"GET /health": 5, "GET /openapi.json": 7}, findings=[
        Finding("GET /health", "not_a_server_error", "Server error", code="ST101", accepted="abc123"),
        Finding("GET /openapi.json", "response_schema_conformance", "Response violates schema", code="ST108")])
    outcome = BaselineOutcome(tmp_path / "b.json", accepted=["abc123"], not_reproduced=[
        {"id": "def456", "operation": "GET /stats", "check": "not_a_server_error", "failure": "ServerError"}])
    rerun = Rerun(["pytest"], flags(PYTEST, "fuzz"))  # as pytest makes it
    page = write_page(RunRecorder("test", rerun).page(spec, fuzz=[strava], fuzz_baseline=outcome),
                      tmp_path / "page.html").read_text()
    assert re.search(r'<tr class="op accepted" data-service="strava" data-operation="GET /health">', page)
    assert re.search(r'<tr class="op failed" data-service="strava" data-operation="GET /openapi.json">', page)
    assert "<b>not_a_server_error [ST101]</b>: Server error <span class=note>(accepted by baseline entry abc123; " \
           in page
    assert "<b>response_schema_conformance [ST108]</b>" in page
    assert "1 entry accepted a failure (abc123)" in page
    assert "1 not reproduced (the operation was tested, the failure not found: probably fixed; " \
           "--fuzz-baseline-prune removes them):\n    def456 GET /stats: not_a_server_error (ServerError)" in page
