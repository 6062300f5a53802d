"""A Pact Broker for the tests: in memory, in process, on 127.0.0.1 at a free port, written from the Pact Broker's
documented HAL API (no Pact Broker can be installed here). It is proven faithful by the real clients the tests run
against it: the `pact broker` CLI (publish, can-i-deploy, record-deployment, describe-version) and pact-python's
Verifier (`broker_source` with consumer version selectors, pending, WIP, publishing results).

What it keeps: pacticipants (with their main branch, detected from the first branch named main, master or develop as
the broker does), versions (branches, tags), pacts (one per consumer version and provider; a "pact version" is a
content's SHA), verification results (per pact version and provider version), environments, deployments and releases.

    with BrokerServer(token="secret") as broker:
        broker.url  # http://127.0.0.1:PORT

Auth as the broker's: no credentials configured, everything is open; else a request without valid credentials gets
401, and a read-only credential that changes something, before its body is read, 403 (`read_token`, as a read-only
PactFlow token) or 401 (`read_user`: the Pact Broker's basic-auth middleware decides by method and path and asks a
change for the read-write user, Rack::Auth::Basic's 401); with `validates_first`, an empty body gets
400 first, as from a broker whose authorization comes after its validation (webmachine's order: malformed_request?
before forbidden?).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

MAIN_BRANCH_CANDIDATES = ("main", "master", "develop")  # the broker's auto_detect_main_branch defaults


@dataclass
class Version:
    pacticipant: str
    number: str
    order: int
    created_at: str
    branches: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    build_url: str | None = None


@dataclass
class Pact:
    """A consumer version's pact with a provider (the newest publication wins); `sha`: its pact version."""

    consumer: str
    provider: str
    consumer_version: str
    sha: str
    order: int
    created_at: str


@dataclass
class Verification:
    provider: str
    consumer: str
    sha: str
    provider_version: str
    success: bool
    order: int
    verified_at: str
    body: dict[str, Any]


@dataclass
class Deployment:
    """A deployment (`kind` "deployed") or release ("released") of a version to an environment."""

    uuid: str
    kind: str
    pacticipant: str
    version: str
    environment: str  # the environment's uuid
    instance: str | None
    current: bool = True


class BrokerError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status, self.body = status, body


def _not_found(what: str) -> BrokerError:
    return BrokerError(404, {"error": f"{what} not found"})


