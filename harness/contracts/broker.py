"""Pacts from a Pact Broker, through its HAL API as the Pact clients use it: the pacts it selects for each provider
service (`pb:provider-pacts-for-verification`, with consumer version selectors, pending and WIP), fetched to files so
they are verified as the folder's are, and each verification result published to the pact's
`pb:publish-verification-results` (with the provider version and branch), only when asked or from CI.

Configuration as Pact users know it: PACT_BROKER_BASE_URL, PACT_BROKER_TOKEN, PACT_BROKER_USERNAME and
PACT_BROKER_PASSWORD; the options and `contracts.broker` of the topology file win over the URL variable. Secrets are
read from the environment only and never shown (not in a repr, a message or a report).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from harness.contracts.results import PactResult
from harness.errors import BrokerRefused, BrokerUnavailable, OptionError
from harness.model.broker import BrokerSpec
from harness.model.topology import TopologySpec

TIMEOUT = 30.0  # seconds per request


@dataclass(frozen=True)
class BrokerConfig:
    """A broker and what to take from it. `url` carries no credentials (those in the URL move to username and
    password); `token` and `password` are never in the repr."""

    url: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    selectors: tuple[dict[str, Any], ...] = ()
    include_pending: bool = False
    wip_since: str | None = None
    provider_branch: str | None = None
    provider_version: str | None = None
    publish: bool = False
    publish_reason: str = ""  # why results are published, or why not
    url_from: str = "--pact-broker-url, contracts.broker.url or PACT_BROKER_BASE_URL"  # where `url` was given
    version_given: bool = False  # the provider version was given (an option), not taken from git
    credentials_from: str = ""  # where the credentials were read: "the URL", "PACT_BROKER_TOKEN", ...; "": none
    checkout: Path | None = None  # the top folder of the git checkout the topology is in, when it is clean
    checkout_commit: str | None = None  # that clean checkout's commit (None: no checkout, or uncommitted changes)
    dirty_checkout: bool = False  # the topology is in a git checkout with uncommitted changes

    @property
    def authorization(self) -> str | None:
        if self.token:
            return f"Bearer {self.token}"
        if self.username is not None:
            return "Basic " + base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
        return None

    def describe_selectors(self) -> str:
        return ", ".join(json.dumps(s, separators=(",", ":")) for s in self.selectors) or "the broker's default"


def broker_config(spec: TopologySpec, options: Mapping[str, Any], env: Mapping[str, str] = os.environ) \
        -> BrokerConfig | None:
    """The broker of a run, or None when none is configured (no --pact-broker-url, no `contracts.broker.url`, no
    PACT_BROKER_BASE_URL). `options`: the resolved options by name.

    Raises:
        OptionError: a URL that is not http(s), a token and a username both given, publishing without a provider
            version (none given, no git checkout).
    """
    given: BrokerSpec = spec.contracts.broker or BrokerSpec()
    access = broker_access(options, given, env)
    if access is None:
        return None
    branch = options.get("provider_branch") or given.provider_branch or checkout_branch(spec.base_dir, env)
    version = options.get("provider_version")
    asked = bool(options.get("publish_verification_results"))
    publish = asked or (env.get("CI") == "true" and bool(version))
    reason = ("--publish-verification-results" if asked else "CI=true with --provider-version" if publish else
              "in CI (CI=true) but no --provider-version given: give it to publish them" if env.get("CI") == "true"
              else "not asked (--publish-verification-results) and not in CI (CI=true with --provider-version)")
    commit = git_commit(spec.base_dir)
    clean = commit is not None and checkout_is_clean(spec.base_dir)
    if publish and not version and commit is not None and not clean:
        raise OptionError(f"publishing verification results from a git checkout with uncommitted changes: its commit "
                          f"{commit} does not name the code verified here (and a clean checkout of it would take "
                          "this result as its own); commit or stash the changes, or give --provider-version")
    version = version or (commit if publish else None)
    if publish and not version:
        raise OptionError("publishing verification results needs the providers' version: give --provider-version "
                          "(the git checkout's commit is taken when there is one)")
    top = _git(spec.base_dir, "rev-parse", "--show-toplevel") if clean else None
    return dataclasses.replace(access, selectors=tuple(options.get("pact_selector") or given.selectors),
                               include_pending=bool(options.get("pact_include_pending")) or given.pending,
                               wip_since=options.get("pact_wip_since") or given.wip_since, provider_branch=branch,
                               provider_version=version, publish=publish, publish_reason=reason,
                               version_given=bool(options.get("provider_version")),
                               checkout=Path(top) if top else None, checkout_commit=commit if top else None,
                               dirty_checkout=commit is not None and not clean)


def trusted_version(config: BrokerConfig, spec: TopologySpec, service: str) -> tuple[str, str] | None:
    """The version of provider `service` whose results at the broker count as this run's own, and why it is
    trusted: `--provider-version` (the user vouches for it), else the commit of a clean git checkout the topology
    is in, when the service is built there (its build context and every host folder mounted into it inside the
    checkout: the commit names its code). None: no version names what runs here (uncommitted changes, an image not
    built from the checkout)."""
    if config.version_given and config.provider_version:
        return config.provider_version, "--provider-version"
    if config.checkout is None or config.checkout_commit is None or service not in spec.services:
        return None
    provider = spec.services[service]
    if provider.build is None:
        return None
    inside = [provider.build.context, *(m.source for m in provider.mounts)]
    top = config.checkout.resolve()
    if all((spec.base_dir / path).resolve().is_relative_to(top) for path in inside):
        return config.checkout_commit, "the clean git checkout's commit"
    return None


def broker_access(options: Mapping[str, Any], given: BrokerSpec | None = None,
                  env: Mapping[str, str] = os.environ) -> BrokerConfig | None:
    """The broker's URL and credentials only (--pact-broker-url, else `contracts.broker.url` of `given`, else
    PACT_BROKER_BASE_URL; PACT_BROKER_TOKEN or PACT_BROKER_USERNAME/PASSWORD); None when no URL is configured.

    Raises:
        OptionError: a URL that is not http(s), a token and a username both given.
    """
    given = given or BrokerSpec()
    url = options.get("pact_broker_url") or given.url or env.get("PACT_BROKER_BASE_URL")
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        shown = url.rsplit("@", 1)[-1]
        raise OptionError(f"the Pact Broker URL {shown!r} is not an http(s) URL (from "
                          f"{_where_url(options, given)}); write it as https://broker.example.com")
    username, password = parts.username, parts.password
    bare = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""), parts.path.rstrip("/"),
                       "", ""))
    where = _where_url(options, given)
    if username:  # https://user:pass@host: the URL's, never shown (the URL is kept without them)
        credentials = f"the user and password written in the broker URL (from {where})"
    else:
        username = env.get("PACT_BROKER_USERNAME") or None
        password = env.get("PACT_BROKER_PASSWORD") or None
        credentials = "PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD" if username else ""
    token = env.get("PACT_BROKER_TOKEN") or None
    if token and username:
        raise OptionError(f"PACT_BROKER_TOKEN and {credentials} are both set: the broker takes one of them; unset "
                          "the other")
    return BrokerConfig(bare, token, username, password, url_from=where,
                        credentials_from="PACT_BROKER_TOKEN" if token else credentials)


# what `pact broker publish --auto-detect-version-properties` reads for the branch, in its order, before git (the
# pact CLI measured: GITHUB_HEAD_REF when not empty, GITHUB_REF without refs/heads/, ...; GITHUB_REF_NAME is not read)
BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF", "CIRCLE_BRANCH", "TRAVIS_BRANCH", "GIT_BRANCH",
                    "APPVEYOR_REPO_BRANCH", "CI_COMMIT_REF_NAME", "BUILD_SOURCEBRANCHNAME", "CIRRUS_BRANCH")


def checkout_branch(folder: Path, env: Mapping[str, str] = os.environ) -> str | None:
    """The branch a CI job or the git checkout `folder` is in is on, as the `pact` CLI detects it: the first CI
    variable of BRANCH_VARIABLES that is set and not empty, else the checkout's branch; None: none (a detached HEAD,
    as CI checks out, with no such variable; or no checkout)."""
    for name in BRANCH_VARIABLES:
        if env.get(name):
            return env[name].removeprefix("refs/heads/") if name == "GITHUB_REF" else env[name]
    return git_branch(folder)


def no_branch_note(what: str, flag: str) -> str:
    """What to say when `what` is published without a branch (`flag`: the option that gives one)."""
    return (f"{what} without a branch: none is known (a detached HEAD, as CI checkouts are, and none of the CI "
            f"variables {', '.join(BRANCH_VARIABLES)} is set); give {flag} BRANCH (the broker's mainBranch and "
            "matchingBranch selectors need the branch)")


def git_branch(folder: Path) -> str | None:
    """The branch of the git checkout `folder` is in; None outside one or on a detached HEAD."""
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD")
    return branch if branch != "HEAD" else None


def git_commit(folder: Path) -> str | None:
    """`git rev-parse HEAD` of the checkout `folder` is in; None outside one."""
    return _git(folder, "rev-parse", "HEAD")


def checkout_is_clean(folder: Path) -> bool:
    """Whether the git checkout `folder` is in has no uncommitted change (`git status --porcelain`: a modified,
    staged, deleted or untracked file; ignored files do not count); False outside one."""
    try:
        done = subprocess.run(["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and not done.stdout.strip()


def _where_url(options: Mapping[str, Any], given: BrokerSpec) -> str:
    if options.get("pact_broker_url"):
        return "--pact-broker-url"
    return "contracts.broker.url" if given.url else "PACT_BROKER_BASE_URL"


def _git(folder: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


@dataclass(frozen=True)
class BrokerPact:
    """A pact the broker selected for a provider: where it is (`url`), why (`description`, the broker's short
    description of the selectors), whether it is pending or work in progress, the consumer version it belongs to,
    the broker's notices, and the file it was fetched to."""

    url: str
    description: str
    pending: bool
    wip: bool
    consumer_version: str | None
    publish_url: str | None
    notices: tuple[str, ...]
    path: Path

    @property
    def source(self) -> str:
        """`broker URL (consumer version V; latest from main branch; pending)`: where a verdict's pact came from."""
        parts = [f"consumer version {self.consumer_version}" if self.consumer_version else "",
                 self.description, "work in progress" if self.wip and "work in progress" not in self.description
                 else "", "pending" if self.pending else ""]
        return f"broker {self.url} ({'; '.join(p for p in parts if p)})"


