"""Which pacts a verification runs: everything the files and options show to be wrong is one error, each problem
once, before anything starts (no engine is needed to find them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.contracts.run import select_pacts
from harness.errors import PactInputProblems
from harness.model.loader import load_topology

TOPOLOGY = """
name: selection
contracts:
  pacts: pacts
  states: [states.py, other_states.py]
services:
  shop:
    image: python:3.11-slim
"""


def pact(consumer: str, provider: str) -> str:
    return json.dumps({"consumer": {"name": consumer}, "provider": {"name": provider}, "interactions": [
        {"description": "items", "providerState": "the shop has items", "request": {"method": "GET", "path": "/"},
         "response": {"status": 200}}]})


def test_problems_of_pacts_states_modules_and_filters_are_said_together(tmp_path: Path) -> None:
    (tmp_path / "topology.yaml").write_text(TOPOLOGY)
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "web-shop.json").write_text(pact("web", "shop"))
    (tmp_path / "pacts" / "half.json").write_text('{"consumer": ')
    (tmp_path / "states.py").write_text("raise RuntimeError('no database url')\n")
    spec = load_topology(tmp_path / "topology.yaml")
    with pytest.raises(PactInputProblems) as info:
        select_pacts(spec, provider="shopp")
    assert info.value.problems == [
        f"no pact to verify for provider shopp (did you mean 'shop'?) in {tmp_path / 'pacts'}\nproviders in the "
        "pacts: shop",
        f"{tmp_path / 'pacts' / 'half.json'}:1: not valid JSON (Expecting value); regenerate it by running the "
        "consumer tests",
        f"states module {tmp_path / 'states.py'} failed to import: RuntimeError: no database url",
        f"states module {tmp_path / 'other_states.py'} does not exist (named under contracts.states in the topology "
        "file, relative to it)"]
    assert str(info.value).startswith("4 problem(s) in the pacts, the states modules or the options; nothing was "
                                      "started:\n  - no pact to verify for provider shopp (did you mean 'shop'?)")
    assert str(info.value).endswith("The provider states and message producers of the pacts are checked once every "
                                    "states module loads.")


def test_once_the_modules_load_every_missing_handler_is_listed(tmp_path: Path) -> None:
    (tmp_path / "topology.yaml").write_text(TOPOLOGY.replace(", other_states.py", ""))
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "web-shop.json").write_text(pact("web", "shop"))
    (tmp_path / "pacts" / "app-shop.json").write_text(pact("app", "shop"))
    (tmp_path / "states.py").write_text("")
    with pytest.raises(PactInputProblems) as info:
        select_pacts(load_topology(tmp_path / "topology.yaml"))
    assert info.value.problems == [
        "provider state 'the shop has items' of app->shop (app-shop.json) has no handler",
        "provider state 'the shop has items' of web->shop (web-shop.json) has no handler"]


def test_a_provider_whose_openapi_file_is_missing_is_noted_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "topology.yaml").write_text(TOPOLOGY.replace(", other_states.py", "") + "    openapi: shop.yaml\n")
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "web-shop.json").write_text(pact("web", "shop"))
    (tmp_path / "states.py").write_text("from harness.contracts import provider_state\n\n"
                                        "@provider_state('the shop has items', provider='shop')\n"
                                        "def items(topology, params):\n    pass\n")
    selection = select_pacts(load_topology(tmp_path / "topology.yaml"))
    assert selection.notes == [
        f"service 'shop': `openapi: shop.yaml` is neither a file next to the topology (no {tmp_path / 'shop.yaml'}) "
        "nor a path the service serves (one starting with /): the contract matrix's drift column says error for its "
        "pacts"]


def test_a_state_handler_of_a_provider_that_sets_its_own_states_up_is_noted_as_unused(tmp_path: Path) -> None:
    """With `contracts.state_url` the Verifier posts the provider's states to its endpoint: a handler in a states
    module never runs, which would otherwise pass unnoticed until its interaction fails."""
    (tmp_path / "topology.yaml").write_text(TOPOLOGY.replace(", other_states.py", "").replace(
        "  states:", "  state_url: {shop: /_pact/provider_states}\n  states:"))
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "web-shop.json").write_text(pact("web", "shop"))
    (tmp_path / "states.py").write_text("from harness.contracts import provider_state\n\n"
                                        "@provider_state('the shop has items', provider='shop')\n"
                                        "def items(topology, params):\n    pass\n")
    selection = select_pacts(load_topology(tmp_path / "topology.yaml"))
    assert selection.notes == [
        "the handler of provider state 'the shop has items' for shop (states.py:3) is not used: "
        "`contracts.state_url` sends shop's provider states to its own endpoint /_pact/provider_states; remove one "
        "of them"]


def test_a_misspelt_provider_or_consumer_gets_a_did_you_mean(tmp_path: Path) -> None:
    """Among the pacts' names on that side and the topology's services; none for a name close to nothing."""
    (tmp_path / "topology.yaml").write_text(TOPOLOGY.replace("  shop:\n", "  catalog:\n    image: python:3.11-slim\n"
                                                             "  shop:\n"))
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "web-catalog.json").write_text(pact("web-frontend", "catalog"))
    spec = load_topology(tmp_path / "topology.yaml")
    for provider, consumer, expected in (
            ("catalgo", None, "no pact to verify for provider catalgo (did you mean 'catalog'?) in "),
            (None, "web-frontned", "no pact to verify from consumer web-frontned (did you mean 'web-frontend'?) in "),
            ("zzz", None, "no pact to verify for provider zzz in ")):
        with pytest.raises(PactInputProblems) as info:
            select_pacts(spec, provider=provider, consumer=consumer)
        assert info.value.problems[0].startswith(expected + str(tmp_path / "pacts")), info.value.problems[0]


def test_drift_with_a_misspelt_provider_gets_a_did_you_mean(tmp_path: Path) -> None:
    from harness.contracts.drift.run import DriftOptions, DriftRun
    from harness.errors import OptionError

    (tmp_path / "topology.yaml").write_text(TOPOLOGY)
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "web-catalog.json").write_text(pact("web-frontend", "catalog"))
    run = DriftRun(load_topology(tmp_path / "topology.yaml"), DriftOptions(tmp_path / "pacts", "catalgo"))
    with pytest.raises(OptionError) as info:
        run.files()
    assert str(info.value) == (f"no pact in {tmp_path / 'pacts'} has provider 'catalgo' (did you mean 'catalog'?); "
                               "providers: catalog")
