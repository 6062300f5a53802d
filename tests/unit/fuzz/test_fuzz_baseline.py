"""Baseline bookkeeping (harness.fuzz.baseline) and the verdict of an accepted failure (report.fuzz.fuzz_case)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import OptionError
from harness.fuzz.baseline import for_service, load, settle
from harness.fuzz.results import Finding, ServiceResult
from harness.report.fuzz import baseline_text, fuzz_case

FRACTION = ("GET /fraction/{n}", "not_a_server_error", "ServerError", "500")


def entry(identity: tuple[str, str, str, str], **extra: str) -> dict[str, str]:
    operation, check, failure, signature = identity
    return {"operation": operation, "check": check, "failure": failure, "signature": signature, **extra}


def write(path: Path, *entries: dict[str, str]) -> Path:
    path.write_text(json.dumps({"format_version": 1, "entries": list(entries)}))
    return path


def result(service: str, *findings: Finding, tested: tuple[str, ...] = ("GET /fraction/{n}",)) -> ServiceResult:
    return ServiceResult(service, "http://127.0.0.1:1", 3, operations=list(tested), findings=list(findings),
                         requests_by_operation=dict.fromkeys(tested, 5))


def test_an_entry_of_another_service_does_not_apply(tmp_path: Path) -> None:
    baseline = load(write(tmp_path / "b.json", entry(FRACTION, service="a"), entry(FRACTION)))
    assert len(for_service(baseline, "a").entries) == 2
    assert len(for_service(baseline, "b").entries) == 1  # st run's entry (no service) applies to every service


def test_not_reproduced_and_not_reached_entries_are_listed_and_prune_drops_only_the_first(tmp_path: Path) -> None:
    stats = ("GET /stats", "not_a_server_error", "ServerError", "500")
    path = write(tmp_path / "b.json", entry(FRACTION), entry(stats))
    outcome = settle(path, [result("api")], prune=True)
    assert [e["operation"] for e in outcome.not_reproduced] == ["GET /fraction/{n}"]
    assert [e["operation"] for e in outcome.not_reached] == ["GET /stats"]
    assert [e["operation"] for e in json.loads(path.read_text())["entries"]] == ["GET /stats"]
    text = baseline_text(outcome, "--fuzz-baseline-prune")
    assert "1 not reproduced (the operation was tested, the failure not found: probably fixed; " \
           "--fuzz-baseline-prune removes them):" in text
    assert "1 not reached (the run did not test the operation; kept):" in text and "written: 1 pruned" in text


def test_a_new_file_records_the_reproducible_failures_with_their_service(tmp_path: Path) -> None:
    path = tmp_path / "new.json"
    slow = Finding("GET /stats", "max_response_time", "Response time exceeded",
                   identity=("GET /stats", "max_response_time", "ResponseTimeExceeded", "x"), reproducible=False)
    outcome = settle(path, [result("api", Finding("GET /fraction/{n}", "not_a_server_error", "Server error",
                                                  code="ST101", identity=FRACTION), slow)])
    assert outcome.recorded == 1
    (written,) = json.loads(path.read_text())["entries"]
    assert (written["operation"], written["service"], written["signature"]) == ("GET /fraction/{n}", "api", "500")


def test_a_file_that_is_not_a_baseline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text("[1]")
    with pytest.raises(OptionError, match=r"--fuzz-baseline .*b\.json: not a schemathesis baseline file: "
                                          "Expected a JSON object"):
        load(tmp_path / "b.json", "--fuzz-baseline")


def test_an_accepted_failure_is_a_pass_that_says_so() -> None:
    accepted = Finding("GET /fraction/{n}", "not_a_server_error", "Server error", code="ST101", identity=FRACTION,
                       accepted="abc123")
    run = result("api", accepted)
    assert run.passed and run.accepted == [accepted] and not run.failures
    case = fuzz_case(run, "GET /fraction/{n}", "fuzz[api GET /fraction/{n}]")
    assert case.failure is None and case.error is None and case.skipped is None
    assert case.output == ("  accepted GET /fraction/{n}: Server error (not_a_server_error [ST101], "
                           "baseline entry abc123)")
    new = Finding("GET /fraction/{n}", "response_schema_conformance", "Response violates schema", code="ST108")
    failing = fuzz_case(result("api", accepted, new), "GET /fraction/{n}", "x")
    assert failing.failure == "1 finding(s): Response violates schema (response_schema_conformance [ST108])"


@pytest.mark.parametrize(("front_end", "message"), [
    ("cli", "--baseline-update needs a baseline file: give --baseline FILE too"),
    ("pytest", "--fuzz-baseline-update needs a baseline file: give --fuzz-baseline FILE too")])
def test_update_without_a_file_is_refused_before_anything_starts(front_end: str, message: str) -> None:
    from harness import load_topology
    from harness.fuzz.options import FuzzOptions
    from harness.fuzz.session import FuzzRun
    from harness.options import flags

    spec = load_topology(Path(__file__).parents[2] / "topologies" / "buggy.yaml")
    with pytest.raises(OptionError) as error:
        FuzzRun(spec, FuzzOptions(baseline_update=True), None, flags(front_end, "fuzz"))
    assert str(error.value) == message


def test_entries_of_services_not_fuzzed_are_listed_per_service_and_kept(tmp_path: Path) -> None:
    orders = ("GET /orders", "not_a_server_error", "ServerError", "500")
    path = write(tmp_path / "b.json", entry(FRACTION, service="api"), entry(orders, service="orders"),
                 entry(orders, service="orders", signature="502"), entry(FRACTION, service="billing"))
    outcome = settle(path, [result("api")], prune=True)  # `--service api`: the other services' entries stay
    assert [(e["service"], e["operation"]) for e in outcome.not_fuzzed] == [
        ("orders", "GET /orders"), ("orders", "GET /orders"), ("billing", "GET /fraction/{n}")]
    assert len(json.loads(path.read_text())["entries"]) == 3
    lines = baseline_text(outcome).splitlines()
    ids = [e["id"] for e in outcome.not_fuzzed]
    assert lines[-6:] == [
        "  1 of service billing: not fuzzed in this run (kept):",
        f"    {ids[2]} billing GET /fraction/{{n}}: not_a_server_error (ServerError)",
        "  2 of service orders: not fuzzed in this run (kept):",
        f"    {ids[0]} orders GET /orders: not_a_server_error (ServerError)",
        f"    {ids[1]} orders GET /orders: not_a_server_error (ServerError)",
        "  written: 1 pruned"]
