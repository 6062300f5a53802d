"""can-i-deploy from a consumer's checkout (issue #25, trial t25d finding 3): the pact folder its consumer tests write
(untracked, in the service's build context) is what `pytest --pact-publish` publishes under the plain commit, so the
commit is the consumer's version to ask about; what does differ is named as it is ("is untracked", not "has
uncommitted changes"), and the versions the message offers are those publishing really uses (publish.consumer_version
for `pytest --pact-publish` and for `harness publish`). Against the test broker; the `pact` CLI's can-i-deploy is the
oracle of what was published."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.broker.server import BrokerServer

from .test_broker import TOKEN, pact_cli
from .test_broker_deploy import cli_says, verified
from .test_broker_publish import CONSUMER_TEST, HOST, environment, git_checkout, harness

TOPOLOGY = """
name: t25d-web
services:
  web: {build: ., pact_name: web-frontend}
  shop: {build: ./shop}
"""


def test_the_pacts_the_consumer_tests_wrote_leave_the_commit_the_consumers_version(tmp_path: Path,
                                                                                  broker: BrokerServer) -> None:
    (tmp_path / "shop").mkdir()
    for folder in (tmp_path, tmp_path / "shop"):
        (folder / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /app\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_web.py").write_text(CONSUMER_TEST.split("def test_kiosk")[0].replace(
        "def test_web_reads_the_bill", "def _not_this_one"))  # web-frontend -> shop only
    (tmp_path / ".gitignore").write_text("__pycache__/\n")
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY)
    commit = git_checkout(tmp_path)
    env = environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pact-publish"],
                           cwd=tmp_path, capture_output=True, text=True, env=env)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert f"for consumer version {commit} on branch main" in tests.stdout, tests.stdout  # contracts/ allowed
    assert subprocess.run(["git", "status", "--porcelain"], cwd=tmp_path, capture_output=True,
                          text=True).stdout == "?? contracts/\n"
    verified(broker, "web-frontend", commit, commit, True)
    assert pact_cli(broker, "create-environment", "--name", "production").returncode == 0
    assert pact_cli(broker, "record-deployment", "--pacticipant", "shop", "--version", commit, "--environment",
                    "production").returncode == 0
    assert cli_says(broker, "web-frontend", commit)

    def can_i_deploy() -> subprocess.CompletedProcess[str]:
        return harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production", env=env)

    asked = can_i_deploy()
    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert f"yes web (web-frontend {commit}) to production: " in asked.stdout

    (tmp_path / "notes.txt").write_text("sent to docker in web's build context\n")
    untracked = can_i_deploy()
    said = " ".join(untracked.stderr.split())
    assert untracked.returncode == 2, said
    snapshot = f"{commit}+SNAPSHOT.{HOST}"
    assert (f"no version for web: the git checkout {tmp_path} differs from its commit {commit} in what it is deployed "
            "from (web: notes.txt is untracked), so the commit does not name the code that would be deployed. Give "
            f"the version to ask about with --version SERVICE=VERSION for each: the snapshot {snapshot} (e.g. "
            f"--version web={snapshot}), or the commit (--version web={commit}: the code as committed); or commit "
            f"the changes (this checkout's pacts are published as consumer version {commit} by pytest --pact-publish; "
            f"{snapshot} by harness publish)") in said, said
    assert "has uncommitted changes" not in said and "Traceback" not in said
