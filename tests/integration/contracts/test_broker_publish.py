"""Publishing pacts to a Pact Broker (the test broker of tests/broker): `harness publish` sends what `pact broker
publish` sends (the real CLI is the oracle: the same requests, the same bodies, the same pacts at the broker), with the
consumer version and branch of the git checkout by default; `pytest --pact-publish` publishes the pacts a session's
consumer tests wrote, only when the session passed; every failure is one clear message and publishes nothing."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.broker.server import BrokerServer

from .test_broker import PACT_CLI, TOKEN

HARNESS = str(Path(sys.executable).parent / "harness")


def git_checkout(folder: Path, branch: str = "main") -> str:
    """`folder` as a git checkout on `branch` with one commit of every file in it (a clean checkout); its commit."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True, text=True).stdout.strip()
    git("init", "-q", "-b", branch)
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "first")
    assert git("status", "--porcelain") == ""
    return git("rev-parse", "HEAD")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pacts written by pact-python: the consumer tests below, run once (the `pact` CLI publishes such a pact as it is
    written; one written by another tool it first rewrites in its own form, see docs/guides/broker.md)."""
    folder = tmp_path_factory.mktemp("consumer")
    (folder / "test_consumer.py").write_text(CONSUMER_TEST)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-dir",
                           str(folder / "contracts"), "test_consumer.py"], cwd=folder, capture_output=True, text=True,
                          env=environment())
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "contracts"


def pact_folder(tmp_path: Path, written: Path) -> Path:
    folder = tmp_path / "contracts"
    shutil.copytree(written, folder)
    return folder


def topology(tmp_path: Path, broker_url: str | None = None) -> Path:
    file = tmp_path / "topology.yaml"
    file.write_text("name: publish\n" + (f"contracts:\n  broker: {{url: {broker_url}}}\n" if broker_url else "")
                    + "services:\n  shop: {image: redis:7}\n")
    return file


def environment(**more: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("PACT_BROKER_") and k != "CI"}, **more}


def harness(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HARNESS, *args], capture_output=True, text=True, cwd=cwd, env=env or environment())


def published_state(server: BrokerServer) -> dict[str, object]:
    """What a broker holds after a publication, the requests that change it (each `pact` command GETs the index
    first), and the publish requests' bodies with their pacts decoded (in any order: the CLI orders them its way)."""
    b = server.broker
    bodies = [{**body, "contracts": [{**c, "content": json.loads(base64.b64decode(c["content"]))}
                                     for c in body["contracts"]]} for body in b.published]
    return {"versions": {key: (v.branches, v.tags) for key, v in b.versions.items()},
            "pacts": {key: p.sha for key, p in b.pacts.items()},
            "changes": [r for r in b.requests if r[0] != "GET"], "bodies": sorted(bodies, key=lambda body: (body["pacticipantName"], body["contracts"][0]["providerName"]))}


