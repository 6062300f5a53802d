"""Pacts from a Pact Broker (the test broker of tests/broker, which the real clients talk to): published with the
`pact` CLI, verified by `harness verify` with selectors, pending and WIP, each verdict saying where its pact came
from; pact-python's Verifier with `broker_source` on the same pacts and selectors is the oracle; the results the
harness publishes are what `pact broker can-i-deploy` answers from. And every failure mode is one clear message."""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness.model.loader import load_topology
from tests.broker.server import BrokerServer

from ..conftest import TOPOLOGIES
from .conftest import TOKEN

HARNESS = str(Path(sys.executable).parent / "harness")
PACT_CLI = str(Path(sys.executable).parent / "pact")
PACTS = Path(__file__).parent.parent / "pacts"

TOPOLOGY = """
name: broker-VARIANT
contracts:
  state_url: {shop: /_pact/provider_states}     # the shop sets its own states up
services:
  shop:
    build: SHOP_DIR
    ports: [8000]
    ready: {http: {port: 8000, path: /health}}
"""


def topology(tmp_path: Path, variant: str) -> Path:
    file = tmp_path / "topology.yaml"
    file.write_text(TOPOLOGY.replace("VARIANT", variant).replace("SHOP_DIR", str(TOPOLOGIES / "pact-shop")))
    return file


def pact_cli(broker: BrokerServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PACT_CLI, "broker", *args, "--broker-base-url", broker.url, "--broker-token", TOKEN],
                          capture_output=True, text=True)


def publish(broker: BrokerServer, tmp_path: Path, data: dict, version: str, branch: str) -> None:
    folder = tmp_path / f"publish-{data['consumer']['name']}-{version}"
    folder.mkdir()
    (folder / "pact.json").write_text(json.dumps(data))
    done = pact_cli(broker, "publish", str(folder), "--consumer-app-version", version, "--branch", branch)
    assert done.returncode == 0, done.stdout + done.stderr


def good_pact() -> dict:
    return json.loads((PACTS / "v2-web-frontend-shop.json").read_text())


def breaking_pact() -> dict:
    """billing expects a route the shop does not have: it fails against the shop."""
    data = copy.deepcopy(good_pact())
    data["consumer"]["name"] = "billing"
    data["interactions"] = [{"description": "a request for invoices", "request": {"method": "GET",
                                                                                 "path": "/invoices"},
                             "response": {"status": 200, "body": {"invoices": []}}}]
    return data


def harness_verify(file: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PACT_BROKER_") and k != "CI"}
    environment["PYTEST_TOPOLOGY_CACHE"] = str(file.parent / "cache")  # this test's verdict cache, not another's
    return subprocess.run([HARNESS, "verify", "--topology", str(file), "--report", str(file.parent / "out"),
                           "--junit", str(file.parent / "junit.xml"), *args],
                          capture_output=True, text=True, cwd=file.parent, env={**environment, **(env or {})})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SNAKE = {"mainBranch": "main_branch", "deployedOrReleased": "deployed_or_released",
         "matchingBranch": "matching_branch", "fallbackBranch": "fallback_branch", "fallbackTag": "fallback_tag"}


def oracle(broker: BrokerServer, selectors: list[dict], pending: bool = True, wip_since: str | None = "2020-01-01",
           branch: str | None = "main") -> dict:
    """pact-python's Verifier on the same broker and selectors, against the shop's own code run here (not in a
    container: the oracle of which pacts are selected and of the verdict): its results (nothing is published)."""
    port = free_port()
    code = (TOPOLOGIES / "pact-shop" / "app.py").read_text().replace("8000", str(port))
    shop = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, cwd=TOPOLOGIES / "pact-shop")
    try:
        deadline = time.monotonic() + 300  # until it answers (a bound for a loaded machine, not a time budget)
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except OSError:
                assert shop.poll() is None and time.monotonic() < deadline, "the shop's own code never answered"
                time.sleep(0.1)
        chosen = [{SNAKE.get(key, key): value for key, value in selector.items()} for selector in selectors]
        script = f"""
import json
from pact import Verifier
v = Verifier("shop", host="127.0.0.1").add_transport(url="http://127.0.0.1:{port}")
v.state_handler("http://127.0.0.1:{port}/_pact/provider_states", body=True, teardown=True)
b = v.broker_source({broker.url!r}, token={TOKEN!r}, selector=True)
if {pending!r}:
    b = b.include_pending()
if {wip_since!r}:
    b = b.include_wip_since({wip_since!r})
if {branch!r}:
    b = b.provider_branch({branch!r})
for selector in {chosen!r}:
    b = b.consumer_version(**selector)
b.build()
try:
    v.verify()
except RuntimeError:
    pass
print(json.dumps(v.results))
"""
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    finally:
        shop.kill()
        shop.wait()


