"""A kept topology whose provider code is bind-mounted (issue #25, trial t25 finding 1): reused after the files
changed (`git checkout` of another commit, an edit), as Docker Compose reuses it, its process still runs what the
files held when its container started. The verdict says so, is not kept in the verdict cache, and is not published to
the broker for the checkout's commit (asked to publish: an error); once the topology is restarted the files as they
are are verified. Against the real engine, `harness verify` and `pytest --topology-reuse --pact-verify`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.broker.server import BrokerServer

from ..conftest import TOPOLOGIES
from .test_broker import PACTS, TOKEN, good_pact, harness_verify, pact_cli, publish
from .test_broker_checkout import git

HARNESS = str(Path(sys.executable).parent / "harness")
DEV = """
name: mounted-VARIANT
contracts:
  state_url: {shop: /_pact/provider_states}     # the shop sets its own states up
services:
  shop:
    image: python:3.11-slim
    command: ["python", "/app/app.py"]
    mounts: [./shop:/app]
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
"""
NOTE = ("note: shop's mounted files changed since its container started (shop/app.py): the running container was "
        "verified, not the files as they are now, so its verdicts are neither kept in the verdict cache nor published "
        "to a Pact Broker; restart the topology to verify them: harness down --topology ")


def checkout(tmp_path: Path, variant: str) -> Path:
    """A git checkout of the dev topology, the shop's code mounted from it; returns the topology file."""
    repo = tmp_path / "repo"
    shutil.copytree(TOPOLOGIES / "pact-shop", repo / "shop")
    (repo / "topology.yaml").write_text(DEV.replace("VARIANT", variant))
    (repo / ".gitignore").write_text("out/\njunit.xml\ncache*/\n__pycache__/\npacts/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the shop, mounted")
    return repo / "topology.yaml"


def drift(repo: Path) -> None:
    """The shop's item ids become strings: the web-frontend's pact fails against it."""
    app = repo / "shop" / "app.py"
    app.write_text(app.read_text().replace('DRIFT = os.environ.get("DRIFT") == "1"', "DRIFT = True"))


@pytest.fixture
def kept(tmp_path: Path) -> Iterator[Path]:
    """The dev topology of a checkout, started with `harness up --detach`; removed at the end."""
    file = checkout(tmp_path, tmp_path.name[-12:].lower().replace("_", "-"))
    up = subprocess.run([HARNESS, "up", "--topology", str(file), "--detach"], capture_output=True, text=True,
                        cwd=file.parent)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield file
    finally:
        subprocess.run([HARNESS, "down", "--topology", str(file)], capture_output=True, text=True, cwd=file.parent)


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "verdicts").glob("*.json"))


