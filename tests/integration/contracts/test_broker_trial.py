"""What a new-user trial of the broker workflows found (issue #25), against the test broker with the real clients as
oracles: the broker's result of a clean git checkout's commit counts as cached, a dirty tree's never; `harness
verify` says whether it published results; with a broker, the pact folder is read only when one is configured;
credentials in the URL are said to be the URL's; the branch of a detached HEAD comes from the CI variables as the
`pact` CLI takes them, else a note; WIP without pending is a note; the matrix names a broker pact by its URL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.contracts.broker import fetch_pacts
from harness.contracts.broker_config import BrokerConfig, broker_config
from harness.contracts.run import VerifyOptions, VerifyRun
from harness.errors import OptionError, PactInputProblems
from harness.model.loader import load_topology
from tests.broker.server import BrokerServer

from ..conftest import TOPOLOGIES
from .test_broker import (
    PACT_CLI,
    TOKEN,
    TOPOLOGY,
    free_port,
    good_pact,
    harness_verify,
    oracle,
    oracle_pacts,
    publish,
    topology,
    variant,
)
from .test_broker_publish import environment, harness, pact_folder, written

__all__ = ["written"]  # the fixture


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=folder,
                          check=True, capture_output=True, text=True).stdout.strip()


def checkout(tmp_path: Path, shop: str = "./shop") -> tuple[Path, str]:
    """A git checkout on main holding a topology whose shop is built from `shop` (./shop: a copy inside the
    checkout); its topology file and commit. What the runs write (reports, the verdict caches) is ignored."""
    repo = tmp_path / "repo"
    shutil.copytree(TOPOLOGIES / "pact-shop", repo / "shop")
    (repo / ".gitignore").write_text("out/\njunit.xml\ncache*/\n__pycache__/\n")
    file = repo / "topology.yaml"
    file.write_text(TOPOLOGY.replace("VARIANT", "trial").replace("SHOP_DIR", shop))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the shop")
    return file, git(repo, "rev-parse", "HEAD")


def test_a_clean_checkouts_commit_counts_at_the_broker_and_verify_says_what_it_published(
        tmp_path: Path, broker: BrokerServer) -> None:
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file, commit = checkout(tmp_path)
    env = {"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN}
    first = harness_verify(file, "--pact-selector", "mainBranch", "--publish-verification-results", env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "verified web-frontend->shop: 2 interaction(s) in" in first.stderr
    assert (f"verification results published to the Pact Broker {broker.url} (--publish-verification-results): 1 of "
            f"1 broker pact(s), for provider version {commit} on branch main") in first.stderr
    assert [(v.provider_version, v.success) for v in broker.broker.verifications] == [(commit, True)]
    # the matrix names the pact by its URL at the broker (the file it was fetched to is gone after the run)
    [edge] = json.loads((file.parent / "out" / "contract-matrix.json").read_text())["edges"]
    [pact] = broker.broker.pacts.values()
    assert edge["pact"] == broker.broker.pact_url(pact)
    assert edge["pact"].startswith(f"{broker.url}/pacts/provider/shop/consumer/web-frontend/pact-version/")
    page = (file.parent / "out" / "contract-matrix.html").read_text()
    assert f'<a href="{edge["pact"]}">broker pact {pact.sha[:12]}</a>' in page
    assert git(file.parent, "status", "--porcelain") == ""  # the run left the checkout clean

    # a fresh local cache, no --provider-version: the broker's result for the clean checkout's commit counts
    again = harness_verify(file, "--pact-selector", "mainBranch",
                           env={**env, "PYTEST_TOPOLOGY_CACHE": str(file.parent / "cache-b")})
    assert again.returncode == 0, again.stdout + again.stderr
    assert (f"verified (cached, from the Pact Broker (shop {commit}, from the clean git checkout's commit), "
            "verified ") in again.stderr
    assert (f"verification results not published to the Pact Broker {broker.url}: not asked "
            "(--publish-verification-results) and not in CI (CI=true with --provider-version)") in again.stderr
    in_ci = harness_verify(file, "--pact-selector", "mainBranch",
                           env={**env, "CI": "true"})
    assert in_ci.returncode == 0, in_ci.stdout + in_ci.stderr
    assert (f"verification results not published to the Pact Broker {broker.url}: in CI (CI=true) but no "
            "--provider-version given: give it to publish them") in in_ci.stderr
    assert len(broker.broker.verifications) == 1


def test_a_dirty_tree_or_a_provider_built_elsewhere_never_takes_the_brokers_result(
        tmp_path: Path, broker: BrokerServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decided before anything starts (`needs_topology`): the broker's successful result for the commit counts for
    a clean checkout whose shop is built inside it; not with uncommitted changes (an untracked file too), not for a
    shop built outside the checkout; --provider-version is the user's word for the version in any tree."""
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.delenv("CI", raising=False)  # not about publishing: CI=true with --provider-version would publish
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file, commit = checkout(tmp_path)
    [pact] = broker.broker.pacts.values()
    broker.broker.verify("shop", "web-frontend", pact.sha, {"success": True, "providerApplicationVersion": commit})

    def run(topology_file: Path, **options: Any) -> VerifyRun:
        config = broker_config(load_topology(topology_file), {"pact_broker_url": broker.url,
                                                              "pact_selector": [{"mainBranch": True}], **options})
        return VerifyRun(load_topology(topology_file), VerifyOptions(broker=config, broker_folder=tmp_path / "got",
                                                                     cache=tmp_path / "cache" / "verdicts"))

    def decided(topology_file: Path, **options: Any) -> tuple[bool, list[str], list[str]]:
        verify_run = run(topology_file, **options)
        try:
            by = [r.cached_by for r in verify_run.run(None)] if not verify_run.needs_topology else []
            return verify_run.needs_topology, by, verify_run.selection.notes
        finally:
            verify_run.close()

    assert decided(file) == (False, [f"the Pact Broker (shop {commit}, from the clean git checkout's commit)"], [])
    outside = file.with_name("outside.yaml")  # the shop built from the project's own folder: not this checkout
    outside.write_text(TOPOLOGY.replace("VARIANT", "outside").replace("SHOP_DIR", str(TOPOLOGIES / "pact-shop")))
    git(file.parent, "add", "outside.yaml")
    git(file.parent, "commit", "-q", "-m", "outside")
    commit = git(file.parent, "rev-parse", "HEAD")
    broker.broker.verify("shop", "web-frontend", pact.sha, {"success": True, "providerApplicationVersion": commit})
    assert decided(outside)[0] is True

    # files that reach no provider do not count (what a run writes, reports/, a regenerated contracts/ folder)
    (file.parent / "notes.txt").write_text("an untracked file beside the topology, in no provider")
    assert decided(file)[0] is False
    (file.parent / "shop" / "notes.txt").write_text("an untracked file in the shop's build context")
    needs, _, notes = decided(file)
    assert needs is True
    assert ("the Pact Broker's verification results do not count as cached for shop: the git checkout's commit does "
            "not name what it runs (shop/notes.txt is untracked; commit or stash the changes (or add "
            "the file to .dockerignore if the image does not need it))") in notes
    needs, _, notes = decided(file, provider_version=commit)  # no version names a changed tree (trial t25 finding 2)
    assert needs is True
    assert notes == [f"the Pact Broker's verification results for provider version {commit} (--provider-version) do "
                     "not count as cached: the git checkout differs from its commit (shop/notes.txt is untracked), "
                     f"so the pacts are verified here (the broker's results count for a clean checkout of "
                     f"{commit})"]
    with pytest.raises(OptionError) as refused:  # its result would be taken by a clean checkout of the commit
        broker_config(load_topology(file), {"pact_broker_url": broker.url, "publish_verification_results": True})
    assert str(refused.value) == (
        f"publishing verification results from a git checkout whose commit {commit} does not name the code verified "
        "here (shop/notes.txt is untracked; a clean checkout of it would take this result as its own): "
        "commit or stash the changes (or add the file to .dockerignore if the image does not need it), or give "
        "--provider-version")
    # a file ignored by git that docker sends in the build context: the commit does not name the image either
    (file.parent / "shop" / "notes.txt").unlink()
    (file.parent / ".gitignore").write_text((file.parent / ".gitignore").read_text() + "variant.txt\n")
    (file.parent / "shop" / "variant.txt").write_text("a local variant the commit does not have")
    needs, _, notes = decided(file)
    assert needs is True
    assert any("(shop/variant.txt is ignored by git but sent to docker in the build context of service shop; add it to "
               ".dockerignore or delete it)" in note for note in notes), notes
    assert not any("commit or stash" in note for note in notes), notes
    # left out of the build context by .dockerignore (committed): it does not reach the image, the commit counts
    (file.parent / "shop" / ".dockerignore").write_text("variant.txt\n")
    git(file.parent, "add", "-A")
    git(file.parent, "commit", "-q", "-m", "dockerignore")
    commit = git(file.parent, "rev-parse", "HEAD")
    broker.broker.verify("shop", "web-frontend", pact.sha, {"success": True, "providerApplicationVersion": commit})
    assert decided(file)[0] is False


