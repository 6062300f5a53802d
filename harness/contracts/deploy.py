"""can-i-deploy and record-deployment for a whole topology, as the `pact broker` CLI asks them of a Pact Broker: for
each service that the broker knows as a pacticipant, `GET /matrix?q[][pacticipant]=NAME&q[][version]=V&latestby=cvpv
&environment=ENV` (the broker's answer: deployable or not, its reason, the edges); after a deploy, a `POST` to the
version's `pb:record-deployment` link of the environment. What the broker cannot see is added: a yes that rests on
verification results under the checkout's commit for a provider the commit does not name (it is, builds FROM or
depends on an image built on this machine: harness.contracts.localbase) is not counted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from harness.contracts.broker import BrokerClient, pact_names
from harness.contracts.broker_config import BrokerConfig, git_commit, git_top
from harness.contracts.checkout import Unclean, reached_by, unclean
from harness.contracts.publish import consumer_version
from harness.errors import BrokerUnavailable, OptionError
from harness.model.topology import TopologySpec


def service_versions(spec: TopologySpec, given: Sequence[tuple[str, str]],
                     ignored: Sequence[str] = ()) -> dict[str, str]:
    """The version of every service: `--version SERVICE=V` where given, else the topology file's git checkout's
    commit (`git rev-parse HEAD`: one repository for the topology's services) when the commit names what the service
    is deployed from: the checkout.unclean rule, as for publishing verification results (the topology's files, the
    states modules, the service's build context, Dockerfile and mounts have no change, no untracked file and no
    ignored file docker sends). A change elsewhere (a consumer test, a report) deploys nothing, nor does the pact
    folder the consumer tests write (contracts.pacts, tracked or not): `pytest --pact-publish` publishes the pacts it
    writes there under the commit. `ignored` services (--ignore: nothing is asked of them) take the commit as they
    are.

    Raises:
        OptionError: a version for a name that is no service; no version for a service and no git checkout; no
            version for a service whose files differ from the commit (asking about the commit would answer for code
            this checkout does not deploy: the message names the changes, the versions `pytest --pact-publish`
            and `harness publish` publish this checkout's pacts under (publish.consumer_version) and the commit, to
            give with --version).
    """
    versions: dict[str, str] = {}
    for service, version in given:
        if service not in spec.services:
            raise OptionError(f"--version {service}={version}: {service!r} is not a service of topology "
                              f"'{spec.name}' (its services: {', '.join(spec.services)})")
        versions[service] = version
    missing = [s for s in spec.services if s not in versions]
    if missing:
        commit, top = git_commit(spec.base_dir), git_top(spec.base_dir)
        if commit is None or top is None:
            raise OptionError(f"no version for {', '.join(missing)}: give --version SERVICE=VERSION for each (the "
                              f"default, the git checkout's commit, needs {spec.base_dir} to be in a git checkout)")
        changed: dict[str, list[str]] = {}  # why -> the services it concerns
        pacts = spec.base_dir / spec.contracts.pacts
        for service in missing:
            why = None if service in ignored else unclean(spec, [service], top, outputs=[pacts])
            if why is not None:
                changed.setdefault(str(why), []).append(service)
        if changed:
            raise OptionError(_uncommitted(changed, commit, top, pacts))
        versions.update((s, commit) for s in missing)
    return {s: versions[s] for s in spec.services}


def _uncommitted(changed: dict[str, list[str]], commit: str, top: Path, pacts: Path) -> str:
    services = [service for names in changed.values() for service in names]
    first = services[0]
    published = _published_as(pacts)
    snapshot = next((version for version in published.values() if version != commit), None)
    by = "; ".join(f"{version} by {' and '.join(tools)}" for version, tools in _by_version(published).items())
    return (f"no version for {', '.join(services)}: the git checkout {top} differs from its commit {commit} in what "
            f"{'it is' if len(services) == 1 else 'they are'} deployed from ("
            + "; ".join(f"{', '.join(names)}: {why}" for why, names in changed.items())
            + "), so the commit does not name the code that would be deployed. Give the version to ask about with "
            "--version SERVICE=VERSION for each: " + (f"the snapshot {snapshot} (e.g. --version {first}={snapshot}), "
                                                       if snapshot else "")
            + f"or the commit (--version {first}={commit}: the code as committed); or commit the changes"
            + (f" (this checkout's pacts are published as consumer version {by})" if by else ""))


def _published_as(pacts: Path) -> dict[str, str]:
    """publisher -> the consumer version it publishes this checkout's pacts (in `pacts`) under: the one rule
    (publish.consumer_version), for a session that writes them (pytest) and for pacts read from the folder (harness
    publish, which counts changed or untracked pacts there)."""
    found = {}
    for tool, written_here in (("pytest --pact-publish", True), ("harness publish", False)):
        try:
            found[tool] = consumer_version(pacts, written_here=written_here).number
        except OptionError:
            continue
    return found


def _by_version(published: dict[str, str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for tool, version in published.items():
        grouped.setdefault(version, []).append(tool)
    return grouped


@dataclass(frozen=True)
class Edge:
    """One row of the broker's matrix: a consumer version's pact with a provider version (None: no provider version
    in the environment), its verification result (None: not verified), and what the broker said of it."""

    consumer: str
    consumer_version: str
    provider: str
    provider_version: str | None
    success: bool | None
    reason: str

    @property
    def result(self) -> str:
        return "success" if self.success else "failed" if self.success is False else "not verified"


@dataclass(frozen=True)
class DeployAnswer:
    """The broker's answer for one service: `deployable` (True only when the broker says so), the pacticipant name
    and version asked, the broker's reason, the edges; `excluded`: why nothing was asked (the broker does not know
    it)."""

    service: str
    pacticipant: str
    version: str
    deployable: bool
    reason: str
    edges: tuple[Edge, ...] = ()
    excluded: str | None = None
    # the providers (services) whose successful results under a version no commit names are among the edges
    unnamed: tuple[str, ...] = ()


@dataclass
class DeployCheck:
    """The answers per service (each against the versions in the environment, as `pact broker can-i-deploy` asks
    for one service) and, in `together`, per pair of the topology's services with pacts between them, at the versions
    deployed together (as the CLI asks with both as `--pacticipant`): its `service` is "A + B", its `pacticipant` and
    `version` "NAME VERSION" of each."""

    environment: str
    answers: list[DeployAnswer] = field(default_factory=list)
    together: list[DeployAnswer] = field(default_factory=list)
    unnamed: Mapping[str, Unclean] = field(default_factory=dict)  # as local_bases gives it
    versions: Mapping[str, str] = field(default_factory=dict)  # service -> the version asked about

    @property
    def doubted(self) -> list[DeployAnswer]:
        """The broker's yes answers that rest on verification results no commit names (DeployAnswer.unnamed)."""
        return [a for a in [*self.answers, *self.together] if a.deployable and a.unnamed]

    @property
    def deployable(self) -> bool:
        """True when the broker said yes for every service it was asked about (and it was asked about one), and for
        every pair of them deployed together, and no yes rests on results no commit names (`doubted`)."""
        asked = [a for a in self.answers if a.excluded is None]
        return (bool(asked) and all(a.deployable for a in asked) and all(a.deployable for a in self.together)
                and not self.doubted)