def oracle_pacts(results: dict) -> set[str]:
    """The URLs of the pacts the Verifier verified (the broker's notice of each, in its output)."""
    return {line.split("The pact at ", 1)[1].split(" ", 1)[0] for line in results["output"]
            if line.startswith("The pact at ")}


def test_verify_from_the_broker_with_pending_and_wip_publishes_results_can_i_deploy_reads(
        tmp_path: Path, broker: BrokerServer) -> None:
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    publish(broker, tmp_path, breaking_pact(), "7.1.0", "feat-invoices")  # never verified: pending, and WIP
    elsewhere = variant(good_pact(), "web-frontend", "payments")
    elsewhere["provider"]["name"] = "payments"  # a provider that is not a service of the topology
    publish(broker, tmp_path, elsewhere, "1.0.1", "main")
    listed = pact_cli(broker, "list-latest-pact-versions", "--output", "json")
    assert listed.returncode == 0 and '"name":"payments"' in listed.stdout, listed.stdout + listed.stderr
    expected = oracle(broker, [{"mainBranch": True}])
    assert expected["result"] is True  # the failing pact is pending: the oracle passes
    assert {r["consumer"] for r in expected["interactionResults"]} == {"web-frontend", "billing"}
    assert broker.broker.verifications == []  # the oracle published nothing

    file = topology(tmp_path, "main")
    done = harness_verify(file, "--pact-broker-url", broker.url, "--pact-selector", "mainBranch",
                          "--pact-include-pending", "--pact-wip-since", "2020-01-01", "--provider-version", "3.0.0",
                          "--provider-branch", "main", "--publish-verification-results",
                          env={"PACT_BROKER_TOKEN": TOKEN})
    output = done.stdout + done.stderr
    assert done.returncode == 0, output  # as the oracle: the pending failure does not fail the run
    assert "verified web-frontend->shop: 2 interaction(s)" in output
    assert f"from broker {broker.url}/pacts/provider/shop/consumer/web-frontend/pact-version/" in output
    assert "consumer version 1.0.0; latest from main branch" in output
    assert "FAILED billing->shop" in output
    assert "(pending at the broker: does not fail the run)" in output
    assert "consumer version 7.1.0; work in progress; pending" in output
    assert ("pacts: 1 verified, 1 failed, 0 error, 0 excluded (1 failed pending at the broker: not failing the "
            "run)") in output
    assert (f"note: not verified here: the Pact Broker {broker.url} has pacts for providers that are not services "
            "of topology 'broker-main': payments (from web-frontend)") in output
    junit = (tmp_path / "junit.xml").read_text()
    cases = {case.get("name"): case for case in ElementTree.fromstring(junit).iter("testcase")}
    pending_case = next(case for name, case in cases.items() if "billing->shop" in str(name))
    assert pending_case.find("failure") is None  # pending: passed, as the Verifier counts it, and says why
    assert "pending at the broker, so this failure does not fail the run" in (pending_case.findtext("system-out") or "")
    assert all("pact from broker " in (case.findtext("system-out") or "") for case in cases.values())
    edges = json.loads((tmp_path / "out" / "contract-matrix.json").read_text())["edges"]
    billing = next(edge for edge in edges if edge["consumer"] == "billing")
    assert billing["pending"] and billing["source"].startswith(f"broker {broker.url}/pacts/provider/shop/")
    assert billing["reason"].startswith(f"'{billing['failed'][0]}': ")  # the failure's own reason, then pending
    assert billing["reason"].endswith("; pending at the broker: its failure does not fail the run")
    for text in (output, junit, json.dumps(edges)):
        assert TOKEN not in text

    # the results are published for provider version 3.0.0 on branch main, as the broker's clients see them
    published = {(v.consumer, v.provider_version, v.success) for v in broker.broker.verifications}
    assert published == {("web-frontend", "3.0.0", True), ("billing", "3.0.0", False)}
    described = pact_cli(broker, "describe-version", "--pacticipant", "shop", "--version", "3.0.0", "--output",
                         "json")
    assert described.returncode == 0 and "main" in described.stdout, described.stdout + described.stderr
    assert pact_cli(broker, "create-environment", "--name", "production").returncode == 0
    recorded = pact_cli(broker, "record-deployment", "--pacticipant", "shop", "--version", "3.0.0",
                        "--environment", "production")
    assert recorded.returncode == 0, recorded.stdout + recorded.stderr
    yes = pact_cli(broker, "can-i-deploy", "--pacticipant", "web-frontend", "--version", "1.0.0",
                   "--to-environment", "production")
    assert yes.returncode == 0 and "Computer says yes" in yes.stdout, yes.stdout + yes.stderr
    no = pact_cli(broker, "can-i-deploy", "--pacticipant", "billing", "--version", "7.1.0",
                  "--to-environment", "production")
    assert no.returncode == 1 and "Computer says no" in no.stdout, no.stdout + no.stderr
    assert "The verification for the pact between version 7.1.0 of billing and version 3.0.0 of shop failed" \
        in no.stdout