def test_with_a_broker_the_folder_is_read_only_when_configured(tmp_path: Path, broker: BrokerServer,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """No `contracts.pacts` and no --pacts: the broker's pacts only (a ./contracts folder beside is not read, and
    "no pact to verify" names the broker, not a folder nobody configured); a folder configured is read too."""
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "kiosk-shop.json").write_text(json.dumps(variant(good_pact(), "kiosk", "kiosk")))
    file = topology(tmp_path, "folder")

    def consumers(topology_file: Path, pacts: Path | None = None, selector: str = "mainBranch",
                  provider: str | None = None) -> list[str]:
        spec = load_topology(topology_file)
        config = broker_config(spec, {"pact_broker_url": broker.url, "pact_selector": [{selector: True}]
                                      if selector == "mainBranch" else [{"branch": selector}]})
        verify_run = VerifyRun(spec, VerifyOptions(pacts=pacts, broker=config, broker_folder=tmp_path / "got",
                                                   provider=provider))
        try:
            return sorted(getattr(s, "consumer", "?") for s in verify_run.selection.sources)
        finally:
            verify_run.close()

    assert consumers(file) == ["web-frontend"]
    assert consumers(file, pacts=tmp_path / "contracts") == ["kiosk", "web-frontend"]
    configured = file.with_name("configured.yaml")
    configured.write_text(file.read_text().replace("contracts:\n", "contracts:\n  pacts: contracts\n", 1))
    assert load_topology(configured).contracts.pacts == "contracts"
    assert consumers(configured) == ["kiosk", "web-frontend"]
    with pytest.raises(PactInputProblems) as nothing:
        consumers(file, selector="no-such-branch")
    message = str(nothing.value)
    assert f"no pact to verify at the Pact Broker {broker.url}" in message
    assert str(tmp_path / "contracts") not in message
    assert ("the broker selected none (see the notes); a pact folder is read beside the broker's pacts only when one "
            "is configured: --pacts DIR or contracts.pacts") in message
    assert consumers(configured, selector="no-such-branch") == ["kiosk"]
    with pytest.raises(PactInputProblems) as typo:  # the broker is not asked: no note to point at
        consumers(file, provider="shpo")
    message = str(typo.value)
    assert "no pact to verify for provider shpo (did you mean 'shop'?)" in message, message
    assert ("the broker is asked only for the pacts of the topology's services (and their pact_name), and shpo is "
            "none of them; a pact folder is read beside") in message
    assert "see the notes" not in message


