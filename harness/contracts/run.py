"""Which pacts a run verifies, and a verdict for every one of them: VerifyRun, the one verification run both
front-ends use (no printing: a front-end gets each verdict as it comes and has it said by harness.report). A pact file
ends verified, failed, error or excluded; none is skipped."""

from __future__ import annotations

import dataclasses
import fnmatch
import shutil
import tempfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.contracts.broker import BrokerClient, BrokerFetch, check_publishing, dirty_notes, fetch_pacts
from harness.contracts.broker_config import BrokerConfig, trusted_version, with_checkout
from harness.contracts.cache import RunCache, pact_content, states_files
from harness.contracts.handlers import MISSING_HANDLERS_HINT, missing_handlers, unused_state_handlers
from harness.contracts.names import near_service, service_for
from harness.contracts.pactfiles import PactFile, UnreadablePact, read_pact, scan_pacts
from harness.contracts.publication import results_publication
from harness.contracts.results import InteractionResult, PactResult, error_result
from harness.contracts.running import mounts_note, with_mounts_note
from harness.contracts.states import Registry, load_states
from harness.contracts.verify import provider_not_a_service, unverifiable_reason, verify_pact
from harness.contracts.worker import VerifierWorker
from harness.errors import EXIT_FAILED, HarnessError, MalformedPact, PactInputProblems, StatesModuleError
from harness.model.placement import suggest
from harness.model.topology import ExcludedPact, TopologySpec
from harness.runtime.topology import Topology
from harness.verdict import exit_code as run_exit_code

Source = PactFile | UnreadablePact


@dataclass(frozen=True)
class Selection:
    """The pact files of a run (readable or not) and the handlers of their states."""

    folder: Path | None  # None: no folder is read (a broker's pacts only)
    sources: list[Source]
    registry: Registry
    notes: list[str] = field(default_factory=list)  # e.g. an exclusion that matches no pact of the folder


def pact_folder(spec: TopologySpec, folder: Path | None = None) -> Path:
    return folder if folder is not None else spec.base_dir / spec.contracts.pacts


def select_pacts(spec: TopologySpec, folder: Path | None = None, provider: str | None = None,
                 consumer: str | None = None, more: Sequence[Source] = (), more_notes: Sequence[str] = (),
                 broker_url: str | None = None) -> Selection:
    """The pacts to verify (all of the folder, less filters and exclusions) and the handlers of their states, checked
    as far as the files alone tell, before anything starts.

    `provider`/`consumer` filter by service (or by the name the pact writes). `broker_url`: the Pact Broker whose
    pacts are `more` (`more_notes`: what it said, e.g. a provider none of whose pacts matched); with a broker the
    folder is read only when one is configured (`folder` given, or `contracts.pacts` written in the topology file),
    as the broker replaces the default folder.

    Raises:
        PactInputProblems: every problem found, each once: the folder is missing, no pact is left after the filters
            (with a hint when a pact's name is close), a file is not a readable pact (also under a filter, which
            cannot tell whose it is), a pact's provider is not a service, a pact the Verifier cannot verify, a states
            module does not load, a state or message has no handler."""
    problems: list[str] = []
    hints: list[str] = []
    read_folder = broker_url is None or folder is not None or "pacts" in spec.contracts.model_fields_set
    where = pact_folder(spec, folder) if read_folder else None
    place = " or ".join(([f"in {where}"] if where is not None else [])
                        + ([f"at the Pact Broker {broker_url}"] if broker_url else []))
    try:
        everything = [] if where is None else scan_pacts(where)
    except MalformedPact as error:
        problems.append(str(error))
        everything = []
    everything = [*everything, *more]
    sources = everything
    if provider or consumer:
        chosen = [s for s in everything if isinstance(s, PactFile)
                  and _named(spec, s.provider, provider) and _named(spec, s.consumer, consumer)]
        sources = [s for s in everything if not isinstance(s, PactFile) or s in chosen] if chosen else []
    if not problems and not any(isinstance(s, PactFile) for s in sources) and (provider or consumer or not everything):
        problems.append(_nothing_selected(spec, everything, place, where is not None, provider, consumer,
                                          bool(more_notes)))
    problems += [str(s.error) for s in everything if isinstance(s, UnreadablePact)]
    pacts = [s for s in sources if isinstance(s, PactFile) and exclusion(spec, s) is None]
    for pact in pacts:
        if service_for(spec, pact.provider) is None:
            problems.append(str(provider_not_a_service(pact, spec)))
        elif (reason := unverifiable_reason(pact)) is not None:
            problems.append(str(reason))
    unloaded: list[StatesModuleError] = []
    registry = load_states([spec.base_dir / f for f in spec.contracts.states], unloaded)
    problems += [str(error) for error in unloaded]
    if unloaded:
        hints.append("The provider states and message producers of the pacts are checked once every states module "
                     "loads.")
    else:
        missing = missing_handlers(pacts, registry, spec)
        problems += missing
        hints += [MISSING_HANDLERS_HINT] if missing else []
    notes = [*more_notes, *_unused_exclusions(spec, everything, place), *_missing_documents(spec, pacts),
             *unused_state_handlers(spec, registry)]
    if problems:  # the notes too: an exclusion with a typo may be why a pact is here
        raise PactInputProblems(problems, hints + [f"note: {note}" for note in notes])
    return Selection(where, sources, registry, notes)


