"""`harness publish` from a folder the plugin wrote (trial t25e): it takes as the commit's pacts only the commit's own
files or bytes a whole, passing session wrote from a clean checkout of the commit, as the plugin recorded them. A
pact written while the test code differed (then restored), by a partial session, or by another tool is published as
a snapshot on no branch, saying why; a commit given as the version is refused for them. The pact folder is ignored
by git here, where git alone cannot tell them apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.broker.server import BrokerServer

from .test_broker import TOKEN
from .test_broker_publish import CONSUMER_TEST, HOST, environment, git_checkout, harness

OLD_TEST = """
def test_web_reads_the_old_items(pact):
    p = pact("web-frontend", "shop")
    p.upon_receiving("a request for the old items").with_request("GET", "/old-items").will_respond_with(200)
    with p.serve(addr="127.0.0.1") as server:
        assert requests.get(f"{server.url}/old-items").status_code == 200
"""


def session(tmp_path: Path, *args: str, **env: str) -> None:
    """The consumer tests, writing into the ignored pact folder (no publication asked)."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-dir",
                           str(tmp_path / "contracts"), *args], cwd=tmp_path, capture_output=True, text=True,
                          env=environment(PYTEST_TOPOLOGY_CACHE=str(tmp_path / ".cache"), **env))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pacts written:" in done.stdout


def publish(tmp_path: Path, broker: BrokerServer, *args: str) -> tuple[int, str]:
    done = harness(tmp_path, "publish", "--pacts", str(tmp_path / "contracts"), "--pact-broker-url", broker.url,
                   *args, env=environment(PACT_BROKER_TOKEN=TOKEN, PYTEST_TOPOLOGY_CACHE=str(tmp_path / ".cache")))
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def test_only_a_whole_sessions_pacts_from_the_clean_commit_are_published_under_it(
        tmp_path: Path, broker: BrokerServer) -> None:
    tests = tmp_path / "test_consumer.py"
    tests.write_text(CONSUMER_TEST)
    (tmp_path / ".gitignore").write_text("contracts/\n.cache/\n")
    commit = git_checkout(tmp_path)
    snapshot = f"{commit}+SNAPSHOT.{HOST}"

    # written while a test the commit does not have was there, then the code restored
    tests.write_text(CONSUMER_TEST + OLD_TEST)
    session(tmp_path)
    tests.write_text(CONSUMER_TEST)
    code, said = publish(tmp_path, broker)
    assert code == 0, said
    assert f"for consumer version {snapshot} (no branch)" in said, said
    assert (f"not as the commit {commit}: contracts/kiosk-billing.json written from a checkout with uncommitted "
            "changes (test_consumer.py); contracts/web-frontend-billing.json written from") in said, said
    assert "so these pacts may not be the commit's" in said, said
    assert not any(version == commit for _, version in broker.broker.versions)

    # the commit given as the version: refused, nothing sent
    sent = len(broker.broker.published)
    code, said = publish(tmp_path, broker, "--consumer-version", commit)
    assert code == 2, said
    assert (f"publishing pacts as consumer version {commit} (--consumer-version), the commit of the git checkout "
            f"{tmp_path}, but contracts/kiosk-billing.json written from a checkout with uncommitted changes "
            f"(test_consumer.py);") in said, said
    assert f"the broker would hold them as {commit}'s" in said, said
    assert len(broker.broker.published) == sent

    # a partial session on the clean checkout merges into the files: the old test's interaction stays in one
    session(tmp_path, "-k", "items")
    assert "a request for the old items" in (tmp_path / "contracts" / "web-frontend-shop.json").read_text()
    code, said = publish(tmp_path, broker)
    assert code == 0, said
    assert f"for consumer version {snapshot} (no branch)" in said, said
    assert ("contracts/web-frontend-shop.json written by a session that did not run every consumer test (2 of 3 "
            "collected test(s) deselected (-k given))") in said, said

    # the whole suite on the clean checkout: the commit's pacts, on its branch
    session(tmp_path)
    code, said = publish(tmp_path, broker)
    assert code == 0, said
    assert f"for consumer version {commit} on branch main" in said and "SNAPSHOT" not in said, said

    # bytes nothing recorded (another tool, or an edit): a snapshot, saying so
    session(tmp_path)
    pact = tmp_path / "contracts" / "web-frontend-billing.json"
    pact.write_text(json.dumps(json.loads(pact.read_text()), indent=4))
    code, said = publish(tmp_path, broker)
    assert code == 0, said
    assert f"for consumer version {snapshot} (no branch)" in said, said
    assert ("contracts/web-frontend-billing.json has no record of being written by the harness's pytest plugin as "
            "it is (another tool wrote it, or it was edited or copied here since)") in said, said
    note = said.split(f"not as the commit {commit}: ", 1)[1]
    assert "kiosk-billing.json" not in note and "web-frontend-shop.json" not in note  # known as the commit's