def test_credentials_in_the_url_are_said_to_be_the_urls_and_never_shown(tmp_path: Path) -> None:
    secret = "pw-Secret-9"
    with BrokerServer(user=("ci", "right-password")) as server:
        host = server.url.removeprefix("http://")
        file = topology(tmp_path, "url-credentials")
        refused = harness_verify(file, "--pact-broker-url", f"http://ci:{secret}@{host}",
                                 env={"PACT_BROKER_USERNAME": "ci", "PACT_BROKER_PASSWORD": "right-password"})
    output = refused.stdout + refused.stderr
    assert refused.returncode == 2, output
    assert f"the Pact Broker at {server.url} refused the credentials (401 on GET {server.url}/: " in output
    assert "; used: the user and password written in the broker URL (from --pact-broker-url)\n" in output
    assert ("check the user and password written in the broker URL (from --pact-broker-url): they are not valid for "
            "this broker (a mistyped user or password, those of another broker); correct them in the URL, or take "
            "them out of it and set PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD") in output
    assert "token" not in output.lower()  # the URL's credentials are no token
    assert secret not in output and "Traceback" not in output


def test_a_detached_head_publishes_the_ci_variables_branch_as_the_pact_cli_does_else_says_none(
        tmp_path: Path, written: Path) -> None:
    """The `pact` CLI with --auto-detect-version-properties is the oracle for the branch of a detached HEAD (as CI
    checks out): the same branch at the broker for each set of CI variables; none at all is a note saying how to
    give one."""
    folder = pact_folder(tmp_path, written)
    (tmp_path / ".gitignore").write_text("contracts/\n")  # untracked pacts would make a snapshot
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".gitignore")
    git(tmp_path, "commit", "-q", "-m", "first")
    git(tmp_path, "checkout", "-q", "--detach", "HEAD")
    commit = git(tmp_path, "rev-parse", "HEAD")
    for variables, branch in (({}, None), ({"CI_COMMIT_REF_NAME": "gl-branch"}, "gl-branch"),
                              ({"GITHUB_HEAD_REF": "", "GITHUB_REF": "refs/heads/main"}, "main"),
                              ({"GITHUB_HEAD_REF": "feat-pr", "GITHUB_REF": "refs/pull/3/merge"}, "feat-pr")):
        env = environment(**variables, PACT_BROKER_TOKEN=TOKEN)
        for name in ("GITHUB_HEAD_REF", "GITHUB_REF", "CI_COMMIT_REF_NAME", "GIT_BRANCH", "CIRCLE_BRANCH",
                     "TRAVIS_BRANCH", "APPVEYOR_REPO_BRANCH", "BUILD_SOURCEBRANCHNAME", "CIRRUS_BRANCH"):
            if name not in variables:
                env.pop(name, None)
        with BrokerServer(token=TOKEN) as by_cli, BrokerServer(token=TOKEN) as by_harness:
            cli = subprocess.run([PACT_CLI, "broker", "publish", str(folder / "kiosk-billing.json"), "-r",
                                  "--broker-base-url", by_cli.url, "--broker-token", TOKEN], capture_output=True,
                                 text=True, env=env, cwd=tmp_path)
            assert cli.returncode == 0, cli.stdout + cli.stderr
            # (pacts copied in, with no record of a session of this commit writing them: the commit is the version
            # on the user's word, as the CLI's -r takes it)
            done = harness(tmp_path, "publish", "--pacts", str(folder), "--pact-broker-url", by_harness.url,
                           "--consumer-version", commit, env={**env, "PACT_BROKER_BASE_URL": by_harness.url})
            assert done.returncode == 0, done.stdout + done.stderr
            assert by_cli.broker.versions[("kiosk", commit)].branches == ([branch] if branch else [])
            assert by_harness.broker.versions[("kiosk", commit)].branches == ([branch] if branch else []), variables
        note = (f"note: consumer version {commit} is published without a branch: none is known (a detached HEAD, as "
                "CI checkouts are, and none of the CI variables GITHUB_HEAD_REF, GITHUB_REF,")
        assert (note in done.stdout) is (branch is None), done.stdout
        if branch is None:
            assert "give --consumer-branch BRANCH (the broker's mainBranch and matchingBranch selectors need the " \
                   "branch)" in done.stdout