def test_each_broker_failure_is_one_clear_message(tmp_path: Path, broker: BrokerServer) -> None:
    file = topology(tmp_path, "failures")
    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = harness_verify(file, "--pact-broker-url", closed)
    assert unreachable.returncode == 3, unreachable.stderr
    assert f"the Pact Broker at {closed} cannot be reached" in unreachable.stderr
    assert "check the broker URL (from --pact-broker-url) and that the broker is up" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr

    refused = harness_verify(file, env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": "wrong-token"})
    assert refused.returncode == 2, refused.stderr
    assert f"the Pact Broker at {broker.url} refused the credentials (401" in refused.stderr
    assert "used: PACT_BROKER_TOKEN" in refused.stderr and "wrong-token" not in refused.stderr

    secret = "pass-w0rd"
    bad_url = harness_verify(file, "--pact-broker-url", f"ftp://user:{secret}@broker.example")
    assert bad_url.returncode == 2, bad_url.stderr
    assert "is not an http(s) URL (from --pact-broker-url)" in bad_url.stderr and secret not in bad_url.stderr

    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    nothing = harness_verify(file, "--pact-selector", "branch=no-such-branch",
                             env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN})
    assert nothing.returncode == 2, nothing.stderr
    assert (f'no pacts for shop matched the selectors {{"branch":"no-such-branch"}} at the Pact Broker {broker.url}'
            in nothing.stderr)

    not_a_broker = harness_verify(file, "--pact-broker-url", f"{broker.url}/pacticipants",
                                  env={"PACT_BROKER_TOKEN": TOKEN})
    assert not_a_broker.returncode == 3, not_a_broker.stderr
    assert (f"the Pact Broker at {broker.url}/pacticipants has no index (404 on GET {broker.url}/pacticipants/): is "
            "this URL a Pact Broker's base URL?") in not_a_broker.stderr

    typo = harness_verify(file, "--pact-broker-url", broker.url, "--pact-selector", "mainbranch")
    assert typo.returncode == 2
    assert "--pact-selector: unknown selector key 'mainbranch' (did you mean 'mainBranch'?)" in typo.stderr