def _check_ignored(spec: TopologySpec, ignore: Sequence[str]) -> None:
    unknown = [name for name in ignore if name not in spec.services]
    if unknown:
        raise OptionError(f"--ignore {', '.join(unknown)}: not a service of topology '{spec.name}' (its services: "
                          f"{', '.join(spec.services)})")


def _pacticipants(client: BrokerClient, spec: TopologySpec, ignore: Sequence[str] = ()) -> dict[str, str | None]:
    """service -> the name the broker knows it by (None: it knows none of its names, or the service is ignored)."""
    found: dict[str, str | None] = {}
    for service in spec.services:
        if service in ignore:
            found[service] = None
            continue
        found[service] = next((name for name in pact_names(spec, service) if client.request(
            "GET", client.link("pb:pacticipant", pacticipant=name), missing_ok=True) is not None), None)
    return found


def _environment(client: BrokerClient, name: str) -> dict[str, Any]:
    """The broker's environment called `name`. OptionError naming the ones there are when it has none."""
    listed = client.request("GET", client.link("pb:environments")) or {}
    environments = [e for e in (listed.get("_embedded") or {}).get("environments") or [] if isinstance(e, dict)]
    for environment in environments:
        if environment.get("name") == name:
            return environment
    known = ", ".join(sorted(str(e.get("name")) for e in environments)) or "none"
    raise OptionError(f"the Pact Broker at {client.config.url} has no environment {name!r} (it has: {known}); "
                      f"create it first: pact broker create-environment --name {name}")


