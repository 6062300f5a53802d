"""A consumer version given to pytest that names a commit of the checkout (CI's `--pact-consumer-version
$GITHUB_SHA`) is a claim git can check, as for `harness publish` (test_broker_publish.py): refused when the checkout is
another commit, or has changes that may change the pacts, or the session did not run every consumer test. What a CI
job writes where no test reads it (`junit.xml`, `.coverage`, `report.html` at the top, a `reports/` folder) is no such
change; an untracked test module or test data file is. Against the test broker of tests/broker."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.broker.server import BrokerServer

from .test_broker_publish import CONSUMER_TEST, HOST, consumer_tests, git_checkout


def project(tmp_path: Path) -> str:
    """A checkout whose pytest.ini collects tests/ (the consumer tests, a data file beside them) and the web's
    client package; its commit."""
    (tmp_path / "tests" / "data").mkdir(parents=True)
    (tmp_path / "tests" / "test_consumer.py").write_text(CONSUMER_TEST)
    (tmp_path / "tests" / "data" / "items.json").write_text('["kettle"]\n')
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "__init__.py").write_text("")
    (tmp_path / "web" / "client.py").write_text("BASE = '/v1'\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\ntestpaths = tests\n")
    return git_checkout(tmp_path)


def in_ci(tmp_path: Path, broker: BrokerServer, version: str, *args: str, cache: bool = False,
          **env: str) -> tuple[int, str]:
    """The consumer tests as a CI job runs them (CI=true, the version given): exit code and output, one line."""
    done = consumer_tests(tmp_path, broker, "--pact-consumer-version", version, *args, cwd=tmp_path, cache=cache,
                          CI="true", **env)
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def test_pytest_refuses_a_consumer_version_that_is_a_commit_the_checkout_is_not(tmp_path: Path,
                                                                                  broker: BrokerServer) -> None:
    """The pytest path of the refusal `harness publish --consumer-version` makes: a changed tracked file, the
    commit given whole or its start; another commit of the checkout. The tests pass, the publication is an error line
    and exit 1, nothing is sent; a version marked -dirty says what it is and publishes."""
    commit = project(tmp_path)
    (tmp_path / "web" / "client.py").write_text("BASE = '/v2'\n")  # the code that writes the pacts changed
    for claim in (commit, commit[:10]):
        code, said = in_ci(tmp_path, broker, claim)
        assert code == 1 and "3 passed" in said, said
        assert (f"error: pacts not published to the Pact Broker: publishing pacts as consumer version {claim} "
                f"(--pact-consumer-version), the commit of the git checkout {tmp_path}, but the checkout has "
                "uncommitted changes (web/client.py): the commit does not name the code that wrote them; commit the "
                "changes, or leave out --pact-consumer-version (they are published as COMMIT+SNAPSHOT.<host>), or "
                f"give --pact-consumer-version {claim}-dirty (a version that says the tree is changed, as git "
                "describe --always --dirty writes it)") in said, said
    assert broker.broker.published == []
    code, said = in_ci(tmp_path, broker, f"{commit[:7]}-dirty")
    assert code == 0 and f"for consumer version {commit[:7]}-dirty on branch main" in said, said

    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "v2"],
                   cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    sent = len(broker.broker.published)
    code, said = in_ci(tmp_path, broker, commit)
    assert code == 1 and "3 passed" in said, said
    assert (f"error: pacts not published to the Pact Broker: publishing pacts as consumer version {commit} "
            f"(--pact-consumer-version), a commit of the git checkout {tmp_path}, from a checkout at commit "
            f"{head[:12]}: the broker would hold them as the pacts of {commit}; check out {commit}, or give the "
            "checkout's own version") in said, said
    assert len(broker.broker.published) == sent
    code, said = in_ci(tmp_path, broker, head)
    assert code == 0 and f"for consumer version {head} on branch main" in said, said


def test_what_a_ci_job_writes_where_no_test_reads_it_leaves_the_commit_its_version(tmp_path: Path,
                                                                                  broker: BrokerServer) -> None:
    """`junit.xml`, `.coverage`, `report.html` at the top and a `reports/` folder git tracks nothing in, untracked and
    not ignored, cannot change the pacts: the job's `--pact-consumer-version $GITHUB_SHA` publishes under the commit
    (it was refused), and a laptop's session is not a snapshot. An untracked test module, a data file beside the
    tests, a module of the client package or a pytest.ini can: refused, naming the file and what to do."""
    commit = project(tmp_path)
    for name in ("junit.xml", ".coverage", "report.html", "reports/unit.xml", "reports/coverage.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("a report of another step of the job\n")
    code, said = in_ci(tmp_path, broker, commit)
    assert code == 0 and f"pacts published to the Pact Broker {broker.url} for consumer version {commit} on branch " \
        "main: kiosk->billing, web-frontend->billing, web-frontend->shop" in said, said
    laptop = consumer_tests(tmp_path, broker, "--pact-publish", cwd=tmp_path)
    assert laptop.returncode == 0 and f"for consumer version {commit} on branch main" in laptop.stdout, laptop.stdout
    assert "SNAPSHOT" not in laptop.stdout

    for name, text in (("tests/test_more.py", "def test_more():\n    pass\n"),
                       ("tests/data/extra.json", '["teapot"]\n'), ("web/retry.py", "TRIES = 3\n"),
                       ("conftest.py", "")):
        (tmp_path / name).write_text(text)
        sent = len(broker.broker.published)
        code, said = in_ci(tmp_path, broker, commit)
        assert code == 1, (name, said)
        assert (f"publishing pacts as consumer version {commit} (--pact-consumer-version), the commit of the git "
                f"checkout {tmp_path}, but the checkout has uncommitted changes (untracked {name}): the commit does "
                "not name the code that wrote them; commit the changes (an untracked file the consumer tests may "
                "read: git add it; one a run writes that no test reads: add it to .gitignore), or leave out "
                f"--pact-consumer-version (they are published as COMMIT+SNAPSHOT.<host>), or give "
                f"--pact-consumer-version {commit}-dirty") in said, (name, said)
        assert len(broker.broker.published) == sent
        snapshot = consumer_tests(tmp_path, broker, "--pact-publish", cwd=tmp_path)
        said = " ".join(snapshot.stdout.split())
        assert snapshot.returncode == 0 and f"for consumer version {commit}+SNAPSHOT.{HOST}:" in said, (name, said)
        assert f"has uncommitted changes outside the pact folder (untracked {name})" in said, (name, said)
        (tmp_path / name).unlink()
    code, said = in_ci(tmp_path, broker, commit)
    assert code == 0 and f"for consumer version {commit} on branch main" in said, said


EXTRA = """
import os
import pytest

