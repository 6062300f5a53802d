"""The configuration of a Pact Broker as Pact users know it: PACT_BROKER_BASE_URL, PACT_BROKER_TOKEN,
PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD (or a user and password in the URL); the options and `contracts.broker`
of the topology file win over the URL variable. Secrets are never shown (not in a repr, a message or a report). And
what git and the CI job say: the provider version and branch, whether the checkout is clean (which provider
version's results at the broker count as this run's own: trusted_version), the branch as the `pact` CLI detects it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from harness.contracts.checkout import Unclean, reached_by, unclean
from harness.errors import OptionError
from harness.model.broker import BrokerSpec
from harness.model.topology import TopologySpec


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
    repository: Path | None = None  # the top folder of the git checkout the topology is in, clean or not
    head: str | None = None  # its commit, clean or not
    # service -> why the commit does not name what it runs (contracts/checkout.py: a changed file, an ignored one
    # that reaches it, a departure that touches it or a service it calls); set by with_checkout
    dirty: Mapping[str, Unclean] = field(default_factory=dict)
    checked: bool = False  # with_checkout has judged the checkout (before: no commit names any service)
    # why the tree is not what --provider-version names (changed files, another commit): its results then do not count
    version_unlike: str = ""

    def names(self, service: str) -> bool:
        """Whether the checkout's commit names what `service` runs (every file it reads is committed, nothing it
        takes departs from the default)."""
        return self.checked and self.head is not None and service not in self.dirty

    def held(self, service: str) -> Unclean | None:
        """Why results of `service` are neither published under the provider version nor taken from the broker as
        this run's own, else None: without --provider-version, anything the commit does not name; with one, what no
        version holds whatever it is (a value from the shell, a base image built on this machine, a URL or a
        folder outside the checkout: `tree` False). A changed tree with a version given is `version_unlike`'s."""
        why = self.dirty.get(service)
        return why if why is not None and (not self.version_given or not why.tree) else None

    def remedy(self, why: Unclean) -> str:
        """What to do about `why`: --provider-version is offered only where it helps (no version was given and a
        file of the checkout differs: a version such as COMMIT-dirty says so)."""
        return why.remedy + (", or give --provider-version" if why.tree and not self.version_given else "")

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
            version (none given, no git checkout), or under one the checkout is not (with_checkout).
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
    top = _git(spec.base_dir, "rev-parse", "--show-toplevel") if commit is not None else None
    if publish and not version and commit is None:
        raise OptionError("publishing verification results needs the providers' version: give --provider-version "
                          "(the git checkout's commit is taken when there is one)")
    config = dataclasses.replace(access, selectors=tuple(options.get("pact_selector") or given.selectors),
                                 include_pending=bool(options.get("pact_include_pending")) or given.pending,
                                 wip_since=options.get("pact_wip_since") or given.wip_since, provider_branch=branch,
                                 provider_version=version or (commit if publish else None), publish=publish,
                                 publish_reason=reason, version_given=bool(version),
                                 repository=Path(top) if top else None, head=commit if top else None)
    from harness.contracts.cache import states_files  # their import statements; VerifyRun adds what handlers reach

    return with_checkout(config, spec, states_files(spec.base_dir / f for f in spec.contracts.states))


def with_checkout(config: BrokerConfig, spec: TopologySpec, code: Iterable[Path] | None,
                  providers: Iterable[str] | None = None) -> BrokerConfig:
    """`config` with, for each service, whether the commit of the checkout the topology is in names what it runs
    (checkout.unclean for the service and those it depends on or calls: the files they read, the departures that
    touch them, a base image built on this machine (localbase.built_here), and `code`, the provider states' code
    as harness.contracts.cache.states_files lists it; None: it could not be listed, so no commit names any):
    `dirty` holds why for each service it does not name.

    Raises:
        OptionError: publishing results under the commit (no --provider-version) when the commit names none of
            `providers` (None: the topology's services): a clean checkout of it would take any result as its own,
            and none could be published; with --provider-version, when each of them runs what no version holds
            (BrokerConfig.held: a value from the shell, a base image built here). When only some are held, the
            others' results are published and theirs withheld (each says why).
            Publishing results under a --provider-version the checkout is not (_version_unlike: another commit, or
            a changed tree and a version without `-dirty`): the broker would hold them as that version's.
    """
    if config.repository is None or config.head is None:
        return config
    top = config.repository
    dirty: dict[str, Unclean] = {}
    code = list(code) if code is not None else None
    unlisted = Unclean("the provider states' code could not be listed (the modules their handlers reach)",
                       "check the states modules")
    whole = unlisted if code is None else unclean(spec, spec.services, top, code)
    if code is None:
        dirty = dict.fromkeys(spec.services, unlisted)
    elif whole is not None:  # one pass when all is clean; else service by service
        judged: dict[tuple[str, ...], Unclean | None] = {}
        for service in spec.services:
            reached = tuple(reached_by(spec, service))
            if reached not in judged:
                judged[reached] = unclean(spec, reached, top, code)
            if (why := judged[reached]) is not None:
                dirty[service] = why
    from harness.contracts.localbase import built_here  # the engine's images: imported when a checkout is judged

    if code is not None and (local := built_here(spec)):  # a base image rebuilt here changes no commit
        for service in spec.services:
            if service not in dirty and (hit := next((s for s in reached_by(spec, service) if s in local), None)):
                dirty[service] = local[hit]
    asked = [s for s in dict.fromkeys(spec.services if providers is None else providers) if s in spec.services]
    seen = dataclasses.replace(config, dirty=dirty, checked=True)
    if config.publish and asked and all(seen.held(s) is not None for s in asked):
        why = seen.held(asked[0])
        assert why is not None
        if config.version_given:  # what no version holds: the broker would hold it as the version's
            raise OptionError(f"publishing verification results as provider version {config.provider_version} "
                              f"(--provider-version) of what no version names ({_whose(spec, seen, asked, why)}: "
                              f"{why.reason}), so the broker would hold them as {config.provider_version}'s: "
                              f"{why.remedy}")
        raise OptionError(f"publishing verification results from a git checkout whose commit {config.head} does not "
                          f"name the code verified here ({why.reason}; a clean checkout of it would take this "
                          f"result as its own): {seen.remedy(why)}")
    unlike, marked = _version_unlike(config, spec, code, whole)
    if config.publish and unlike and not marked:  # the results would go to the broker under a version that is not
        raise OptionError(f"publishing verification results as provider version {config.provider_version} "
                          f"(--provider-version) from a checkout that is not that version: {unlike}, so the broker "
                          f"would hold them as {config.provider_version}'s; " + (
                              f"check out {(config.provider_version or '').removesuffix(DIRTY_MARK)}, or give the "
                              "checkout's own version" if
                              unlike.startswith(ANOTHER_COMMIT) else "commit the changes, or give a version that "
                              "says the tree is changed (git describe --always --dirty: COMMIT-dirty)"))
    return dataclasses.replace(seen, version_unlike=unlike)