def test_harness_verify_of_a_container_started_from_other_files_is_neither_cached_nor_published(
        kept: Path, broker: BrokerServer) -> None:
    repo = kept.parent
    publish(broker, repo.parent, good_pact(), "1.0.0", "main")
    drift(repo)
    git(repo, "commit", "-q", "-am", "shop: ids as strings")  # a clean checkout of another commit, as after checkout
    commit = git(repo, "rev-parse", "HEAD")
    env = {"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN}

    asked = harness_verify(kept, "--pact-selector", "mainBranch", "--publish-verification-results", env=env)
    said = asked.stdout + asked.stderr
    assert asked.returncode == 2, said
    assert "using the running topology" in said
    assert ("ERROR web-frontend->shop (from broker" in said and "verified, but its verification result was not "
            "published: shop's mounted files changed since its container started (shop/app.py)" in said), said
    assert said.count(NOTE) == 1, said
    assert (f"verification results not published to the Pact Broker {broker.url} (--publish-verification-results) "
            f"for provider version {commit} on branch main: 1 of 1 broker pact(s) not published: shop's mounted files "
            "changed since its container started (shop/app.py) (the pact's verdict is an error for it)") in said
    assert broker.broker.verifications == []  # nothing for the commit: can-i-deploy cannot say yes
    deploy = pact_cli(broker, "can-i-deploy", "--pacticipant", "shop", "--version", commit, "--pacticipant",
                      "web-frontend", "--version", "1.0.0")
    assert deploy.returncode != 0, deploy.stdout + deploy.stderr

    plain = harness_verify(kept, "--pact-selector", "mainBranch", env=env)
    said = plain.stdout + plain.stderr
    assert plain.returncode == 0, said  # what runs satisfies the pact: said as such
    assert "verified web-frontend->shop: 2 interaction(s) in" in said and said.count(NOTE) == 1, said
    assert entries(repo / "cache") == []  # not cached under the files as they are now

    subprocess.run([HARNESS, "down", "--topology", str(kept)], capture_output=True, text=True, check=True)
    fresh = harness_verify(kept, "--pact-selector", "mainBranch", env=env)
    said = fresh.stdout + fresh.stderr
    assert fresh.returncode == 1 and "FAILED web-frontend->shop" in said, said  # the files as they are: the truth
    assert NOTE not in said


def test_pytest_reuse_of_a_container_started_from_other_files_caches_nothing(
        kept: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = kept.parent
    (repo / "pacts").mkdir()
    shutil.copy(PACTS / "v2-web-frontend-shop.json", repo / "pacts" / "web-frontend-shop.json")
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(repo / "cache"))

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("--topology", str(kept), "--pact-verify", "--pacts", str(repo / "pacts"),
                                             "-p", "no:cacheprovider", *args)

    same = run("--topology-reuse")
    same.assert_outcomes(passed=2)
    assert NOTE not in same.stdout.str()
    assert len(entries(repo / "cache")) == 1  # started from these files: cached
    first = json.loads(entries(repo / "cache")[0].read_text())

    drift(repo)  # an edit, uncommitted
    edited = run("--topology-reuse")
    edited.assert_outcomes(passed=2)  # the running container, which loaded the files before the edit
    assert NOTE in edited.stdout.str(), edited.stdout.str()
    assert [json.loads(e.read_text()) for e in entries(repo / "cache")] == [first]  # nothing new kept

    subprocess.run([HARNESS, "down", "--topology", str(kept)], capture_output=True, text=True, check=True)
    fresh = run()
    assert fresh.parseoutcomes().get("failed", 0) >= 1, fresh.stdout.str()  # the edited files: no cached pass
    assert NOTE not in fresh.stdout.str()


EDIT_MIDWAY = """
EDITED = []


def pytest_runtest_logreport(report):
    # after the first pact's verdict is reached (and kept), its provider's mounted code is edited, as during a long
    # session
    if report.when == "call" and not EDITED:
        EDITED.append(report.nodeid)
        with open(APP, "a") as app:
            app.write("# an edit during the session\\n")
"""


def test_a_mounted_file_edited_during_a_session_counts_for_every_later_verdict(
        kept: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mounted files are compared right before each verdict is kept, not once per run: the pact verified after
    the edit is not cached (nor would it be published), the one before is."""
    repo = kept.parent
    (repo / "pacts").mkdir()
    data = json.loads((PACTS / "v2-web-frontend-shop.json").read_text())
    for consumer in ("kiosk", "web-frontend"):
        (repo / "pacts" / f"{consumer}-shop.json").write_text(json.dumps({**data, "consumer": {"name": consumer}}))
    pytester.makepyfile(editmidway=EDIT_MIDWAY.replace("APP", repr(str(repo / "shop" / "app.py"))))  # a plugin
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(repo / "cache"))
    done = pytester.runpytest_subprocess("--topology", str(kept), "--pact-verify", "--pacts", str(repo / "pacts"),
                                         "--topology-reuse", "-p", "no:cacheprovider", "-p", "editmidway")
    done.assert_outcomes(passed=4)  # the running container, which loaded the files before the edit
    said = done.stdout.str()
    assert "an edit during the session" in (repo / "shop" / "app.py").read_text(), said
    assert said.count(NOTE) == 1, said
    assert len(entries(repo / "cache")) == 1, said  # the first pact's verdict only
