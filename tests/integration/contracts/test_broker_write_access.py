"""Publishing verification results with credentials that may only read: refused before anything starts (the broker
is asked with an empty result, which it rejects unkept once the credentials may write). Where the broker validates
the body before it checks the credentials, the first publication tells (that pact's verdict an error):
test_broker.py's test_folder_and_broker_pacts_together_and_a_refused_publication_is_an_error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.broker.server import BrokerServer

from .conftest import READ_TOKEN, TOKEN
from .test_broker import good_pact, harness_verify, publish, topology

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