def test_a_read_only_token_cannot_publish_results(tmp_path: Path) -> None:
    """403 as the broker's: the client says which credential was used and that publishing needs write access."""
    from harness.contracts.broker import BrokerClient
    from harness.contracts.broker_config import BrokerConfig
    from harness.contracts.results import PactResult
    from harness.errors import BrokerRefused

    with BrokerServer(token=TOKEN, read_token="read-only-token") as server:
        publish(server, tmp_path, good_pact(), "1.0.0", "main")
        client = BrokerClient(BrokerConfig(server.url, token="read-only-token", provider_version="1"))
        [pact] = client.fetch("shop", tmp_path)
        assert pact.consumer_version == "1.0.0" and pact.description == "latest"
        with pytest.raises(BrokerRefused) as refused:
            client.publish(pact, PactResult(pact.path, "verified", "web-frontend", "shop"), "shop")
    message = str(refused.value)
    assert "does not allow this with the credentials (403 on POST" in message
    assert ("PACT_BROKER_TOKEN may read but not write: publishing pacts or verification results and recording "
            "deployments need a read-write token (in PactFlow, not the read-only one); give the job one, or do not "
            "publish from it") in message
    assert "read-only-token" not in message


def variant(data: dict, consumer: str, description: str) -> dict:
    """The pact with another consumer and first description: another pact version at the broker."""
    data = copy.deepcopy(data)
    data["consumer"]["name"] = consumer
    data["interactions"][0]["description"] = f"a request for the item list ({description})"
    return data


@pytest.mark.parametrize(("selectors", "pending", "wip_since", "branch", "expected"), [
    ([{"mainBranch": True}], True, "2020-01-01", "main", {"web 1.1.0", "billing 5.0.0", "web 2.0.0"}),  # 2.0: WIP
    ([{"deployedOrReleased": True}], False, None, None, {"web 1.0.0", "billing 5.0.0"}),
    ([{"deployed": True, "environment": "production"}], False, None, "main", {"web 1.0.0"}),
    ([{"matchingBranch": True}], True, None, "feat-x", {"web 2.0.0"}),
    ([{"branch": "feat-x"}, {"consumer": "billing", "latest": True}], False, None, None,
     {"web 2.0.0", "billing 5.0.0"}),
    ([], False, None, None, {"web 2.0.0", "billing 5.0.0"}),  # the broker's default: the latest of each consumer
])
def test_the_harness_asks_the_broker_what_pact_pythons_verifier_asks(
        tmp_path: Path, broker: BrokerServer, selectors: list[dict], pending: bool, wip_since: str | None,
        branch: str | None, expected: set[str]) -> None:
    """Same selectors, pending, WIP and provider branch: the same request to the broker, the same pacts."""
    from harness.contracts.broker import fetch_pacts
    from harness.contracts.broker_config import BrokerConfig

    for consumer, version, on in (("web", "1.0.0", "main"), ("web", "1.1.0", "main"), ("web", "2.0.0", "feat-x"),
                                  ("billing", "5.0.0", "main")):
        publish(broker, tmp_path, variant(good_pact(), consumer, version), version, on)
    for environment in ("production", "staging"):
        assert pact_cli(broker, "create-environment", "--name", environment).returncode == 0
    assert pact_cli(broker, "record-deployment", "--pacticipant", "web", "--version", "1.0.0", "--environment",
                    "production").returncode == 0
    assert pact_cli(broker, "record-release", "--pacticipant", "billing", "--version", "5.0.0", "--environment",
                    "staging").returncode == 0

    results = oracle(broker, selectors, pending, wip_since, branch)
    asked_by_verifier = broker.broker.asked[-1]
    config = BrokerConfig(broker.url, token=TOKEN, selectors=tuple(selectors), include_pending=pending,
                          wip_since=wip_since, provider_branch=branch)
    fetched = fetch_pacts(load_topology(topology(tmp_path, "selectors")), config, tmp_path / "fetched")
    asked_by_harness = broker.broker.asked[-1]

    def given(body: dict) -> dict:  # the keys with a value (the Verifier sends empty tag lists too)
        return {key: value for key, value in body.items() if value not in (None, [], False) or key ==
                "consumerVersionSelectors"}
    assert given(asked_by_harness) == given(asked_by_verifier)
    assert {pact.url for pact in fetched.pacts.values()} == oracle_pacts(results)
    assert {f"{json.loads(p.path.read_text())['consumer']['name']} {p.consumer_version}"
            for p in fetched.pacts.values()} == expected


