"""Per-interaction verdicts of a pact: unique labels, the Verifier's description filter, and what an interaction's
item (or JUnit case) says, including an interaction the verifier's results do not mention (an error, never a pass)."""

from __future__ import annotations

import re
from pathlib import Path

from harness.contracts.pactfiles import PactFile
from harness.contracts.results import InteractionResult, PactResult
from harness.contracts.worker import description_pattern
from harness.report.contracts import interaction_case, item_name, item_names, junit_cases


def test_labels_add_the_states_only_where_descriptions_repeat() -> None:
    pact = PactFile(Path("a-b.json"), "a", "b", [
        {"description": "get user", "providerStates": [{"name": "user 1 exists", "params": {"id": 1}}]},
        {"description": "get user"},
        {"description": "list users", "providerState": "no users"},
        {"description": "ping"}, {"description": "ping"}])
    assert pact.labels() == [
        ('get user [given user 1 exists {"id": 1}]', "get user"), ("get user [no state]", "get user"),
        ("list users", "list users"), ("ping [no state]", "ping"), ("ping [no state] #2", "ping")]


def test_the_description_filter_matches_exactly_the_descriptions() -> None:
    pattern = description_pattern(("a request (v2) for [items] - 1.5 $ ^ * + ? | { } # & ~", "ping"))
    assert re.fullmatch(pattern, "a request (v2) for [items] - 1.5 $ ^ * + ? | { } # & ~")
    assert re.fullmatch(pattern, "ping")
    assert not re.search(pattern, "a ping") and not re.search(pattern, "a request (v2) for [items] - 1x5 $ ^ * + ? | { } # & ~")


def result(verdict: str, interactions: list[InteractionResult], reason: str = "") -> PactResult:
    return PactResult(Path("web-shop.json"), verdict, "web", "shop", "web", "shop", 3, interactions,  # type: ignore[arg-type]
                      report="", provider_log="shop: GET /items -> 200", seconds=1.5, reason=reason,
                      labels=["items", "orders", "motd"])


def test_each_interaction_gets_its_own_verdict_and_an_unmentioned_one_is_an_error() -> None:
    judged = result("failed", [InteractionResult("items", True, 0.2, label="items"),
                               InteractionResult("orders", False, 0.3, ["$.statuses: expected 2 items", "$.x: more"],
                                                 label="orders")])
    items, orders, motd = (interaction_case(judged, label, item_name("web->shop", label))
                           for label in ("items", "orders", "motd"))
    assert (items.name, items.failure, items.error, items.seconds) == ("pact[web->shop: items]", None, None, 0.2)
    assert orders.failure == "orders: $.statuses: expected 2 items (and 1 more)"
    assert "shop: GET /items -> 200" in orders.details and orders.details.endswith("FAILED web->shop: orders")
    assert motd.error == ("motd: web-shop.json: the Pact verifier's results do not mention interaction 'motd', so it "
                          "was not verified")
    assert (orders.seconds, motd.seconds) == (0.3, 0.5)  # its own duration; none given: its share of the file's


def test_without_the_verifiers_durations_each_interaction_has_an_even_share_of_the_files_time() -> None:
    judged = result("verified", [InteractionResult(label, True, label=label) for label in ("items", "orders", "motd")])
    assert [interaction_case(judged, label, label).seconds for label in ("items", "orders", "motd")] == [0.5] * 3


def test_a_pact_error_errors_the_interactions_it_did_not_judge() -> None:
    broken = result("error", [InteractionResult("items", True, 0.2, label="items")],
                    reason="web-shop.json: the Pact verifier passed it without verifying 'orders', 'motd'")
    cases = junit_cases(broken, item_names([(broken.path, broken.edge)])[broken.path])
    assert [(c.name, c.failure, c.error is not None) for c in cases] == [
        ("pact[web->shop: items]", None, False), ("pact[web->shop: orders]", None, True),
        ("pact[web->shop: motd]", None, True)]
    assert cases[1].error == "orders: web-shop.json: the Pact verifier passed it without verifying 'orders', 'motd'"


def test_a_failing_pending_interaction_passes_as_the_verifier_counts_it() -> None:
    pending = result("verified", [InteractionResult("items", False, 0.2, ["$.x: pending"], label="items")])
    case = interaction_case(pending, "items", "pact[web->shop: items]")
    assert case.failure is None and case.error is None


def test_a_pending_pacts_failure_says_the_handlers_error_as_a_failing_pacts_does() -> None:
    """A state handler's error beside the core's "handlers has failed": in the closing summary and the JUnit case,
    whether the broker marked the pact pending or not."""
    import dataclasses
    import io

    from rich.console import Console

    from harness.report.contracts import print_summary

    raised = "provider state 'an order exists' {\"id\": 77} raised ValueError: no order 77"
    failing = result("failed", [InteractionResult("orders", False, 0.3, ["One or more of the setup state change "
                                                                         "handlers has failed", raised],
                                                  label="orders")])
    pending = dataclasses.replace(failing, pending=True, source="broker http://b (consumer version 1; pending)")
    said = {}
    for name, judged in (("failing", failing), ("pending", pending)):
        out = io.StringIO()
        print_summary([judged], Console(file=out, width=400))
        said[name] = [line for line in out.getvalue().splitlines() if line.startswith("  - ")]
    assert said["failing"] == said["pending"] == [
        f"  - orders: One or more of the setup state change handlers has failed; {raised}"]
    case = interaction_case(pending, "orders", "pact[web->shop: orders]")
    assert case.failure is None  # pending: passed, as the Verifier counts it, and says why
    assert case.output.startswith("pending at the broker, so this failure does not fail the run")
    assert f"orders: {raised}" in case.output


def test_two_files_of_one_edge_are_told_apart_by_their_names() -> None:
    names = item_names([(Path("p/a.json"), "web->shop"), (Path("p/b.json"), "web->shop"), (Path("p/c.json"), "x->y")])
    assert [item_name(n, "get") for n in names.values()] == [
        "pact[web->shop a.json: get]", "pact[web->shop b.json: get]", "pact[x->y: get]"]
