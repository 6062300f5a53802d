"""--provider-version X on a checkout that is not X (issue #25, trial t25 finding 2): the broker's successful result
for X counts as this run's own only when the checkout is X's commit, or X is a label that is no commit of the
checkout and the tree is clean (the user vouches for it). A changed tree, or a checkout of another commit, is
verified here, and one note says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contracts.broker_config import broker_config
from harness.contracts.run import VerifyOptions, VerifyRun
from harness.errors import OptionError
from harness.model.loader import load_topology
from tests.broker.server import BrokerServer

from .test_broker import TOKEN, harness_verify
from .test_broker_checkout import Broker, checkout, git

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
    counted = ("a version ending in -dirty never counts as cached" if version.endswith("-dirty") else
               f"the broker's results count for a clean checkout of {version}")
    return (f"the Pact Broker's verification results for provider version {version} (--provider-version) do not "
            f"count as cached: {why}, so the pacts are verified here ({counted})")


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


def refused(at: Broker, file: Path, version: str) -> str:
    """The refusal to publish results under `version`, before anything starts."""
    with pytest.raises(OptionError) as refusal:
        broker_config(load_topology(file), at.options(provider_version=version, publish_verification_results=True))
    return str(refusal.value)


def test_results_are_never_published_under_a_version_the_checkout_is_not(
        tmp_path: Path, broker: BrokerServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The broker would hold them as that version's, and can-i-deploy would pass it for code that never ran: refused
    (exit 2), unless the version says the tree is changed (`git describe --dirty`)."""
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.delenv("CI", raising=False)
    repo = checkout(tmp_path, {"topology.yaml": BUILT})
    file = repo / "topology.yaml"
    at = Broker(broker, tmp_path)
    first = git(repo, "rev-parse", "HEAD")
    app = repo / "shop" / "app.py"
    app.write_text(app.read_text() + "\n# an edit\n")
    differs = "the git checkout differs from its commit (shop/app.py has uncommitted changes)"
    for version in (first, "3.0.0"):
        assert refused(at, file, version) == (
            f"publishing verification results as provider version {version} (--provider-version) from a checkout "
            f"that is not that version: {differs}, so the broker would hold them as {version}'s; commit the changes, "
            "or give a version that says the tree is changed (git describe --always --dirty: COMMIT-dirty)")
    in_ci = harness_verify(file, "--pact-selector", "mainBranch", "--provider-version", first,
                           env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN, "CI": "true"})
    said = " ".join((in_ci.stdout + in_ci.stderr).split())
    assert in_ci.returncode == 2, said  # CI=true with --provider-version publishes: refused the same way
    assert f"publishing verification results as provider version {first} (--provider-version)" in said, said
    assert broker.broker.verifications == []

    described = git(repo, "describe", "--always", "--dirty")
    assert described.endswith("-dirty")
    config = broker_config(load_topology(file), at.options(provider_version=described,
                                                           publish_verification_results=True))
    assert config.publish and config.version_unlike == differs  # published under a label that says so
    assert decided(at, file, described) == (True, [unlike(described, differs)])  # never a cached result
    app.write_text(app.read_text().replace("\n# an edit\n", ""))  # the tree clean again: X-dirty is still no commit's
    dirty_mark = f"{described} names a changed tree of commit {first[:12]} (git describe --dirty), not its commit"
    assert decided(at, file, described) == (True, [unlike(described, dirty_mark)])
    app.write_text(app.read_text() + "\n# an edit\n")

    git(repo, "commit", "-qam", "an edit")
    head = git(repo, "rev-parse", "HEAD")
    for version in (first, f"{first[:7]}-dirty"):  # another commit, whatever the mark
        assert refused(at, file, version) == (
            f"publishing verification results as provider version {version} (--provider-version) from a checkout "
            f"that is not that version: the git checkout is at commit {head[:12]}, not at {version}, so the "
            f"broker would hold them as {version}'s; check out {version.removesuffix('-dirty')}, or give the "
            "checkout's own version")
