"""What `harness fuzz` and `pytest --fuzz` say at the end and in their rerun hints (harness.report.fuzz)."""

from __future__ import annotations

from harness.fuzz.engine import st_run_defaults
from harness.fuzz.results import SERVICE_WIDE, Finding, ServiceResult
from harness.report.fuzz import Rerun, case_seconds, closing_text, fuzz_case, item_name, reused_note, summary_line

FLAGS = {"seed": "--seed", "service": "--service", "max_examples": "--max-examples"}


def result(service: str, *findings: Finding) -> ServiceResult:
    return ServiceResult(service, "http://127.0.0.1:1", 7, operations=["GET /orders", "PUT /items/{sku}"],
                         findings=list(findings), given={"max_examples": "50"})


def test_a_run_ends_with_a_line_per_new_finding_then_the_counts() -> None:
    inventory = result("inventory", Finding("PUT /items/{sku}", "negative_data_rejection",
                                            "Schema-violating request accepted", code="ST201"),
                       Finding("GET /items/{sku}", "not_a_server_error", "Server error", code="ST101",
                               accepted="2f049f"))
    orders = result("orders", Finding(SERVICE_WIDE, "network_error", "Connection refused", kind="error"))
    clean = result("search")
    assert closing_text([inventory, orders, clean]).splitlines() == [
        "FAILED inventory PUT /items/{sku}: Schema-violating request accepted (negative_data_rejection [ST201])",
        "ERROR orders (service): Connection refused (network_error)",
        "fuzzed 3 service(s): 1 passed, 2 failed; 1 failure(s), 1 error(s), 1 accepted by the baseline"]
    assert closing_text([clean]) == "fuzzed 1 service(s): 1 passed, 0 failed; 0 failure(s), 0 error(s)"


def test_the_setup_item_is_named_for_what_it_checks_and_passes_when_only_operations_fail() -> None:
    failing = result("orders", Finding("GET /orders", "not_a_server_error", "Server error", code="ST101"))
    assert item_name("orders", SERVICE_WIDE) == "fuzz[orders setup]"
    assert item_name("orders", "GET /orders") == "fuzz[orders GET /orders]"
    # the failure is counted once, on its operation's item
    assert fuzz_case(failing, SERVICE_WIDE, "fuzz[orders setup]").failure is None
    assert fuzz_case(failing, "GET /orders", "fuzz[orders GET /orders]").failure == \
        "1 finding(s): Server error (not_a_server_error [ST101])"


def test_a_rerun_on_a_fresh_topology_reproduces_and_says_so() -> None:
    rerun = Rerun(["harness", "fuzz", "--topology", "topology.yaml"], FLAGS)
    assert rerun.line(result("orders")) == \
        "rerun with: harness fuzz --topology topology.yaml --seed 7 --service orders --max-examples 50"


def test_after_a_run_on_a_running_topology_the_rerun_line_is_not_presented_as_a_reproduction() -> None:
    down = "harness down --topology topology.yaml"
    rerun = Rerun(["harness", "fuzz", "--topology", "topology.yaml"], FLAGS, reused=down)
    assert rerun.line(result("orders")) == (
        "same seed and options: harness fuzz --topology topology.yaml --seed 7 --service orders --max-examples 50 "
        "(not a reproduction: this run used a topology that was already running, whose state earlier runs left; "
        "`harness down --topology topology.yaml` first for a fresh one)")
    assert "rerun with" not in rerun.line(result("orders"))
    assert reused_note("shop", down) == (
        "note: topology shop was already running: what fuzzing finds depends on the state earlier runs left in its "
        "services, so identical runs can find different things; `harness down --topology topology.yaml` first to "
        "fuzz a fresh one (reproducible)")


def test_a_services_line_names_st_runs_default_checks_and_lists_only_chosen_ones() -> None:
    """The run's first line lists the checks; a service's line in a CI log does not repeat 14 names per service."""
    defaults = result("orders")
    defaults.checks = list(st_run_defaults().checks)
    said = summary_line(defaults)
    assert f", st run's default checks ({len(defaults.checks)})" in said and defaults.checks[0] not in said
    chosen = result("orders")
    chosen.checks = ["not_a_server_error", "status_code_conformance"]
    assert summary_line(chosen).endswith(", checks not_a_server_error,status_code_conformance")


def test_each_case_has_its_operations_time_and_the_setup_case_the_rest_of_the_run() -> None:
    result = ServiceResult("shop", "http://127.0.0.1:1", 1, operations=["GET /a", "GET /b"], seconds=5.0,
                           seconds_by_operation={"GET /a": 1.5, "stateful": 2.0})
    assert [case_seconds(result, label) for label in (SERVICE_WIDE, "GET /a", "GET /b", "stateful")] == [
        1.5, 1.5, 0.0, 2.0]
    assert fuzz_case(result, "GET /a", item_name("shop", "GET /a")).seconds == 1.5
