"""Pacts from a Pact Broker, through its HAL API as the Pact clients use it: the pacts it selects for each provider
service (`pb:provider-pacts-for-verification`, with consumer version selectors, pending and WIP), fetched to files so
they are verified as the folder's are, and each verification result published to the pact's
`pb:publish-verification-results` (with the provider version and branch), only when asked or from CI.

The configuration (the broker, credentials, provider version and branch) is harness.contracts.broker_config's.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from harness.contracts.broker_config import DIRTY_MARK, BrokerConfig
from harness.contracts.results import PactResult
from harness.errors import BrokerRefused, BrokerUnavailable
from harness.model.topology import TopologySpec

TIMEOUT = 30.0  # seconds per request


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

    def request(self, method: str, url: str, body: Any = None, missing_ok: bool = False,
                invalid_ok: bool = False) -> Any:
        """The broker's JSON answer to `method url` (with `body` as JSON); None for a 404 when `missing_ok`, and for
        a 400 or 422 (the body rejected) when `invalid_ok`."""
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
            if (error.code == 404 and missing_ok) or (error.code in (400, 422) and invalid_ok):
                return None
            detail = _detail(error.read())
            if error.code in (401, 403):
                how = self.credentials_used
                # a 401 to a change after the index was read with them: credentials that may only read (the broker's
                # basic-auth middleware asks a change for the read-write user)
                writes = error.code == 403 or (method != "GET" and self._index is not None)
                what = "does not allow this with the credentials" if writes else "refused the credentials"
                raise BrokerRefused(f"the Pact Broker at {self.config.url} {what} ({error.code} on {method} {url}"
                                    f"{': ' + detail if detail else ''}); used: {how}",
                                    hint=_refused_hint(403 if writes else 401, method, how, url),
                                    short=f"the Pact Broker at {self.config.url} {what} ({error.code}; used: "
                                          f"{how.split(' (')[0]})", status=error.code) from None
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

    @property
    def credentials_used(self) -> str:
        """Which credentials the requests carry, by where they came from (never their value)."""
        return self.config.credentials_from or (
            "PACT_BROKER_TOKEN" if self.config.token else "PACT_BROKER_USERNAME/PACT_BROKER_PASSWORD"
            if self.config.username else "no credentials (set PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and "
                                         "PACT_BROKER_PASSWORD)")

    def check_publishing(self, pact: BrokerPact) -> None:
        """Before anything starts: whether the broker lets these credentials publish `pact`'s verification result,
        asked with an empty one (`check_write`; no `success`, no provider version: 400, as pact_broker's
        VerificationContract requires both). A broker that validates the body before it checks the credentials
        answers 400 to both: then the first publication tells (its pact's verdict an error, as any refused one).

        Raises:
            BrokerRefused, BrokerUnavailable: as check_write.
        """
        if pact.publish_url is not None:  # else said when its result is to be published (publish)
            self.check_write(pact.publish_url, "verification results", "result", "nothing was started")

    def check_write(self, url: str, what: str, empty: str, stopped: str) -> None:
        """Whether the broker lets these credentials publish `what` ("pacts") to `url`, asked by POSTing an `empty`
        one ("publication") that a Pact Broker rejects (400) without keeping anything: the broker offers no "may I
        write" resource, and its index is the same for every credential. A credential that may only read gets 401
        or 403 before the body is read (the broker's basic-auth middleware decides by method and path; a read-only
        PactFlow token likewise). `stopped`: what the refusal stops ("no test was run").

        Raises:
            BrokerRefused: these credentials may not publish there (what to do: the hint).
            BrokerUnavailable: unreachable, another error, or the empty one taken (no Pact Broker as documented).
        """
        try:
            taken = self.request("POST", url, {}, invalid_ok=True)
        except BrokerRefused as error:
            how = self.credentials_used
            raise BrokerRefused(
                f"the Pact Broker at {self.config.url} does not let these credentials (used: {how.split(' (')[0]}) "
                f"publish {what}, so {stopped}: it answered {error.status} to an empty {empty} POSTed to {url}, "
                "which it would have rejected unkept", hint=_refused_hint(403, "POST", how, url), short=error.short,
                status=error.status) from None
        if taken is not None:
            raise BrokerUnavailable(f"the Pact Broker at {self.config.url} took an empty {empty} (POST {url}) where "
                                    f"a Pact Broker answers 400: is this URL a Pact Broker? {stopped.capitalize()}")

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
            path = folder / f"{name}-{_content_id(url, content)[:10]}.json"
            # named by its content: the same name in every process (pytest-xdist workers share the folder), and in
            # every run while the content is the same, whatever consumer version it was published for (the name
            # tells two pacts of one pair apart in item and JUnit names: --lf, -k and JUnit history keep them)
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


def _refused_hint(code: int, method: str, how: str, url: str = "") -> str:
    """What to do about a 401 or 403 (`how`: the credentials used, by where they came from: a token, a user and
    password from the variables, or written in the broker URL)."""
    if how.startswith("no credentials"):
        return ("the broker needs credentials: set PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and "
                "PACT_BROKER_PASSWORD (in CI, from the job's secrets)")
    token = how == "PACT_BROKER_TOKEN"
    if code == 401 and token:
        return f"check {how}: it is not valid for this broker (a token of another broker, a revoked one)"
    if code == 401:
        in_url = ("; correct them in the URL, or take them out of it and set PACT_BROKER_USERNAME and "
                  "PACT_BROKER_PASSWORD" if "in the broker URL" in how else "")
        return (f"check {how}: they are not valid for this broker (a mistyped user or password, those of another "
                f"broker){in_url}")
    if method == "GET":
        return (f"{how} may not read this: ask the broker's administrator for "
                + ("a token" if token else "a user") + " that may read pacts")
    write = "a read-write token (in PactFlow, not the read-only one)" if token else "a user that may write"
    results = url.endswith("/verification-results")
    return (f"{how} may read but not write: publishing pacts or verification results and recording deployments "
            f"need {write}; give the job one, or do not publish from it"
            + (" (verification results are published only with --publish-verification-results, or in CI with "
               "--provider-version)" if results else ""))


def _pact_version(url: Any) -> str | None:
    """The pact version (the content's SHA) in a pact's URL `.../pact-version/SHA[/metadata/...]`; None: none."""
    if not isinstance(url, str) or "/pact-version/" not in url:
        return None
    return url.split("/pact-version/", 1)[1].split("/", 1)[0] or None


def _content_id(url: str, content: dict[str, Any]) -> str:
    """What names a fetched pact's content: the broker's pact version (the content's SHA in its URL), else a SHA-1 of
    the content as fetched (a URL without one)."""
    return _pact_version(url) or hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()


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
    (made if missing), each as `CONSUMER-PROVIDER-CONTENT.json` (CONTENT: the start of its pact version); notes for
    what is not verified (a service none of whose pacts matched, providers the broker has that are not services).

    Raises:
        BrokerUnavailable, BrokerRefused: as BrokerClient.
    """
    client = BrokerClient(config)
    fetched = BrokerFetch()
    folder.mkdir(parents=True, exist_ok=True)
    providers = _providers(client)
    empty = []
    for service in spec.services:
        if provider is not None and provider != service and provider not in pact_names(spec, service):
            continue
        pacts = [pact for name in pact_names(spec, service) for pact in client.fetch(name, folder)]
        fetched.pacts.update((pact.path, pact) for pact in pacts)
        # a service the broker has no pact for (a database, a consumer only) is no provider: nothing to say of it
        if not pacts and (providers is None or providers.keys() & set(pact_names(spec, service))):
            empty.append(service)
    if provider is None and providers:
        fetched.notes += _elsewhere(client, spec, providers)
    if empty:
        fetched.notes.append(f"no pacts for {', '.join(empty)} matched the selectors {config.describe_selectors()}"
                             f"{' (with pending)' if config.include_pending else ''} at the Pact Broker "
                             f"{config.url}")
    if config.wip_since and not config.include_pending:
        fetched.notes.append(f"work-in-progress pacts since {config.wip_since} were asked for (--pact-wip-since or "
                             "contracts.broker.wip_since), but pending pacts are not: the Pact Broker selects WIP "
                             "pacts only with pending, so none was selected; add --pact-include-pending (or "
                             "contracts.broker.pending: true)")
    return fetched


def check_publishing(config: BrokerConfig, pacts: Mapping[str, BrokerPact]) -> None:
    """Before anything starts, when verification results are to be published: whether the broker lets the
    credentials publish them, asked once per provider service whose results would be (`pacts`: a pact of each, by
    service; BrokerClient.check_publishing), as a broker may allow one provider and not another.

    Raises:
        BrokerRefused, BrokerUnavailable: as BrokerClient.check_publishing.
    """
    if not config.publish:
        return
    client = BrokerClient(config)
    for service, pact in pacts.items():
        if config.held(service) is None:  # a result withheld is never published: no need to ask
            client.check_publishing(pact)


def dirty_notes(config: BrokerConfig, spec: TopologySpec, providers: Iterable[str]) -> list[str]:
    """The notes that the broker's results do not count as cached for the `providers` (services) whose files the
    checkout's commit does not name, one per reason (and what to do about it); the `image:`-only providers', which
    no commit names (broker_config.trusted_version). With --provider-version: the note that the checkout is not
    that version (`version_unlike`), else those of the providers that run what no version holds (BrokerConfig.held:
    a value from the shell, a base image built here); the others' the user vouches for."""
    if config.version_unlike:
        version = config.provider_version or ""
        counted = (f"a version ending in {DIRTY_MARK} never counts as cached" if version.endswith(DIRTY_MARK) else
                   f"the broker's results count for a clean checkout of {version}")
        return [f"the Pact Broker's verification results for provider version {version} (--provider-version) do not "
                f"count as cached: {config.version_unlike}, so the pacts are verified here ({counted})"]
    if not config.checked:
        return []
    names = sorted(name for name in set(providers) if config.held(name) is not None)
    by_reason: dict[str, list[str]] = {}
    for name in names:
        by_reason.setdefault(str(config.dirty[name]), []).append(name)
    notes = []
    for reason, touched in by_reason.items():
        why = config.dirty[touched[0]]
        runs = "it runs" if len(touched) == 1 else "they run"
        whose = (f"for provider version {config.provider_version} (--provider-version) do not count as cached for "
                 f"{', '.join(touched)}: no version names what {runs}" if config.version_given else
                 f"do not count as cached for {', '.join(touched)}: the git checkout's commit does not name what "
                 f"{runs}")
        notes.append(f"the Pact Broker's verification results {whose} ({reason}; {why.remedy})")
    if config.version_given:
        return notes
    images = sorted(name for name in set(providers) - set(names)
                    if name in spec.services and config.names(name) and spec.services[name].build is None)
    if images:
        notes.append(f"the Pact Broker's verification results do not count as cached for {', '.join(images)}: given "
                     "as an image only (image:), not built from the git checkout, so its commit does not name what "
                     "runs; give --provider-version for a version you vouch for")
    return notes


def _providers(client: BrokerClient) -> dict[str, set[str]] | None:
    """The providers the broker has pacts for, each with its consumers (its latest pacts, `pb:latest-pact-versions`);
    None when the broker does not list them (an older broker)."""
    try:
        latest = client.request("GET", client.link("pb:latest-pact-versions"), missing_ok=True)
    except BrokerUnavailable:  # an older broker without the list
        return None
    if not isinstance(latest, dict):
        return None
    providers: dict[str, set[str]] = {}
    for pact in latest.get("pacts") or []:
        embedded = (pact.get("_embedded") or {}) if isinstance(pact, dict) else {}
        provider = (embedded.get("provider") or {}).get("name")
        if provider:
            providers.setdefault(str(provider), set()).add(str((embedded.get("consumer") or {}).get("name")))
    return providers


def _elsewhere(client: BrokerClient, spec: TopologySpec, providers: dict[str, set[str]]) -> list[str]:
    """A note naming the providers the broker has pacts for that are not services of the topology (not verified
    here, said rather than left out silently)."""
    ours = {name for service in spec.services for name in pact_names(spec, service)}
    others = {provider: consumers for provider, consumers in providers.items() if provider not in ours}
    if not others:
        return []
    listed = "; ".join(f"{provider} (from {', '.join(sorted(consumers))})" for provider, consumers in
                       sorted(others.items()))
    return [f"not verified here: the Pact Broker {client.config.url} has pacts for providers that are not services "
            f"of topology '{spec.name}': {listed}"]
