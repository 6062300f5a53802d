"""A refusal to publish verification results names whom it holds back (issue #25, trial t25d finding 4): a departure
of the whole topology (a profile from the shell) is "the whole topology", not the first service of the file (a
database the provider depends on); one that holds back only some services names those. Against the test broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contracts.broker_config import broker_config, with_checkout
from harness.errors import OptionError
from harness.model.loader import load_topology
from tests.broker.server import BrokerServer

from .test_broker import TOKEN
from .test_broker_checkout import Broker, checkout

COMPOSE = """
name: refusal-names
services:
  db: {image: "redis:7"}
  shop:
    build: ./shop
    ports: ["8000"]
    depends_on: [db]
    environment: [ITEM_SUFFIX]
  depot: {build: ./shop, ports: ["8000"]}
  debugger: {image: "redis:7", profiles: [debug]}
"""


def refused(at: Broker, file: Path, version: str) -> str:
    with pytest.raises(OptionError) as refusal:
        broker_config(load_topology(file), at.options(provider_version=version, publish_verification_results=True))
    return str(refusal.value)


def test_a_refusal_names_the_whole_topology_or_the_services_it_holds_back(tmp_path: Path, broker: BrokerServer,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    for name in ("ITEM_SUFFIX", "COMPOSE_PROFILES", "CI"):
        monkeypatch.delenv(name, raising=False)
    at = Broker(broker, tmp_path)
    file = checkout(tmp_path, {"compose.yaml": COMPOSE}) / "compose.yaml"
    monkeypatch.setenv("COMPOSE_PROFILES", "debug")
    assert refused(at, file, "3.0.0") == (
        "publishing verification results as provider version 3.0.0 (--provider-version) of what no version names "
        "(the whole topology: the providers are not what the commit gives by default: COMPOSE_PROFILES from the "
        "environment), so the broker would hold them as 3.0.0's: leave that out")
    monkeypatch.delenv("COMPOSE_PROFILES")
    monkeypatch.setenv("ITEM_SUFFIX", "-broken")  # the shop's alone: the depot's results are published
    spec = load_topology(file)
    config = broker_config(spec, at.options(provider_version="3.0.0", publish_verification_results=True))
    assert config.held("depot") is None and config.held("db") is None and config.held("shop") is not None
    with pytest.raises(OptionError) as shop_only:
        with_checkout(config, spec, [], ["shop", "shop"])  # a provider per pact: two pacts of the shop, named once
    assert str(shop_only.value) == (
        "publishing verification results as provider version 3.0.0 (--provider-version) of what no version names "
        "(shop: the providers are not what the commit gives by default: ITEM_SUFFIX from the environment), so the "
        "broker would hold them as 3.0.0's: leave that out")
