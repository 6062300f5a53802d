"""`pytest tests --pact-publish --pact-consumer-version $SHA`, a CI job's usual command, in a checkout without a
pytest configuration file: pytest's rootdir is then a guess (the checkout's top stands for the project), and test
paths narrower than it make the session's pacts a snapshot (a consumer test elsewhere would be left out). When every
test file of the checkout is under the paths given, nothing is left out: the pacts are the commit's. Against the
test broker; what was published is read back from it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.broker.server import BrokerServer

from .test_broker_publish import CONSUMER_TEST, HOST, consumer_tests, git_checkout


def test_test_paths_holding_every_test_file_publish_under_the_commit(tmp_path: Path, broker: BrokerServer) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_consumer.py").write_text(CONSUMER_TEST)
    (tmp_path / "client.py").write_text("BASE = 'http://shop'\n")  # the consumer's code: no test file
    (tmp_path / ".gitignore").write_text("pacts/\n")
    commit = git_checkout(tmp_path)

    whole = consumer_tests(tmp_path, broker, "--pact-publish", "--pact-consumer-version", commit, "tests",
                           cwd=tmp_path)
    said = " ".join(whole.stdout.split())
    assert whole.returncode == 0 and "3 passed" in said, whole.stdout + whole.stderr
    assert f"for consumer version {commit} on branch main: " in said and "SNAPSHOT" not in said, said

    (tmp_path / "test_smoke.py").write_text("def test_smoke():\n    pass\n")  # a test file outside tests/
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "smoke"],
                   cwd=tmp_path, check=True)
    narrower = consumer_tests(tmp_path, broker, "--pact-publish", "tests", cwd=tmp_path)
    said = " ".join(narrower.stdout.split())
    assert narrower.returncode == 0 and "3 passed" in said, narrower.stdout + narrower.stderr
    assert "+SNAPSHOT." + HOST in said, said
    assert (f"test paths given (tests) narrower than {tmp_path} (the git checkout's top: no pytest configuration "
            "file says where the project's tests are)") in said, said
