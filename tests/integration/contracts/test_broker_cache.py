"""The verdict cache in a broker setup (issue #25 point 6): a broker pact verified here goes into the local verdict
cache like a folder's; and the broker's own successful result for the same pact content (its pact version) by the
same provider version counts as verified, without verifying again — only when that provider version is given
(--provider-version: a label the user vouches for), never with --no-cache, never for changed content or another
version."""

from __future__ import annotations

import json
from pathlib import Path

from tests.broker.server import BrokerServer

from .test_broker import TOKEN, good_pact, harness_verify, pact_cli, publish, topology, variant


def verify(broker: BrokerServer, file: Path, cache: str, *args: str) -> str:
    """`harness verify` of the broker's main-branch pacts, with the verdict cache in `cache` (a folder by the file)."""
    done = harness_verify(file, "--pact-selector", "mainBranch", *args,
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN,
                               "PYTEST_TOPOLOGY_CACHE": str(file.parent / cache)})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def test_the_brokers_result_for_the_same_content_and_given_version_counts(tmp_path: Path,
                                                                          broker: BrokerServer) -> None:
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file = topology(tmp_path, "cache")
    first = verify(broker, file, "cache-a", "--provider-version", "3.0.0", "--publish-verification-results")
    assert "verified web-frontend->shop: 2 interaction(s) in" in first
    assert [(v.provider_version, v.success) for v in broker.broker.verifications] == [("3.0.0", True)]

    # a fresh local cache: the broker's result of this content by 3.0.0 counts; nothing is started or published
    at_broker = verify(broker, file, "cache-b", "--provider-version", "3.0.0", "--publish-verification-results")
    assert "verified (cached, from the Pact Broker (shop 3.0.0, from --provider-version), verified " in at_broker
    assert "web-frontend->shop: 2 interaction(s)" in at_broker
    assert ("pacts: 1 verified (1 verified at the Pact Broker: its successful result of the same pact content by the "
            "same provider version (--provider-version, or a clean git checkout's commit); --no-cache verifies them "
            "again)") in at_broker
    assert len(broker.broker.verifications) == 1
    edges = json.loads((file.parent / "out" / "contract-matrix.json").read_text())["edges"]
    assert edges[0]["source"].startswith(f"broker {broker.url}/pacts/provider/shop/consumer/web-frontend/")

    # no provider version given and no git checkout: the broker's results do not count
    for cache, args in (("cache-c", ()), ("cache-d", ("--provider-version", "3.0.1")),
                        ("cache-b", ("--provider-version", "3.0.0", "--no-cache"))):
        again = verify(broker, file, cache, *args)
        assert "verified web-frontend->shop: 2 interaction(s) in" in again, (args, again)
        assert "Pact Broker (shop" not in again

    # the local verdict cache keeps broker pacts: the first run's cache answers without a provider version
    local = verify(broker, file, "cache-a")
    assert "verified (cached, from 20" in local and "Pact Broker (shop" not in local

    # the same consumer version with other content (republished): another pact version, verified again
    (tmp_path / "again").mkdir()
    publish(broker, tmp_path / "again", variant(good_pact(), "web-frontend", "changed"), "1.0.0", "main")
    changed = verify(broker, file, "cache-e", "--provider-version", "3.0.0")
    assert "verified web-frontend->shop: 2 interaction(s) in" in changed
    assert "Pact Broker (shop" not in changed


def test_which_broker_results_count_decided_before_anything_starts(tmp_path: Path, broker: BrokerServer,
                                                                   monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The run's decision per case, before a topology is started (`needs_topology`): the broker's successful result
    of the same content by the given version counts; a failed one, another version, no version given, --no-cache,
    or content republished under the same consumer version do not."""
    from harness.contracts.broker_config import broker_config
    from harness.contracts.run import VerifyOptions, VerifyRun
    from harness.model.loader import load_topology

    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    publish(broker, tmp_path, variant(good_pact(), "billing", "billing"), "7.1.0", "main")
    for consumer, version, success in (("web-frontend", "1.0.0", True), ("billing", "7.1.0", False)):
        pact = broker.broker.pacts[(consumer, version, "shop")]
        broker.broker.verify("shop", consumer, pact.sha, {"success": success, "providerApplicationVersion": "3.0.0"})
    spec = load_topology(topology(tmp_path, "decide"))
    # the `pact` CLI reads the same matrix between two versions: yes only for the successful result
    for consumer, version, provider_version, yes in (("web-frontend", "1.0.0", "3.0.0", True),
                                                     ("billing", "7.1.0", "3.0.0", False),
                                                     ("web-frontend", "1.0.0", "3.0.1", False)):
        if provider_version == "3.0.1":
            broker.broker.version("shop", "3.0.1")
        done = pact_cli(broker, "can-i-deploy", "--pacticipant", consumer, "--version", version, "--pacticipant",
                        "shop", "--version", provider_version)
        assert (done.returncode == 0) is yes, done.stdout + done.stderr

    def run(no_cache: bool = False, consumer: str | None = None, **options: str) -> VerifyRun:
        config = broker_config(spec, {"pact_broker_url": broker.url, "pact_selector": [{"mainBranch": True}],
                                      **options})
        return VerifyRun(spec, VerifyOptions(consumer=consumer, broker=config, broker_folder=tmp_path / "fetched",
                                             cache=None if no_cache else tmp_path / "cache" / "verdicts"))

    counted = run(consumer="web-frontend", provider_version="3.0.0")
    try:
        assert not counted.needs_topology
        [result] = counted.run(None)
    finally:
        counted.close()
    assert (result.verdict, result.cached_by) == ("verified", "the Pact Broker (shop 3.0.0, from --provider-version)")
    assert result.cached_from == broker.broker.verifications[0].verified_at
    assert [i.passed for i in result.interactions] == [True, True]
    assert result.source.startswith(f"broker {broker.url}/pacts/provider/shop/consumer/web-frontend/")

    for case, made in (("failed at the broker", lambda: run(consumer="billing", provider_version="3.0.0")),
                       ("another version", lambda: run(consumer="web-frontend", provider_version="3.0.1")),
                       ("no version given", lambda: run(consumer="web-frontend")),
                       ("--no-cache", lambda: run(True, consumer="web-frontend", provider_version="3.0.0"))):
        verify_run = made()
        try:
            assert verify_run.needs_topology, case
        finally:
            verify_run.close()

    (tmp_path / "again").mkdir()
    publish(broker, tmp_path / "again", variant(good_pact(), "web-frontend", "changed"), "1.0.0", "main")
    changed = run(consumer="web-frontend", provider_version="3.0.0")
    try:
        assert changed.needs_topology  # the same consumer version, other content: the result was not of this
    finally:
        changed.close()
