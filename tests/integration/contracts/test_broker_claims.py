"""Publishing a verification result is a claim about the provider version (issue #25, trial t25c findings 1, 2):
- what no version holds (a base image built on this machine, a value from the shell) is never published under a
  version, and the broker's results never count as cached for it, whatever --provider-version says (it said the
  user vouched for it: the broker's old success passed a rebuilt base and a changed shell value);
- a verdict of the local cache is published only under the version it was verified as: a commit that changes what
  the cache's key does not hold (a seed file read from outside the states folders) is verified again, and says so.
Against the test broker and the real engine; the `pact` CLI's can-i-deploy is the oracle of what was published."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.contracts.broker_config import broker_config
from harness.contracts.run import VerifyOptions, VerifyRun
from harness.errors import OptionError
from harness.model.loader import load_topology
from tests.broker.server import BrokerServer

from .test_broker import TOKEN, good_pact, harness_verify, pact_cli, publish
from .test_broker_checkout import Broker, checkout, git
from .test_broker_departures import COMPOSE, publish_pacts, repository
from .test_broker_states_tree import TOPOLOGY, clean  # noqa: F401 - fixtures
from .test_broker_version import BUILT

BASE_WHY = ("the image of shop builds FROM {base}, an image built on this machine (no registry digest in docker "
            "image inspect): no commit of the checkout names what it holds")
BASE_REMEDY = "build FROM an image pulled from a registry"


def run_of(at: Broker, file: Path, **options: object) -> tuple[bool, list[str]]:
    """Whether the run must verify (the broker's result does not count), and its notes; before anything starts."""
    spec = load_topology(file)
    run = VerifyRun(spec, VerifyOptions(broker=broker_config(spec, at.options(**options)),
                                        broker_folder=at.tmp_path / "got", cache=at.tmp_path / "cache" / "verdicts"))
    try:
        return run.needs_topology, run.selection.notes
    finally:
        run.close()


def test_a_local_base_image_is_no_versions_whatever_version_is_given(tmp_path: Path, broker: BrokerServer,
                                                                      clean: None, local_base: str  # noqa: F811
                                                                      ) -> None:
    """Finding 1 (ci-lb): with --provider-version HEAD the broker's success for HEAD was taken as cached after the
    base image was rebuilt, and CI=true published under it. A label that is no commit is judged the same way."""
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"topology.yaml": BUILT})
    dockerfile = repo / "shop" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("FROM python:3.11-slim", f"FROM {local_base}"))
    git(repo, "commit", "-q", "-am", "the shop from the org's base image")
    commit = at.verified(repo)
    at.server.broker.verify("shop", "web-frontend", at.pact.sha, {"success": True, "providerApplicationVersion": "3.0.0"})
    file = repo / "topology.yaml"
    why = BASE_WHY.format(base=local_base)
    for version in (commit, "3.0.0"):
        assert run_of(at, file, provider_version=version) == (True, [
            f"the Pact Broker's verification results for provider version {version} (--provider-version) do not "
            f"count as cached for shop: no version names what it runs ({why}; {BASE_REMEDY})"]), version
        with pytest.raises(OptionError) as refused:
            run_of(at, file, provider_version=version, publish_verification_results=True)
        assert str(refused.value) == (
            f"publishing verification results as provider version {version} (--provider-version) of what no "
            f"version names (shop: {why}), so the broker would hold them as {version}'s: {BASE_REMEDY}")

    # the trial's command: CI=true with --provider-version HEAD publishes; refused before anything starts
    done = harness_verify(file, "--pact-selector", "mainBranch", "--provider-version", commit,
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN, "CI": "true"})
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, said
    assert f"of what no version names (shop: {why}), so the broker would hold them as {commit}'s" in said, said
    assert "Traceback" not in said
    assert len(broker.broker.verifications) == 2  # only those the test made


