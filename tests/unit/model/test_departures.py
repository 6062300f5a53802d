"""Which services a departure from the default topology touches (pure logic over the compose file's text)."""

from __future__ import annotations

from pathlib import Path

from harness.model.departures import Departure, departures, passed_through

COMPOSE = """
services:
  shop:
    image: shop
    environment: [ITEM_SUFFIX]
    secrets: [token]
  depot:
    image: depot
    command: ["serve", "${DEPOT_MODE:-warm}"]
secrets:
  token: {environment: SHOP_TOKEN}
networks:
  back: {name: "${NET_NAME:-back}"}
x-common: &common {labels: {tier: "${TIER}"}}
"""


def test_a_variable_touches_the_services_whose_blocks_or_secrets_take_it(tmp_path: Path) -> None:
    file = tmp_path / "compose.yaml"
    file.write_text(COMPOSE)
    env = {"ITEM_SUFFIX": "x", "DEPOT_MODE": "cold", "SHOP_TOKEN": "t", "NET_NAME": "n", "TIER": "t"}
    found = departures([file], [file], compose=True, profiles=(), env_file=None, substitutes={}, env=env,
                       services=["shop", "depot"])
    assert found == [Departure("ITEM_SUFFIX from the environment", frozenset({"shop"}), shell=True),
                     Departure("DEPOT_MODE from the environment", frozenset({"depot"}), shell=True),
                     Departure("SHOP_TOKEN from the environment", frozenset({"shop"}), shell=True),
                     Departure("NET_NAME from the environment", None, shell=True)]  # a network: every service; x-: anchors only
    assert [str(d) for d in found if d.touches(["depot"])] == ["DEPOT_MODE from the environment",
                                                                "NET_NAME from the environment"]


def test_another_compose_file_touches_the_services_it_names_unless_it_changes_more(tmp_path: Path) -> None:
    first, staging, wide = tmp_path / "compose.yaml", tmp_path / "staging.yaml", tmp_path / "wide.yaml"
    first.write_text(COMPOSE)
    staging.write_text("services:\n  shop: {environment: {A: '1'}}\n")
    wide.write_text("services:\n  shop: {}\nvolumes:\n  data: {}\n")
    found = departures([first, staging, wide], [first], compose=True, profiles=("debug",), env_file=None,
                       substitutes={}, env={}, services=["shop", "depot"])
    assert found == [Departure("staging.yaml given beyond compose.yaml", frozenset({"shop"})),
                     Departure("wide.yaml given beyond compose.yaml", None),
                     Departure("profiles debug (--topology-profile)", None)]


def test_pass_through_names_of_our_format_touch_their_service() -> None:
    services = {"shop": {"environment": {"ITEM_SUFFIX": None, "FIXED": "1"}}, "stock": {"environment": ["MODE"]}}
    assert passed_through(services, {"ITEM_SUFFIX": "x", "FIXED": "2"}) == [
        Departure("ITEM_SUFFIX from the environment", frozenset({"shop"}), shell=True)]
    assert passed_through(services, {}) == []
