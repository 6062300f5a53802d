"""The one verdict of pacts, drift and fuzzing (harness.verdict): each feature's words map to the four shared
outcomes, a word nobody mapped is an error (never a pass), and the exit code, the counts and a JUnit case's kind are
read from the outcome alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import verdict
from harness.contracts.drift.results import InteractionDrift, PactDrift
from harness.contracts.results import PactResult
from harness.errors import DockerUnavailable, MalformedPact
from harness.fuzz.results import Finding, ServiceResult
from harness.report.drift import drift_case, summary
from harness.report.junit import Case

PACT = Path("/p/web-shop.json")


@pytest.mark.parametrize(("word", "outcome", "ok"), [
    ("verified", "passed", True), ("failed", "failed", False), ("error", "error", False),
    ("excluded", "excluded", True), ("pending", "error", False)])
def test_a_pacts_word_is_shown_and_its_outcome_decides(word: str, outcome: str, ok: bool) -> None:
    result = PactResult(PACT, word, "web", "shop")  # type: ignore[arg-type]  # "pending": a word nobody mapped
    assert (result.verdict, result.outcome, result.ok, result.name) == (word, outcome, ok, "web->shop")


@pytest.mark.parametrize(("word", "outcome", "code"), [
    ("clean", "passed", 0), ("drift", "failed", 1), ("error", "error", 2), ("not applicable", "excluded", 0),
    ("unknown", "error", 2)])
def test_a_drift_words_outcome_and_exit_code(word: str, outcome: str, code: int) -> None:
    result = PactDrift(PACT, "web", "shop", word, reason="why")
    assert (result.verdict, result.outcome, result.exit_code, result.name) == (word, outcome, code, "web->shop")


def test_a_fuzzed_service_is_failed_by_a_new_failure_error_by_a_new_error_alone_and_passed_by_accepted_ones() -> None:
    failure = Finding("GET /a", "not_a_server_error", "500")
    error = Finding("GET /b", "network_error", "refused", kind="error")
    accepted = Finding("GET /c", "not_a_server_error", "500", accepted="e1")
    cases = {"failed": [failure, error], "error": [error], "passed": [accepted], "passed ": []}
    seen = {name.strip(): ServiceResult("shop", "http://127.0.0.1:1", 1, findings=found) for name, found in
            cases.items()}
    assert {name: (r.outcome, r.verdict, r.exit_code) for name, r in seen.items()} == {
        "failed": ("failed", "failed", 1), "error": ("error", "error", 1), "passed": ("passed", "passed", 0)}
    assert seen["failed"].reason == "1 failure(s), 1 error(s)" and seen["passed"].reason == ""
    assert seen["passed"].name == "shop"


def test_the_exit_code_is_the_worst_results_and_zero_for_passes_and_exclusions() -> None:
    error = PactResult(PACT, "error", error=DockerUnavailable("no engine"))
    bad_input = PactResult(PACT, "error", error=MalformedPact("not JSON", location=str(PACT)))
    failed, verified, excluded = (PactResult(PACT, word) for word in ("failed", "verified", "excluded"))
    assert verdict.exit_code([verified, excluded]) == 0
    assert verdict.exit_code([]) == 0
    assert verdict.exit_code([verified, failed]) == 1
    assert verdict.exit_code([failed, bad_input]) == 2
    assert verdict.exit_code([bad_input, error, failed]) == 3
    drifted = [PactDrift(PACT, "a", "b", "drift"), PactDrift(PACT, "a", "b", "error")]
    assert verdict.exit_code(drifted) == 2 and verdict.exit_code(drifted[:1]) == 1


def test_counts_are_in_the_outcomes_order_zeros_included() -> None:
    assert verdict.counts(["error", "passed", "passed"]) == {"passed": 2, "failed": 0, "error": 1, "excluded": 0}
    assert list(verdict.counts([])) == list(verdict.OUTCOMES)


@pytest.mark.parametrize(("case", "outcome"), [
    (Case("c", "n"), "passed"), (Case("c", "n", failure="f"), "failed"), (Case("c", "n", error="e"), "error"),
    (Case("c", "n", skipped="why"), "excluded")])
def test_a_junit_case_says_its_outcome(case: Case, outcome: str) -> None:
    assert case.outcome == outcome


def test_a_drift_word_nobody_mapped_is_an_error_case_not_a_pass_and_the_summary_uses_the_fields_words() -> None:
    odd = PactDrift(PACT, "web", "shop", "clean", labels=["a"], interactions=[InteractionDrift("a", "checked")])
    assert drift_case(odd, "a", "drift[web->shop: a]").error == "a: verdict 'checked'"
    results = [PactDrift(PACT, "a", "b", word) for word in ("clean", "clean", "not applicable", "error")]
    assert summary(results) == "4 pact(s): 2 clean, 1 error, 1 not applicable"