def test_harness_publish_sends_what_the_pact_cli_sends(tmp_path: Path, written: Path) -> None:
    folder = pact_folder(tmp_path, written)
    file = topology(tmp_path)
    commit = git_checkout(tmp_path, "feat-x")
    with BrokerServer(token=TOKEN) as by_cli, BrokerServer(token=TOKEN) as by_harness:
        for consumer in ("kiosk", "web-frontend"):  # the CLI publishes one consumer's files per command
            files = [str(p) for p in sorted(folder.glob(f"{consumer}-*.json"))]
            done = subprocess.run([PACT_CLI, "broker", "publish", *files, "--consumer-app-version", commit,
                                   "--branch", "feat-x", "--tag", "rc", "--broker-base-url", by_cli.url,
                                   "--broker-token", TOKEN], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
        done = harness(tmp_path, "publish", "--topology", str(file), "--consumer-tag", "rc",
                       env=environment(PACT_BROKER_BASE_URL=by_harness.url, PACT_BROKER_TOKEN=TOKEN))
        assert done.returncode == 0, done.stdout + done.stderr
        assert (f"published 3 pact(s) to the Pact Broker {by_harness.url} for consumer version {commit} on branch "
                "feat-x with tag(s) rc") in done.stdout
        assert f"web-frontend->shop (web-frontend-shop.json): {by_harness.url}/pacts/provider/shop/" in done.stdout
        assert f"broker: success: Created kiosk version {commit} with branch feat-x" in done.stdout
        assert TOKEN not in done.stdout + done.stderr
        expected, got = published_state(by_cli), published_state(by_harness)
    assert got == expected
    assert len(got["pacts"]) == 3  # type: ignore[arg-type]


def test_the_pacts_folder_and_options_win_over_git(tmp_path: Path, broker: BrokerServer, written: Path) -> None:
    """--pacts without a topology; --consumer-version and --consumer-branch where there is no git checkout."""
    folder = pact_folder(tmp_path, written)
    done = harness(tmp_path, "publish", "--pacts", str(folder), "--pact-broker-url", broker.url,
                   "--consumer-version", "2.0.0", "--consumer-branch", "main",
                   env=environment(PACT_BROKER_TOKEN=TOKEN))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {(p.consumer, p.consumer_version, p.provider) for p in broker.broker.pacts.values()} == {
        ("kiosk", "2.0.0", "billing"), ("web-frontend", "2.0.0", "shop"), ("web-frontend", "2.0.0", "billing")}
    assert broker.broker.main_branch["web-frontend"] == "main"
    described = subprocess.run([PACT_CLI, "broker", "describe-version", "--pacticipant", "kiosk", "--version",
                                "2.0.0", "--broker-base-url", broker.url, "--broker-token", TOKEN, "--output",
                                "json"], capture_output=True, text=True)
    assert described.returncode == 0 and '"main"' in described.stdout, described.stdout + described.stderr


HOST = re.sub(r"[^0-9A-Za-z-]", "", socket.gethostname())  # as absolute-version writes it in build metadata


def test_a_dirty_checkout_publishes_a_snapshot_and_never_replaces_the_commits_pacts(
        tmp_path: Path, broker: BrokerServer, written: Path) -> None:
    """A changed or untracked file outside the pact folder (the consumer's code may be anywhere) marks the version
    COMMIT+SNAPSHOT.<host>: the commit's pacts at the broker stay those of its clean checkout (with `onConflict:
    overwrite` a dirty pact published under the commit would replace them). Ignored files and __pycache__ do not
    count; a pact tracked by git that differs from the commit's does (stale: written by other code, then the code
    reverted); a version given always wins."""
    folder = pact_folder(tmp_path, written)
    file = topology(tmp_path, broker.url)
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "client.py").write_text("BASE = '/v1'\n")
    (tmp_path / ".gitignore").write_text("*.log\n")
    commit = git_checkout(tmp_path)
    env = environment(PACT_BROKER_TOKEN=TOKEN)

    (tmp_path / "debug.log").write_text("ignored\n")
    (tmp_path / "web" / "__pycache__").mkdir()
    (tmp_path / "web" / "__pycache__" / "client.cpython-311.pyc").write_bytes(b"\0")
    clean = harness(tmp_path, "publish", "--topology", str(file), env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert f"for consumer version {commit} on branch main" in clean.stdout and "SNAPSHOT" not in clean.stdout
    at_commit = {key: pact.sha for key, pact in broker.broker.pacts.items()}

    pact = folder / "web-frontend-shop.json"  # a weaker pact: its interaction gone, the code as committed
    pact.write_text(json.dumps({**json.loads(pact.read_text()), "interactions": []}))
    stale = harness(tmp_path, "publish", "--topology", str(file), env=env)
    assert stale.returncode == 0, stale.stdout + stale.stderr
    assert (f"the git checkout {tmp_path} has uncommitted changes (contracts/web-frontend-shop.json), so the commit "
            "does not name the code that wrote these pacts") in " ".join(stale.stdout.split()), stale.stdout
    assert ("or give --consumer-version VERSION; pacts that differ from the commit's may be stale: publish them from "
            "the session that writes them (pytest --pact-publish)") in " ".join(stale.stdout.split()), stale.stdout
    (tmp_path / "web" / "client.py").write_text("BASE = '/v2'\n")
    (tmp_path / "web" / "retry.py").write_text("TRIES = 1\n")
    dirty = harness(tmp_path, "publish", "--topology", str(file), env=env)
    assert dirty.returncode == 0, dirty.stdout + dirty.stderr
    snapshot = f"{commit}+SNAPSHOT.{HOST}"
    assert f"published 3 pact(s) to the Pact Broker {broker.url} for consumer version {snapshot} (no branch)\n" in dirty.stdout
    assert broker.broker.versions[("web-frontend", snapshot)].branches == []  # never the latest version of main
    assert (f"note: published as consumer version {snapshot}, not as the commit {commit}: the git checkout "
            f"{tmp_path} has uncommitted changes (contracts/web-frontend-shop.json, web/client.py, untracked "
            "web/retry.py), so the commit does not name the code that wrote these pacts (the Pact convention for a dirty working tree: "
            "+SNAPSHOT.<host>); commit the changes to publish under the commit, or give --consumer-version VERSION"
            ) in " ".join(dirty.stdout.split())
    assert {key: sha for key, sha in ((k, p.sha) for k, p in broker.broker.pacts.items()) if key in at_commit} \
        == at_commit  # the commit's pacts are untouched
    assert broker.broker.pacts[("web-frontend", snapshot, "shop")].sha != at_commit[("web-frontend", commit, "shop")]
    described = subprocess.run([PACT_CLI, "broker", "describe-version", "--pacticipant", "web-frontend", "--version",
                                snapshot, "--broker-base-url", broker.url, "--broker-token", TOKEN, "--output",
                                "json"], capture_output=True, text=True)  # the real CLI finds the marked version
    assert described.returncode == 0 and snapshot in described.stdout, described.stdout + described.stderr

    given = harness(tmp_path, "publish", "--topology", str(file), "--consumer-version", "3.0.0", env=env)
    assert given.returncode == 0, given.stdout + given.stderr
    assert "for consumer version 3.0.0 on branch main" in given.stdout and "SNAPSHOT" not in given.stdout

    # a version given that is the commit is a claim git can check: the commit's pacts stay its clean checkout's
    before = published_state(broker)
    for claim in (commit, commit[:10]):
        claimed = harness(tmp_path, "publish", "--topology", str(file), "--consumer-version", claim, env=env)
        said = " ".join((claimed.stdout + claimed.stderr).split())
        assert claimed.returncode == 2, said
        assert (f"publishing pacts as consumer version {claim} (--consumer-version), the commit of the git checkout "
                f"{tmp_path}, but the checkout has uncommitted changes (contracts/web-frontend-shop.json, "
                "web/client.py, untracked web/retry.py): the commit does not name the code that wrote them; commit "
                "the changes (an untracked file the consumer tests may read: git add it; one a run writes that no "
                "test reads: add it to .gitignore), or leave out --consumer-version (they are published as "
                f"COMMIT+SNAPSHOT.<host>), or give --consumer-version {claim}-dirty (a version that says the tree is "
                "changed, as git describe --always --dirty writes it)") in said, said
    assert published_state(broker) == before  # nothing sent
    marked = harness(tmp_path, "publish", "--topology", str(file), "--consumer-version", f"{commit[:7]}-dirty", env=env)
    assert marked.returncode == 0 and f"for consumer version {commit[:7]}-dirty" in marked.stdout, marked.stdout

    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "v2"],
                   cwd=tmp_path, check=True)
    other = harness(tmp_path, "publish", "--topology", str(file), "--consumer-version", commit, env=env)
    said = " ".join((other.stdout + other.stderr).split())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert other.returncode == 2, said
    assert (f"publishing pacts as consumer version {commit} (--consumer-version), a commit of the git checkout "
            f"{tmp_path}, from a checkout at commit {head[:12]}: the broker would hold them as the pacts of {commit}; "
            f"check out {commit}, or give the checkout's own version") in said, said


