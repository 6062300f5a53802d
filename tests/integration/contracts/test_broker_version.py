"""--provider-version X on a checkout that is not X (issue #25, trial t25 finding 2): the broker's successful result
for X counts as this run's own only when the checkout is X's commit, or X is a label that is no commit of the
checkout and the tree is clean (the user vouches for it). A changed tree, or a checkout of another commit, is
verified here, and one note says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contracts.broker_config import broker_config
from harness.contracts.run import VerifyOptions, VerifyRun
from harness.model.loader import load_topology
from tests.broker.server import BrokerServer

from .test_broker import TOKEN, broker, harness_verify
from .test_broker_checkout import Broker, checkout, git

__all__ = ["broker"]  # the fixture

BUILT = """
name: broker-version
contracts:
  state_url: {shop: /_pact/provider_states}     # the shop sets its own states up
services:
  shop:
    build: ./shop
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
"""


def decided(at: Broker, file: Path, version: str) -> tuple[bool, list[str]]:
    """Whether the run must verify (the broker's result for `version` does not count), and its notes."""
    spec = load_topology(file)
    run = VerifyRun(spec, VerifyOptions(broker=broker_config(spec, at.options(provider_version=version)),
                                        broker_folder=at.tmp_path / "got", cache=at.tmp_path / "cache" / "verdicts"))
    try:
        return run.needs_topology, run.selection.notes
    finally:
        run.close()


def unlike(version: str, why: str) -> str:
    return (f"the Pact Broker's verification results for provider version {version} (--provider-version) do not "
            f"count as cached: {why}, so the pacts are verified here (the broker's results count for a clean "
            f"checkout of {version})")


def test_the_brokers_result_for_the_given_version_counts_only_for_a_checkout_of_it(
        tmp_path: Path, broker: BrokerServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    repo = checkout(tmp_path, {"topology.yaml": BUILT})
    file = repo / "topology.yaml"
    at = Broker(broker, tmp_path)
    first = at.verified(repo)
    assert decided(at, file, first) == (False, [])  # the checkout is the version: the broker's result counts

    app = repo / "shop" / "app.py"
    app.write_text(app.read_text().replace('DRIFT = os.environ.get("DRIFT") == "1"', "DRIFT = True"))
    why = "the git checkout differs from its commit (shop/app.py has uncommitted changes)"
    assert decided(at, file, first) == (True, [unlike(first, why)])
    done = harness_verify(file, "--pact-selector", "mainBranch", "--provider-version", first,
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN})
    said = done.stdout + done.stderr
    assert done.returncode == 1 and "FAILED web-frontend->shop" in said, said  # verified here: the truth
    assert f"note: {unlike(first, why)}" in said and "(cached" not in said, said
    git(repo, "checkout", "-q", "--", "shop/app.py")

    git(repo, "tag", "v1")
    (repo / "README.md").write_text("the shop\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "a readme")
    head = git(repo, "rev-parse", "HEAD")
    for version in (first, first[:10], "v1"):  # a commit or tag of the checkout other than HEAD
        shown = "" if first.startswith(version) else f" ({first[:12]})"
        why = f"the git checkout is at commit {head[:12]}, not at {version}{shown}"
        assert decided(at, file, version) == (True, [unlike(version, why)])

    broker.broker.verify("shop", "web-frontend", at.pact.sha, {"success": True, "providerApplicationVersion": "3.0.0"})
    assert decided(at, file, "3.0.0") == (False, [])  # a label that is no commit, on a clean tree: vouched for
    app.write_text(app.read_text() + "\n# an edit\n")
    why = "the git checkout differs from its commit (shop/app.py has uncommitted changes)"
    assert decided(at, file, "3.0.0") == (True, [unlike("3.0.0", why)])
