"""can-i-deploy and record-deployment for a topology (the test broker of tests/broker): for every service the
harness's answer is the `pact broker can-i-deploy` CLI's on the same data (yes, a failing edge, an unverified edge, a
service with no pacts), its exit code 0 only when the broker says yes for all; `harness record-deployment` records
what `pact broker record-deployment` records; each failure is one clear message."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.broker.server import BrokerServer

from .test_broker import PACT_CLI, TOKEN, good_pact, pact_cli, publish, variant
from .test_broker_publish import environment, git_checkout, harness

TOPOLOGY = """
name: deploy
services:
  shop: {image: redis:7}
  web: {image: redis:7, pact_name: web-frontend}
  billing: {image: redis:7}
  ledger: {image: redis:7}
  cache: {image: redis:7}   # no pacticipant at the broker
"""


def verified(server: BrokerServer, consumer: str, version: str, provider_version: str, success: bool) -> None:
    """A verification result of `consumer`'s pact of `version` by shop `provider_version`, as a verifier publishes
    it (the broker's documented body)."""
    pact = server.broker.pacts[(consumer, version, "shop")]
    server.broker.verify("shop", consumer, pact.sha, {"success": success, "providerApplicationVersion":
                                                      provider_version, "branch": "main"})


def scenario(tmp_path: Path, server: BrokerServer) -> None:
    """shop 3.0.0 is in production; web-frontend 1.0.0's pact is verified by it, billing 7.1.0's failed, ledger
    2.0.0's (a consumer too) never verified; `shop` 4.0.0 and the `ledger` without pacts exist too."""
    publish(server, tmp_path, good_pact(), "1.0.0", "main")
    publish(server, tmp_path, variant(good_pact(), "billing", "billing"), "7.1.0", "main")
    publish(server, tmp_path, variant(good_pact(), "ledger", "ledger"), "2.0.0", "main")
    verified(server, "web-frontend", "1.0.0", "3.0.0", True)
    verified(server, "billing", "7.1.0", "3.0.0", False)
    verified(server, "web-frontend", "1.0.0", "4.0.0", True)
    assert pact_cli(server, "create-environment", "--name", "production").returncode == 0
    assert pact_cli(server, "record-deployment", "--pacticipant", "shop", "--version", "3.0.0", "--environment",
                    "production").returncode == 0


def cli_says(server: BrokerServer, pacticipant: str, version: str) -> bool:
    done = pact_cli(server, "can-i-deploy", "--pacticipant", pacticipant, "--version", version, "--to-environment",
                    "production")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return done.returncode == 0


@pytest.mark.parametrize(("versions", "expected"), [
    ({"web": "1.0.0", "shop": "4.0.0", "billing": "7.1.0", "ledger": "2.0.0"},
     {"web": True, "shop": True, "billing": False, "ledger": False}),
])
def test_can_i_deploy_agrees_with_the_pact_cli_per_service(tmp_path: Path, broker: BrokerServer,
                                                           versions: dict[str, str],
                                                           expected: dict[str, bool]) -> None:
    scenario(tmp_path, broker)
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY)
    names = {"web": "web-frontend"}
    oracle = {service: cli_says(broker, names.get(service, service), version) for service, version in versions.items()}
    assert oracle == expected  # the data is what the test means: yes, a failing edge, an unverified edge
    done = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production",
                   *(f"--version={s}={v}" for s, v in versions.items()), "--version", "cache=1",
                   env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # not yes for all
    for service, yes in oracle.items():
        name = names.get(service, service)
        assert f"{'yes' if yes else 'NO ':3} {service} ({name} {versions[service]}) to production: " in output, output
    # a service the broker does not know: NO, as the pact CLI answers (a misspelt pact name must not pass the gate)
    assert cli_says(broker, "cache", "1") is False
    assert "NO  cache (cache 1) to production: the Pact Broker knows no pacticipant 'cache'" in output
    # deployed together, as the pact CLI asks with both as --pacticipant: billing 7.1.0 was never verified by shop
    # 4.0.0 (each alone is asked against shop 3.0.0, in production: a pact between two new versions is seen here only)
    together = pact_cli(broker, "can-i-deploy", "--pacticipant", "billing", "--version", "7.1.0", "--pacticipant",
                        "shop", "--version", "4.0.0", "--to-environment", "production")
    assert together.returncode == 1, together.stdout + together.stderr
    assert ("NO  shop + billing together (shop 4.0.0, billing 7.1.0): There is no verified pact between version "
            "7.1.0 of billing and version 4.0.0 of shop") in output
    assert ("yes shop + web together (shop 4.0.0, web-frontend 1.0.0): All required verification results are "
            "published and successful") in output
    assert ("can-i-deploy to production: NO for billing, ledger, cache, shop + billing together, shop + ledger "
            "together (2 of 5 yes; 2 pair(s) of them not deployable together)") in output
    rows = [line.split() for line in done.stdout.splitlines()]
    assert ["billing", "7.1.0", "shop", "3.0.0", "failed", "The", "verification", "for", "the", "pact", "between",
            "version", "7.1.0", "of", "billing", "and", "version", "3.0.0", "of", "shop", "failed"] in rows
    assert ["ledger", "2.0.0", "shop", "3.0.0", "not", "verified", "There", "is", "no", "verified", "pact", "between",
            "version", "2.0.0", "of", "ledger", "and", "version", "3.0.0", "of", "shop"] in rows
    assert TOKEN not in output