def test_wip_pacts_without_pending_are_a_note(tmp_path: Path, broker: BrokerServer) -> None:
    """The broker selects WIP pacts only with pending (pact-python's Verifier is the oracle: the same pacts)."""
    publish(broker, tmp_path, variant(good_pact(), "web", "1.0.0"), "1.0.0", "main")
    publish(broker, tmp_path, variant(good_pact(), "web", "2.0.0"), "2.0.0", "feat-x")  # WIP with pending
    config = BrokerConfig(broker.url, token=TOKEN, selectors=({"mainBranch": True},), wip_since="2020-01-01",
                          provider_branch="main")
    fetched = fetch_pacts(load_topology(topology(tmp_path, "wip")), config, tmp_path / "fetched")
    assert {pact.url for pact in fetched.pacts.values()} == oracle_pacts(oracle(
        broker, [{"mainBranch": True}], pending=False, wip_since="2020-01-01", branch="main"))
    assert not any(pact.wip for pact in fetched.pacts.values())
    assert ("work-in-progress pacts since 2020-01-01 were asked for (--pact-wip-since or contracts.broker.wip_since), "
            "but pending pacts are not: the Pact Broker selects WIP pacts only with pending, so none was selected; "
            "add --pact-include-pending (or contracts.broker.pending: true)") in fetched.notes
    with_pending = fetch_pacts(load_topology(topology(tmp_path, "wip")),
                               BrokerConfig(**{**config.__dict__, "include_pending": True}), tmp_path / "fetched")
    assert any(pact.wip for pact in with_pending.pacts.values())
    assert not any("work-in-progress" in note for note in with_pending.notes)


def test_a_broker_that_cannot_be_reached_stops_a_publishing_session_before_any_test(tmp_path: Path) -> None:
    """The broker is asked whether the credentials may publish before the consumer tests run
    (test_broker_write_access): one that cannot be reached is a usage error then (4), not an error line after every
    test ran. A publication that fails after the tests passed is exit 1 (pytest's convention for a session hook that
    fails; no consumer version: test_broker_publish)."""
    from .test_broker_publish import CONSUMER_TEST

    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    closed = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-dir",
                           str(tmp_path / "pacts"), "--pact-publish", "--pact-consumer-version", "1.0.0",
                           "test_consumer.py"], cwd=tmp_path, capture_output=True, text=True,
                          env=environment(PACT_BROKER_BASE_URL=closed))
    assert done.returncode == 4, done.stdout + done.stderr
    assert "passed" not in done.stdout and not (tmp_path / "pacts").exists()
    assert ("the session's pacts are to be published, so the Pact Broker was asked first, and no test was run: the "
            f"Pact Broker at {closed} cannot be reached") in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
