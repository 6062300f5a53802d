"""The broker's configuration as Pact users know it: the PACT_BROKER_* variables, the options and `contracts.broker`,
consumer version selectors as the broker's, publishing only when asked or from CI, secrets never shown."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

from harness.contracts.broker import BrokerClient
from harness.contracts.broker_config import BrokerConfig, broker_config
from harness.errors import BrokerUnavailable, OptionError, TopologyFileError
from harness.model.broker import parse_date, parse_selector
from harness.model.topology import TopologySpec


@pytest.fixture(autouse=True)
def outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A topology made here resolves against the current folder: one that is no git checkout."""
    monkeypatch.chdir(tmp_path)


def spec(tmp_path: Path, broker: dict[str, Any] | None = None) -> TopologySpec:
    contracts = {"broker": broker} if broker is not None else {}
    return TopologySpec(name="shop", services={"shop": {"image": "python:3.11-slim"}}, contracts=contracts)


def test_selectors_are_written_as_the_broker_takes_them() -> None:
    assert parse_selector("mainBranch") == {"mainBranch": True}
    assert parse_selector("deployed,environment=production") == {"deployed": True, "environment": "production"}
    assert parse_selector("branch=feat-x, consumer=web") == {"branch": "feat-x", "consumer": "web"}
    assert parse_selector('{"tag": "prod", "latest": true}') == {"tag": "prod", "latest": True}
    assert parse_selector("tag=prod,latest=false") == {"tag": "prod", "latest": False}


@pytest.mark.parametrize(("text", "message"), [
    ("mainbranch", "unknown selector key 'mainbranch' (did you mean 'mainBranch'?); the broker's keys: mainBranch,"),
    ("deployed=yes", "selector key 'deployed' takes only true, not \"yes\""),
    ("branch", "selector key 'branch' takes a name, not true"),
    ('{"branch": ', "a selector in JSON, but Expecting value at character 10: {\"branch\":"),
    ("latest=maybe", "selector key 'latest' takes true or false, not \"maybe\""),
])
def test_a_bad_selector_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_selector(text)
    assert message in str(error.value)


def test_wip_since_is_a_date() -> None:
    assert parse_date("2024-01-31") == "2024-01-31"
    with pytest.raises(ValueError, match="a date as YYYY-MM-DD, not '31/01/2024'"):
        parse_date("31/01/2024")


def test_the_topology_file_keys_are_checked(tmp_path: Path) -> None:
    broker = spec(tmp_path, {"url": "https://broker.example", "selectors": [{"mainBranch": True}],
                             "pending": True, "wip_since": "2024-02-01", "provider_branch": "main"})
    assert broker.contracts.broker is not None and broker.contracts.broker.selectors == [{"mainBranch": True}]
    with pytest.raises(TopologyFileError) as error:
        spec(tmp_path, {"selectors": [{"mainBrunch": True}]})
    assert "unknown selector key 'mainBrunch' (did you mean 'mainBranch'?)" in str(error.value)
    with pytest.raises(TopologyFileError) as error:
        spec(tmp_path, {"url": "broker.example:9292"})
    assert "the broker's URL starts with http:// or https://" in str(error.value)


def test_no_broker_unless_one_is_configured(tmp_path: Path) -> None:
    assert broker_config(spec(tmp_path), {}, {}) is None


def test_options_win_over_the_topology_file_which_wins_over_the_variable(tmp_path: Path) -> None:
    env = {"PACT_BROKER_BASE_URL": "https://from-env.example", "PACT_BROKER_TOKEN": "tok"}
    topology = spec(tmp_path, {"url": "https://from-file.example/", "selectors": [{"deployed": True}],
                               "provider_branch": "release"})
    config = broker_config(topology, {}, env)
    assert config is not None
    assert (config.url, config.selectors, config.provider_branch) == ("https://from-file.example",
                                                                      ({"deployed": True},), "release")
    assert config.url_from == "contracts.broker.url"  # said when the broker cannot be reached
    config = broker_config(topology, {"pact_broker_url": "https://from-option.example",
                                      "pact_selector": [{"mainBranch": True}], "provider_branch": "main"}, env)
    assert config is not None
    assert (config.url, config.selectors, config.provider_branch) == ("https://from-option.example",
                                                                      ({"mainBranch": True},), "main")
    assert config.url_from == "--pact-broker-url"
    assert broker_config(spec(tmp_path), {}, env) == BrokerConfig(
        "https://from-env.example", token="tok", url_from="PACT_BROKER_BASE_URL", credentials_from="PACT_BROKER_TOKEN",
        publish_reason="not asked (--publish-verification-results) and not in CI (CI=true with --provider-version)")