def _whose(spec: TopologySpec, seen: BrokerConfig, asked: list[str], why: Unclean) -> str:
    """Whom `why` holds back, for a refusal: "the whole topology" when it is every service's (a profile or value from
    the shell, states code outside the checkout), else the services of `asked` it holds back (not the first of the
    topology's, which may be a dependency such as a database)."""
    held = [service for service in asked if seen.held(service) == why]
    if len(spec.services) > 1 and all(seen.held(service) == why for service in spec.services):
        return "the whole topology"
    return ", ".join(held)


ANOTHER_COMMIT = "the git checkout is at commit"
DIRTY_MARK = "-dirty"  # what `git describe --dirty` appends for a changed tree


def _version_unlike(config: BrokerConfig, spec: TopologySpec, code: list[Path] | None,
                    whole: Unclean | None) -> tuple[str, bool]:
    """Why the checkout is not what --provider-version names, and whether the version says so itself: the version is
    a commit, tag or `git describe` of the checkout other than HEAD (named_commit), or the checkout differs from its
    commit anywhere the topology reads (`whole`: checkout.unclean of every service; no version names a changed tree,
    but one that ends in `-dirty`, as `git describe --dirty` gives, does not claim to be a commit's: its results may
    be published, never taken as cached, also on a clean tree); ("", False) when it may be (HEAD's commit, or a
    label that is no commit of the checkout, on a clean tree: the user vouches for it)."""
    version = config.provider_version
    if not config.version_given or not version or config.repository is None or config.head is None:
        return "", False
    commit = named_commit(config.repository, version)
    if commit is not None and commit != config.head:
        shown = "" if commit.startswith(version.removesuffix(DIRTY_MARK)) else f" ({commit[:12]})"
        return f"{ANOTHER_COMMIT} {config.head[:12]}, not at {version}{shown}", False
    if whole is not None and not whole.tree:  # a value from the environment, ...: vouched for, unless a file differs
        whole = unclean(spec, spec.services, config.repository, code, tree_only=True) if code is not None else whole
    if whole is not None:
        return f"the git checkout differs from its commit ({whole.reason})", version.endswith(DIRTY_MARK)
    if commit is not None and version.endswith(DIRTY_MARK):  # its results came from a changed tree, never this one
        return f"{version} names a changed tree of commit {commit[:12]} (git describe --dirty), not its commit", True
    return "", False


def named_commit(folder: Path, version: str) -> str | None:
    """The commit of the git checkout `folder` is in that `version` names: a commit id (or its start), a tag, a
    branch, `git describe` output (`v1.2-3-gabc1234`), each with `-dirty` after it or not; None for a label that is
    no commit of the checkout (`3.0.0`), or outside one."""
    base = version.removesuffix(DIRTY_MARK)
    if not base or base.startswith("-"):
        return None
    return _git(folder, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")


def trusted_version(config: BrokerConfig, spec: TopologySpec, service: str) -> tuple[str, str] | None:
    """The version of provider `service` whose results at the broker count as this run's own, and why it is
    trusted: `--provider-version` (the user vouches for it, unless the checkout is known to differ from it:
    `version_unlike`), else the commit of a clean git checkout the topology is in (every file the topology reads is
    inside it and as committed: with_checkout) when the service is built there. None: no version names what runs here
    (uncommitted changes, an image not built from the checkout, a checkout that is not the version given)."""
    if config.version_given and config.provider_version:  # unless the tree is known not to be that version
        return None if config.version_unlike or config.held(service) else (config.provider_version,
                                                                           "--provider-version")
    if not config.names(service) or service not in spec.services or config.head is None:
        return None
    if spec.services[service].build is None:
        return None
    return config.head, "the clean git checkout's commit"


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


def git_top(folder: Path) -> Path | None:
    """The top folder of the git checkout `folder` is in; None outside one."""
    top = _git(folder, "rev-parse", "--show-toplevel")
    return Path(top) if top else None


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
