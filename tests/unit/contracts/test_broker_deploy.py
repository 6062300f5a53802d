"""The pure parts of the broker commands: reading the broker's matrix answer into edges and a verdict, the edge
matrix as printed, the pact version in a pact's URL, when a session publishes, and `--version SERVICE=VERSION`."""

from __future__ import annotations

import pytest

from harness.contracts.broker import _pact_version
from harness.contracts.deploy import DeployAnswer, DeployCheck, _answer
from harness.contracts.publish import publication_wanted
from harness.options.table import service_version
from harness.report.broker import deploy_matrix

ROW_FAILED = {"consumer": {"name": "billing", "version": {"number": "7.1.0"}},
              "provider": {"name": "shop", "version": {"number": "3.0.0"}},
              "pact": {"_links": {"self": {"href": "http://b/pacts/provider/shop/consumer/billing/pact-version/ab12"}}},
              "verificationResult": {"success": False}}
ROW_NONE = {"consumer": {"name": "ledger", "version": {"number": "2.0.0"}}, "provider": {"name": "shop", "version": None},
            "verificationResult": None}
FAILED = "The verification for the pact between version 7.1.0 of billing and version 3.0.0 of shop failed"
MISSING = "There is no verified pact between version 2.0.0 of ledger and a version of shop currently in production"


def test_the_matrix_answer_becomes_edges_with_the_brokers_reason_each() -> None:
    answer = _answer("billing", "billing", "7.1.0", {
        "summary": {"deployable": False, "reason": f"{FAILED}; {MISSING}"},
        "notices": [{"type": "error", "text": FAILED}, {"type": "error", "text": MISSING}],
        "matrix": [ROW_FAILED, ROW_NONE]})
    assert not answer.deployable and answer.reason == f"{FAILED}; {MISSING}"
    failed, missing = answer.edges
    assert (failed.provider_version, failed.result, failed.reason) == ("3.0.0", "failed", FAILED)
    assert (missing.provider_version, missing.result, missing.reason) == (None, "not verified", MISSING)


@pytest.mark.parametrize("deployable", [None, False, "true", 1])
def test_only_the_brokers_true_is_a_yes(deployable: object) -> None:
    """`deployable: null` (unknown, results missing) is no yes; nor is anything but JSON true."""
    assert not _answer("web", "web", "1", {"summary": {"deployable": deployable}, "matrix": []}).deployable


def test_a_check_is_yes_only_when_every_service_asked_is_yes_and_one_was_asked() -> None:
    yes = DeployAnswer("web", "web", "1", True, "All required verification results are published and successful")
    excluded = DeployAnswer("cache", "cache", "1", False, "", excluded="the Pact Broker knows no pacticipant 'cache'")
    assert DeployCheck("production", [yes, excluded]).deployable
    assert not DeployCheck("production", [excluded]).deployable
    no = DeployAnswer("billing", "billing", "7.1.0", False, FAILED, _answer("billing", "billing", "7.1.0", {
        "summary": {"deployable": False}, "notices": [{"text": FAILED}], "matrix": [ROW_FAILED]}).edges)
    check = DeployCheck("production", [yes, no, excluded])
    assert not check.deployable
    assert deploy_matrix(check).splitlines() == [
        "CONSUMER  C.VERSION  PROVIDER  P.VERSION  RESULT  BROKER'S REASON",
        f"billing   7.1.0      shop      3.0.0      failed  {FAILED}",
        "",
        "yes web (web 1) to production: All required verification results are published and successful",
        f"NO  billing (billing 7.1.0) to production: {FAILED}",
        "excluded cache: the Pact Broker knows no pacticipant 'cache'",
        "can-i-deploy to production: NO for billing (1 of 2 yes)"]
    assert deploy_matrix(DeployCheck("staging", [excluded])).splitlines()[-1] == (
        "can-i-deploy to staging: NO, the broker was asked about no service of the topology")


@pytest.mark.parametrize(("url", "sha"), [
    ("http://b/pacts/provider/shop/consumer/web/pact-version/592cfab6/metadata/MS4w", "592cfab6"),
    ("http://b/pacts/provider/shop/consumer/web/pact-version/592cfab6", "592cfab6"),
    ("http://b/pacts/provider/shop/consumer/web/version/1.0.0", None), (None, None)])
def test_the_pact_version_is_read_from_the_pacts_url(url: object, sha: str | None) -> None:
    assert _pact_version(url) == sha


@pytest.mark.parametrize(("asked", "version", "env", "wanted"), [
    (True, False, {}, True), (False, False, {}, False), (False, True, {}, False),
    (False, True, {"CI": "true"}, True), (False, False, {"CI": "true"}, False)])
def test_a_session_publishes_when_asked_or_in_ci_with_a_version(asked: bool, version: bool, env: dict[str, str],
                                                               wanted: bool) -> None:
    assert publication_wanted(asked, version, env) is wanted


def test_a_service_version_is_service_equals_version() -> None:
    assert service_version(" gateway = 1.4.2 ") == ("gateway", "1.4.2")
    assert service_version("web=sha=1") == ("web", "sha=1")
    for bad in ("web", "=1", "web="):
        with pytest.raises(ValueError, match="SERVICE=VERSION, e.g. gateway=1.4.2, not"):
            service_version(bad)


def test_a_yes_that_rests_on_results_no_commit_names_is_said_and_not_counted() -> None:
    """The broker's word stays (yes), the line after it names the provider, why and what to do; the check is NO."""
    from harness.contracts.checkout import Unclean

    verified = _answer("shop", "shop", "c0ffee", {"summary": {"deployable": True, "reason": "All fine"}, "matrix": [
        {"consumer": {"name": "web", "version": {"number": "1.0.0"}},
         "provider": {"name": "shop", "version": {"number": "c0ffee"}}, "verificationResult": {"success": True}}]})
    why = Unclean("the image of shop builds FROM org-base, an image built on this machine", "build FROM an image "
                  "pulled from a registry", tree=False)
    doubted = DeployAnswer(**{**vars(verified), "unnamed": ("shop",)})
    check = DeployCheck("production", [doubted], unnamed={"shop": why}, versions={"shop": "c0ffee"})
    assert not check.deployable and check.doubted == [doubted]
    assert deploy_matrix(check).splitlines()[-3:] == [
        "yes shop (shop c0ffee) to production: All fine",
        "not counted: the broker's verification results of shop under version c0ffee (the git checkout's commit), "
        "which names no code of it: the image of shop builds FROM org-base, an image built on this machine; the yes "
        "for shop rests on them. Build FROM an image pulled from a registry, or give --version shop=c0ffee for a "
        "version you vouch for",
        "can-i-deploy to production: NO, the broker says yes for all 1 service(s); the broker's yes for shop is not "
        "counted"]
    assert DeployCheck("production", [verified]).deployable  # the same answer, the results counted