def test_two_new_versions_that_pass_alone_but_fail_together_are_no(tmp_path: Path, broker: BrokerServer) -> None:
    """web-frontend 1.0.0 and shop 3.0.0 are in production; web-frontend 2.0.0's pact is verified by shop 3.0.0 and
    fails against shop 4.0.0, which verifies 1.0.0's: each new version alone can be deployed (the pact CLI says yes
    per service), the two together cannot (the CLI with both as --pacticipant says no), and the topology deploys
    them together: NO (it said yes: a false pass of the release gate)."""
    newer = good_pact()
    newer["interactions"][0]["description"] += " (2.0.0)"  # another pact content: results are per content
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    publish(broker, tmp_path, newer, "2.0.0", "main")
    verified(broker, "web-frontend", "1.0.0", "3.0.0", True)
    verified(broker, "web-frontend", "1.0.0", "4.0.0", True)
    verified(broker, "web-frontend", "2.0.0", "3.0.0", True)
    verified(broker, "web-frontend", "2.0.0", "4.0.0", False)
    assert pact_cli(broker, "create-environment", "--name", "production").returncode == 0
    for name, version in (("web-frontend", "1.0.0"), ("shop", "3.0.0")):
        assert pact_cli(broker, "record-deployment", "--pacticipant", name, "--version", version, "--environment",
                        "production").returncode == 0
    assert cli_says(broker, "web-frontend", "2.0.0") and cli_says(broker, "shop", "4.0.0")
    both = pact_cli(broker, "can-i-deploy", "--pacticipant", "web-frontend", "--version", "2.0.0", "--pacticipant",
                    "shop", "--version", "4.0.0", "--to-environment", "production")
    assert both.returncode == 1, both.stdout + both.stderr
    file = tmp_path / "topology.yaml"
    file.write_text("name: pair\nservices:\n  shop: {image: redis:7}\n  web: {image: redis:7, pact_name: web-frontend}\n")
    done = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production",
                   "--version=shop=4.0.0", "--version=web=2.0.0",
                   env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "yes shop (shop 4.0.0) to production: " in output and "yes web (web-frontend 2.0.0) to production: " in output
    assert ("NO  shop + web together (shop 4.0.0, web-frontend 2.0.0): The verification for the pact between version "
            "2.0.0 of web-frontend and version 4.0.0 of shop failed") in output
    assert ("can-i-deploy to production: NO for shop + web together (2 of 2 yes; 1 pair(s) of them not deployable "
            "together)") in output