def _unused_exclusions(spec: TopologySpec, everything: list[Source], where: str) -> list[str]:
    """A note per `contracts.exclude` rule that leaves out no pact of the folder (a typo in a name would otherwise
    pass unnoticed until the pact it meant fails)."""
    pacts = [s for s in everything if isinstance(s, PactFile)]
    notes = []
    for rule in spec.contracts.exclude:
        if any(_excludes(spec, rule, pact) for pact in pacts):
            continue
        selects = ", ".join(f"{key}: {value}" for key, value in
                            (("pact", rule.pact), ("consumer", rule.consumer), ("provider", rule.provider)) if value)
        consumers = ", ".join(sorted({p.consumer for p in pacts})) or "none"
        providers = ", ".join(sorted({p.provider for p in pacts})) or "none"
        notes.append(f"contracts.exclude {{{selects}}} leaves out no pact {where} (consumers there: {consumers}; "
                     f"providers: {providers})")
    return notes


def _missing_documents(spec: TopologySpec, pacts: list[PactFile]) -> list[str]:
    """A note per provider whose `openapi:` names a file that is not there: said before anything starts, though it
    only makes the matrix's drift column an error (drift never changes a verification's verdict)."""
    notes = []
    for provider in dict.fromkeys(service_for(spec, pact.provider) for pact in pacts):
        location = spec.services[provider].openapi if provider is not None else None
        if location and not location.startswith("/") and not (spec.base_dir / location).is_file():
            notes.append(f"service '{provider}': `openapi: {location}` is neither a file next to the topology (no "
                         f"{(spec.base_dir / location).resolve()}) nor a path the service serves (one starting with "
                         "/): the contract matrix's drift column says error for its pacts")
    return notes


def _named(spec: TopologySpec, pact_name: str, wanted: str | None) -> bool:
    return wanted is None or wanted == pact_name or wanted == service_for(spec, pact_name)


def _nothing_selected(spec: TopologySpec, everything: list[Source], where: str, folder_read: bool,
                      provider: str | None, consumer: str | None, broker_notes: bool = False) -> str:
    pacts = [s for s in everything if isinstance(s, PactFile)]

    def near(wanted: str, side: str) -> str:  # among the pacts' names on that side and the services
        return suggest(wanted, {*(getattr(p, side) for p in pacts), *spec.services} - {wanted})

    what = ("no pact to verify" + (f" for provider {provider}{near(provider, 'provider')}" if provider else "")
            + (f" from consumer {consumer}{near(consumer, 'consumer')}" if consumer else "") + f" {where}")
    hints = []
    for wanted, side in ((provider, "provider"), (consumer, "consumer")):
        if not wanted:
            continue
        names = sorted({getattr(p, side) for p in pacts})
        close = [n for n in names if near_service(spec, n) == wanted or n.lower() == wanted.lower()]
        if close:
            hints.append(f"pacts name the {side} {', '.join(map(repr, close))}: map it to service {wanted} with "
                         f"`pact_name: {close[0]}` on the service (or `contracts.names`)")
        elif names:
            hints.append(f"{side}s in the pacts: {', '.join(names)}")
    if not pacts and folder_read:
        hints.append("the folder holds no readable pact: run the consumer tests first, or point --pacts elsewhere")
    elif not pacts:
        if provider and provider not in spec.services and service_for(spec, provider) is None:
            said = (f"the broker is asked only for the pacts of the topology's services (and their pact_name), and "
                    f"{provider} is none of them")
        else:
            said = "the broker selected none" + (" (see the notes)" if broker_notes else "")
        hints.append(f"{said}; a pact folder is read beside the broker's pacts only when one is configured: "
                     "--pacts DIR or contracts.pacts")
    return what + "".join(f"\n{h}" for h in hints)