def test_pytest_pact_verify_takes_the_brokers_pacts(tmp_path: Path, broker: BrokerServer,
                                                    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same options in pytest: an item per interaction of each broker pact, its source in the output; the
    variables as Pact users set them; nothing published from a laptop."""
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    publish(broker, tmp_path, breaking_pact(), "7.1.0", "feat-invoices")
    file = topology(tmp_path, "pytest")
    monkeypatch.setenv("PACT_BROKER_BASE_URL", broker.url)
    monkeypatch.setenv("PACT_BROKER_TOKEN", TOKEN)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))
    run = pytester.runpytest_subprocess("--topology", str(file), "--pact-verify", "--pact-selector", "mainBranch",
                                        "--pact-include-pending", "--pact-wip-since", "2020-01-01", "-rA",
                                        "-p", "no:cacheprovider")
    run.assert_outcomes(passed=3)  # web-frontend's two interactions, and billing's pending failure
    output = run.stdout.str() + run.stderr.str()
    assert "::pact[web-frontend->shop: a request for the item list]" in output
    assert "pending at the broker, so this failure does not fail the run" in output
    assert "pending interactions that failed (passed, as pact-python's Verifier counts them)" in output
    assert "Captured pact source setup" in output
    assert f"broker {broker.url}/pacts/provider/shop/consumer/web-frontend/" in output
    assert TOKEN not in output
    assert broker.broker.verifications == []  # not asked, not CI: nothing published
    assert (f"verification results not published to the Pact Broker {broker.url}: not asked "
            "(--publish-verification-results) and not in CI (CI=true with --provider-version)") in output


def test_folder_and_broker_pacts_together_and_a_refused_publication_is_an_error(tmp_path: Path,
                                                                                   broker: BrokerServer) -> None:
    """The pact folder's pacts and the broker's in one run; a result the broker refuses to take (a read-only token)
    makes that pact's verdict an error: CI must not believe the broker has it. (A broker that checks credentials
    before the body is asked before anything starts: test_broker_write_access; this one validates first.)"""
    broker.validates_first = True
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file = topology(tmp_path, "both")
    (tmp_path / "pacts").mkdir()
    (tmp_path / "pacts" / "kiosk-shop.json").write_text(json.dumps(variant(good_pact(), "kiosk", "kiosk")))
    done = harness_verify(file, "--pacts", str(tmp_path / "pacts"), "--provider-version", "4.0.0",
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": "read-only-token",
                               "CI": "true"})  # CI with a provider version: results are published
    assert done.returncode == 2, done.stdout + done.stderr
    assert "verified kiosk->shop: 2 interaction(s)" in done.stderr and "(kiosk-shop.json)" in done.stderr
    assert ("ERROR web-frontend->shop (from broker" in done.stderr
            and "verified, but its verification result was not published: the Pact Broker at "
            f"{broker.url} does not allow this with the credentials (403; used: PACT_BROKER_TOKEN)" in done.stderr)
    assert "read-only-token" not in done.stdout + done.stderr
    assert broker.broker.verifications == []
    said = done.stdout + done.stderr  # in full once (the verdict, matrix and summary say it short)
    assert said.count("403 on POST") == 1 and said.count("may read but not write") == 1, said
    *_, last, hint = done.stderr.strip().splitlines()  # what happened to the results: not published, and why
    assert hint.startswith("PACT_BROKER_TOKEN may read but not write: publishing pacts or verification results")
    assert hint.endswith("(verification results are published only with --publish-verification-results, or in CI "
                         "with --provider-version)"), hint
    assert last.startswith(f"verification results not published to the Pact Broker {broker.url} (CI=true with "
                           "--provider-version) for provider version 4.0.0: 1 of 1 broker pact(s) not published: the "
                           f"Pact Broker at {broker.url} does not allow this with the credentials (403 on POST "), last
    assert last.endswith("used: PACT_BROKER_TOKEN (the pact's verdict is an error for it)"), last
    assert "0 of 1" not in done.stderr


def test_a_broker_pact_equal_to_a_cached_folder_pact_is_verified_and_published(tmp_path: Path,
                                                                               broker: BrokerServer) -> None:
    """A broker pact with the content of a folder pact the verdict cache has: verified, said to come from the broker
    and published, in the run that caches the folder's and in the next (it took the folder pact's cached verdict:
    no source, nothing published, while the run said verified). A cached verdict says where its pact came from and
    is published as a fresh one is."""
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file = topology(tmp_path, "same")
    (tmp_path / "pacts").mkdir()
    [served] = broker.broker.contents.values()  # the pact as the broker serves it (the CLI adds to a v2 pact)
    (tmp_path / "pacts" / "web-frontend-shop.json").write_text(json.dumps(served))
    env = {"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN}
    for run, version in enumerate(("5.0.0", "5.0.1")):
        done = harness_verify(file, "--pacts", str(tmp_path / "pacts"), "--provider-version", version,
                              "--publish-verification-results", env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        folder_line = ("verified (cached, from " if run else "verified web-frontend->shop: 2 interaction(s)")
        assert folder_line in done.stderr and "(web-frontend-shop.json)" in done.stderr
        # the broker pact: verified, or the verdict of the same content and provider from the cache, with its source
        broker_part = done.stderr.split("(web-frontend-shop.json)")[-1]
        assert ("verified web-frontend->shop: 2 interaction(s) in" in broker_part
                or "verified (cached, from " in broker_part), done.stderr
        assert f"(from broker {broker.url}/pacts/provider/shop/consumer/web-frontend/" in done.stderr
        assert [v.provider_version for v in broker.broker.verifications] == ["5.0.0", "5.0.1"][:run + 1]


def test_broker_pact_items_keep_their_ids_when_the_same_content_is_republished(
        tmp_path: Path, broker: BrokerServer, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pacts of one pair in one run (the main branch's and a feature branch's, other content): their items and
    JUnit cases are told apart by their content, never by the consumer version they were published for. Published
    again under new versions, the same contents keep the same item ids, so --lf reruns the failing one (its fetched
    file's name came from its URL, which names the consumer version: every id changed and --lf ran everything)."""
    branch_pact = copy.deepcopy(good_pact())
    branch_pact["interactions"].append({"description": "a request for the motd", "request": {
        "method": "GET", "path": "/motd"}, "response": {"status": 418}})  # the shop answers 200: fails
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    publish(broker, tmp_path, branch_pact, "2.0.0", "feat-x")
    file = topology(tmp_path, "ids")
    for name, value in (("PACT_BROKER_BASE_URL", broker.url), ("PACT_BROKER_TOKEN", TOKEN),
                        ("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CI", raising=False)
    args = ["--topology", str(file), "--pact-verify", "--pact-selector", "mainBranch", "--pact-selector",
            "branch=feat-x", "-p", "cacheprovider"]

    def cases(xml: Path) -> dict[str, str]:
        return {case.get("name", ""): "failed" if case.find("failure") is not None else "passed"
                for case in ElementTree.parse(xml).iter("testcase")}

    first = pytester.runpytest_subprocess(*args, "--junitxml=first.xml")
    first.assert_outcomes(passed=4, failed=1)
    named = cases(pytester.path / "first.xml")
    tags = {n.split(" ", 1)[1].split(":")[0] for n in named}  # pact[web-frontend->shop TAG: DESCRIPTION]
    [branch_tag] = {n.split(" ", 1)[1].split(":")[0] for n in named if "motd" in n}
    [main_tag] = tags - {branch_tag}
    shas = {p.consumer_version: p.sha for p in broker.broker.pacts.values()}
    assert main_tag == f"web-frontend-shop-{shas['1.0.0'][:10]}.json"  # the content's pact version names it
    assert branch_tag == f"web-frontend-shop-{shas['2.0.0'][:10]}.json"
    assert named[f"pact[web-frontend->shop {branch_tag}: a request for the motd]"] == "failed"

    publish(broker, tmp_path, good_pact(), "1.0.1", "main")  # the same contents, new consumer versions
    publish(broker, tmp_path, branch_pact, "2.0.1", "feat-x")
    again = pytester.runpytest_subprocess(*args, "--lf", "--junitxml=again.xml", "-rA")
    again.assert_outcomes(failed=1, deselected=4)
    assert "run-last-failure: rerun previous 1 failure" in again.stdout.str()
    failing = f"pact[web-frontend->shop {branch_tag}: a request for the motd]"
    assert cases(pytester.path / "again.xml") == {failing: "failed"}
    [case] = ElementTree.parse(pytester.path / "again.xml").iter("testcase")  # a failing case says its source too
    source = {p.get("name"): p.get("value") for p in case.iter("property")}["pact source"]
    assert source.startswith(f"broker {broker.url}/pacts/provider/shop/consumer/web-frontend/pact-version/"
                             f"{shas['2.0.0']}/") and "(consumer version 2.0.1;" in source  # same content, newest

    cli = harness_verify(file, "--pact-selector", "mainBranch", "--pact-selector", "branch=feat-x",
                         env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN})
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert cases(tmp_path / "junit.xml") == named  # harness verify's JUnit: the same names, from the newest versions