def test_yes_for_all_exits_0_and_a_service_without_pacts_is_asked_too(tmp_path: Path, broker: BrokerServer) -> None:
    scenario(tmp_path, broker)
    assert pact_cli(broker, "create-environment", "--name", "staging").returncode == 0
    # ledger 3.0.0: a version at the broker without pacts (as a provider nobody verified against yet publishes it)
    assert subprocess.run([PACT_CLI, "broker", "create-or-update-version", "--pacticipant", "ledger", "--version",
                           "3.0.0", "--branch", "main", "--broker-base-url", broker.url, "--broker-token", TOKEN],
                          capture_output=True).returncode == 0
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY.replace("  billing: {image: redis:7}\n", ""))
    versions = {"web": "1.0.0", "shop": "3.0.0", "ledger": "3.0.0"}
    assert all(cli_says(broker, {"web": "web-frontend"}.get(s, s), v) for s, v in versions.items())
    done = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production",
                   *(f"--version={s}={v}" for s, v in versions.items()), "--version", "cache=7",
                   "--ignore", "cache", env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "excluded cache: --ignore" in done.stdout
    assert "yes ledger (ledger 3.0.0) to production: There are no missing dependencies" in done.stdout
    assert "can-i-deploy to production: yes, all 3 service(s)" in done.stdout

    # the default version of every service: the git checkout's commit (none of them is at the broker)
    commit = git_checkout(tmp_path)
    unknown = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "staging",
                      env=environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN))
    assert unknown.returncode == 1, unknown.stdout + unknown.stderr
    assert f"NO  shop (shop {commit}) to staging: No pacts or verifications have been published for version " \
           f"{commit} of shop" in unknown.stdout
    assert cli_says(broker, "shop", commit) is False