def exclusion(spec: TopologySpec, pact: PactFile) -> str | None:
    """The written reason when `contracts.exclude` leaves `pact` out, else None."""
    return next((rule.reason for rule in spec.contracts.exclude if _excludes(spec, rule, pact)), None)


def _excludes(spec: TopologySpec, rule: ExcludedPact, pact: PactFile) -> bool:
    return ((rule.pact is None or fnmatch.fnmatch(pact.path.name, rule.pact))
            and (rule.consumer is None or _named(spec, pact.consumer, rule.consumer))
            and (rule.provider is None or _named(spec, pact.provider, rule.provider)))


def _decided_before_running(spec: TopologySpec, source: Source) -> PactResult | None:
    """The verdict of a pact that is not run: unreadable, excluded (with its reason), provider not a service."""
    if isinstance(source, UnreadablePact):
        return PactResult(source.path, "error", reason=str(source.error), error=source.error)
    reason = exclusion(spec, source)
    if reason is not None:
        return PactResult(source.path, "excluded", source.consumer, source.provider,
                          service_for(spec, source.consumer), service_for(spec, source.provider),
                          len(source.interactions), reason=reason)
    if service_for(spec, source.provider) is None:
        return error_result(source, spec, provider_not_a_service(source, spec))
    return None


@dataclass(frozen=True)
class VerifyOptions:
    """Which pacts a verification takes: those of `pacts` (None: `contracts.pacts` of the topology file), only those
    of `provider` / `consumer` (a service's name, or the name the pact writes) when given; `cache`: the verdict
    cache's folder (harness.contracts.cache.cache_folder(); None: every pact is verified)."""

    pacts: Path | None = None
    provider: str | None = None
    consumer: str | None = None
    cache: Path | None = None
    broker: BrokerConfig | None = None  # the pacts a Pact Broker selects too (harness.contracts.broker)
    broker_folder: Path | None = None  # where its pacts are fetched to (None: a folder of the run, removed after)
    outputs: tuple[Path, ...] = ()  # what the run writes (the matrix's folder, a JUnit file): no data the states read
    marked: bool = False  # --observe: the verifier's requests carry its mark (verify_pact), counted apart