class BrokerClient:
    """The HAL API of one broker. Every method raises BrokerUnavailable (unreachable, an error answer) or
    BrokerRefused (401, 403), with the URL and never a credential."""

    def __init__(self, config: BrokerConfig) -> None:
        self.config = config
        self._index: dict[str, Any] | None = None

    def request(self, method: str, url: str, body: Any = None, missing_ok: bool = False) -> Any:
        headers = {"Accept": "application/hal+json, application/json"}
        if self.config.authorization:
            headers["Authorization"] = self.config.authorization
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method),
                                        timeout=TIMEOUT) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as error:
            if error.code == 404 and missing_ok:
                return None
            detail = _detail(error.read())
            if error.code in (401, 403):
                how = self.config.credentials_from or (
                    "PACT_BROKER_TOKEN" if self.config.token else "PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD"
                    if self.config.username else "no credentials (set PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and "
                                                 "PACT_BROKER_PASSWORD)")
                what = "refused the credentials" if error.code == 401 else "does not allow this with the credentials"
                raise BrokerRefused(f"the Pact Broker at {self.config.url} {what} ({error.code} on {method} {url}"
                                    f"{': ' + detail if detail else ''}); used: {how}",
                                    hint=_refused_hint(error.code, method, how)) from None
            raise BrokerUnavailable(f"the Pact Broker at {self.config.url} answered {error.code} to {method} {url}"
                                    f"{': ' + detail if detail else ''}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise BrokerUnavailable(f"the Pact Broker at {self.config.url} cannot be reached ({reason})",
                                    hint=f"check the broker URL (from {self.config.url_from}) and that the "
                                         "broker is up") from None
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            raise BrokerUnavailable(f"the Pact Broker at {self.config.url} answered {method} {url} with something "
                                    "other than JSON: is this URL a Pact Broker?") from None

    def link(self, relation: str, **values: str) -> str:
        """A relation of the broker's index, its template filled in."""
        if self._index is None:
            self._index = self.request("GET", f"{self.config.url}/", missing_ok=True)
            if self._index is None:
                raise BrokerUnavailable(f"the Pact Broker at {self.config.url} has no index (404 on GET "
                                        f"{self.config.url}/): is this URL a Pact Broker's base URL?")
        href = ((self._index.get("_links") or {}).get(relation) or {}).get("href")
        if not href:
            raise BrokerUnavailable(f"the Pact Broker at {self.config.url} has no {relation!r} link in its index: "
                                    "is this URL a Pact Broker (of version 2.80 or later)?")
        for name, value in values.items():
            href = href.replace("{" + name + "}", quote(value, safe=""))
        return str(href)

    def pacts_for(self, provider: str) -> list[dict[str, Any]]:
        """The broker's `pacts for verification` of `provider` (a pacticipant name): [] when it does not know it."""
        body: dict[str, Any] = {"consumerVersionSelectors": list(self.config.selectors),
                                "includePendingStatus": self.config.include_pending}
        if self.config.wip_since:
            body["includeWipPactsSince"] = self.config.wip_since
        if self.config.provider_branch:
            body["providerVersionBranch"] = self.config.provider_branch
        answer = self.request("POST", self.link("pb:provider-pacts-for-verification", provider=provider), body,
                              missing_ok=True)
        return list(((answer or {}).get("_embedded") or {}).get("pacts") or [])

    def fetch(self, provider: str, folder: Path) -> list[BrokerPact]:
        """The pacts the broker selects for `provider`, each fetched to a file in `folder`."""
        found = []
        for entry in self.pacts_for(provider):
            url = ((entry.get("_links") or {}).get("self") or {}).get("href") if isinstance(entry, dict) else None
            if not url:
                raise BrokerUnavailable(f"the Pact Broker at {self.config.url} listed a pact for {provider} without "
                                        f"its URL (`_links.self.href`): {json.dumps(entry)[:200]}")
            content = self.request("GET", url)
            if not isinstance(content, dict) or not isinstance(content.get("consumer"), dict):
                raise BrokerUnavailable(f"the Pact Broker at {self.config.url} answered GET {url} with something "
                                        "other than a pact")
            links = content.pop("_links", {}) or {}
            content.pop("createdAt", None)
            properties = entry.get("verificationProperties") or {}
            name = f"{content.get('consumer', {}).get('name', 'consumer')}-{provider}"
            path = folder / f"{name}-{hashlib.sha1(url.encode()).hexdigest()[:10]}.json"
            # the same name for the same pact in every process (pytest-xdist workers share the folder)
            partial = path.with_name(f".{path.name}.{os.getpid()}")
            partial.write_text(json.dumps(content, indent=2), encoding="utf-8")
            partial.replace(path)
            found.append(BrokerPact(
                url, str(entry.get("shortDescription") or ""), bool(properties.get("pending")),
                bool(properties.get("wip")), (links.get("pb:consumer-version") or {}).get("name"),
                (links.get("pb:publish-verification-results") or {}).get("href"),
                tuple(str(n.get("text", "")) for n in properties.get("notices") or []), path))
        return found

    def verified_at(self, pact: BrokerPact, consumer: str, provider: str, version: str) -> str | None:
        """When the broker's successful verification result of this pact's content (its pact version, the SHA in
        its URL) by provider version `version` was made; None when it has none (trusted_version says which version
        may be asked for). Asks the matrix between the two versions, as `pact broker can-i-deploy --pacticipant C
        --version V --pacticipant P --version W` does."""
        sha = _pact_version(pact.url)
        if pact.consumer_version is None or sha is None:
            return None
        query = urlencode([("q[][pacticipant]", consumer), ("q[][version]", pact.consumer_version),
                           ("q[][pacticipant]", provider), ("q[][version]", version), ("latestby", "cvpv")],
                          safe="[]")
        answer = self.request("GET", f"{self.config.url}/matrix?{query}", missing_ok=True) or {}
        for row in answer.get("matrix") or [] if isinstance(answer, dict) else []:
            result = row.get("verificationResult") if isinstance(row, dict) else None
            if not isinstance(result, dict) or result.get("success") is not True:
                continue
            same = ((row.get("consumer") or {}).get("name") == consumer
                    and (row.get("provider") or {}).get("name") == provider
                    and ((row.get("provider") or {}).get("version") or {}).get("number") == version
                    and _pact_version(((row.get("pact") or {}).get("_links") or {}).get("self", {}).get("href")) == sha)
            if same:
                return str(result.get("verifiedAt") or "")
        return None

    def publish(self, pact: BrokerPact, result: PactResult, provider: str) -> None:
        """Publish `result` of `pact` for the configured provider version (and branch) as the broker takes it."""
        version = self.config.provider_version
        assert version is not None, "publishing needs the provider version (broker_config checks it)"
        if pact.publish_url is None:
            raise BrokerUnavailable(f"the pact at {pact.url} has no 'pb:publish-verification-results' link: the "
                                    "broker does not take verification results for it")
        if self.config.provider_branch:
            self.request("PUT", self.link("pb:pacticipant-branch-version", pacticipant=provider,
                                          branch=self.config.provider_branch, version=version), {})
        tests = [{"interactionDescription": i.description, "success": i.passed,
                  **({"mismatches": [{"description": p} for p in i.problems]} if i.problems else {})}
                 for i in result.interactions]
        self.request("POST", pact.publish_url, {
            "success": result.verdict == "verified", "providerApplicationVersion": version,
            "verifiedBy": {"implementation": "pytest-topology"}, "testResults": tests})