class Broker:
    """The broker's data and rules, without HTTP (every method runs under `lock`)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.base = ""
        self.main_branch: dict[str, str | None] = {}  # pacticipant -> main branch
        self.versions: dict[tuple[str, str], Version] = {}
        self.contents: dict[str, dict[str, Any]] = {}  # sha -> pact
        self.pacts: dict[tuple[str, str, str], Pact] = {}  # (consumer, version, provider) -> pact
        self.verifications: list[Verification] = []
        self.environments: dict[str, dict[str, Any]] = {}
        self.deployments: list[Deployment] = []
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, for the tests
        self.asked: list[dict[str, Any]] = []  # the body of every pacts-for-verification request, for the tests
        self.published: list[dict[str, Any]] = []  # the body of every publication it took, for the tests
        self._order = 0

    def _tick(self) -> tuple[int, str]:
        self._order += 1
        return self._order, datetime.now(UTC).isoformat(timespec="microseconds")

    # ---- pacticipants and versions
    def pacticipant(self, name: str) -> None:
        self.main_branch.setdefault(name, None)

    def version(self, pacticipant: str, number: str, branch: str | None = None, tags: list[str] | None = None,
                build_url: str | None = None) -> Version:
        self.pacticipant(pacticipant)
        key = (pacticipant, number)
        if key not in self.versions:
            order, created = self._tick()
            self.versions[key] = Version(pacticipant, number, order, created)
        version = self.versions[key]
        if branch and branch not in version.branches:
            version.branches.append(branch)
            if self.main_branch[pacticipant] is None and branch in MAIN_BRANCH_CANDIDATES:
                self.main_branch[pacticipant] = branch
        version.tags += [t for t in tags or [] if t not in version.tags]
        version.build_url = build_url or version.build_url
        return version

    def existing_version(self, pacticipant: str, number: str) -> Version:
        if (pacticipant, number) not in self.versions:
            raise _not_found(f"Version {number} of {pacticipant}")
        return self.versions[(pacticipant, number)]

    def latest_version(self, pacticipant: str, tag: str | None = None, branch: str | None = None) -> Version | None:
        versions = [v for v in self.versions.values() if v.pacticipant == pacticipant
                    and (tag is None or tag in v.tags) and (branch is None or branch in v.branches)]
        return max(versions, key=lambda v: v.order, default=None)

    # ---- pacts
    def publish_pact(self, consumer: str, version: str, provider: str, content: dict[str, Any]) -> Pact:
        self.pacticipant(provider)
        self.version(consumer, version)
        sha = hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()
        self.contents.setdefault(sha, content)
        order, created = self._tick()
        pact = Pact(consumer, provider, version, sha, order, created)
        self.pacts[(consumer, version, provider)] = pact
        return pact

    def pacts_for(self, provider: str, consumer: str | None = None) -> list[Pact]:
        return sorted((p for p in self.pacts.values() if p.provider == provider
                       and (consumer is None or p.consumer == consumer)), key=lambda p: p.order)

    def _latest_per_consumer(self, pacts: list[Pact], test: Callable[[Version], bool]) -> list[Pact]:
        latest: dict[str, Pact] = {}
        for pact in pacts:
            version = self.versions[(pact.consumer, pact.consumer_version)]
            if test(version) and (pact.consumer not in latest or version.order > self.versions[
                    (pact.consumer, latest[pact.consumer].consumer_version)].order):
                latest[pact.consumer] = pact
        return list(latest.values())

    def _current(self, pacticipant: str, kind: str | None, environment: str | None) -> set[str]:
        """Version numbers of `pacticipant` currently deployed/released (kind None: either), in `environment` (a
        name; None: any)."""
        return {d.version for d in self.deployments if d.current and d.pacticipant == pacticipant
                and (kind is None or d.kind == kind)
                and (environment is None or self.environments[d.environment]["name"] == environment)}

    def select(self, provider: str, selector: dict[str, Any], provider_branch: str | None) -> tuple[list[Pact], str]:
        """The pacts one consumer version selector picks, and how the broker describes it."""
        known = {"mainBranch", "branch", "matchingBranch", "fallbackBranch", "fallbackToMainBranch",
                 "deployedOrReleased", "deployed", "released", "environment", "latest", "consumer", "tag",
                 "fallbackTag"}
        unknown = set(selector) - known
        if unknown:
            raise BrokerError(400, {"errors": {"consumerVersionSelectors": [
                f"has unknown key(s) {', '.join(sorted(unknown))}"]}})
        pacts = self.pacts_for(provider, selector.get("consumer"))
        latest = selector.get("latest")
        env = selector.get("environment")
        if selector.get("mainBranch"):
            chosen = self._latest_per_consumer(pacts, lambda v: v.branches != [] and self.main_branch[
                v.pacticipant] in v.branches)
            return chosen, "latest from main branch"
        if selector.get("matchingBranch"):
            if not provider_branch:
                return [], "matching branch (no providerVersionBranch given)"
            return (self._latest_per_consumer(pacts, lambda v: provider_branch in v.branches),
                    f"latest from matching branch '{provider_branch}'")
        if "branch" in selector:
            branch = selector["branch"]
            on = [p for p in pacts if branch in self.versions[(p.consumer, p.consumer_version)].branches]
            chosen = on if latest is False else self._latest_per_consumer(on, lambda v: True)
            if selector.get("fallbackToMainBranch"):  # per consumer without a pact on the branch: its main branch
                have = {p.consumer for p in chosen}
                chosen += [p for p in self._latest_per_consumer(pacts, lambda v: self.main_branch[v.pacticipant]
                                                                in v.branches) if p.consumer not in have]
            if not chosen and selector.get("fallbackBranch"):
                fallback = selector["fallbackBranch"]
                return (self._latest_per_consumer(pacts, lambda v: fallback in v.branches),
                        f"latest from branch '{fallback}' (fallback)")
            return chosen, f"{'all' if latest is False else 'latest'} from branch '{branch}'"
        if "tag" in selector:
            tagged = [p for p in pacts if selector["tag"] in self.versions[(p.consumer, p.consumer_version)].tags]
            chosen = self._latest_per_consumer(tagged, lambda v: True) if latest else tagged
            return chosen, f"{'latest' if latest else 'all'} with tag '{selector['tag']}'"
        kinds = [k for k in ("deployedOrReleased", "deployed", "released") if selector.get(k)]
        if kinds or env:
            kind = {"deployed": "deployed", "released": "released"}.get(kinds[0] if kinds else "")
            chosen = [p for p in pacts if p.consumer_version in self._current(p.consumer, kind, env)]
            what = {"deployed": "currently deployed", "released": "currently released"}.get(
                kind or "", "currently deployed or released")
            return chosen, what + (f" to {env}" if env else "")
        if latest or not selector or set(selector) == {"consumer"}:
            return self._latest_per_consumer(pacts, lambda v: True), "latest"
        raise BrokerError(400, {"errors": {"consumerVersionSelectors": [f"{json.dumps(selector)} selects nothing"]}})

    def pending(self, pact: Pact, provider_branch: str | None) -> bool:
        """Pending: no successful verification of its content by the provider (from `provider_branch` when given)."""
        return not any(v.success and v.sha == pact.sha and v.provider == pact.provider and (
            provider_branch is None or provider_branch in self.versions[(v.provider, v.provider_version)].branches)
            for v in self.verifications)

    def for_verification(self, provider: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /pacts/provider/{provider}/for-verification`."""
        self.asked.append(body)
        if provider not in self.main_branch:
            raise _not_found(f"Pacticipant {provider}")
        branch = body.get("providerVersionBranch")
        selectors = body.get("consumerVersionSelectors") or [{"latest": True}]  # the broker's default: latest
        found: dict[str, tuple[Pact, list[str]]] = {}  # sha -> (newest pact, descriptions)
        for selector in selectors:
            pacts, description = self.select(provider, selector, branch)
            for pact in pacts:
                newest, described = found.get(pact.sha, (pact, []))
                found[pact.sha] = (max(newest, pact, key=lambda p: p.order), described + [description])
        include_pending = bool(body.get("includePendingStatus"))
        entries = []
        for pact, described in sorted(found.values(), key=lambda item: item[0].order):
            pending = include_pending and self.pending(pact, branch)
            entries.append(self._entry(pact, ", ".join(dict.fromkeys(described)), pending, wip=False))
        since = body.get("includeWipPactsSince")
        if since and include_pending:  # WIP: heads of branches since the date, pending, not already selected
            heads = {}
            for pact in self.pacts_for(provider):
                for b in self.versions[(pact.consumer, pact.consumer_version)].branches:
                    heads[(pact.consumer, b)] = pact
            for pact in sorted(heads.values(), key=lambda p: p.order):
                if pact.sha not in found and pact.created_at[:10] >= since[:10] and self.pending(pact, branch):
                    found[pact.sha] = (pact, [])
                    entries.append(self._entry(pact, "work in progress", True, wip=True))
        return {"_embedded": {"pacts": entries},
                "_links": {"self": {"href": f"{self.base}/pacts/provider/{quote(provider)}/for-verification"}}}

    def _entry(self, pact: Pact, description: str, pending: bool, wip: bool) -> dict[str, Any]:
        version = self.versions[(pact.consumer, pact.consumer_version)]
        if pending:
            notice = (f"This pact is in pending state for this version of {pact.provider} because a successful "
                      "verification result for it has not yet been published. If this verification fails, it "
                      "will not cause the overall build to fail.")
        else:
            notice = (f"This pact is not pending for {pact.provider}: a failure of this verification will cause "
                      "the overall build to fail.")
        properties: dict[str, Any] = {"pending": pending, "notices": [
            {"when": "before_verification", "text": f"The pact at {self.pact_url(pact)} is being verified because "
                                                    f"the pact content belongs to the consumer version matching "
                                                    f"the selector: {description}"},
            {"when": "before_verification", "text": notice}]}
        if wip:
            properties["wip"] = True
        return {"shortDescription": description, "verificationProperties": properties,
                "_links": {"self": {"href": self.pact_url(pact),
                                    "name": f"Pact between {pact.consumer} ({version.number}) and {pact.provider}"}}}

    def pact_url(self, pact: Pact) -> str:
        metadata = base64.urlsafe_b64encode(pact.consumer_version.encode()).decode().rstrip("=")
        return (f"{self.base}/pacts/provider/{quote(pact.provider, safe='')}/consumer/"
                f"{quote(pact.consumer, safe='')}/pact-version/{pact.sha}/metadata/{metadata}")

    def pact_resource(self, provider: str, consumer: str, sha: str, metadata: str | None) -> dict[str, Any]:
        candidates = [p for p in self.pacts_for(provider, consumer) if p.sha == sha]
        if metadata:
            number = base64.urlsafe_b64decode(metadata + "=" * (-len(metadata) % 4)).decode()
            candidates = [p for p in candidates if p.consumer_version == number]
        if not candidates:
            raise _not_found(f"Pact version {sha} between {consumer} and {provider}")
        pact = candidates[-1]
        url = self.pact_url(pact)
        return {**self.contents[sha], "createdAt": pact.created_at, "_links": {
            "self": {"href": url, "title": "Pact"},
            "pb:consumer": {"href": self._pacticipant_url(consumer), "name": consumer},
            "pb:provider": {"href": self._pacticipant_url(provider), "name": provider},
            "pb:consumer-version": {"href": self._version_url(consumer, pact.consumer_version),
                                    "name": pact.consumer_version, "title": "Consumer version"},
            "pb:publish-verification-results": {"href": f"{url}/verification-results",
                                                "title": "Publish verification results"}}}

    def verify(self, provider: str, consumer: str, sha: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST` to a pact's `pb:publish-verification-results`."""
        if sha not in self.contents:
            raise _not_found(f"Pact version {sha}")
        number = body.get("providerApplicationVersion")
        if not isinstance(body.get("success"), bool) or not number:
            raise BrokerError(400, {"errors": {"providerApplicationVersion": ["can't be blank"],
                                               "success": ["must be true or false"]}})
        self.version(provider, str(number), branch=body.get("branch"), build_url=body.get("buildUrl"))
        order, at = self._tick()
        self.verifications.append(Verification(provider, consumer, sha, str(number), body["success"], order, at,
                                               body))
        return {"success": body["success"], "providerApplicationVersion": number, "verificationDate": at,
                "_links": {"self": {"href": f"{self.base}/verification-results/{order}"}}}

    def latest_pacts(self) -> dict[str, Any]:
        """`GET /pacts/latest`: the latest pact of each consumer and provider."""
        latest: dict[tuple[str, str], Pact] = {}
        for pact in sorted(self.pacts.values(), key=lambda p: p.order):
            latest[(pact.consumer, pact.provider)] = pact
        return {"pacts": [
            {"createdAt": p.created_at, "_links": {"self": [{"href": self.pact_url(p)}]},
             "_embedded": {"consumer": {"name": p.consumer, "_embedded": {"version": {"number": p.consumer_version}}},
                           "provider": {"name": p.provider}}} for p in latest.values()],
            "_links": {"self": {"href": f"{self.base}/pacts/latest"}}}

    # ---- environments, deployments, releases
    def environment_named(self, name: str) -> dict[str, Any]:
        found = [e for e in self.environments.values() if e["name"] == name]
        if not found:
            raise _not_found(f"Environment {name}")
        return found[0]

    def record(self, kind: str, pacticipant: str, number: str, environment: str,
               instance: str | None) -> Deployment:
        self.existing_version(pacticipant, number)
        if environment not in self.environments:
            raise _not_found(f"Environment {environment}")
        for old in self.deployments:  # a deployment replaces the one of the same instance
            if kind == "deployed" and old.kind == kind and old.pacticipant == pacticipant \
                    and old.environment == environment and old.instance == instance:
                old.current = False
        deployment = Deployment(str(uuid.uuid4()), kind, pacticipant, number, environment, instance)
        self.deployments.append(deployment)
        return deployment

    # ---- the matrix
    def _verification(self, pact: Pact, provider_version: str) -> Verification | None:
        found = [v for v in self.verifications if v.sha == pact.sha and v.provider == pact.provider
                 and v.provider_version == provider_version]
        return found[-1] if found else None

    def _targets(self, pacticipant: str, environment: str | None, latest: bool, tag: str | None,
                 main_branch: bool) -> list[str]:
        """The versions of `pacticipant` a can-i-deploy question is asked against."""
        if environment:
            return sorted(self._current(pacticipant, None, environment))
        branch = self.main_branch.get(pacticipant) if main_branch else None
        if main_branch and branch is None:
            return []
        if latest or tag or main_branch:
            version = self.latest_version(pacticipant, tag, branch)
            return [version.number] if version else []
        version = self.latest_version(pacticipant)
        return [version.number] if version else []

    def matrix(self, pacticipant: str, number: str | None, environment: str | None, latest: bool,
               tag: str | None, main_branch: bool) -> dict[str, Any]:
        """`GET /matrix` for one pacticipant version against the versions of the others in `environment` (or
        their latest, with a tag / on their main branch)."""
        if environment:
            self.environment_named(environment)
        version = self.versions.get((pacticipant, number)) if number else self.latest_version(pacticipant)
        if version is None:  # the broker answers, with the selector it could not resolve
            reason = (f"No pacts or verifications have been published for version {number} of {pacticipant}"
                      if number else f"No version of {pacticipant} found")
            return {"summary": {"deployable": False, "reason": reason, "success": 0, "failed": 0, "unknown": 1},
                    "notices": [{"type": "error", "text": reason}], "matrix": []}
        rows, problems = [], []
        for pact in [p for p in self.pacts.values() if p.consumer == pacticipant
                     and p.consumer_version == version.number]:
            targets = self._targets(pact.provider, environment, latest, tag, main_branch)
            if not targets:
                problems.append(("error", f"There is no verified pact between version {version.number} of "
                                          f"{pacticipant} and a version of {pact.provider}"
                                          + (f" currently in {environment}" if environment else "")))
                rows.append(self._row(pact, None, None))
            for provider_version in targets:
                rows.append(self._row(pact, provider_version, self._verification(pact, provider_version)))
        for consumer in sorted({p.consumer for p in self.pacts.values() if p.provider == pacticipant}):
            for consumer_version in self._targets(consumer, environment, latest, tag, main_branch):
                pact = self.pacts.get((consumer, consumer_version, pacticipant))
                if pact is not None:
                    rows.append(self._row(pact, version.number, self._verification(pact, version.number)))
        failed = sum(1 for r in rows if r["verificationResult"] and not r["verificationResult"]["success"])
        success = sum(1 for r in rows if r["verificationResult"] and r["verificationResult"]["success"])
        unknown = len(rows) - failed - success
        for row in rows:
            result = row["verificationResult"]
            if row["provider"]["version"] is None:
                continue
            edge = (f"version {row['consumer']['version']['number']} of {row['consumer']['name']} and version "
                    f"{row['provider']['version']['number']} of {row['provider']['name']}")
            if result is None:
                problems.append(("error", f"There is no verified pact between {edge}"))
            elif not result["success"]:
                problems.append(("error", f"The verification for the pact between {edge} failed"))
        deployable: bool | None = not problems
        if failed == 0 and problems and unknown:
            deployable = None
        reason = "; ".join(text for _, text in problems) or (
            "All required verification results are published and successful" if rows else
            "There are no missing dependencies")
        notices = [{"type": kind, "text": text} for kind, text in problems] or [{"type": "success", "text": reason}]
        return {"summary": {"deployable": deployable, "reason": reason, "success": success, "failed": failed,
                            "unknown": unknown}, "notices": notices, "matrix": rows}

    def matrix_between(self, a: str, a_version: str, b: str, b_version: str) -> dict[str, Any]:
        """`GET /matrix` for two pacticipant versions: the pacts of either version with the other, each with the
        other version's verification result of it."""
        for name, number in ((a, a_version), (b, b_version)):
            if (name, number) not in self.versions:
                reason = f"No pacts or verifications have been published for version {number} of {name}"
                return {"summary": {"deployable": False, "reason": reason, "success": 0, "failed": 0, "unknown": 1},
                        "notices": [{"type": "error", "text": reason}], "matrix": []}
        rows, problems = [], []
        for consumer, number, provider, provider_version in ((a, a_version, b, b_version), (b, b_version, a,
                                                                                            a_version)):
            pact = self.pacts.get((consumer, number, provider))
            if pact is None:
                continue
            result = self._verification(pact, provider_version)
            rows.append(self._row(pact, provider_version, result))
            edge = f"version {number} of {consumer} and version {provider_version} of {provider}"
            if result is None:
                problems.append(f"There is no verified pact between {edge}")
            elif not result.success:
                problems.append(f"The verification for the pact between {edge} failed")
        success = sum(1 for r in rows if r["verificationResult"] and r["verificationResult"]["success"])
        failed = sum(1 for r in rows if r["verificationResult"] and not r["verificationResult"]["success"])
        unknown = len(rows) - success - failed
        reason = "; ".join(problems) or ("All required verification results are published and successful" if rows
                                         else "There are no missing dependencies")
        deployable = None if not failed and unknown else not problems
        return {"summary": {"deployable": deployable, "reason": reason, "success": success, "failed": failed,
                            "unknown": unknown},
                "notices": [{"type": "error", "text": p} for p in problems] or [{"type": "success", "text": reason}],
                "matrix": rows}

    def _row(self, pact: Pact, provider_version: str | None, result: Verification | None) -> dict[str, Any]:
        def side(name: str, number: str | None) -> dict[str, Any]:
            if number is None:
                return {"name": name, "version": None, "_links": {"self": {"href": self._pacticipant_url(name)}}}
            v = self.versions[(name, number)]
            return {"name": name, "_links": {"self": {"href": self._pacticipant_url(name)}},
                    "version": {"number": number, "branch": v.branches[-1] if v.branches else None,
                                "branches": [{"name": b} for b in v.branches], "tags": [{"name": t} for t in v.tags],
                                "_links": {"self": {"href": self._version_url(name, number)}}}}

        return {"consumer": side(pact.consumer, pact.consumer_version), "provider": side(pact.provider,
                                                                                          provider_version),
                "pact": {"createdAt": pact.created_at, "_links": {"self": {"href": self.pact_url(pact)}}},
                "verificationResult": None if result is None else {
                    "success": result.success, "verifiedAt": result.verified_at,
                    "_links": {"self": {"href": f"{self.base}/verification-results/{result.order}"}}}}

    # ---- resources
    def _pacticipant_url(self, name: str) -> str:
        return f"{self.base}/pacticipants/{quote(name, safe='')}"

    def _version_url(self, name: str, number: str) -> str:
        return f"{self._pacticipant_url(name)}/versions/{quote(number, safe='')}"

    def pacticipant_resource(self, name: str) -> dict[str, Any]:
        if name not in self.main_branch:
            raise _not_found(f"Pacticipant {name}")
        return {"name": name, "displayName": name, "mainBranch": self.main_branch[name], "_links": {
            "self": {"href": self._pacticipant_url(name)},
            "pb:versions": {"href": f"{self._pacticipant_url(name)}/versions"},
            "pb:version": {"href": f"{self._pacticipant_url(name)}/versions/{{version}}", "templated": True},
            "pb:latest-version": {"href": f"{self._pacticipant_url(name)}/latest-version"},
            # a verifier publishing with a provider branch or tags follows these from the pact's pb:provider
            "pb:branch-version": {"href": f"{self._pacticipant_url(name)}/branches/{{branch}}/versions/{{version}}",
                                  "templated": True},
            "pb:version-tag": {"href": f"{self._pacticipant_url(name)}/versions/{{version}}/tags/{{tag}}",
                               "templated": True}}}

    def version_resource(self, version: Version) -> dict[str, Any]:
        url = self._version_url(version.pacticipant, version.number)
        environments = sorted(self.environments.values(), key=lambda e: e["name"])

        def per_environment(kind: str, title: str) -> list[dict[str, str]]:
            return [{"title": f"{title} {e['displayName']}", "name": e["name"],
                     "href": f"{url}/{kind}-versions/environment/{e['uuid']}"} for e in environments]

        return {"number": version.number, "buildUrl": version.build_url, "createdAt": version.created_at,
                "_embedded": {"branchVersions": [{"name": b, "latest": self.latest_version(
                    version.pacticipant, branch=b) is version} for b in version.branches],
                              "tags": [{"name": t} for t in version.tags]},
                "_links": {"self": {"href": url, "title": "Version", "name": version.number},
                           "pb:pacticipant": {"href": self._pacticipant_url(version.pacticipant),
                                              "name": version.pacticipant},
                           "pb:record-deployment": per_environment("deployed", "Record deployment to"),
                           "pb:record-release": per_environment("released", "Record release to")}}

    def environment_resource(self, environment: dict[str, Any]) -> dict[str, Any]:
        return {**environment, "_links": {"self": {"href": f"{self.base}/environments/{environment['uuid']}"}}}

    def index(self) -> dict[str, Any]:
        b = self.base
        links = {
            "self": f"{b}/",
            "pb:publish-contracts": f"{b}/contracts/publish",
            "pb:pacticipants": f"{b}/pacticipants",
            "pb:pacticipant": f"{b}/pacticipants/{{pacticipant}}",
            "pb:pacticipant-version": f"{b}/pacticipants/{{pacticipant}}/versions/{{version}}",
            "pb:latest-pacticipant-version": f"{b}/pacticipants/{{pacticipant}}/latest-version",
            "pb:latest-version": f"{b}/pacticipants/{{pacticipant}}/latest-version",
            "pb:latest-tagged-version": f"{b}/pacticipants/{{pacticipant}}/latest-version/{{tag}}",
            "pb:pacticipant-branch-version": f"{b}/pacticipants/{{pacticipant}}/branches/{{branch}}/versions/"
                                             "{version}",
            "pb:pacticipant-version-tag": f"{b}/pacticipants/{{pacticipant}}/versions/{{version}}/tags/{{tag}}",
            "pb:provider-pacts-for-verification": f"{b}/pacts/provider/{{provider}}/for-verification",
            "pb:environments": f"{b}/environments",
            "pb:environment": f"{b}/environments/{{uuid}}",
            "pb:latest-pact-versions": f"{b}/pacts/latest",
            "pb:can-i-deploy-pacticipant-version-to-environment":
                f"{b}/can-i-deploy?pacticipant={{pacticipant}}&version={{version}}&environment={{environment}}",
        }
        return {"_links": {rel: {"href": href, **({"templated": True} if "{" in href else {})}
                           for rel, href in links.items()}}


Route = tuple[str, "re.Pattern[str]", Callable[..., tuple[int, Any]]]


class BrokerServer:
    """The test broker over HTTP; a context manager (started on enter, stopped on exit).

    Args:
        token / read_token: bearer tokens that may write / only read.
        user / read_user: (username, password) pairs for basic auth that may write / only read.
        validates_first: a change with an empty body gets 400 before a read-only credential gets 403.
    """

    def __init__(self, token: str | None = None, read_token: str | None = None,
                 user: tuple[str, str] | None = None, read_user: tuple[str, str] | None = None,
                 validates_first: bool = False) -> None:
        self.broker = Broker()
        self.validates_first = validates_first
        self._credentials: dict[str, str] = {}  # Authorization header -> role
        for credential, role in ((token, "write"), (read_token, "read")):
            if credential:
                self._credentials[f"Bearer {credential}"] = role
        for pair, role in ((user, "write"), (read_user, "read")):
            if pair:
                self._credentials["Basic " + base64.b64encode(":".join(pair).encode()).decode()] = role
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self.broker.base = self.url
        self._thread = threading.Thread(target=self._http.serve_forever, name="test-broker", daemon=True)

    def __enter__(self) -> BrokerServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()

    def role(self, authorization: str | None) -> str | None:
        """"write", "read" or None (refused) for a request's Authorization header."""
        if not self._credentials:
            return "write"
        return self._credentials.get(authorization or "")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: Any) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/hal+json;charset=utf-8")
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="Pact Broker"')
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                with server.broker.lock:
                    server.broker.requests.append((method, self.path))
                role = server.role(self.headers.get("Authorization"))
                if role is None:
                    return self._send(401, {"error": "Authentication required: invalid or missing credentials"})
                reading = method == "GET" or url.path.endswith("/for-verification")
                if role == "read" and not reading and server.validates_first and raw.strip() in (b"", b"{}"):
                    return self._send(400, {"errors": {"success": ["is missing"]}})
                if role == "read" and not reading and self.headers.get("Authorization", "").startswith("Basic "):
                    return self._send(401, {"error": "Authentication required: these credentials may only read"})
                if role == "read" and not reading:
                    return self._send(403, {"error": "You do not have permission to perform this action"})
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    return self._send(400, {"error": "The request body is not valid JSON"})
                for verb, pattern, action in ROUTES:
                    match = pattern.fullmatch(url.path)
                    if verb == method and match:
                        try:
                            with server.broker.lock:
                                status, answer = action(server.broker, body, Query(parse_qsl(url.query)),
                                                        *map(unquote, match.groups()))
                        except BrokerError as error:
                            return self._send(error.status, error.body)
                        return self._send(status, answer)
                return self._send(404, {"error": f"no resource {method} {url.path} in the test broker"})

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler


# ---- the routes: (method, path pattern, action(broker, body, query, *path parts) -> (status, body))

class Query(dict[str, str]):
    """A query string's parameters (the last value of each name), and `pairs`, all of them in order (the matrix's
    `q[]` selectors repeat their names)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


def _publish_contracts(b: Broker, body: dict[str, Any], query: dict[str, str]) -> tuple[int, Any]:
    name, number = body.get("pacticipantName"), body.get("pacticipantVersionNumber")
    missing = [key for key, value in (("pacticipantName", name), ("pacticipantVersionNumber", number),
                                      ("contracts", body.get("contracts"))) if not value and value != []]
    if missing:  # rejected whole, nothing kept (PublishContractsSchema: all three are required)
        raise BrokerError(400, {"errors": {key: ["is missing"] for key in missing}})
    b.published.append(body)
    version = b.version(name, number, body.get("branch"), body.get("tags"), body.get("buildUrl"))
    notices = [{"type": "success", "text": f"Created {name} version {number}"
                + (f" with branch {body['branch']}" if body.get("branch") else "")}]
    contracts = []
    for contract in body.get("contracts") or []:
        content = json.loads(base64.b64decode(contract["content"]))
        pact = b.publish_pact(contract["consumerName"], number, contract["providerName"], content)
        notices.append({"type": "success", "text": f"Pact published for {pact.consumer} version {number} and "
                                                   f"provider {pact.provider}."})
        contracts.append({"href": b.pact_url(pact), "title": "Pact",
                          "name": f"Pact between {pact.consumer} ({number}) and {pact.provider}"})
    pacticipant_url, version_url = b._pacticipant_url(name), b._version_url(name, number)
    return 200, {"notices": notices, "logs": [],
                 "_embedded": {"pacticipant": {"name": name, "_links": {"self": {"href": pacticipant_url}}},
                               "version": {"number": number, "_links": {"self": {
                                   "href": version_url, "name": number, "title": "Version"}}}},
                 "_links": {"pb:pacticipant": {"href": pacticipant_url, "name": name, "title": "Pacticipant"},
                            "pb:pacticipant-version": {"href": version_url, "name": number, "title": "Version"},
                            "pb:pacticipant-version-tags": [{"name": t, "title": "Tag"} for t in version.tags],
                            "pb:contracts": contracts}}


def _pacticipants(b: Broker, body: Any, query: Any) -> tuple[int, Any]:
    return 200, {"_embedded": {"pacticipants": [b.pacticipant_resource(n) for n in sorted(b.main_branch)]},
                 "_links": {"self": {"href": f"{b.base}/pacticipants"}}}


def _put_pacticipant(b: Broker, body: dict[str, Any], query: Any, name: str) -> tuple[int, Any]:
    created = name not in b.main_branch
    b.pacticipant(name)
    if "mainBranch" in body:
        b.main_branch[name] = body["mainBranch"]
    return (201 if created else 200), b.pacticipant_resource(name)


def _put_version(b: Broker, body: dict[str, Any], query: Any, name: str, number: str) -> tuple[int, Any]:
    created = (name, number) not in b.versions
    version = b.version(name, number, body.get("branch"), body.get("tags"), body.get("buildUrl"))
    return (201 if created else 200), b.version_resource(version)


def _latest_version(b: Broker, body: Any, query: Any, name: str, tag: str | None = None) -> tuple[int, Any]:
    version = b.latest_version(name, tag)
    if version is None:
        raise _not_found(f"Latest version of {name}" + (f" with tag {tag}" if tag else ""))
    return 200, b.version_resource(version)


def _branch_version(b: Broker, body: Any, query: Any, name: str, branch: str, number: str) -> tuple[int, Any]:
    return 200, b.version_resource(b.version(name, number, branch=branch))


def _tag(b: Broker, body: Any, query: Any, name: str, number: str, tag: str) -> tuple[int, Any]:
    b.version(name, number, tags=[tag])
    return 201, {"name": tag, "_links": {"self": {"href": f"{b._version_url(name, number)}/tags/{quote(tag)}"}}}


def _new_environment(b: Broker, body: dict[str, Any], query: Any) -> tuple[int, Any]:
    if not body.get("name") or any(e["name"] == body["name"] for e in b.environments.values()):
        raise BrokerError(400, {"errors": {"name": ["is missing or is already taken"]}})
    _, created = b._tick()
    environment = {"uuid": str(uuid.uuid4()), "name": body["name"],
                   "displayName": body.get("displayName") or body["name"].title(),
                   "production": bool(body.get("production")), "createdAt": created}
    b.environments[environment["uuid"]] = environment
    return 201, b.environment_resource(environment)


def _environments(b: Broker, body: Any, query: dict[str, str]) -> tuple[int, Any]:
    found = [e for e in b.environments.values() if "name" not in query or e["name"] == query["name"]]
    return 200, {"_embedded": {"environments": [b.environment_resource(e) for e in found]},
                 "_links": {"self": {"href": f"{b.base}/environments"}}}


def _environment(b: Broker, body: Any, query: Any, environment: str) -> tuple[int, Any]:
    if environment not in b.environments:
        raise _not_found(f"Environment {environment}")
    return 200, b.environment_resource(b.environments[environment])


def _recorder(kind: str) -> Callable[..., tuple[int, Any]]:
    def record(b: Broker, body: dict[str, Any], query: Any, name: str, number: str,
               environment: str) -> tuple[int, Any]:
        d = b.record(kind, name, number, environment, body.get("applicationInstance"))
        current = {"currentlyDeployed": True} if kind == "deployed" else {"currentlySupported": True}
        return 201, {"uuid": d.uuid, **current, "applicationInstance": d.instance,
                     "_embedded": {"version": {"number": number},
                                   "environment": b.environment_resource(b.environments[environment])},
                     "_links": {"self": {"href": f"{b.base}/{kind}-versions/{d.uuid}"}}}
    return record


def _matrix(b: Broker, body: Any, query: dict[str, str]) -> tuple[int, Any]:
    """`/matrix?q[][pacticipant]=A&q[][version]=1&latestby=cvp&environment=E` (`q[][latest]=true`: A's latest
    version; `latest=true` with `tag` or `mainBranch=true`: the others' latest), `/matrix?q[][pacticipant]=A&q[][version]
    =1&q[][pacticipant]=B&q[][version]=2&latestby=cvpv` (the edges between those two versions) and `/can-i-deploy?
    pacticipant=A&version=1&environment=E`."""
    selectors: list[dict[str, str]] = []
    for key, value in getattr(query, "pairs", list(query.items())):
        if key.startswith("q[]["):
            name = key[4:-1]
            if name == "pacticipant" or not selectors:
                selectors.append({})
            selectors[-1][name] = value
    if len(selectors) == 2 and all(s.get("version") for s in selectors):
        return 200, b.matrix_between(selectors[0]["pacticipant"], selectors[0]["version"],
                                     selectors[1]["pacticipant"], selectors[1]["version"])
    own = selectors[0] if selectors else {}
    name = own.get("pacticipant") or query.get("pacticipant", "")
    number = own.get("version") or query.get("version") or None
    if own.get("latest") == "true" and number is None:
        latest = b.latest_version(name, own.get("tag"), own.get("branch"))
        number = latest.number if latest else None
    return 200, b.matrix(name, number, query.get("environment") or None, query.get("latest") == "true",
                         query.get("tag"), query.get("mainBranch") == "true")


def _for_verification_resource(b: Broker, body: Any, query: Any, provider: str) -> tuple[int, Any]:
    """The Verifier's HAL client GETs the resource, then POSTs its selectors to the resource's self link."""
    if provider not in b.main_branch:
        raise _not_found(f"Pacticipant {provider}")
    return 200, {"_links": {"self": {"href": f"{b.base}/pacts/provider/{quote(provider)}/for-verification"}}}


ROUTES: list[Route] = [(m, re.compile(p), a) for m, p, a in [
    ("GET", r"/", lambda b, body, q: (200, b.index())),
    ("POST", r"/contracts/publish", _publish_contracts),
    ("GET", r"/pacticipants", _pacticipants),
    ("GET", r"/pacticipants/([^/]+)", lambda b, body, q, n: (200, b.pacticipant_resource(n))),
    ("PUT", r"/pacticipants/([^/]+)", _put_pacticipant),
    ("PATCH", r"/pacticipants/([^/]+)", _put_pacticipant),
    ("POST", r"/pacticipants", lambda b, body, q: _put_pacticipant(b, body, q, body.get("name", ""))),
    ("GET", r"/pacticipants/([^/]+)/latest-version", _latest_version),
    ("GET", r"/pacticipants/([^/]+)/latest-version/([^/]+)", _latest_version),
    ("GET", r"/pacticipants/([^/]+)/versions/([^/]+)",
     lambda b, body, q, n, v: (200, b.version_resource(b.existing_version(n, v)))),
    ("PUT", r"/pacticipants/([^/]+)/versions/([^/]+)", _put_version),
    ("PUT", r"/pacticipants/([^/]+)/branches/([^/]+)/versions/([^/]+)", _branch_version),
    ("PUT", r"/pacticipants/([^/]+)/versions/([^/]+)/tags/([^/]+)", _tag),
    ("POST", r"/pacticipants/([^/]+)/versions/([^/]+)/deployed-versions/environment/([^/]+)",
     _recorder("deployed")),
    ("POST", r"/pacticipants/([^/]+)/versions/([^/]+)/released-versions/environment/([^/]+)",
     _recorder("released")),
    ("GET", r"/pacts/provider/([^/]+)/for-verification", _for_verification_resource),
    ("POST", r"/pacts/provider/([^/]+)/for-verification",
     lambda b, body, q, p: (200, b.for_verification(p, body))),
    ("GET", r"/pacts/provider/([^/]+)/consumer/([^/]+)/pact-version/([0-9a-f]+)(?:/metadata/([^/]+))?",
     lambda b, body, q, p, c, sha, m: (200, b.pact_resource(p, c, sha, m))),
    ("POST", r"/pacts/provider/([^/]+)/consumer/([^/]+)/pact-version/([0-9a-f]+)(?:/metadata/[^/]+)?"
             r"/verification-results",
     lambda b, body, q, p, c, sha: (201, b.verify(p, c, sha, body))),
    ("GET", r"/pacts/latest", lambda b, body, q: (200, b.latest_pacts())),
    ("GET", r"/environments", _environments),
    ("POST", r"/environments", _new_environment),
    ("GET", r"/environments/([^/]+)", _environment),
    ("GET", r"/can-i-deploy", _matrix),
    ("GET", r"/matrix", _matrix),
]]
