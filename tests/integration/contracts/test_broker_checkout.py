"""Which files decide whether a git checkout's commit names what the providers run (issue #25, trial findings 2, 2b,
2c, 3, 4, 6): every file the topology reads for them, from the list the loader keeps (env_file, Compose's `.env`,
extends and configs files) and the provider states' code with the modules it imports (the verdict cache's list). A
changed one makes the broker's results for the commit not count and refuses publishing under it, with a hint that
fits the file. And a partial verification (-k) never publishes a result for the whole pact: the `pact` CLI's
can-i-deploy is the oracle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.contracts.broker_config import broker_config
from harness.contracts.checkout import changed_files
from harness.contracts.run import VerifyOptions, VerifyRun
from harness.errors import OptionError
from harness.model.loader import load_topology
from tests.broker.server import BrokerServer

from ..conftest import TOPOLOGIES
from .test_broker import TOKEN, good_pact, harness_verify, pact_cli, publish, topology

OWN = """
name: checkout-own
contracts:
  states: [states.py]
services:
  shop:
    build: ./shop
    env_file: shop.env
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
"""
STATES = """
import importlib

from harness.contracts import provider_state

from states_helpers import ITEM

# a module named at run time: no import statement names it, its handler reaches it (the verdict cache's rule)
provider_state("an order exists", provider="shop")(importlib.import_module("dynamic_" + "helpers").order)


@provider_state("the shop has items", provider="shop")
def items(topology, params):  # it has them from the start
    return {"item": ITEM}
"""
COMPOSE = """
name: checkout-compose
services:
  shop:
    extends: {file: common.yaml, service: base}
    build: ./shop
    ports: ["8000"]
    environment:
      BALANCE: ${BALANCE:-0}
    configs:
      - {source: prices, target: /data/prices.json}
    x-topology:  # URL paths, not host files (trial 25b finding 8)
      ready: {http: {port: 8000, path: /health}}
      openapi: /openapi.json
configs:
  prices:
    file: ./conf/prices.json
x-topology:
  contracts:
    state_url: {shop: /_pact/provider_states}
"""
COMMON = """
services:
  base:
    environment:
      CURRENCY: EUR
"""


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=folder,
                          check=True, capture_output=True, text=True).stdout.strip()


def checkout(tmp_path: Path, files: dict[str, str], ignored: str = "") -> Path:
    """A git checkout on main of the shop and `files` (path -> text), committed; what runs write is ignored."""
    repo = tmp_path / "repo"
    shutil.copytree(TOPOLOGIES / "pact-shop", repo / "shop")
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    (repo / ".gitignore").write_text(f"out/\njunit.xml\ncache*/\n__pycache__/\n{ignored}")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "the shop")
    return repo


class Broker:
    """The test broker with the web-frontend's pact, verified successfully by each commit `verified` is given."""

    def __init__(self, server: BrokerServer, tmp_path: Path) -> None:
        self.server, self.tmp_path = server, tmp_path
        publish(server, tmp_path, good_pact(), "1.0.0", "main")
        [self.pact] = server.broker.pacts.values()

    def verified(self, repo: Path) -> str:
        commit = git(repo, "rev-parse", "HEAD")
        self.server.broker.verify("shop", "web-frontend", self.pact.sha,
                                  {"success": True, "providerApplicationVersion": commit})
        return commit

    def options(self, **more: Any) -> dict[str, Any]:
        return {"pact_broker_url": self.server.url, "pact_selector": [{"mainBranch": True}], **more}

    def decided(self, file: Path | list[Path], **load: Any) -> tuple[bool, list[str]]:
        """Whether the run must verify (the broker's result for the commit does not count), and its notes; decided
        before anything starts. `load`: load_topology's options."""
        spec = load_topology(file, **load)
        run = VerifyRun(spec, VerifyOptions(broker=broker_config(spec, self.options()),
                                            broker_folder=self.tmp_path / "got",
                                            cache=self.tmp_path / "cache" / "verdicts"))
        try:
            return run.needs_topology, run.selection.notes
        finally:
            run.close()

    def refused(self, file: Path | list[Path], **load: Any) -> str:
        """The refusal to publish results under the commit."""
        with pytest.raises(OptionError) as refused:
            spec = load_topology(file, **load)
            run = VerifyRun(spec, VerifyOptions(broker=broker_config(spec, self.options(
                publish_verification_results=True)), broker_folder=self.tmp_path / "got"))
            run.close()
        return str(refused.value)