def local_bases(spec: TopologySpec, given: Sequence[str]) -> dict[str, Unclean]:
    """service -> why verification results under its version are of code no commit names, for each service whose
    version is the checkout's commit (not `given` with --version) and that, or a service it depends on or calls
    (checkout.reached_by), runs or builds FROM an image built on this machine (localbase.built_here, on the engine this
    machine connects to: none answering, none is). `harness verify` publishes no result under the commit for it; the
    broker cannot tell such results from others."""
    from harness.contracts.localbase import built_here  # the engine's images

    local = built_here(spec)
    found: dict[str, Unclean] = {}
    for service in spec.services:
        hit = next((s for s in reached_by(spec, service) if s in local), None) if service not in given else None
        if hit is not None:
            found[service] = local[hit]
    return found


def can_i_deploy(spec: TopologySpec, config: BrokerConfig, versions: dict[str, str], environment: str,
                 ignore: Sequence[str] = (), unnamed: Mapping[str, Unclean] | None = None) -> DeployCheck:
    """Ask the broker, for every service of `spec` at `versions[service]` but those in `ignore`, whether it can be
    deployed to `environment`. A service the broker does not know (by none of its pact names) is not deployable, as
    `pact broker can-i-deploy` answers for it (a misspelt pact name must not pass the gate). `unnamed` (local_bases):
    providers whose successful results under `versions[provider]` do not count; an answer whose edges hold one keeps
    the broker's word and names them (DeployAnswer.unnamed), and the check is not deployable.

    Raises:
        OptionError: the broker has no such environment; a name in `ignore` that is no service.
        BrokerUnavailable, BrokerRefused: as BrokerClient.
    """
    client = BrokerClient(config)
    _environment(client, environment)
    _check_ignored(spec, ignore)
    check = DeployCheck(environment, versions=dict(versions))
    known: list[DeployAnswer] = []  # the services the broker was asked about
    for service, name in _pacticipants(client, spec, ignore).items():
        version = versions[service]
        if service in ignore:
            check.answers.append(DeployAnswer(service, pact_names(spec, service)[0], version, False, "",
                                              excluded="--ignore"))
            continue
        if name is None:
            check.answers.append(DeployAnswer(
                service, pact_names(spec, service)[0], version, False,
                f"the Pact Broker knows no pacticipant {' or '.join(map(repr, pact_names(spec, service)))}: no pacts "
                f"or verification results of it were published (a service in no contract: --ignore {service}; "
                "another pact name: `pact_name` in the topology)"))
            continue
        query = urlencode([("q[][pacticipant]", name), ("q[][version]", version), ("latestby", "cvpv"),
                           ("environment", environment)], safe="[]")
        check.answers.append(_answer(service, name, version, client.request("GET", f"{config.url}/matrix?{query}")))
        known.append(check.answers[-1])
    check.together = _together(client, config, known)
    if unnamed:
        check.unnamed = dict(unnamed)
        owner = {name: service for service in unnamed for name in pact_names(spec, service)}
        for answers in (check.answers, check.together):
            answers[:] = [replace(a, unnamed=tuple(dict.fromkeys(
                owner[e.provider] for e in a.edges if e.success and e.provider in owner
                and e.provider_version == versions[owner[e.provider]]))) for a in answers]
    return check


def _together(client: BrokerClient, config: BrokerConfig, asked: list[DeployAnswer]) -> list[DeployAnswer]:
    """The pacts between the versions of two services asked about, as deployed together: each service alone is
    asked against the environment's versions of the others, so a failing pact between two new versions would not be
    seen (a false yes for a topology deployed as one)."""
    pairs = []
    for index, one in enumerate(asked):
        for other in asked[index + 1:]:
            query = urlencode([("q[][pacticipant]", one.pacticipant), ("q[][version]", one.version),
                               ("q[][pacticipant]", other.pacticipant), ("q[][version]", other.version),
                               ("latestby", "cvpv")], safe="[]")
            answer = _answer(f"{one.service} + {other.service}", f"{one.pacticipant} {one.version}",
                             f"{other.pacticipant} {other.version}",
                             client.request("GET", f"{config.url}/matrix?{query}"))
            if answer.edges:  # pacts between them (none: nothing to check together)
                pairs.append(answer)
    return pairs