def test_a_broker_that_cannot_be_reached_says_where_its_url_came_from(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = broker_config(spec(tmp_path), {}, {"PACT_BROKER_BASE_URL": closed})
        assert config is not None
        with pytest.raises(BrokerUnavailable) as error:
            BrokerClient(config).request("GET", closed + "/")
    assert str(error.value).startswith(f"the Pact Broker at {closed} cannot be reached (")
    assert error.value.hint == "check the broker URL (from PACT_BROKER_BASE_URL) and that the broker is up"


def test_the_provider_branch_and_version_default_to_the_git_checkout(tmp_path: Path) -> None:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True, text=True).stdout

    git("init", "-q", "-b", "feat-x")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "first")
    config = broker_config(spec(tmp_path), {"publish_verification_results": True},
                           {"PACT_BROKER_BASE_URL": "https://b.example"})
    assert config is not None
    assert (config.provider_branch, config.provider_version) == ("feat-x", git("rev-parse", "HEAD").strip())


def test_secrets_are_never_shown(tmp_path: Path) -> None:
    config = broker_config(spec(tmp_path), {"pact_broker_url": "https://ci:hunter22@broker.example:9292/"}, {})
    assert config is not None
    assert config.url == "https://broker.example:9292" and config.username == "ci"
    assert config.password == "hunter22" and "hunter22" not in repr(config)
    token = broker_config(spec(tmp_path), {}, {"PACT_BROKER_BASE_URL": "https://b.example",
                                                "PACT_BROKER_TOKEN": "t0ken"})
    assert token is not None and "t0ken" not in repr(token) and token.authorization == "Bearer t0ken"
    with pytest.raises(OptionError) as error:
        broker_config(spec(tmp_path), {"pact_broker_url": "ftp://ci:hunter22@broker.example"}, {})
    assert "'broker.example' is not an http(s) URL (from --pact-broker-url)" in str(error.value)
    assert "hunter22" not in str(error.value)


def test_a_token_and_a_user_are_not_both_taken(tmp_path: Path) -> None:
    with pytest.raises(OptionError) as error:
        broker_config(spec(tmp_path), {}, {"PACT_BROKER_BASE_URL": "https://b.example", "PACT_BROKER_TOKEN": "t",
                                            "PACT_BROKER_USERNAME": "u", "PACT_BROKER_PASSWORD": "p"})
    assert str(error.value) == ("PACT_BROKER_TOKEN and PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD are both set: the "
                                "broker takes one of them; unset the other")
    with pytest.raises(OptionError) as in_url:
        broker_config(spec(tmp_path), {"pact_broker_url": "https://ci:hunter22@b.example"},
                      {"PACT_BROKER_TOKEN": "t"})
    assert str(in_url.value) == ("PACT_BROKER_TOKEN and the user and password written in the broker URL (from "
                                 "--pact-broker-url) are both set: the broker takes one of them; unset the other")


def test_credentials_say_where_they_came_from_never_what_they_are(tmp_path: Path) -> None:
    """A user and password in the URL are the URL's (and win over PACT_BROKER_USERNAME/PASSWORD, as a URL's do for
    the `pact` CLI's --broker-base-url); the refusals name the source, never the value."""
    from harness.contracts.broker import _refused_hint

    in_url = broker_config(spec(tmp_path, {"url": "https://ci:hunter22@b.example"}), {},
                           {"PACT_BROKER_USERNAME": "env-user", "PACT_BROKER_PASSWORD": "env-pass"})
    assert in_url is not None and (in_url.username, in_url.password) == ("ci", "hunter22")
    assert in_url.credentials_from == "the user and password written in the broker URL (from contracts.broker.url)"
    from_env = broker_config(spec(tmp_path), {}, {"PACT_BROKER_BASE_URL": "https://b.example",
                                                  "PACT_BROKER_USERNAME": "u", "PACT_BROKER_PASSWORD": "p"})
    assert from_env is not None and from_env.credentials_from == "PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD"
    assert _refused_hint(401, "GET", in_url.credentials_from) == (  # no word of tokens for a user and password
        "check the user and password written in the broker URL (from contracts.broker.url): they are not valid for "
        "this broker (a mistyped user or password, those of another broker); correct them in the URL, or take them "
        "out of it and set PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD")
    assert _refused_hint(401, "GET", from_env.credentials_from) == (
        "check PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD: they are not valid for this broker (a mistyped user or "
        "password, those of another broker)")
    assert _refused_hint(401, "GET", "PACT_BROKER_TOKEN") == (
        "check PACT_BROKER_TOKEN: it is not valid for this broker (a token of another broker, a revoked one)")
    assert _refused_hint(403, "GET", in_url.credentials_from) == (
        "the user and password written in the broker URL (from contracts.broker.url) may not read this: ask the "
        "broker's administrator for a user that may read pacts")
    assert _refused_hint(403, "POST", from_env.credentials_from).startswith(
        "PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD may read but not write: publishing pacts or verification results "
        "and recording deployments need a user that may write; give the job one, or do not publish from it")
    assert _refused_hint(401, "GET", "no credentials (set PACT_BROKER_TOKEN, ...)") == (
        "the broker needs credentials: set PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD (in CI, "
        "from the job's secrets)")
    assert _refused_hint(403, "POST", "PACT_BROKER_TOKEN").startswith(
        "PACT_BROKER_TOKEN may read but not write: publishing pacts or verification results and recording "
        "deployments need a read-write token (in PactFlow, not the read-only one)")