def test_record_deployment_records_what_the_pact_cli_records(tmp_path: Path, broker: BrokerServer) -> None:
    scenario(tmp_path, broker)
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY)
    env = environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN)
    versions = ["--version", "web=1.0.0", "--version", "shop=3.0.0", "--version", "billing=7.1.0", "--version",
                "ledger=2.0.0", "--version", "cache=1"]
    before = list(broker.broker.deployments)
    unknown = harness(tmp_path, "record-deployment", "--topology", str(file), "--environment", "production",
                      *versions, env=env)  # cache is no pacticipant: refused, as the pact CLI refuses it
    assert unknown.returncode == 2, unknown.stdout + unknown.stderr
    assert ("knows no pacticipant for service(s) cache (by 'cache'): nothing was recorded. A service in no contract: "
            "--ignore SERVICE") in unknown.stderr
    assert broker.broker.deployments == before
    done = harness(tmp_path, "record-deployment", "--topology", str(file), "--environment", "production", *versions,
                   "--ignore", "cache", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recorded deployment of web-frontend version 1.0.0 to production" in done.stdout
    assert "excluded cache: --ignore" in done.stdout
    recorded = [(d.pacticipant, d.version, d.current) for d in broker.broker.deployments if d not in before]
    assert recorded == [("shop", "3.0.0", True), ("web-frontend", "1.0.0", True), ("billing", "7.1.0", True),
                        ("ledger", "2.0.0", True)]
    # what the CLI reads from it: web-frontend 1.0.0 is in production now
    deployed = pact_cli(broker, "can-i-deploy", "--pacticipant", "shop", "--version", "4.0.0", "--to-environment",
                        "production", "--output", "json")
    matrix = json.loads(deployed.stdout)["matrix"]
    assert {(row["consumer"]["name"], row["consumer"]["version"]["number"]) for row in matrix} >= {
        ("web-frontend", "1.0.0")}

    unknown_env = harness(tmp_path, "record-deployment", "--topology", str(file), "--environment", "prod",
                          *versions, env=env)
    assert unknown_env.returncode == 2, unknown_env.stderr
    assert (f"the Pact Broker at {broker.url} has no environment 'prod' (it has: production); create it first: "
            "pact broker create-environment --name prod") in unknown_env.stderr

    count = len(broker.broker.deployments)
    no_version = harness(tmp_path, "record-deployment", "--topology", str(file), "--environment", "production",
                         "--version", "web=9.9.9", *versions[2:], "--ignore", "cache", env=env)
    assert no_version.returncode == 2, no_version.stderr
    assert (f"the Pact Broker at {broker.url} has no version 9.9.9 of web-frontend (service web): give the deployed "
            "version with --version web=VERSION (nothing was recorded)") in no_version.stderr
    assert len(broker.broker.deployments) == count

    read_only = harness(tmp_path, "record-deployment", "--topology", str(file), "--environment", "production",
                        *versions, "--ignore", "cache", env={**env, "PACT_BROKER_TOKEN": "read-only-token"})
    assert read_only.returncode == 2, read_only.stderr
    assert "does not allow this with the credentials (403 on POST" in read_only.stderr
    assert "read-only-token" not in read_only.stdout + read_only.stderr


def test_can_i_deploy_failures_are_one_clear_message(tmp_path: Path, broker: BrokerServer) -> None:
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY)
    env = environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN)
    no_env = harness(tmp_path, "can-i-deploy", "--topology", str(file), env=env)
    assert no_env.returncode == 2
    assert "harness can-i-deploy: name the environment: --to-environment ENVIRONMENT" in no_env.stderr
    no_broker = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production")
    assert no_broker.returncode == 2
    assert "harness can-i-deploy: no Pact Broker is configured" in no_broker.stderr
    no_git = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production",
                     "--version", "web=1", env=env)
    assert no_git.returncode == 2
    assert ("no version for shop, billing, ledger, cache: give --version SERVICE=VERSION for each (the default, the "
            f"git checkout's commit, needs {tmp_path} to be in a git checkout)") in no_git.stderr
    typo = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production",
                   "--version", "wbe=1", env=env)
    assert typo.returncode == 2
    assert "--version wbe=1: 'wbe' is not a service of topology 'deploy'" in typo.stderr
    bad = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production",
                  "--version", "web", env=env)
    assert bad.returncode == 2
    assert "--version: SERVICE=VERSION, e.g. gateway=1.4.2, not 'web'" in bad.stderr
    every = [f"--version={service}=1" for service in ("web", "shop", "billing", "ledger", "cache")]
    refused = harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production", *every,
                      env={**env, "PACT_BROKER_TOKEN": "wrong"})
    assert refused.returncode == 2
    assert f"the Pact Broker at {broker.url} refused the credentials (401" in refused.stderr
    assert "wrong" not in refused.stderr.replace("refused", "")


BUILT = """
name: dirty
services:
  shop: {build: ./shop}
  web: {build: ./web, pact_name: web-frontend}
  cache: {image: redis:7}   # no pacticipant at the broker
"""