def test_each_publish_failure_is_one_clear_message_and_publishes_nothing(tmp_path: Path, broker: BrokerServer,
                                                                         written: Path) -> None:
    folder = pact_folder(tmp_path, written)
    file = topology(tmp_path)

    nowhere = harness(tmp_path, "publish", "--topology", str(file), "--consumer-version", "1")
    assert nowhere.returncode == 2, nowhere.stderr
    assert ("error: harness publish: no Pact Broker is configured: give --pact-broker-url URL, contracts.broker.url "
            "in the topology file, or set PACT_BROKER_BASE_URL") in nowhere.stderr

    no_version = harness(tmp_path, "publish", "--topology", str(topology(tmp_path, broker.url)),
                         env=environment(PACT_BROKER_TOKEN=TOKEN))
    assert no_version.returncode == 2, no_version.stderr
    assert ("publishing pacts needs the consumer version: give --consumer-version (the git checkout's commit is "
            f"taken when there is one; {folder} is not in a git checkout)") in no_version.stderr

    refused = harness(tmp_path, "publish", "--topology", str(file), "--consumer-version", "1",
                      env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN="wrong-token"))
    assert refused.returncode == 2, refused.stderr
    assert f"the Pact Broker at {broker.url} refused the credentials (401" in refused.stderr
    assert "used: PACT_BROKER_TOKEN" in refused.stderr and "wrong-token" not in refused.stderr

    read_only = harness(tmp_path, "publish", "--topology", str(file), "--consumer-version", "1",
                        env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN="read-only-token"))
    assert read_only.returncode == 2, read_only.stderr
    assert (f"the Pact Broker at {broker.url} does not allow this with the credentials (403 on POST "
            f"{broker.url}/contracts/publish") in read_only.stderr and "read-only-token" not in read_only.stderr
    assert "or do not publish from it\n" in read_only.stderr  # nothing said of verification results here
    assert "--publish-verification-results" not in read_only.stderr

    (folder / "zz-broken.json").write_text('{"consumer": {"name": "web-frontend"},')
    broken = harness(tmp_path, "publish", "--topology", str(file), "--consumer-version", "1",
                     env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN))
    assert broken.returncode == 2, broken.stderr
    assert f"{folder / 'zz-broken.json'}:1: not valid JSON" in broken.stderr
    assert "Traceback" not in broken.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = harness(tmp_path, "publish", "--pacts", str(empty), "--consumer-version", "1",
                      env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN))
    assert nothing.returncode == 2, nothing.stderr
    assert f"no pact files (*.json) in {empty}: nothing to publish" in nothing.stderr
    assert broker.broker.pacts == {} and broker.broker.published == []


CONSUMER_TEST = """
import os
import requests

def test_web_reads_the_bill(pact):
    p = pact("web-frontend", "billing")
    p.upon_receiving("a request for the bill").with_request("GET", "/bill").will_respond_with(200)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}/bill").status_code == 200

def test_web_reads_the_items(pact):
    p = pact("web-frontend", "shop")
    p.upon_receiving("a request for the items").with_request("GET", "/items").will_respond_with(200)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}/items").status_code == 200

def test_kiosk_reads_the_bill(pact):
    if os.environ.get("SKIP_KIOSK"):
        import pytest
        pytest.skip("no kiosk today")
    p = pact("kiosk", "billing")
    p.upon_receiving("a request for the bill").with_request("GET", "/bill").will_respond_with(200)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}/bill").status_code == 200
    assert not os.environ.get("KIOSK_FAILS"), "the kiosk's consumer test fails"
"""