def test_a_value_from_the_shell_is_no_versions_whatever_version_is_given(
        tmp_path: Path, broker: BrokerServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 1 (ci-env): ITEM_SUFFIX passed through from the shell to the shop, --provider-version HEAD: the shop's
    result is withheld (one line: what, which service, what to do), the depot's is published; a success the broker
    has for the shop under the commit does not count while the value comes from the shell."""
    for name in ("ITEM_SUFFIX", "CI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    publish_pacts(broker, tmp_path)
    repo, commit = repository(tmp_path, {"compose.yaml": COMPOSE})
    done = harness_verify(repo / "compose.yaml", "--pact-selector", "mainBranch", "--provider-version", commit,
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN, "CI": "true",
                               "ITEM_SUFFIX": "-broken"})
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, said
    assert [(v.provider, v.provider_version, v.success) for v in broker.broker.verifications] == [
        ("depot", commit, True)]
    assert (f"verification results published to the Pact Broker {broker.url} (CI=true with --provider-version): 1 of "
            f"2 broker pact(s), for provider version {commit} on branch main (1 not published: no version names what "
            f"their provider runs, so the broker would hold the result as {commit}'s (shop: the providers are not "
            "what the commit gives by default: ITEM_SUFFIX from the environment (leave that out)))") in said, said
    assert "-broken" not in said
    shop = pact_cli(broker, "can-i-deploy", "--pacticipant", "web-frontend", "--version", "1.0.0",
                    "--pacticipant", "shop", "--version", commit)
    assert shop.returncode != 0, shop.stdout + shop.stderr  # no result for the shop under the commit

    # a success for the shop under the commit (from a run without the value) does not count with it set
    [shop_pact] = [p for p in broker.broker.pacts.values() if p.provider == "shop"]
    broker.broker.verify("shop", "web-frontend", shop_pact.sha, {"success": True,
                                                                 "providerApplicationVersion": commit})
    spec = load_topology(repo / "compose.yaml")
    options = {"pact_broker_url": broker.url, "pact_selector": [{"mainBranch": True}], "provider_version": commit,
               "provider": "shop"}
    for suffix, counted in (("-broken", False), (None, True)):
        if suffix:
            monkeypatch.setenv("ITEM_SUFFIX", suffix)
        else:
            monkeypatch.delenv("ITEM_SUFFIX")
        spec = load_topology(repo / "compose.yaml")
        run = VerifyRun(spec, VerifyOptions(provider="shop", broker=broker_config(spec, options),
                                            broker_folder=tmp_path / "got", cache=tmp_path / "cache" / "verdicts"))
        try:
            assert run.needs_topology is not counted, suffix
            assert bool(run.selection.notes) is not counted, run.selection.notes
        finally:
            run.close()


STATES = """
import json
from pathlib import Path

from harness.contracts import provider_state

SEED = Path(__file__).parent.parent / "seed" / "shop.json"  # shared with other tools: outside the states folder


@provider_state("the shop has items", provider="shop")
def items(topology, params):
    if not json.loads(SEED.read_text())["open"]:
        raise RuntimeError("the seed closes the shop")
    return {}
"""


def test_a_cached_verdict_is_published_only_under_the_version_it_was_verified_as(
        tmp_path: Path, broker: BrokerServer, clean: None) -> None:  # noqa: F811
    """Finding 2 (ci-seed): a commit changed the seed file the states handler reads from outside the states folders
    (not in the cache's key); the local cache's success of the commit before was published under the new one, and CI
    then took it from the broker. And a rerun of the same commit takes the broker's own result before the local
    cache's, and publishes nothing again."""
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    repo = checkout(tmp_path, {"topology.yaml": TOPOLOGY.replace("states.py", "states/states.py"),
                               "states/states.py": STATES, "seed/shop.json": '{"open": true}\n'})
    file = repo / "topology.yaml"
    env = {"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN,
           "PYTEST_TOPOLOGY_CACHE": str(tmp_path / "cache")}
    first_commit = git(repo, "rev-parse", "HEAD")

    def verify(*args: str) -> tuple[int, str]:
        done = harness_verify(file, "--pact-selector", "mainBranch", "--publish-verification-results", *args, env=env)
        return done.returncode, " ".join((done.stdout + done.stderr).split())

    code, said = verify()
    assert code == 0, said
    assert [(v.provider_version, v.success) for v in broker.broker.verifications] == [(first_commit, True)]
    code, said = verify()  # the same commit again: the broker's own result counts, nothing is published
    assert code == 0, said
    assert "verified (cached, from the Pact Broker (shop " in said, said
    assert "0 of 1 broker pact(s), for provider version" in said and "(1 the broker had verified already)" in said
    assert len(broker.broker.verifications) == 1

    (repo / "seed" / "shop.json").write_text('{"open": false}\n')
    git(repo, "commit", "-q", "-am", "the seed closes the shop")
    commit = git(repo, "rev-parse", "HEAD")
    code, said = verify()
    assert code == 1, said
    assert (f"1 verified again before publishing: the verdict cache had them from another provider version "
            f"({first_commit}), and a result is published only from a verification of {commit}") in said, said
    assert [(v.provider_version, v.success) for v in broker.broker.verifications] == [
        (first_commit, True), (commit, False)]
    closed = pact_cli(broker, "can-i-deploy", "--pacticipant", "web-frontend", "--version", "1.0.0",
                      "--pacticipant", "shop", "--version", commit)
    assert closed.returncode != 0, closed.stdout + closed.stderr