# the remedies of what no version holds (a value from the shell, a base image built here, a URL, a folder outside)
NO_VERSION_HOLDS = ("leave that out", "build FROM an image pulled from a registry",
                    "build it from a folder of the checkout", "move it into the checkout")


def not_counted(reason: str, remedy: str, services: str = "shop") -> str:
    """The note; --provider-version is offered nowhere: a changed tree is no version's (trial t25 finding 2), and
    what no version holds counts whatever version is given (trial t25c finding 1)."""
    return (f"the Pact Broker's verification results do not count as cached for {services}: the git checkout's "
            f"commit does not name what {'they run' if ',' in services else 'it runs'} ({reason}; {remedy})")


def refusal(commit: str, reason: str, remedy: str) -> str:
    """The refusal; --provider-version (COMMIT-dirty) is offered for a changed tree only."""
    vouch = "" if remedy in NO_VERSION_HOLDS else ", or give --provider-version"
    return (f"publishing verification results from a git checkout whose commit {commit} does not name the code "
            f"verified here ({reason}; a clean checkout of it would take this result as its own): {remedy}{vouch}")


def test_an_env_file_and_the_states_code_are_files_of_the_commit(tmp_path: Path, broker: BrokerServer,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial findings 2, 2b, 3, 5, 6: an edited env_file, or a module the states module imports, made the broker's
    result for the commit count (and be published under it); also a module only a handler reaches (the verdict
    cache's rule, taken once the states are loaded); the states module imports a module beside it without
    PYTHONPATH; the hint fits the file."""
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the states module's folder goes on it in this process
    for module in ("states_helpers", "dynamic_helpers"):  # imported here: gone after the test
        monkeypatch.setitem(sys.modules, module, None)
        del sys.modules[module]
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"topology.yaml": OWN, "shop.env": "BALANCE=10\n", "states.py": STATES,
                               "states_helpers.py": 'ITEM = "teapot"\n',
                               "dynamic_helpers.py": "def order(topology, params):\n    return {}\n",
                               "states_data.json": '{"item": "teapot"}\n'})
    file = repo / "topology.yaml"
    commit = at.verified(repo)
    assert at.decided(file) == (False, [])  # clean: the broker's result for the commit counts
    (repo / "notes.txt").write_text("untracked, beside the states module: a handler may read it\n")
    assert at.decided(file) == (True, [not_counted("notes.txt is untracked", "commit or stash the changes")])
    (repo / "notes.txt").unlink()
    (repo / "junit.xml").write_text("<testsuite/>\n")  # ignored; and what runs write does not count either
    (repo / "report.html").write_text("<html/>\n")
    assert at.decided(file) == (False, [])

    for name, edit in (("shop.env", "BALANCE=lots\n"), ("states_helpers.py", 'ITEM = "x; exit 3"\n'),
                       ("states.py", STATES + "# x\n"),
                       ("dynamic_helpers.py", "def order(topology, params):\n    return {'id': 1}\n"),
                       ("states_data.json", '{"item": "kettle"}\n')):  # a tracked data file beside them (25b #5)
        (repo / name).write_text(edit)
        needs, notes = at.decided(file)
        assert needs is True, name
        # no .dockerignore hint: these files are in no build context
        assert notes == [not_counted(f"{name} has uncommitted changes", "commit or stash the changes")], name
        assert at.refused(file) == refusal(commit, f"{name} has uncommitted changes", "commit or stash the changes")
        git(repo, "checkout", "--", name)
    assert at.decided(file) == (False, [])

    # the trial's commands: publishing from the dirty tree is refused before anything starts (exit 2)
    (repo / "shop.env").write_text("BALANCE=lots\n")
    done = harness_verify(file, "--pact-selector", "mainBranch", "--no-cache", "--publish-verification-results",
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN})
    assert done.returncode == 2, done.stdout + done.stderr
    assert refusal(commit, "shop.env has uncommitted changes", "commit or stash the changes") in done.stderr
    assert "Traceback" not in done.stderr
    assert len(broker.broker.verifications) == 1  # only the one the test made
    # a changed file docker is sent in the shop's build context: .dockerignore is no way out here, as the states
    # module at the top of the checkout may read any file of it (issue #25, t25b finding 1)
    git(repo, "checkout", "--", "shop.env")
    (repo / "shop" / "app.py").write_text((repo / "shop" / "app.py").read_text() + "\n# x\n")
    assert at.decided(file)[1] == [not_counted("shop/app.py has uncommitted changes", "commit or stash the changes")]


def test_compose_dotenv_extends_and_configs_are_files_of_the_commit(tmp_path: Path, broker: BrokerServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial finding 2c: Compose's `.env` (interpolation), an `extends` file and a `configs` file reach the
    provider: each edited one makes the commit not name it; an ignored `.env` too (a clean checkout has none). A
    probe's `path: /health` is a URL path, not a host file outside the checkout (trial 25b finding 8)."""
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BALANCE", raising=False)
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"compose.yaml": COMPOSE, "common.yaml": COMMON, ".env": "BALANCE=10\n",
                               "conf/prices.json": '{"7": 3}\n'})
    file = repo / "compose.yaml"
    commit = at.verified(repo)
    assert at.decided(file) == (False, [])
    for name, edit in ((".env", "BALANCE=lots\n"), ("common.yaml", COMMON.replace("EUR", "USD")),
                       ("conf/prices.json", '{"7": 4}\n')):
        (repo / name).write_text(edit)
        assert at.decided(file) == (True, [not_counted(f"{name} has uncommitted changes",
                                                       "commit or stash the changes")]), name
        assert at.refused(file) == refusal(commit, f"{name} has uncommitted changes", "commit or stash the changes")
        git(repo, "checkout", "--", name)

    # `.env` ignored by git: what it holds is no commit's; once deleted, a clean checkout's run is this one
    git(repo, "rm", "-q", "--cached", ".env")
    (repo / ".gitignore").write_text((repo / ".gitignore").read_text() + ".env\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "a local .env")
    commit = at.verified(repo)
    reason = (".env is ignored by git but read for the topology (a file the topology file or Docker Compose reads): "
              "a clean checkout of the commit does not have it")
    assert at.decided(file) == (True, [not_counted(reason, "track it in git, or delete it")])
    (repo / ".env").unlink()
    assert at.decided(file) == (False, [])
    (repo / ".env").write_text("BALANCE=lots\n")  # untracked now
    assert at.refused(file) == refusal(commit, reason, "track it in git, or delete it")


def test_a_partial_verification_publishes_no_result_for_the_whole_pact(
        tmp_path: Path, broker: BrokerServer, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial finding 4: `-k` verifies one of the pact's two interactions; a result published for the pact would make
    can-i-deploy (the `pact` CLI) say yes for the interaction nobody verified. It is not published, and the last
    line says why; the whole pact's run publishes it."""
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file = topology(tmp_path, "partial")
    for name, value in (("PACT_BROKER_BASE_URL", broker.url), ("PACT_BROKER_TOKEN", TOKEN),
                        ("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CI", raising=False)
    broker.broker.version("shop", "partial-1")
    args = ("--topology", str(file), "--pact-verify", "--pact-selector", "mainBranch", "--provider-version",
            "partial-1", "--publish-verification-results", "-p", "no:cacheprovider")
    run = pytester.runpytest_subprocess(*args, "-k", "not orders")
    run.assert_outcomes(passed=1, deselected=1)
    assert broker.broker.verifications == []
    assert (f"verification results not published to the Pact Broker {broker.url} (--publish-verification-results) "
            "for provider version partial-1: 1 of 1 broker pact(s) verified in part only, not published: the others "
            "of their interactions were not selected (-k, -m, --lf, ...), and the broker records a result for the "
            "whole pact; run all of them to publish it") in run.stdout.str()
    asked = ("can-i-deploy", "--pacticipant", "web-frontend", "--version", "1.0.0", "--pacticipant", "shop",
             "--version", "partial-1")
    assert pact_cli(broker, *asked).returncode != 0  # no result: the gate does not pass

    whole = pytester.runpytest_subprocess(*args)
    whole.assert_outcomes(passed=2)
    assert [(v.provider_version, v.success) for v in broker.broker.verifications] == [("partial-1", True)]
    assert pact_cli(broker, *asked).returncode == 0


FLAGS = """
name: checkout-flags
contracts:
  state_url: {shop: /_pact/provider_states}
services:
  shop:
    build: ./shop
    env_file: shop.env
    ports: [8000]
"""


def test_git_cannot_be_told_to_look_away_from_a_changed_input(tmp_path: Path, broker: BrokerServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 25b findings 2, 3: a file flagged assume-unchanged or skip-worktree, a provider in a submodule (its own
    ignored files docker is sent, its edits under `.gitmodules` `ignore = all`, its HEAD moved) made the broker's
    result for the commit count; and a flagged consumer file published pacts under the commit."""
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"topology.yaml": FLAGS, "shop.env": "BALANCE=10\n"})
    file = repo / "topology.yaml"
    commit = at.verified(repo)
    assert at.decided(file) == (False, [])
    for name, flag in (("shop.env", "assume-unchanged"), ("shop/app.py", "skip-worktree")):
        git(repo, "update-index", f"--{flag}", name)
        (repo / name).write_text((repo / name).read_text() + "\n# changed\n")
        assert git(repo, "status", "--porcelain") == ""  # what git status says: clean
        reason = f"{name} differs from the commit (flagged {flag}: git status does not show it)"
        remedy = f"git update-index --no-{flag} {name}, then commit or stash the changes"
        assert at.decided(file) == (True, [not_counted(reason, remedy)]), name
        assert at.refused(file) == refusal(commit, reason, remedy)
        assert changed_files(repo) == [name]  # pacts written here are a snapshot
        git(repo, "update-index", f"--no-{flag}", name)
        git(repo, "checkout", "--", name)
    assert at.decided(file) == (False, []) and changed_files(repo) == []

    # the shop as a submodule with its own .gitignore
    source = tmp_path / "shop-source"
    shutil.copytree(TOPOLOGIES / "pact-shop", source)
    (source / ".gitignore").write_text("local.txt\n")
    git(source, "init", "-q", "-b", "main")
    git(source, "add", "-A")
    git(source, "commit", "-q", "-m", "the shop")
    git(repo, "rm", "-q", "-r", "shop")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(source), "shop")
    git(repo, "commit", "-q", "-m", "the shop as a submodule")
    commit = at.verified(repo)
    assert at.decided(file) == (False, [])
    (repo / "shop" / "local.txt").write_text("read by the app\n")  # ignored by the submodule, sent by docker
    reason = "shop/local.txt is ignored by git but sent to docker in the build context of service shop"
    assert at.decided(file) == (True, [not_counted(reason, "add it to .dockerignore or delete it")])
    assert at.refused(file) == refusal(commit, reason, "add it to .dockerignore or delete it")
    (repo / "shop" / "local.txt").unlink()

    git(repo, "config", "-f", ".gitmodules", "submodule.shop.ignore", "all")
    git(repo, "commit", "-q", "-am", "the submodule's changes ignored")
    at.verified(repo)
    assert at.decided(file) == (False, [])
    (repo / "shop" / "app.py").write_text((repo / "shop" / "app.py").read_text() + "\n# changed\n")
    assert git(repo, "status", "--porcelain") == ""
    assert at.decided(file) == (True, [not_counted("shop/app.py has uncommitted changes", "commit or stash the "
                                                   "changes (or add the file to .dockerignore if the image does not "
                                                   "need it)")])
    assert changed_files(repo) == ["shop"]
    git(repo / "shop", "commit", "-q", "-am", "a commit the checkout does not record")
    head, recorded = git(repo / "shop", "rev-parse", "HEAD"), git(repo, "rev-parse", "HEAD:shop")
    assert at.decided(file) == (True, [not_counted(
        f"the submodule shop is at commit {head[:12]}, not at {recorded[:12]} that the commit records",
        "commit the submodule's commit, or check out the recorded one (git submodule update)")])
    git(repo / "shop", "checkout", "-q", recorded)
    assert at.decided(file) == (False, [])
    git(repo / "shop", "update-index", "--skip-worktree", "app.py")  # flagged inside the submodule
    (repo / "shop" / "app.py").write_text((repo / "shop" / "app.py").read_text() + "\n# changed\n")
    assert changed_files(repo) == ["shop/app.py"]
    assert at.decided(file)[0] is True


FROM_ENV = """
name: checkout-env
services:
  shop:
    build:
      context: ./shop
      args: [FLAVOUR]
    ports: ["8000"]
    environment:
      - ITEM_SUFFIX
      - BALANCE=${BALANCE:-0}
    secrets: [token]
secrets:
  token:
    environment: SHOP_TOKEN
x-topology:
  contracts:
    state_url: {shop: /_pact/provider_states}
"""
STAGING = """
services:
  shop:
    environment:
      ITEM_SUFFIX: -staging
"""


def test_a_topology_other_than_the_commits_default_is_not_named_by_it(tmp_path: Path, broker: BrokerServer,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 25b findings 1, 4: another compose file, an env file, a profile, an image substitute, or a value the
    compose file takes from the shell (pass-through environment, a build arg without a value, a secret's
    `environment:` source, interpolation) made the broker's result for the commit count and be published under it.
    The reason names the option or the variable, never a value."""
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    for name in ("ITEM_SUFFIX", "FLAVOUR", "BALANCE", "SHOP_TOKEN", "COMPOSE_PROFILES", "CI"):
        monkeypatch.delenv(name, raising=False)
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"compose.yaml": FROM_ENV, "compose.staging.yaml": STAGING, ".env": "SHOP_TOKEN=t\n",
                               "staging.env": "BALANCE=5\nSHOP_TOKEN=t\n"})
    file = repo / "compose.yaml"
    commit = at.verified(repo)
    assert at.decided(file) == (False, [])

    def reason(what: str) -> str:
        return f"the providers are not what the commit gives by default: {what}"

    for name, value in (("ITEM_SUFFIX", "-broken"), ("FLAVOUR", "-spicy"), ("SHOP_TOKEN", "s3cr3t-value"),
                        ("BALANCE", "77"), ("COMPOSE_PROFILES", "extra")):
        monkeypatch.setenv(name, value)
        expected = f"{name} from the environment"
        assert at.decided(file) == (True, [not_counted(reason(expected), "leave that out")]), name
        refused = at.refused(file)
        assert refused == refusal(commit, reason(expected), "leave that out")
        assert value not in refused.replace(commit, "")  # the commit may hold "77"
        monkeypatch.delenv(name)
    for given, load, what in (
            ([file, repo / "compose.staging.yaml"], {}, "compose.staging.yaml given beyond compose.yaml"),
            (file, {"env_file": repo / "staging.env"}, "--topology-env-file staging.env"),
            (file, {"profiles": ["debug"]}, "profiles debug (--topology-profile)"),
            (file, {"image_substitutes": {"python:3.11-slim": "python:3.11-slim"}},
             "image substitutes python:3.11-slim (--image-substitute)")):
        assert at.decided(given, **load) == (True, [not_counted(reason(what), "leave that out")]), what
    assert at.decided(file) == (False, [])

    # the trial's command: publishing under the commit with a value from the shell is refused (exit 2)
    done = harness_verify(file, "--pact-selector", "mainBranch", "--no-cache", "--publish-verification-results",
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN,
                               "ITEM_SUFFIX": "-broken"})
    assert done.returncode == 2, done.stdout + done.stderr
    assert refusal(commit, reason("ITEM_SUFFIX from the environment"), "leave that out") in done.stderr
    assert "-broken" not in done.stderr and "Traceback" not in done.stderr


IMAGE_ONLY = """
name: checkout-image
contracts:
  state_url: {shop: /_pact/provider_states}
services:
  shop:
    image: redis:7
    ports: [8000]
"""


def test_a_provider_given_as_an_image_says_why_the_brokers_results_do_not_count(
        tmp_path: Path, broker: BrokerServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial 25b finding 12: the broker's results were rightly not used for a provider given as an image only, but
    unlike every other refusal nothing said so."""
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    at = Broker(broker, tmp_path)
    repo = checkout(tmp_path, {"topology.yaml": IMAGE_ONLY})
    at.verified(repo)
    assert at.decided(repo / "topology.yaml") == (True, [
        "the Pact Broker's verification results do not count as cached for shop: given as an image only (image:), "
        "not built from the git checkout, so its commit does not name what runs; give --provider-version for a "
        "version you vouch for"])
