"""Publishing verification results, or a pytest session's pacts, with credentials that may only read: refused before
anything starts (the broker is asked with an empty result or publication, which it rejects unkept once the
credentials may write). Where the broker validates the body before it checks the credentials, the first publication
tells (a pact's verdict an error: test_broker.py's
test_folder_and_broker_pacts_together_and_a_refused_publication_is_an_error; an error line after the consumer tests)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.broker.server import BrokerServer

from .conftest import READ_TOKEN, TOKEN
from .test_broker import good_pact, harness_verify, publish, topology
from .test_broker_publish import HARNESS, consumer_tests, environment

CI = {"CI": "true"}  # CI with a provider version: results are published


def test_a_read_only_token_is_refused_before_anything_starts(tmp_path: Path, broker: BrokerServer) -> None:
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file = topology(tmp_path, "b25b-read-only")
    asked = len(broker.broker.requests)
    done = harness_verify(file, "--provider-version", "4.0.0",
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": READ_TOKEN, **CI})
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 2, said
    [pact_url] = [path for method, path in broker.broker.requests[asked:] if method == "POST" and
                  path.endswith("/verification-results")]
    assert (f"the Pact Broker at {broker.url} does not let these credentials (used: PACT_BROKER_TOKEN) publish "
            f"verification results, so nothing was started: it answered 403 to an empty result POSTed to "
            f"{broker.url}{pact_url}, which it would have rejected unkept") in said, said
    assert ("PACT_BROKER_TOKEN may read but not write: publishing pacts or verification results and recording "
            "deployments need a read-write token (in PactFlow, not the read-only one); give the job one, or do not "
            "publish from it (verification results are published only with --publish-verification-results, or in "
            "CI with --provider-version)") in said, said
    assert "verified" not in said and "Traceback" not in said and READ_TOKEN not in said
    assert broker.broker.verifications == []
    assert not (tmp_path / "out").exists()  # no matrix: the run ended before any verdict

    laptop = harness_verify(file, env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": READ_TOKEN})
    assert laptop.returncode == 0, laptop.stdout + laptop.stderr  # nothing to publish: reading is enough
    assert "verified web-frontend->shop: 2 interaction(s)" in laptop.stderr


def test_a_token_that_may_write_is_asked_and_publishes(tmp_path: Path, broker: BrokerServer) -> None:
    """The empty result the check sends is rejected (400) and kept nowhere; the run publishes its real one."""
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    done = harness_verify(topology(tmp_path, "b25b-write"), "--provider-version", "4.0.0",
                          env={"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": TOKEN, **CI})
    assert done.returncode == 0, done.stdout + done.stderr
    posts = [path for method, path in broker.broker.requests if method == "POST" and
             path.endswith("/verification-results")]
    assert len(posts) == 2 and posts[0] == posts[1]  # the check, then the result
    [kept] = broker.broker.verifications
    assert kept.provider_version == "4.0.0" and kept.success is True


def test_pytest_pact_verify_refuses_before_anything_starts(tmp_path: Path, broker: BrokerServer,
                                                          pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    publish(broker, tmp_path, good_pact(), "1.0.0", "main")
    file = topology(tmp_path, "b25b-pytest")
    for name, value in {"PACT_BROKER_BASE_URL": broker.url, "PACT_BROKER_TOKEN": READ_TOKEN, "CI": "true",
                        "PYTEST_TOPOLOGY_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(name, value)
    run = pytester.runpytest_subprocess("--topology", str(file), "--pact-verify", "--provider-version", "4.0.0",
                                        "-p", "no:cacheprovider")
    said = " ".join((run.stdout.str() + run.stderr.str()).split())
    assert run.ret == pytest.ExitCode.USAGE_ERROR, said
    assert (f"the Pact Broker at {broker.url} does not let these credentials (used: PACT_BROKER_TOKEN) publish "
            "verification results, so nothing was started") in said, said
    assert READ_TOKEN not in said and "Traceback" not in said
    assert broker.broker.verifications == []


# ---- the consumer side: pytest --pact-publish (and in CI with a consumer version) asks before any test runs

def test_pytest_pact_publish_with_a_read_only_token_is_refused_before_any_test(tmp_path: Path,
                                                                               broker: BrokerServer) -> None:
    refused = consumer_tests(tmp_path, broker, "--pact-publish", "--pact-consumer-version", "1.0.0",
                             PACT_BROKER_TOKEN=READ_TOKEN)
    said = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode == 4, said  # a usage error
    assert (f"the Pact Broker at {broker.url} does not let these credentials (used: PACT_BROKER_TOKEN) publish pacts, "
            f"so no test was run: it answered 403 to an empty publication POSTed to {broker.url}/contracts/publish, "
            "which it would have rejected unkept") in said, said
    assert ("PACT_BROKER_TOKEN may read but not write: publishing pacts or verification results and recording "
            "deployments need a read-write token (in PactFlow, not the read-only one); give the job one, or do not "
            "publish from it pacts are published only when asked (--pact-publish), or in CI (CI=true) with "
            "--pact-consumer-version") in said, said
    assert "passed" not in said and not (tmp_path / "pacts").exists()  # no consumer test ran, no pact written
    assert READ_TOKEN not in said and "Traceback" not in said
    assert broker.broker.published == [] and broker.broker.pacts == {}

    xdist = consumer_tests(tmp_path, broker, "-n", "2", "--pact-publish", "--pact-consumer-version", "1.0.0",
                           PACT_BROKER_TOKEN=READ_TOKEN)  # asked once, by the controller, before any worker starts
    assert xdist.returncode == 4 and "no test was run" in xdist.stderr, xdist.stdout + xdist.stderr
    assert "INTERNALERROR" not in xdist.stdout + xdist.stderr

    laptop = consumer_tests(tmp_path, broker, PACT_BROKER_TOKEN=READ_TOKEN)  # nothing to publish: nothing asked
    assert laptop.returncode == 0 and "3 passed" in laptop.stdout, laptop.stdout + laptop.stderr


def test_in_ci_a_read_only_user_is_refused_before_any_test(tmp_path: Path) -> None:
    """The broker's basic-auth middleware answers 401 to a change by the read-only user (its index it reads)."""
    with BrokerServer(user=("ci", "write-pass"), read_user=("dev", "read-pass")) as server:
        refused = consumer_tests(tmp_path, server, "--pact-consumer-version", "1.0.0", CI="true",
                                 PACT_BROKER_TOKEN="", PACT_BROKER_USERNAME="dev", PACT_BROKER_PASSWORD="read-pass")
        said = " ".join((refused.stdout + refused.stderr).split())
        assert refused.returncode == 4, said
        assert (f"does not let these credentials (used: PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD) publish pacts, so "
                f"no test was run: it answered 401 to an empty publication POSTed to {server.url}/contracts/publish"
                ) in said, said
        assert ("PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD may read but not write: publishing pacts or verification "
                "results and recording deployments need a user that may write") in said, said
        assert "read-pass" not in said and server.broker.published == []

        # harness publish publishes at once (the first request tells): the same words for the 401
        (tmp_path / "pacts").mkdir(exist_ok=True)
        (tmp_path / "pacts" / "web-frontend-shop.json").write_text(json.dumps(good_pact()))
        published = subprocess.run([HARNESS, "publish", "--pacts", str(tmp_path / "pacts"), "--pact-broker-url",
                                    server.url, "--consumer-version", "1.0.0"], capture_output=True, text=True,
                                   env=environment(PACT_BROKER_USERNAME="dev", PACT_BROKER_PASSWORD="read-pass"))
        said = " ".join(published.stderr.split())
        assert published.returncode == 2, said
        assert (f"the Pact Broker at {server.url} does not allow this with the credentials (401 on POST "
                f"{server.url}/contracts/publish") in said, said
        assert "need a user that may write" in said and "read-pass" not in said