def test_a_checkout_that_differs_in_what_a_service_is_built_from_names_the_version_to_ask(
        tmp_path: Path, broker: BrokerServer) -> None:
    """From a checkout whose web/ differs from its commit, the commit does not name the web that would be deployed
    (and `harness publish` published its pacts as COMMIT+SNAPSHOT.<host>): can-i-deploy and record-deployment ask
    for web's version, naming the snapshot and the commit; given, the answer is the `pact` CLI's. A change outside
    what the services are built from (a consumer test, a README) leaves the commit as their version."""
    from .test_broker_publish import HOST

    for name in ("shop", "web"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . /app\n")
        (tmp_path / name / "app.py").write_text("VERSION = 1\n")
    (tmp_path / "README.md").write_text("the shop\n")
    file = tmp_path / "topology.yaml"
    file.write_text(BUILT)
    commit = git_checkout(tmp_path)
    snapshot = f"{commit}+SNAPSHOT.{HOST}"
    env = environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN)
    publish(broker, tmp_path, good_pact(), commit, "main")  # CI: the clean commit's pact, verified by shop there
    verified(broker, "web-frontend", commit, commit, True)
    assert pact_cli(broker, "create-environment", "--name", "production").returncode == 0
    assert pact_cli(broker, "record-deployment", "--pacticipant", "shop", "--version", commit, "--environment",
                    "production").returncode == 0

    def can_i_deploy(*args: str) -> subprocess.CompletedProcess[str]:
        return harness(tmp_path, "can-i-deploy", "--topology", str(file), "--to-environment", "production",
                       "--ignore", "cache", *args, env=env)

    clean = can_i_deploy()
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert cli_says(broker, "web-frontend", commit) and cli_says(broker, "shop", commit)
    assert f"yes web (web-frontend {commit}) to production: " in clean.stdout

    (tmp_path / "web" / "app.py").write_text("VERSION = 2\n")  # web's code changed, and its pact with it
    newer = good_pact()
    newer["interactions"][0]["description"] += " (changed)"
    (tmp_path / "contracts").mkdir()
    (tmp_path / "contracts" / "web-frontend-shop.json").write_text(json.dumps(newer))
    published = harness(tmp_path, "publish", "--topology", str(file), env=env)
    assert published.returncode == 0, published.stdout + published.stderr
    assert f"for consumer version {snapshot} (no branch)" in published.stdout

    asked = can_i_deploy()
    said = " ".join(asked.stderr.split())
    assert asked.returncode == 2, asked.stdout + asked.stderr
    assert (f"no version for web: the git checkout {tmp_path} differs from its commit {commit} in what it is deployed "
            "from (web: web/app.py has uncommitted changes), so the commit does not name the code that would be "
            "deployed. Give the version to ask about with --version SERVICE=VERSION for each: the snapshot "
            f"{snapshot} (e.g. --version web={snapshot}), or the commit (--version web={commit}: the code as "
            "committed); or commit the changes (this checkout's pacts are published as consumer version "
            f"{snapshot} by pytest --pact-publish and harness publish)") in said, said
    assert "Traceback" not in asked.stderr and asked.stdout == ""
    before = list(broker.broker.deployments)
    recorded = harness(tmp_path, "record-deployment", "--topology", str(file), "--environment", "production",
                       "--ignore", "cache", env=env)
    assert recorded.returncode == 2 and f"no version for web: the git checkout {tmp_path} differs" in recorded.stderr
    assert broker.broker.deployments == before

    at_snapshot = can_i_deploy(f"--version=web={snapshot}")  # the snapshot's pact is not verified yet: the CLI's NO
    assert cli_says(broker, "web-frontend", snapshot) is False
    assert at_snapshot.returncode == 1, at_snapshot.stdout + at_snapshot.stderr
    assert f"NO  web (web-frontend {snapshot}) to production: There is no verified pact between version " \
           f"{snapshot} of web-frontend and version {commit} of shop" in at_snapshot.stdout, at_snapshot.stdout
    assert f"yes shop (shop {commit}) to production: " in at_snapshot.stdout  # shop is as committed
    at_commit = can_i_deploy(f"--version=web={commit}")
    assert at_commit.returncode == 0, at_commit.stdout + at_commit.stderr

    (tmp_path / "web" / "app.py").write_text("VERSION = 1\n")  # back to the commit's web; other files changed
    (tmp_path / "README.md").write_text("the shop, with notes\n")
    (tmp_path / "test_web_consumer.py").write_text("def test_web(): pass\n")
    elsewhere = can_i_deploy()
    assert elsewhere.returncode == 0, elsewhere.stdout + elsewhere.stderr
    assert f"yes web (web-frontend {commit}) to production: " in elsewhere.stdout

    file.write_text(BUILT.replace("name: dirty", "name: dirty  # edited"))
    topology_changed = can_i_deploy("--version", "cache=1")
    assert topology_changed.returncode == 2
    assert ("no version for shop, web: the git checkout " in topology_changed.stderr
            and "in what they are deployed from (shop, web: topology.yaml has uncommitted changes)"
            in " ".join(topology_changed.stderr.split())), topology_changed.stderr



