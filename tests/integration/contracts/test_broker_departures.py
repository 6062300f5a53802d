"""A departure from the default topology (a value from the shell, another compose file) stops only the results of
the providers it touches (issue #25): a changed environment of the shop must not stop the depot's results, and the
line about the publication says per provider why its results were not published. Departures of a topology file of
this project's format and of one built in Python count as a compose file's do. The `pact` CLI's can-i-deploy sees
what was published."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.contracts.broker_config import broker_config
from harness.contracts.run import VerifyOptions, VerifyRun
from harness.model.builder import topology
from harness.model.loader import load_topology
from harness.model.topology import TopologySpec
from tests.broker.server import BrokerServer

from ..conftest import TOPOLOGIES
from .test_broker import TOKEN, good_pact, harness_verify, pact_cli, publish
from .test_broker_checkout import git

COMPOSE = """
name: departures
services:
  shop:
    build: ./shop
    ports: ["8000"]
    environment: [ITEM_SUFFIX]
    x-topology: {ready: {http: {port: 8000, path: /health}}}
  depot:
    build: ./shop
    ports: ["8000"]
    x-topology: {ready: {http: {port: 8000, path: /health}}}
x-topology:
  contracts:
    state_url: {shop: /_pact/provider_states, depot: /_pact/provider_states}
"""
OWN = """
name: departures-own
contracts:
  state_url: {shop: /_pact/provider_states, depot: /_pact/provider_states}
services:
  shop: {build: ./shop, ports: [8000], environment: {ITEM_SUFFIX: null}}
  depot: {build: ./shop, ports: [8000], depends_on: [stock]}
  stock: {image: redis:7, environment: {STOCK_MODE: null}}
"""


def repository(tmp_path: Path, files: dict[str, str]) -> tuple[Path, str]:
    """A git checkout of the shop's code and `files`, committed; its commit."""
    repo = tmp_path / "repo"
    shutil.copytree(TOPOLOGIES / "pact-shop", repo / "shop")
    for name, text in files.items():
        (repo / name).write_text(text)
    (repo / ".gitignore").write_text("out/\njunit.xml\ncache/\n__pycache__/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the shop and the depot")
    return repo, git(repo, "rev-parse", "HEAD")


def publish_pacts(server: BrokerServer, tmp_path: Path) -> None:
    """The web-frontend's pact with the shop, and the same one with the depot."""
    depot = good_pact()
    depot["provider"]["name"] = "depot"
    publish(server, tmp_path, good_pact(), "1.0.0", "main")
    publish(server, tmp_path, depot, "1.0.1", "main")


def test_a_value_from_the_shell_for_the_shop_stops_only_the_shops_results(
        tmp_path: Path, broker: BrokerServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ITEM_SUFFIX", "CI"):
        monkeypatch.delenv(name, raising=False)
    publish_pacts(broker, tmp_path)
    repo, commit = repository(tmp_path, {"compose.yaml": COMPOSE})
    done = harness_verify(repo / "compose.yaml", "--pact-selector", "mainBranch", "--no-cache",
                          "--publish-verification-results",
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN,
                               "ITEM_SUFFIX": "-broken"})
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, said
    assert [(v.provider, v.provider_version, v.success) for v in broker.broker.verifications] == [
        ("depot", commit, True)]
    assert (f"verification results published to the Pact Broker {broker.url} (--publish-verification-results): 1 "
            f"of 2 broker pact(s), for provider version {commit} on branch main (1 not published: the git "
            f"checkout's commit {commit} does not name what their provider runs, so a clean checkout of it would take "
            "the result as its own (shop: the providers are not what the commit gives by default: ITEM_SUFFIX from "
            "the environment (leave that out)))") in said, said
    assert "-broken" not in said
    depot = pact_cli(broker, "can-i-deploy", "--pacticipant", "web-frontend", "--version", "1.0.1",
                     "--pacticipant", "depot", "--version", commit)
    assert depot.returncode == 0, depot.stdout + depot.stderr
    shop = pact_cli(broker, "can-i-deploy", "--pacticipant", "web-frontend", "--version", "1.0.0",
                    "--pacticipant", "shop", "--version", commit)
    assert shop.returncode != 0, shop.stdout + shop.stderr  # no result for the shop under the commit

    # a departure that touches every provider refuses before anything starts, as before
    both = harness_verify(repo / "compose.yaml", "--pact-selector", "mainBranch", "--no-cache",
                          "--publish-verification-results", "--provider", "shop",
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN,
                               "ITEM_SUFFIX": "-broken"})
    assert both.returncode == 2, both.stdout + both.stderr
    assert ("(the providers are not what the commit gives by default: ITEM_SUFFIX from the environment; a clean "
            "checkout of it would take this result as its own): leave that out"
            ) in " ".join(both.stderr.split())
    assert len(broker.broker.verifications) == 1


def notes_of(server: BrokerServer, tmp_path: Path, spec: TopologySpec) -> list[str]:
    """The notes a run against `spec` says before anything starts (the broker's results that do not count)."""
    run = VerifyRun(spec, VerifyOptions(broker=broker_config(spec, {"pact_broker_url": server.url,
                                                                     "pact_selector": [{"mainBranch": True}]}),
                                        broker_folder=tmp_path / "got", cache=tmp_path / "cache" / "verdicts"))
    try:
        return run.selection.notes
    finally:
        run.close()


def not_counted(service: str, name: str) -> str:
    return (f"the Pact Broker's verification results do not count as cached for {service}: the git checkout's "
            f"commit does not name what it runs (the providers are not what the commit gives by default: {name} "
            "from the environment; leave that out)")


def test_departures_of_a_topology_of_our_format_or_built_in_python_touch_their_providers(
        tmp_path: Path, broker: BrokerServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass-through `environment:` name set in the shell: of the shop's, the shop's results; of the stock's (a
    database the depot depends on), the depot's."""
    for name in ("ITEM_SUFFIX", "STOCK_MODE", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    publish_pacts(broker, tmp_path)
    repo, _ = repository(tmp_path, {"topology.yaml": OWN})
    built = (topology("departures-py", base_dir=repo)
             .contracts(state_url={"shop": "/_pact/provider_states", "depot": "/_pact/provider_states"})
             .service("shop", build="./shop", ports=[8000], environment={"ITEM_SUFFIX": None})
             .service("depot", build="./shop", ports=[8000], depends_on=["stock"])
             .service("stock", image="redis:7", environment={"STOCK_MODE": None}))
    for spec in (lambda: load_topology(repo / "topology.yaml"), lambda: built.spec):
        assert notes_of(broker, tmp_path, spec()) == []
        monkeypatch.setenv("ITEM_SUFFIX", "-broken")
        assert notes_of(broker, tmp_path, spec()) == [not_counted("shop", "ITEM_SUFFIX")]
        monkeypatch.delenv("ITEM_SUFFIX")
        monkeypatch.setenv("STOCK_MODE", "cold")
        assert notes_of(broker, tmp_path, spec()) == [not_counted("depot", "STOCK_MODE")]
        monkeypatch.delenv("STOCK_MODE")