def _refused_hint(code: int, method: str, how: str) -> str:
    """What to do about a 401 or 403 (`how`: the credentials used, by where they came from)."""
    if how.startswith("no credentials"):
        return ("the broker needs credentials: set PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and "
                "PACT_BROKER_PASSWORD (in CI, from the job's secrets)")
    if code == 401:
        return f"check {how}: it is not valid for this broker (a token of another broker, a mistyped password)"
    if method == "GET":
        return f"{how} may not read this: ask the broker's administrator for a token that may read pacts"
    return (f"{how} may read but not write: publishing pacts or verification results and recording deployments "
            "need a read-write token (in PactFlow, not the read-only one); give the job one, or do not publish "
            "from it (verification results are published only with --publish-verification-results, or in CI "
            "with --provider-version)")


def _pact_version(url: Any) -> str | None:
    """The pact version (the content's SHA) in a pact's URL `.../pact-version/SHA[/metadata/...]`; None: none."""
    if not isinstance(url, str) or "/pact-version/" not in url:
        return None
    return url.split("/pact-version/", 1)[1].split("/", 1)[0] or None


def _detail(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip()[:200]
    if isinstance(data, dict):
        return str(data.get("error") or data.get("errors") or data.get("message") or "")[:300]
    return ""


def pact_names(spec: TopologySpec, service: str) -> list[str]:
    """The names the broker may know a service by: `contracts.names` keys and `pact_name:` mapping to it, else its
    own name."""
    names = [name for name, target in spec.contracts.names.items() if target == service]
    own = spec.services[service].pact_name
    return list(dict.fromkeys(names + ([own] if own else []))) or [service]


@dataclass
class BrokerFetch:
    """What a broker gave a run: the pacts by file, and a note per provider service none of whose pacts matched."""

    pacts: dict[Path, BrokerPact] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def fetch_pacts(spec: TopologySpec, config: BrokerConfig, folder: Path, provider: str | None = None) -> BrokerFetch:
    """The pacts the broker selects for each service of `spec` (only `provider` when given), fetched into `folder`
    (made if missing), each under a name made from its URL; notes for what is not verified (a service none of whose
    pacts matched, providers the broker has that are not services).

    Raises:
        BrokerUnavailable, BrokerRefused: as BrokerClient.
    """
    client = BrokerClient(config)
    fetched = BrokerFetch()
    folder.mkdir(parents=True, exist_ok=True)
    empty = []
    for service in spec.services:
        if provider is not None and provider != service and provider not in pact_names(spec, service):
            continue
        pacts = [pact for name in pact_names(spec, service) for pact in client.fetch(name, folder)]
        fetched.pacts.update((pact.path, pact) for pact in pacts)
        if not pacts:
            empty.append(service)
    if provider is None:
        fetched.notes += _elsewhere(client, spec)
    if empty:
        fetched.notes.append(f"no pacts for {', '.join(empty)} matched the selectors {config.describe_selectors()}"
                             f"{' (with pending)' if config.include_pending else ''} at the Pact Broker "
                             f"{config.url}")
    if config.wip_since and not config.include_pending:
        fetched.notes.append(f"work-in-progress pacts since {config.wip_since} were asked for (--pact-wip-since or "
                             "contracts.broker.wip_since), but pending pacts are not: the Pact Broker selects WIP "
                             "pacts only with pending, so none was selected; add --pact-include-pending (or "
                             "contracts.broker.pending: true)")
    if fetched.pacts and config.dirty_checkout and not config.version_given:
        fetched.notes.append("the Pact Broker's verification results do not count as cached: the git checkout has "
                             "uncommitted changes, so its commit does not name the providers verified here "
                             "(commit them, or give --provider-version for a version you vouch for)")
    return fetched


def _elsewhere(client: BrokerClient, spec: TopologySpec) -> list[str]:
    """A note naming the providers the broker has pacts for that are not services of the topology (not verified
    here, said rather than left out silently); none when the broker does not list its latest pacts."""
    try:
        latest = client.request("GET", client.link("pb:latest-pact-versions"), missing_ok=True) or {}
    except BrokerUnavailable:  # an older broker without the list: nothing to say
        return []
    ours = {name for service in spec.services for name in pact_names(spec, service)}
    others: dict[str, set[str]] = {}
    for pact in latest.get("pacts") or []:
        embedded = pact.get("_embedded") or {}
        provider = (embedded.get("provider") or {}).get("name")
        if provider and provider not in ours:
            others.setdefault(provider, set()).add(str((embedded.get("consumer") or {}).get("name")))
    if not others:
        return []
    listed = "; ".join(f"{provider} (from {', '.join(sorted(consumers))})" for provider, consumers in
                       sorted(others.items()))
    return [f"not verified here: the Pact Broker {client.config.url} has pacts for providers that are not services "
            f"of topology '{spec.name}': {listed}"]