def test_only_a_provider_whose_pacts_matched_nothing_is_noted(tmp_path: Path, broker: BrokerServer) -> None:
    """A service the broker has no pact for as provider (a cache; web-frontend, a consumer only) is no provider:
    nothing is said of it (every verify noted it); a provider none of whose pacts the selectors matched is a note."""
    from harness.contracts.broker import fetch_pacts
    from harness.contracts.broker_config import BrokerConfig

    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file = tmp_path / "topology.yaml"
    file.write_text("name: notes\nservices:\n  shop: {image: redis:7}\n  web-frontend: {image: redis:7}\n"
                    "  cache: {image: redis:7}\n")
    spec = load_topology(file)
    matched = fetch_pacts(spec, BrokerConfig(broker.url, token=TOKEN, selectors=({"mainBranch": True},)),
                          tmp_path / "matched")
    assert len(matched.pacts) == 1 and matched.notes == []
    nothing = fetch_pacts(spec, BrokerConfig(broker.url, token=TOKEN, selectors=({"branch": "no-such-branch"},)),
                          tmp_path / "nothing")
    assert nothing.pacts == {}
    assert nothing.notes == [f'no pacts for shop matched the selectors {{"branch":"no-such-branch"}} at the Pact '
                             f"Broker {broker.url}"]


def test_under_xdist_the_last_line_counts_what_the_workers_published(
        tmp_path: Path, broker: BrokerServer, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers verify and publish; the controller's last line counts their results (it said "0 of 2")."""
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    publish(broker, tmp_path, variant(good_pact(), "kiosk", "kiosk"), "2.0.0", "main")
    file = topology(tmp_path, "xdist-publish")
    for name, value in (("PACT_BROKER_BASE_URL", broker.url), ("PACT_BROKER_TOKEN", TOKEN),
                        ("PYTEST_TOPOLOGY_CACHE", str(tmp_path / "cache"))):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CI", raising=False)
    run = pytester.runpytest_subprocess("--topology", str(file), "--pact-verify", "-n", "2", "--provider-version",
                                        "3.0.0", "--provider-branch", "main", "--publish-verification-results",
                                        "-p", "no:cacheprovider")
    run.assert_outcomes(passed=4)
    assert sorted((v.provider_version, v.success) for v in broker.broker.verifications) == [("3.0.0", True)] * 2
    assert (f"verification results published to the Pact Broker {broker.url} (--publish-verification-results): 2 of "
            "2 broker pact(s), for provider version 3.0.0 on branch main\n") in run.stdout.str()