def test_the_branch_is_the_ci_jobs_then_the_checkouts_as_the_pact_cli_detects_it(tmp_path: Path) -> None:
    """The `pact` CLI's --auto-detect-version-properties (measured: tests/integration/contracts/test_broker_trial.py
    runs it): the first CI variable set and not empty, GITHUB_REF without refs/heads/; GITHUB_REF_NAME is not
    read; then the git checkout's branch (none here: no checkout)."""
    from harness.contracts.broker_config import checkout_branch

    assert checkout_branch(tmp_path, {}) is None
    assert checkout_branch(tmp_path, {"GITHUB_HEAD_REF": "feat-pr", "GITHUB_REF": "refs/heads/main"}) == "feat-pr"
    assert checkout_branch(tmp_path, {"GITHUB_HEAD_REF": "", "GITHUB_REF": "refs/heads/main"}) == "main"
    assert checkout_branch(tmp_path, {"GITHUB_REF_NAME": "main"}) is None
    assert checkout_branch(tmp_path, {"CI_COMMIT_REF_NAME": "gl-branch", "GIT_BRANCH": "origin/jenkins"}) == \
        "origin/jenkins"
    config = broker_config(spec(tmp_path), {}, {"PACT_BROKER_BASE_URL": "https://b.example",
                                                "CI_COMMIT_REF_NAME": "gl-branch"})
    assert config is not None and config.provider_branch == "gl-branch"


def test_a_broker_pact_is_named_by_its_url_in_the_matrix() -> None:
    from harness.report.matrix import pact_name

    url = "http://b.example/pacts/provider/shop/consumer/web/pact-version/0123456789abcdef0123/metadata/MS4wLjA"
    assert pact_name(url) == "broker pact 0123456789ab"
    assert pact_name("http://b.example/pacts/provider/shop/consumer/web/latest") == \
        "http://b.example/pacts/provider/shop/consumer/web/latest"
    assert pact_name("/tmp/pacts/web-shop.json") == "web-shop.json"


def test_results_are_published_only_when_asked_or_from_ci_with_a_version(tmp_path: Path) -> None:
    env = {"PACT_BROKER_BASE_URL": "https://b.example"}

    def publish(options: dict[str, Any], extra: dict[str, str]) -> bool:
        config = broker_config(spec(tmp_path), options, {**env, **extra})
        assert config is not None
        return config.publish

    assert not publish({}, {})  # a laptop: never by default
    assert not publish({"provider_version": "1.2.3"}, {})
    assert not publish({}, {"CI": "true"})  # CI without a version given: not
    assert publish({"provider_version": "1.2.3"}, {"CI": "true"})
    assert publish({"publish_verification_results": True, "provider_version": "1.2.3"}, {})


def test_publishing_without_a_provider_version_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OptionError, match="publishing verification results needs the providers' version"):
        broker_config(spec(tmp_path), {"publish_verification_results": True},
                      {"PACT_BROKER_BASE_URL": "https://b.example"})


def test_a_topology_file_and_a_compose_file_say_where_the_broker_is(load: Any, load_error: Any) -> None:
    yaml = load("""
        services:
          shop: {image: x}
        contracts:
          broker:
            url: https://broker.example
            selectors: [{mainBranch: true}, {deployedOrReleased: true}]
            pending: true
            wip_since: 2024-02-01
    """)
    assert yaml.contracts.broker is not None
    assert yaml.contracts.broker.wip_since == "2024-02-01"  # YAML's date, as the broker takes it
    compose = load("""
        services:
          shop: {image: x}
        x-topology:
          contracts:
            broker: {url: "https://broker.example", selectors: [{branch: main}], provider_branch: main}
    """, "docker-compose.yml")
    assert compose.contracts.broker is not None
    assert compose.contracts.broker.selectors == [{"branch": "main"}]
    assert compose.contracts.broker.provider_branch == "main"
    message = load_error("""
        services:
          shop: {image: x}
        contracts:
          broker: {token: abc}
    """)
    assert message == ("topology.yaml:4: contracts.broker.token: unknown key 'token'; allowed: url, selectors, "
                       "pending, wip_since, provider_branch")  # a secret never goes in the file, nor in a message