class VerifyRun:
    """The pact verification of one topology, for both front-ends: the pacts selected and checked as far as the files
    tell (on creation, before anything starts), then one verdict per pact file, each file verified once, in one
    verifier process; `async def` handlers share one event loop. `harness verify` verifies every pact (`run`);
    pytest's first item of a pact file verifies that file for the interactions selected (`result`).

    Raises (on creation):
        PactInputProblems: every problem of the pacts, the states modules and the filters (see select_pacts)."""

    def __init__(self, spec: TopologySpec, options: VerifyOptions = VerifyOptions(),
                 on_result: Callable[[PactResult], None] | None = None) -> None:
        self.spec = spec
        self.broker = BrokerFetch()
        self._broker_folder: Path | None = None
        if options.broker is not None:
            self._broker_folder = None if options.broker_folder else Path(tempfile.mkdtemp(prefix="harness-broker-"))
            folder = options.broker_folder or self._broker_folder
            assert folder is not None
            try:
                self.broker = fetch_pacts(spec, options.broker, folder, options.provider)
                self.selection = select_pacts(spec, options.pacts, options.provider, options.consumer,
                                              [read_pact(path) for path in self.broker.pacts], self.broker.notes,
                                              options.broker.url)
            except BaseException:
                if self._broker_folder is not None:
                    shutil.rmtree(self._broker_folder, ignore_errors=True)
                raise
            providers = {s.path: name for s in self.selection.sources if isinstance(s, PactFile) and s.path in
                         self.broker.pacts and (name := service_for(spec, s.provider)) is not None}
            try:  # the commit names the providers only if it names every module the handlers reach, too
                self._broker_config: BrokerConfig | None = with_checkout(options.broker, spec, _states_code(
                    spec, self.selection.registry), providers.values())
                check_publishing(self._broker_config, {n: self.broker.pacts[path] for path, n in providers.items()})
            except BaseException:
                self.selection.registry.close()
                if self._broker_folder is not None:
                    shutil.rmtree(self._broker_folder, ignore_errors=True)
                raise
            if self.broker.pacts:
                self.selection.notes.extend(dirty_notes(self._broker_config, spec, providers.values()))
        else:
            self.selection = select_pacts(spec, options.pacts, options.provider, options.consumer)
            self._broker_config = None
        self.on_result = on_result  # sees each verdict as it is reached (a console line)
        self.results: list[PactResult] = []  # in the order reached
        self._earlier: dict[Path, PactResult | None] = {}  # the verdicts reached before (_cached), by file
        self._reverified: dict[Path, str] = {}  # cached from another provider version: verified again to publish
        self._by_file: dict[Path, PactResult] = {}
        self._worker: VerifierWorker | None = None
        self._marked = options.marked  # (its requests carry the verifier's mark: --observe counts them apart)
        self.cache = None if options.cache is None else RunCache(
            options.cache, spec, [spec.base_dir / f for f in spec.contracts.states], self.selection.registry,
            [options.pacts or spec.base_dir / spec.contracts.pacts, options.cache.parent, *options.outputs])

    @property
    def needs_topology(self) -> bool:
        """Whether a pact is left to verify once the unreadable, excluded and cached ones are decided."""
        return any(_decided_before_running(self.spec, source) is None and self._cached(source) is None
                   for source in self.selection.sources)

    def _cached(self, source: Source) -> PactResult | None:
        """A verdict reached before: by an earlier run here (the verdict cache), else, for a broker pact, the
        broker's successful result of the same content by the given provider version; None without the cache
        (--no-cache)."""
        if self.cache is None or not isinstance(source, PactFile):
            return None
        if source.path not in self._earlier:
            if (config := self._broker_config) is not None and config.publish:  # the broker's first: none published
                found = self._verified_at_broker(source) or self._publishable(source, self.cache.cached(source))
            else:
                found = self.cache.cached(source) or self._verified_at_broker(source)
            pact = self.broker.pacts.get(source.path)
            if found is not None and pact is not None:  # where it came from; a pending pact verified is not pending
                found = dataclasses.replace(found, source=pact.source, url=pact.url)
            self._earlier[source.path] = found
        return self._earlier[source.path]

    def _publishable(self, source: PactFile, found: PactResult | None) -> PactResult | None:
        """`found`, the verdict cache's for a broker pact whose result is to be published, when verified as the
        provider version it would be published under; else None (verified again, said): a publication is a claim
        about that version, and a commit may change what the key does not hold (a data file read from elsewhere)."""
        config, pact = self._broker_config, self.broker.pacts.get(source.path)
        if found is None or config is None or pact is None or found.verified_as == config.provider_version or \
                config.held(found.provider_service or "") is not None:  # the same version, or withheld anyway
            return found
        self._reverified[source.path] = found.verified_as or "an unknown version"
        return None

    def _version_of(self, result: PactResult) -> str:
        """The provider version a verification here is of (trusted_version, or the one its result was published
        under), kept in the cache; "": none known."""
        config, provider = self._broker_config, result.provider_service
        if config is None or provider is None:
            return ""
        trusted = trusted_version(config, self.spec, provider)
        published = result.published and not config.version_unlike
        return trusted[0] if trusted is not None else (config.provider_version or "") if published else ""

    def _verified_at_broker(self, source: PactFile) -> PactResult | None:
        pact, config = self.broker.pacts.get(source.path), self._broker_config
        provider = service_for(self.spec, source.provider)
        trusted = None if pact is None or config is None or provider is None else \
            trusted_version(config, self.spec, provider)
        if trusted is None:
            return None
        assert pact is not None and config is not None
        version, why = trusted
        when = BrokerClient(config).verified_at(pact, source.consumer, source.provider, version)
        if when is None:
            return None
        labels = [label for label, _ in source.labels()]
        return PactResult(source.path, "verified", source.consumer, source.provider,
                          service_for(self.spec, source.consumer), service_for(self.spec, source.provider),
                          len(source.interactions), [InteractionResult(d, True, label=label) for label, d in
                                                     source.labels()], labels=labels,
                          cached_from=when or "an unknown time",
                          cached_by=f"the Pact Broker ({source.provider} {version}, from {why})")

    @property
    def verified_any(self) -> bool:
        """Whether a verdict other than excluded was reached (else the contract matrix is left as it was)."""
        return any(result.verdict != "excluded" for result in self.results)

    def verdict(self, file: Path) -> PactResult | None:
        """The verdict of a pact file reached so far, else None."""
        return self._by_file.get(file)

    def result(self, source: Source, topology: Callable[[], Topology],
               only: Collection[str] | None = None) -> PactResult:
        """The verdict of `source`, verified the first time it is asked for (`topology()` gives the running topology;
        `only`: the labels of the interactions to verify, None: all); the same verdict every later time."""
        if source.path not in self._by_file:
            result = _decided_before_running(self.spec, source) or self._cached(source)
            if result is None:
                assert isinstance(source, PactFile)
                if self._worker is None:
                    self._worker = VerifierWorker()
                content = pact_content(source.path)  # as verified: a file changed meanwhile is not kept
                result = verify_pact(topology(), source, self.selection.registry, self._worker, only, self._marked)
                # the mounted files as they are right before the verdict is kept or published (a digest: cheap): a
                # file edited during a long session, after an earlier verdict, counts for this one
                result = with_mounts_note(result, mounts_note(topology()), self._broker_config,
                                          source.path in self.broker.pacts)
                result = dataclasses.replace(result, reverified=self._reverified.get(source.path, ""))  # said
                result = self._from_broker(result)
                if self.cache is not None and only is None and not result.stale:
                    self.cache.keep(source, content, result, topology(), self._version_of(result))
            elif result.cached_from and not result.cached_by:  # verified here before: published when asked
                result = self._from_broker(result)
            self.add(result)
        return self._by_file[source.path]

    def _from_broker(self, result: PactResult) -> PactResult:
        """A broker pact's verdict says where it came from and whether it is pending; its result is published when
        asked (a publication that fails makes the verdict an error: CI must not believe the broker has it)."""
        pact = self.broker.pacts.get(result.path)
        if pact is None:
            return result
        result = dataclasses.replace(result, source=pact.source, pending=pact.pending, url=pact.url)
        config = self._broker_config
        # a broker records a result for the whole pact: a partial one (-k) would pass can-i-deploy for what was not
        # verified, so it is never published (results_publication says so)
        if config is not None and config.publish and result.verdict in ("verified", "failed") and not result.partial:
            provider = result.provider_service or ""
            if (why := config.held(provider)) is not None:
                # under the commit a clean checkout would take it as its own: the others' results are published
                return dataclasses.replace(result, withheld=f"{provider}: {why.reason} ({config.remedy(why)})")
            try:
                BrokerClient(config).publish(pact, result, result.provider or "")
            except HarnessError as error:
                short = getattr(error, "short", None) or str(error)  # in full once: results_publication
                return dataclasses.replace(result, verdict="error", error=error, pending=False, reason=(
                    f"{result.verdict}, but its verification result was not published: {short}"),
                    not_published=getattr(error, "message", str(error)))
            result = dataclasses.replace(result, published=True)
        return result

    @property
    def results_publication(self) -> str | None:
        """Whether this run published verification results to the broker (where, for which provider version and
        branch, how many) or why not; None without a broker or when no pact came from it."""
        return results_publication(self._broker_config, self.results)

    def add(self, result: PactResult) -> None:
        """A verdict reached here, or by another pytest-xdist worker (a file's items may run on two: the first
        verdict counts)."""
        if result.path not in self._by_file:
            self._by_file[result.path] = result
            self.results.append(result)
            if self.on_result is not None:
                self.on_result(result)

    def run(self, topology: Topology | None) -> list[PactResult]:
        """A verdict for each pact of the selection, in order (`topology`: None when none needs it)."""
        def running() -> Topology:
            assert topology is not None, "a pact to verify needs the running topology"
            return topology

        return [self.result(source, running) for source in self.selection.sources]

    def close(self) -> None:
        """The verifier process and the handlers' event loop end."""
        if self._worker is not None:
            self._worker.close()
        self.selection.registry.close()
        if self._broker_folder is not None:
            shutil.rmtree(self._broker_folder, ignore_errors=True)


def _states_code(spec: TopologySpec, registry: Registry) -> list[Path] | None:
    """The provider states' code (cache.states_files); None when it cannot be listed (then no commit names it)."""
    try:
        return states_files([spec.base_dir / f for f in spec.contracts.states], registry)
    except Exception:  # noqa: BLE001 - as the verdict cache: what cannot be listed is not known to be committed
        return None


def drift_column(topology: Topology, selection: Selection) -> list[Any]:
    """The drift of every pact of the selection against its provider's OpenAPI document (drift.PactDrift each), for
    the matrix's drift column: static (nothing is called but a GET for a document the service serves, from this
    running topology); never raises, and never changes a verification verdict or the exit code. Needs openapi-core
    (the front-ends check it is installed; without it the column says "not checked")."""
    from harness.contracts.drift import check_files, running_fetcher

    return check_files(topology.spec, [source.path for source in selection.sources],
                       running_fetcher(topology.spec, topology))


def exit_code(results: list[PactResult]) -> int:
    """0 when every pact is verified or excluded; else the highest exit code of an error verdict (2 bad input,
    3 environment), else 1 (failures)."""
    return run_exit_code(results) if results else EXIT_FAILED  # no pact at all verified nothing