def test_a_token_that_may_write_is_asked_and_the_session_publishes(tmp_path: Path, broker: BrokerServer) -> None:
    """The empty publication the check sends is rejected (400) and kept nowhere: the broker holds the session's."""
    done = consumer_tests(tmp_path, broker, "--pact-publish", "--pact-consumer-version", "2.0.0")
    assert done.returncode == 0, done.stdout + done.stderr
    posts = [path for method, path in broker.broker.requests if method == "POST" and path == "/contracts/publish"]
    assert len(posts) == 4  # the check, then one per pact
    assert len(broker.broker.published) == 3 and {v.number for v in broker.broker.versions.values()} == {"2.0.0"}


def test_a_broker_that_validates_first_cannot_be_asked_and_the_publication_tells(tmp_path: Path,
                                                                                 broker: BrokerServer) -> None:
    """Where the body is validated before the credentials (400 to both), the tests run and the publication at the
    end is refused: an error line, exit 1, nothing published."""
    broker.validates_first = True
    done = consumer_tests(tmp_path, broker, "--pact-publish", "--pact-consumer-version", "3.0.0",
                          PACT_BROKER_TOKEN=READ_TOKEN)
    said = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 1 and "3 passed" in said, said
    assert (f"error: pacts not published to the Pact Broker: the Pact Broker at {broker.url} does not allow this "
            "with the credentials (403 on POST") in said, said
    assert broker.broker.published == [] and READ_TOKEN not in said