def consumer_tests(tmp_path: Path, broker: BrokerServer, *args: str, cache: bool = False, cwd: Path | None = None,
                   **env: str) -> subprocess.CompletedProcess[str]:
    """pytest in `cwd` (else `tmp_path`, where it writes the consumer tests first) publishing to `broker`, with its
    cache (`--lf`, `--sw`) when `cache`."""
    if cwd is None:
        (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", *([] if cache else ["-p", "no:cacheprovider"]),
                           "--pact-dir", str(tmp_path / "pacts"), *args], cwd=cwd or tmp_path, capture_output=True,
                          text=True, env=environment(**{"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN, **env}))


def test_pytest_publishes_the_pacts_of_a_session_that_passed(tmp_path: Path, broker: BrokerServer) -> None:
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    commit = git_checkout(tmp_path)
    quiet = consumer_tests(tmp_path, broker, "--junitxml", "reports/junit.xml")  # not asked, not CI: not published
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "pacts written:" in quiet.stdout and "published" not in quiet.stdout
    assert broker.broker.published == []

    failed = consumer_tests(tmp_path, broker, "--pact-publish", KIOSK_FAILS="1")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert ("pacts not published to the Pact Broker: the session did not pass (exit status 1); a pact is published "
            "only after its consumer tests pass") in failed.stdout
    assert broker.broker.published == []

    # the session's own outputs (the pacts, its JUnit file) leave the checkout at its commit
    asked = consumer_tests(tmp_path, broker, "--pact-publish", "--junitxml", "reports/junit.xml")
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert (tmp_path / "reports" / "junit.xml").is_file()
    assert "SNAPSHOT" not in asked.stdout
    assert (f"pacts published to the Pact Broker {broker.url} for consumer version {commit} on branch main: "
            "kiosk->billing, web-frontend->billing, web-frontend->shop") in asked.stdout
    assert {(p.consumer, p.consumer_version, p.provider) for p in broker.broker.pacts.values()} == {
        ("kiosk", commit, "billing"), ("web-frontend", commit, "billing"), ("web-frontend", commit, "shop")}
    # the pacts at the broker are the files the session wrote
    files = {(data["consumer"]["name"], data["provider"]["name"]): data
             for data in (json.loads(f.read_text()) for f in (tmp_path / "pacts").glob("*.json"))}
    sent = {(c["consumerName"], c["providerName"]): json.loads(base64.b64decode(c["content"]))
            for body in broker.broker.published for c in body["contracts"]}
    assert sent == files

    in_ci = consumer_tests(tmp_path, broker, "--pact-consumer-version", "9.9.9", "--pact-consumer-tag", "ci",
                           CI="true")
    assert in_ci.returncode == 0, in_ci.stdout + in_ci.stderr
    assert "for consumer version 9.9.9 on branch main" in in_ci.stdout
    assert broker.broker.versions[("kiosk", "9.9.9")].tags == ["ci"]

    (tmp_path / "client.py").write_text("BASE = '/v2'\n")  # consumer code the commit does not have
    dirty = consumer_tests(tmp_path, broker, "--pact-publish", "--junitxml", "reports/junit.xml")
    assert dirty.returncode == 0, dirty.stdout + dirty.stderr
    snapshot = f"{commit}+SNAPSHOT.{HOST}"
    assert f"pacts published to the Pact Broker {broker.url} for consumer version {snapshot}: " in dirty.stdout
    assert (f"note: published as consumer version {snapshot}, not as the commit {commit}: the git checkout "
            f"{tmp_path} has uncommitted changes outside the pact folder (untracked client.py)") in dirty.stdout
    assert "or give --pact-consumer-version VERSION" in dirty.stdout
    assert ("without a branch, so that it never becomes the latest version of the checkout's branch (give "
            "--pact-consumer-branch BRANCH to publish it on one)") in " ".join(dirty.stdout.split())
    assert broker.broker.versions[("kiosk", snapshot)].branches == []  # never the latest of main


def test_in_ci_without_a_consumer_version_the_session_says_its_pacts_are_not_published(
        tmp_path: Path, broker: BrokerServer) -> None:
    """Trial finding 7: CI=true with a broker configured and no consumer version publishes nothing (as the Pact docs
    advise), and says so in one line as `harness verify` says it of results; the session still passes (exit 0)."""
    git_checkout(tmp_path)
    done = consumer_tests(tmp_path, broker, CI="true")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (f"pacts not published to the Pact Broker {broker.url}: in CI (CI=true) but no --pact-consumer-version "
            "given: give it (or --pact-publish) to publish them") in done.stdout
    assert broker.broker.published == []
    laptop = consumer_tests(tmp_path, broker)  # not in CI: nothing to say, as before
    assert laptop.returncode == 0 and "not published" not in laptop.stdout, laptop.stdout


@pytest.mark.parametrize("args", [["-k", "web"], ["test_consumer.py::test_web_reads_the_bill"],
                                  ["--deselect", "test_consumer.py::test_kiosk_reads_the_bill"],
                                  ["-o", "testpaths=test_consumer.py test_more.py", "test_consumer.py"],
                                  ["SKIP_KIOSK"], ["-n", "2", "-k", "web"]],
                         ids=["k", "node-id", "deselect", "testpaths", "skipped", "xdist"])
def test_a_session_that_left_out_tests_publishes_its_pacts_as_a_snapshot(tmp_path: Path, broker: BrokerServer,
                                                                         args: list[str]) -> None:
    """A clean checkout's session that did not run every test (a selection, or a test skipped) wrote pacts that may
    lack interactions: under the bare commit can-i-deploy would pass a provider that breaks a left-out one. They are
    published as COMMIT+SNAPSHOT.<host> without a branch, saying why; a version given still wins, on no branch
    either (on the checkout's it would become the branch's latest pacts, which mainBranch verifies)."""
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    (tmp_path / "test_more.py").write_text("def test_more():\n    pass\n")
    commit = git_checkout(tmp_path)
    env = {"SKIP_KIOSK": "1"} if args == ["SKIP_KIOSK"] else {}
    done = consumer_tests(tmp_path, broker, "--pact-publish", *([] if env else args), **env)
    assert done.returncode == 0, done.stdout + done.stderr
    snapshot = f"{commit}+SNAPSHOT.{HOST}"
    said = " ".join(done.stdout.split())
    assert f"pacts published to the Pact Broker {broker.url} for consumer version {snapshot}: " in said, said
    assert (f"note: published as consumer version {snapshot}, not as the commit {commit}: this session did not run "
            "every consumer test (") in said, said
    assert ("so these pacts may lack interactions of the commit's and keep older ones (merged into the files); run "
            "the whole session to publish under the commit, or give --pact-consumer-version VERSION (a version that is no commit of the checkout, e.g. "
            "COMMIT-partial); without a branch") in said
    why = {"-k": "2 of 4 collected test(s) deselected (-k given)", "-n": "2 of 4 collected test(s) deselected (-k "
           "given)", "test_consumer.py::test_web_reads_the_bill": "node ids given",
           "--deselect": "1 of 4 collected test(s) deselected (--deselect given)", "-o": "test paths given "
           "(test_consumer.py) narrower "
           f"than {tmp_path / 'test_consumer.py'} {tmp_path / 'test_more.py'}", "SKIP_KIOSK": "1 test(s) skipped"}
    assert why[args[0]] in said, said
    assert {p.consumer_version for p in broker.broker.pacts.values()} == {snapshot}  # nothing under the commit
    assert all(v.branches == [] for v in broker.broker.versions.values())

    given = consumer_tests(tmp_path, broker, "--pact-publish", "--pact-consumer-version", "7.0.0",
                           *([] if env else args), **env)
    assert given.returncode == 0, given.stdout + given.stderr
    said = " ".join(given.stdout.split())
    assert "for consumer version 7.0.0: " in said and "SNAPSHOT" not in said, said
    assert f"note: published without a branch: this session did not run every consumer test ({why[args[0]]}" in said
    assert all(v.branches == [] for v in broker.broker.versions.values())


def test_a_whole_session_from_a_clean_checkout_publishes_under_the_commit(tmp_path: Path,
                                                                           broker: BrokerServer) -> None:
    """Paths that cover the default test paths are the whole session: the bare commit, on the checkout's branch."""
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    commit = git_checkout(tmp_path)
    done = consumer_tests(tmp_path, broker, "--pact-publish", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"for consumer version {commit} on branch main:" in done.stdout and "SNAPSHOT" not in done.stdout


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_a_deselection_the_committed_configuration_makes_is_the_commits_session(
        tmp_path: Path, broker: BrokerServer, xdist: list[str]) -> None:
    """`--deselect` in the addopts of a pytest.ini git tracks leaves the test out of every session of the commit (CI's
    too): the pacts are the commit's. The same deselection from PYTEST_ADDOPTS, or an ini file git ignores, is this
    session's own: a snapshot."""
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    ini = "[pytest]\naddopts = --deselect test_consumer.py::test_kiosk_reads_the_bill\n"
    (tmp_path / "pytest.ini").write_text(ini)
    commit = git_checkout(tmp_path)
    done = consumer_tests(tmp_path, broker, "--pact-publish", *xdist)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr
    assert f"for consumer version {commit} on branch main: " in done.stdout and "SNAPSHOT" not in done.stdout

    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "no ini"],
                   cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    own = consumer_tests(tmp_path, broker, "--pact-publish", *xdist,
                         PYTEST_ADDOPTS="--deselect test_consumer.py::test_kiosk_reads_the_bill")
    said = " ".join(own.stdout.split())
    assert own.returncode == 0 and f"for consumer version {head}+SNAPSHOT.{HOST}" in said, said
    assert "1 of 3 collected test(s) deselected (--deselect given)" in said, said

    subprocess.run(["git", "rm", "-q", "--cached", "pytest.ini"], cwd=tmp_path, check=True)
    (tmp_path / ".gitignore").write_text("pytest.ini\n")
    (tmp_path / "pytest.ini").write_text(ini)
    subprocess.run(["git", "add", ".gitignore"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "ini ignored"],
                   cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    ignored = consumer_tests(tmp_path, broker, "--pact-publish", *xdist)
    said = " ".join(ignored.stdout.split())
    assert ignored.returncode == 0 and f"for consumer version {head}+SNAPSHOT.{HOST}" in said, said


@pytest.mark.parametrize("args", [["-k", "bill or items"], ["-m", "not slow"], ["--lf"], ["--sw"],
                                  ["-n", "2", "-k", "bill or items"], ["-n", "2", "--lf"]],
                         ids=["k", "m", "lf", "sw", "xdist-k", "xdist-lf"])
def test_options_that_leave_no_test_out_publish_under_the_commit(tmp_path: Path, broker: BrokerServer,
                                                                 args: list[str]) -> None:
    """An option that could select tests but selected every one (`--lf` with no failure of last time runs every
    test, as pytest says: "no previously failed tests, not deselecting items") ran the whole session."""
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    commit = git_checkout(tmp_path)
    done = consumer_tests(tmp_path, broker, "--pact-publish", *args, cache=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout, done.stdout
    assert f"for consumer version {commit} on branch main: " in done.stdout and "SNAPSHOT" not in done.stdout


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_lf_and_sw_publish_a_snapshot_only_when_they_leave_tests_out(tmp_path: Path, broker: BrokerServer,
                                                                     xdist: list[str]) -> None:
    """After a failure `--lf` reruns only the failed test (pytest drops the others as it collects them) and `--sw`
    deselects the tests before it: their pacts are a snapshot. Once the failure is fixed, the next `--lf` or `--sw`
    session runs every test: the commit."""
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    commit = git_checkout(tmp_path)
    snapshot = f"{commit}+SNAPSHOT.{HOST}"
    for option, why in (("--lf", "--lf ran only the 1 test(s) that failed last time"),
                        ("--sw", "2 of 3 collected test(s) deselected (--sw given)")):
        failed = consumer_tests(tmp_path, broker, *xdist, option, cache=True, KIOSK_FAILS="1")
        assert "1 failed" in failed.stdout, failed.stdout + failed.stderr  # --sw: exit 2 (interrupted)
        again = consumer_tests(tmp_path, broker, *xdist, option, "--pact-publish", cache=True)
        assert again.returncode == 0 and "1 passed" in again.stdout, again.stdout + again.stderr
        said = " ".join(again.stdout.split())
        assert f"for consumer version {snapshot}: kiosk->billing" in said, said
        assert f"this session did not run every consumer test ({why}), so these pacts" in said, said
        whole = consumer_tests(tmp_path, broker, *xdist, option, "--pact-publish", cache=True)
        assert whole.returncode == 0 and "3 passed" in whole.stdout, whole.stdout + whole.stderr
        assert f"for consumer version {commit} on branch main: " in whole.stdout and "SNAPSHOT" not in whole.stdout


DESELECTING_PLUGIN = """
import os

def pytest_collection_modifyitems(config, items):
    # deselects where tests are collected: under xdist on the workers only (the controller collects nothing)
    if not os.environ.get("DROP_KIOSK"):
        return
    dropped = [item for item in items if "kiosk" in item.nodeid]
    items[:] = [item for item in items if item not in dropped]
    if os.environ["DROP_KIOSK"] == "deselect":
        config.hook.pytest_deselected(items=dropped)
"""


@pytest.mark.parametrize("drop", ["deselect", "silently"])
@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["plain", "xdist"])
def test_tests_a_plugin_leaves_out_where_they_are_collected_make_a_snapshot(tmp_path: Path, broker: BrokerServer,
                                                                            xdist: list[str], drop: str) -> None:
    """A conftest deselects the kiosk's test with no option given: said with pytest_deselected, or just dropped from
    the items. Under xdist only the workers see it: each says what it collected and left out."""
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    (tmp_path / "conftest.py").write_text(DESELECTING_PLUGIN)
    commit = git_checkout(tmp_path)
    done = consumer_tests(tmp_path, broker, *xdist, "--pact-publish", DROP_KIOSK=drop)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert (f"for consumer version {commit}+SNAPSHOT.{HOST}: web-frontend->billing, web-frontend->shop" in said), said
    assert ("this session did not run every consumer test (1 of 3 collected test(s) deselected), so these pacts"
            in said), said


def test_pytest_run_in_a_subfolder_collects_only_it_and_publishes_a_snapshot(tmp_path: Path,
                                                                           broker: BrokerServer) -> None:
    """pytest reads `testpaths` only when run in the rootdir without test paths; run in a subfolder it collects only
    that folder (measured below by what ran). Without a pytest configuration file the rootdir is wherever pytest
    runs, so the git checkout's top stands for the project."""
    web, kiosk = tmp_path / "tests" / "web", tmp_path / "tests" / "kiosk"
    web.mkdir(parents=True)
    kiosk.mkdir()
    (web / "test_consumer.py").write_text(CONSUMER_TEST)
    (kiosk / "test_kiosk.py").write_text("def test_kiosk_prints():\n    pass\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    commit = git_checkout(tmp_path)
    snapshot = f"{commit}+SNAPSHOT.{HOST}"
    tests = tmp_path / "tests"

    for cwd, args, ran, why in (
            (web, [], "3 passed", f"pytest run in {web} without test paths collects that folder only, narrower than "
             f"{tests}"),
            (web, ["."], "3 passed", f"test paths given (.) narrower than {tests}"),
            (tmp_path, ["tests/web"], "3 passed", f"test paths given (tests/web) narrower than {tests}"),
            (tests, [], "4 passed", ""), (tmp_path, [], "4 passed", "")):
        done = consumer_tests(tmp_path, broker, "--pact-publish", *args, cwd=cwd)
        assert done.returncode == 0 and ran in done.stdout, (cwd, args, done.stdout + done.stderr)
        said = " ".join(done.stdout.split())
        if why:
            assert f"for consumer version {snapshot}: " in said, (cwd, args, said)
            assert f"this session did not run every consumer test ({why}), so these pacts" in said, (cwd, args, said)
        else:
            assert f"for consumer version {commit} on branch main: " in said and "SNAPSHOT" not in said, (cwd, said)

    subprocess.run(["git", "rm", "-q", "pytest.ini"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "no ini"],
                   cwd=tmp_path, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, check=True, capture_output=True,
                            text=True).stdout.strip()
    done = consumer_tests(tmp_path, broker, "--pact-publish", cwd=web)
    assert done.returncode == 0 and "3 passed" in done.stdout, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert f"for consumer version {commit}+SNAPSHOT.{HOST}: " in said, said
    assert (f"(pytest run in {web} without test paths collects that folder only, narrower than {tmp_path} (the git "
            "checkout's top: no pytest configuration file says where the project's tests are))") in said, said
    whole = consumer_tests(tmp_path, broker, "--pact-publish", cwd=tmp_path)
    assert whole.returncode == 0 and "4 passed" in whole.stdout, whole.stdout + whole.stderr
    assert f"for consumer version {commit} on branch main: " in whole.stdout and "SNAPSHOT" not in whole.stdout


def test_pytest_publication_failures_are_said_and_fail_the_session(tmp_path: Path, broker: BrokerServer) -> None:
    (tmp_path / "test_consumer.py").write_text(CONSUMER_TEST)
    nowhere = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-publish",
                              "test_consumer.py"], cwd=tmp_path, capture_output=True, text=True, env=environment())
    assert nowhere.returncode == 4, nowhere.stdout + nowhere.stderr
    assert "--pact-publish: no Pact Broker is configured" in nowhere.stderr

    refused = consumer_tests(tmp_path, broker, "--pact-publish", "--pact-consumer-version", "1",
                             PACT_BROKER_TOKEN="read-only-token")  # before any test: test_broker_write_access
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "passed" not in refused.stdout and "read-only-token" not in refused.stdout + refused.stderr

    no_version = consumer_tests(tmp_path, broker, "--pact-publish")  # tmp_path is no git checkout
    assert no_version.returncode == 1, no_version.stdout + no_version.stderr
    assert "publishing pacts needs the consumer version: give --pact-consumer-version" in no_version.stdout
    assert broker.broker.published == []



def test_under_xdist_the_controller_publishes_what_every_worker_wrote_once(tmp_path: Path,
                                                                           broker: BrokerServer) -> None:
    done = consumer_tests(tmp_path, broker, "-n", "2", "--pact-publish", "--pact-consumer-version", "5.0.0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("pacts published to the Pact Broker") == 1
    assert sorted((p.consumer, p.provider, p.consumer_version) for p in broker.broker.pacts.values()) == [
        ("kiosk", "billing", "5.0.0"), ("web-frontend", "billing", "5.0.0"), ("web-frontend", "shop", "5.0.0")]
    assert len(broker.broker.published) == 3


def test_a_checkout_git_cannot_list_the_changes_of_is_a_snapshot_too(tmp_path: Path, written: Path) -> None:
    """When git status fails (here: a corrupt index), what differs from the commit is not known: never the bare
    commit."""
    from harness.contracts.publish import consumer_version

    folder = pact_folder(tmp_path, written)
    commit = git_checkout(tmp_path)
    (tmp_path / ".git" / "index").write_bytes(b"not an index")
    version = consumer_version(folder)
    assert version.number == f"{commit}+SNAPSHOT.{HOST}"
    assert version.snapshot.startswith(f"published as consumer version {commit}+SNAPSHOT.{HOST}, not as the commit "
                                       f"{commit}: the git checkout {tmp_path} may have uncommitted changes (git "
                                       "status failed), so the commit may not name the code that wrote these pacts")


KIOSK_TEST = """
import requests

def test_kiosk_reads_the_bill(pact):
    p = pact("kiosk", "billing")
    p.upon_receiving("a request for the bill").with_request("GET", "/bill").will_respond_with(200)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}/bill").status_code == 200
"""


def project(tmp_path: Path) -> str:
    """A checkout whose pytest.ini collects tests/ (its addopts, part of every run, ignore tests/legacy): the web's
    consumer tests in tests/test_web.py, the kiosk's in tests/kiosk/test_kiosk.py, a conftest at the top; its
    commit."""
    (tmp_path / "tests" / "kiosk").mkdir(parents=True)
    (tmp_path / "tests" / "legacy").mkdir()
    (tmp_path / "tests" / "test_web.py").write_text(CONSUMER_TEST.split("def test_kiosk")[0])
    (tmp_path / "tests" / "kiosk" / "test_kiosk.py").write_text(KIOSK_TEST)
    (tmp_path / "tests" / "legacy" / "test_old.py").write_text("def test_old():\n    raise AssertionError\n")
    (tmp_path / "conftest.py").write_text("")
    (tmp_path / "kioskless.py").write_text(  # a plugin the default run does not load
        "def pytest_ignore_collect(collection_path, config):\n    return 'kiosk' in collection_path.name or None\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\naddopts = --ignore=tests/legacy\n")
    (tmp_path / "other.ini").write_text("[pytest]\ntestpaths = tests/test_web.py\n")
    return git_checkout(tmp_path)


NARROWING = {  # the command line (PYTEST_ADDOPTS: the words after "ADDOPTS"), the reason said
    "ignore": (["--ignore=tests/kiosk"], "--ignore given"),
    "ignore-glob": (["--ignore-glob=*kiosk*"], "--ignore-glob given"),
    "testpaths": (["-o", "testpaths=tests/test_web.py"], "-o testpaths given"),
    "config-file": (["-c", "other.ini"], "-c/--config-file given"),
    "config-file-long": (["--config-file=other.ini"], "-c/--config-file given"),
    "rootdir": (["--rootdir", "tests"], "--rootdir given"),
    "confcutdir": (["--confcutdir", "tests"], "--confcutdir given"),
    "noconftest": (["--noconftest"], "--noconftest given"),
    "python_files": (["-o", "python_files=test_web.py"], "-o python_files given"),
    "python_functions": (["-o", "python_functions=test_web*"], "-o python_functions given"),
    "norecursedirs": (["-o", "norecursedirs=kiosk"], "-o norecursedirs given"),
    "addopts": (["-o", "addopts=--ignore=tests/legacy --ignore=tests/kiosk"], "-o addopts given"),
    "no-plugin": (["-p", "no:unittest"], "-p no:unittest given"),
    "plugin": (["-p", "kioskless"], "-p kioskless given"),
    "other-plugin-option": (["--anyio-mode=auto"], "--anyio-mode given (an option of another plugin: whether "
                            "it leaves tests out is not known)"),
    "PYTEST_ADDOPTS": (["ADDOPTS", "--ignore=tests/kiosk"], "--ignore given (in PYTEST_ADDOPTS)"),
    "xdist": (["-n", "2", "--ignore-glob=*kiosk*"], "--ignore-glob given"),
}


@pytest.mark.parametrize("case", NARROWING.values(), ids=NARROWING.keys())
def test_a_command_line_that_may_narrow_collection_publishes_a_snapshot(tmp_path: Path, broker: BrokerServer,
                                                                        case: tuple[list[str], str]) -> None:
    """Options that change what pytest collects (not measurable as deselection: what is not collected is not seen)
    make the session's pacts a snapshot, with the option named; given in PYTEST_ADDOPTS too."""
    args, why = case
    commit = project(tmp_path)
    addopts = " ".join(args[1:]) if args[0] == "ADDOPTS" else ""
    done = consumer_tests(tmp_path, broker, "--pact-publish", *([] if addopts else args), cwd=tmp_path,
                          **({"PYTEST_ADDOPTS": addopts} if addopts else {}))
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert f"for consumer version {commit}+SNAPSHOT.{HOST}: " in said, said
    assert f"this session did not run every consumer test ({why}" in said or f"; {why}" in said, said
    assert {p.consumer_version for p in broker.broker.pacts.values()} == {f"{commit}+SNAPSHOT.{HOST}"}
    assert all(v.branches == [] for v in broker.broker.versions.values())


WHOLE = {  # options that cannot narrow what is collected, or that say what the default run does anyway
    "none": [], "config-file-found-anyway": ["-c", "pytest.ini"], "rootdir-found-anyway": ["--rootdir", "."],
    "confcutdir-default": ["--confcutdir", "."], "output": ["-v", "-rA", "--tb=short", "-o", "console_output_style=classic"],
    "strict": ["--strict-markers", "-W", "ignore::DeprecationWarning"], "xdist": ["-n", "2", "-p", "no:cacheprovider"],
    "PYTEST_ADDOPTS": ["ADDOPTS", "-v --durations=0"],
}


@pytest.mark.parametrize("args", WHOLE.values(), ids=WHOLE.keys())
def test_a_command_line_that_cannot_narrow_collection_publishes_under_the_commit(tmp_path: Path,
                                                                                 broker: BrokerServer,
                                                                                 args: list[str]) -> None:
    """The ini's addopts (--ignore=tests/legacy here) are part of the default run; output, failing fast, xdist, and
    a configuration file or rootdir pytest finds itself anyway leave nothing out."""
    commit = project(tmp_path)
    addopts = " ".join(args[1:]) if args[:1] == ["ADDOPTS"] else ""
    done = consumer_tests(tmp_path, broker, "--pact-publish", *([] if addopts else args), cwd=tmp_path,
                          **({"PYTEST_ADDOPTS": addopts} if addopts else {}))
    assert done.returncode == 0 and "3 passed" in done.stdout, done.stdout + done.stderr
    assert f"for consumer version {commit} on branch main: " in done.stdout and "SNAPSHOT" not in done.stdout


def test_a_publication_that_fails_after_a_configuration_file_elsewhere_exits_1(tmp_path: Path,
                                                                               broker: BrokerServer) -> None:
    """-c names a configuration file outside the checkout: the pact folder (relative to it) is in no git checkout;
    the error fails the session (exit 1, as docs/guides/broker.md says), it never exits 0."""
    checkout = tmp_path / "web"
    checkout.mkdir()
    project(checkout)
    (checkout / "tests" / "legacy" / "test_old.py").unlink()  # other.ini does not ignore it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "other.ini").write_text("[pytest]\n")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-publish", "-c",
                           str(elsewhere / "other.ini"), "tests"], cwd=checkout, capture_output=True, text=True,
                          env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    assert (f"error: pacts not published to the Pact Broker: publishing pacts needs the consumer version: give "
            f"--pact-consumer-version (the git checkout's commit is taken when there is one; {elsewhere / 'contracts'} "
            "is not in a git checkout)") in " ".join(done.stdout.split()), done.stdout
    assert broker.broker.published == []