def _answer(service: str, name: str, version: str, answer: Any) -> DeployAnswer:
    summary = answer.get("summary") if isinstance(answer, dict) else None
    if not isinstance(summary, dict):
        raise BrokerUnavailable(f"the Pact Broker's matrix for {name} version {version} has no summary: is this a "
                                "Pact Broker?")
    notices = [str(n.get("text", "")) for n in answer.get("notices") or [] if isinstance(n, dict)]
    edges = []
    for row in answer.get("matrix") or []:
        consumer, provider = row.get("consumer") or {}, row.get("provider") or {}
        consumer_version = str((consumer.get("version") or {}).get("number"))
        provider_version = (provider.get("version") or {}).get("number")
        result = row.get("verificationResult")
        success = bool(result.get("success")) if isinstance(result, dict) else None
        # the broker's notices name an edge as `version 1 of web and version 2 of shop` (`a version of shop`)
        other = f"a version of {provider.get('name')}" if provider_version is None else \
            f"version {provider_version} of {provider.get('name')}"
        said = [n for n in notices if f"version {consumer_version} of {consumer.get('name')} and {other}" in n]
        edges.append(Edge(str(consumer.get("name")), consumer_version, str(provider.get("name")),
                          None if provider_version is None else str(provider_version), success,
                          "; ".join(said) or ("verified" if success else "")))
    return DeployAnswer(service, name, version, summary.get("deployable") is True, str(summary.get("reason") or ""),
                        tuple(edges))


@dataclass(frozen=True)
class Recorded:
    """A deployment recorded (or, `excluded`, why not: the broker does not know the service)."""

    service: str
    pacticipant: str
    version: str
    excluded: str | None = None


def record_deployment(spec: TopologySpec, config: BrokerConfig, versions: dict[str, str], environment: str,
                      ignore: Sequence[str] = ()) -> list[Recorded]:
    """Record at the broker that every service but those in `ignore` is deployed to `environment` at
    `versions[service]`. Every service and version is looked up before anything is recorded: a service the broker
    does not know, or a version it does not have, records nothing (as `pact broker record-deployment` refuses them).

    Raises:
        OptionError: the broker has no such environment, does not know a service or a version; a name in `ignore`
            that is no service.
        BrokerUnavailable, BrokerRefused: as BrokerClient.
    """
    client = BrokerClient(config)
    _environment(client, environment)
    _check_ignored(spec, ignore)
    links: list[tuple[str, str, str, str]] = []
    recorded = []
    pacticipants = _pacticipants(client, spec, ignore)
    unknown = [s for s, name in pacticipants.items() if name is None and s not in ignore]
    if unknown:
        names = ", ".join(repr(n) for s in unknown for n in pact_names(spec, s))
        raise OptionError(f"the Pact Broker at {config.url} knows no pacticipant for service(s) "
                          f"{', '.join(unknown)} (by {names}): nothing was recorded. A service in no contract: "
                          "--ignore SERVICE; another pact name: "
                          "`pact_name` in the topology")
    for service, name in pacticipants.items():
        version = versions[service]
        if name is None:
            recorded.append(Recorded(service, service, version, "--ignore"))
            continue
        resource = client.request("GET", client.link("pb:pacticipant-version", pacticipant=name, version=version),
                                  missing_ok=True)
        if resource is None:
            raise OptionError(f"the Pact Broker at {config.url} has no version {version} of {name} (service "
                              f"{service}): give the deployed version with --version {service}=VERSION (nothing was "
                              "recorded)")
        link = next((ln.get("href") for ln in (resource.get("_links") or {}).get("pb:record-deployment") or []
                     if isinstance(ln, dict) and ln.get("name") == environment), None)
        if not link:
            raise BrokerUnavailable(f"the Pact Broker at {config.url} offers no 'pb:record-deployment' link to "
                                    f"{environment} for version {version} of {name}")
        links.append((service, name, version, str(link)))
    for service, name, version, link in links:
        client.request("POST", link, {})
        recorded.append(Recorded(service, name, version))
    order = list(spec.services)
    return sorted(recorded, key=lambda r: order.index(r.service))


__all__ = ["DeployAnswer", "DeployCheck", "Edge", "Recorded", "can_i_deploy", "local_bases", "record_deployment",
           "service_versions"]