if os.environ.get("SKIP_EXTRA"):
    pytest.skip("no extra today", allow_module_level=True)

def test_extra():
    pass
"""


@pytest.mark.parametrize("args, env, why", [
    (["-k", "web"], {}, "2 of 4 collected test(s) deselected (-k given)"),
    (["tests/test_consumer.py::test_web_reads_the_bill"], {}, "node ids given"),
    (["--deselect", "tests/test_consumer.py::test_kiosk_reads_the_bill"], {},
     "1 of 4 collected test(s) deselected (--deselect given)"),
    (["--lf"], {}, "--lf ran only the 1 test(s) that failed last time"),
    ([], {"IGNORE_EXTRA": "1"}, "1 test file(s) under the session's paths not collected (tests/test_extra.py)"),
    ([], {"SKIP_EXTRA": "1"}, "1 test file(s) skipped as collected"),
], ids=["k", "node-id", "deselect", "lf", "collect-ignore", "skipped-module"])
def test_a_partial_session_never_publishes_under_a_commit_version(tmp_path: Path, broker: BrokerServer,
                                                                  args: list[str], env: dict[str, str],
                                                                  why: str) -> None:
    """Trial t25c finding 3: `pytest -k stock --pact-consumer-version $SHA` in CI replaced the whole suite's pacts
    of the commit with a pact of one interaction, which providers verifying `mainBranch` then passed. A session that
    left tests out is refused under a version naming the commit, as a changed tree is: an error line naming the
    selection, exit 1, nothing sent, the commit's pacts kept. A version that is no commit (COMMIT-partial, as the
    refusal suggests) or says the tree is changed (-dirty) is the user's word and publishes."""
    project(tmp_path)
    (tmp_path / "tests" / "test_extra.py").write_text(EXTRA)
    (tmp_path / "tests" / "conftest.py").write_text(
        "import os\n\ncollect_ignore = ['test_extra.py'] if os.environ.get('IGNORE_EXTRA') else []\n")
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "extra"],
                   cwd=tmp_path, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    code, said = in_ci(tmp_path, broker, commit, cache=True)  # the CI job of the commit: the whole suite
    assert code == 0 and f"for consumer version {commit} on branch main" in said, said
    whole = {key: pact.sha for key, pact in broker.broker.pacts.items()}
    assert len(whole) == 3, whole
    if args == ["--lf"]:
        code, said = in_ci(tmp_path, broker, "0.0.0-failing", cache=True, KIOSK_FAILS="1")
        assert code == 1 and "1 failed" in said, said

    sent = len(broker.broker.published)
    code, said = in_ci(tmp_path, broker, commit, *args, cache=True, **env)
    assert code == 1 and re.search(r"\d passed", said) and not re.search(r"\d failed", said), said
    assert (f"error: pacts not published to the Pact Broker: publishing pacts as consumer version {commit} "
            f"(--pact-consumer-version), the commit of the git checkout {tmp_path}, from a session that did not run "
            f"every consumer test ({why}") in said, said
    assert (f": its pacts may lack interactions of the commit's and keep older ones (merged into the files), and "
            f"the broker would hold them as {commit}'s "
            "(replacing the whole suite's); run the whole consumer suite to publish under the commit, or give "
            f"--pact-consumer-version {commit}-partial (a version that is no commit, published without a branch "
            "unless --pact-consumer-branch gives one) if these pacts are wanted") in said, said
    assert len(broker.broker.published) == sent
    assert {key: pact.sha for key, pact in broker.broker.pacts.items()} == whole  # the commit's pacts are kept

    if args == ["--lf"]:  # the refused session passed: the next --lf runs every test
        code, said = in_ci(tmp_path, broker, "0.0.0-failing", cache=True, KIOSK_FAILS="1")
    code, said = in_ci(tmp_path, broker, f"{commit}-partial", *args, cache=True, **env)
    assert code == 0 and f"for consumer version {commit}-partial: " in said, said  # on no branch: never main's latest
    assert (f"note: published without a branch: this session did not run every consumer test ({why}") in said, said
    assert ("so its pacts may lack interactions and keep older ones (merged into the files), and a branch's latest "
            "pacts are what providers verify (mainBranch, matchingBranch); give --pact-consumer-branch BRANCH to publish them on one (a branch of their own)"
            ) in said, said
    partials = [v for v in broker.broker.versions.values() if v.number == f"{commit}-partial"]
    assert partials and all(v.branches == [] for v in partials), partials
    for consumer in {v.pacticipant for v in partials}:  # mainBranch still selects the whole suite's pacts
        assert getattr(broker.broker.latest_version(consumer, branch="main"), "number", None) == commit
    if args == ["-k", "web"]:  # a branch given is the user's word: on it
        code, said = in_ci(tmp_path, broker, f"{commit}-web", *args, "--pact-consumer-branch", "b25b-web", cache=True)
        assert code == 0 and f"for consumer version {commit}-web on branch b25b-web: " in said, said
        code, said = in_ci(tmp_path, broker, f"{commit[:7]}-dirty", *args, cache=True)
        assert code == 0 and f"for consumer version {commit[:7]}-dirty: " in said, said  # partial: no branch
        (tmp_path / "web" / "client.py").write_text("BASE = '/v2'\n")  # both: the tree's refusal says the other too
        code, said = in_ci(tmp_path, broker, commit, *args, cache=True)
        assert code == 1 and "but the checkout has uncommitted changes (web/client.py)" in said, said
        assert f"(this session did not run every consumer test either: {why})" in said, said
    assert {key: pact.sha for key, pact in broker.broker.pacts.items() if key[1] == commit} == whole