def test_a_yes_that_rests_on_results_of_a_provider_built_from_a_local_base_is_not_counted(
        tmp_path: Path, broker: BrokerServer, local_base: str) -> None:
    """The shop builds FROM an image built on this machine: its commit names none of its code, and `harness verify`
    publishes no result under the commit for it. Results under the commit at the broker (published with
    `--provider-version`, or by another tool) make `pact broker can-i-deploy` say yes; the harness prints the broker's
    word, names the results it does not count and why, and exits 1. `--version shop=C` vouches for them (exit 0), as
    does a shop built FROM a registry's image (here its stand-in)."""
    repo = tmp_path / "repo"
    (repo / "shop").mkdir(parents=True)
    (repo / "shop" / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY app.py /app/\n")
    (repo / "shop" / "app.py").write_text("VERSION = 1\n")
    file = repo / "topology.yaml"
    file.write_text("name: b25-local\nservices:\n  shop: {build: ./shop}\n"
                    "  web: {image: redis:7, pact_name: web-frontend}\n")
    commit = git_checkout(repo)
    publish(broker, tmp_path, good_pact(), commit, "main")
    verified(broker, "web-frontend", commit, commit, True)
    assert pact_cli(broker, "create-environment", "--name", "production").returncode == 0
    assert pact_cli(broker, "record-deployment", "--pacticipant", "shop", "--version", commit, "--environment",
                    "production").returncode == 0
    env = environment(PACT_BROKER_BASE_URL=broker.url, PACT_BROKER_TOKEN=TOKEN)

    def can_i_deploy(*args: str) -> tuple[int, str]:
        done = harness(repo, "can-i-deploy", "--topology", str(file), "--to-environment", "production", *args,
                       env=env)
        return done.returncode, done.stdout + done.stderr

    code, said = can_i_deploy()
    assert code == 0 and "can-i-deploy to production: yes, all 2 service(s)" in said, said  # a registry's base

    dockerfile = repo / "shop" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("FROM python:3.11-slim", f"FROM {local_base}"))
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "org base"],
                   cwd=repo, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    publish(broker, tmp_path, good_pact(), commit, "main")
    verified(broker, "web-frontend", commit, commit, True)  # as harness verify --provider-version COMMIT publishes
    assert pact_cli(broker, "record-deployment", "--pacticipant", "shop", "--version", commit, "--environment",
                    "production").returncode == 0
    assert cli_says(broker, "web-frontend", commit) and cli_says(broker, "shop", commit)  # the broker: yes
    both = pact_cli(broker, "can-i-deploy", "--pacticipant", "shop", "--version", commit, "--pacticipant",
                    "web-frontend", "--version", commit, "--to-environment", "production")
    assert both.returncode == 0, both.stdout + both.stderr

    code, said = can_i_deploy()
    assert code == 1, said
    assert f"yes web (web-frontend {commit}) to production: " in said  # the broker's word, as the pact CLI's
    assert f"yes shop + web together (shop {commit}, web-frontend {commit}): " in said
    assert (f"not counted: the broker's verification results of shop under version {commit} (the git checkout's "
            f"commit), which names no code of it: the image of shop builds FROM {local_base}, an image built on this "
            "machine (no registry digest in docker image inspect): no commit of the checkout names what it holds; the "
            "yes for web, shop + web together rests on them. Build FROM an image pulled from a registry, or give "
            f"--version shop={commit} for a version you vouch for") in " ".join(said.split()), said
    assert ("can-i-deploy to production: NO, the broker says yes for all 2 service(s); the broker's yes for web, "
            "shop + web together is not counted") in said, said

    code, said = can_i_deploy(f"--version=shop={commit}")
    assert code == 0 and "not counted" not in said and "yes, all 2 service(s)" in said, said
