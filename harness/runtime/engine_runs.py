"""Runs across several engines found from any one of them (issue #27): every object of such a run carries the
engines of its topology (the `engines` label: name and host as the file wrote them, the manager first), so `harness
down` (--all, --run, FILE) and the next start on any of those engines remove the run from all of them, also after a
SIGKILL of its owner and after the file was edited."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions

from harness.engine_source import Engine, context_engine, engine_address
from harness.errors import DockerError, DockerUnavailable
from harness.model.topology import TopologySpec
from harness.runtime import labels as L
from harness.runtime.engine import CALL_SECONDS, CHECK_SECONDS
from harness.runtime.engines import (
    RunEngine,
    _remove_from_worker,
    _until_gone,
    kept_network,
    network_kept,
    published_host,
    remove_on_manager,
)
from harness.runtime.interrupts import InterruptsDeferred
from harness.runtime.swarm import leave_made_swarm

ENGINES = L.ENGINES  # [[name, host], ...] as the file writes them, the manager first

__all__ = ["ENGINES", "KnownRun", "Removed", "answering", "engines_label", "engines_of", "known_runs",
           "remove_leftovers_anywhere", "remove_run_anywhere", "run_engines", "runs_across", "runs_on", "spread"]


def engines_label(spec: TopologySpec) -> dict[str, str]:
    """The label that names `spec`'s engines ({} for a topology on one engine)."""
    return {ENGINES: json.dumps([[e.name, e.host] for e in spec.engines])} if spec.engines else {}


def engines_of(resource: Any) -> list[tuple[str, str]]:  # noqa: ANN401 - a docker Container, Network or Volume
    """(name, host) of each engine of `resource`'s run, the manager first; [] for a run on one engine."""
    try:
        return [(str(name), str(host)) for name, host in json.loads(L.labels_of(resource).get(ENGINES) or "[]")]
    except (ValueError, TypeError):
        return []


def run_engines(run: L.Run) -> list[tuple[str, str]]:
    """(name, host) of each engine of `run`, the manager first (from any of its objects); [] for a run on one
    engine."""
    try:
        return [(str(name), str(host)) for name, host in json.loads(L.recorded_engines(run) or "[]")]
    except (ValueError, TypeError):
        return []


@dataclass
class Removed:
    """What a removal did: the number of `containers` removed (on every engine), and the engines that did not answer
    (`unanswered`: "engine 'e1' (tcp://...) of run RUN"), whose part of a run is left until they answer."""

    containers: int = 0
    unanswered: list[str] = field(default_factory=list)
    left_swarm: list[str] = field(default_factory=list)  # engines that left the swarm the harness made for them
    engines: set[str] = field(default_factory=set)  # the hosts removed from (this process's engine for a run on one)
    left_files: list[str] = field(default_factory=list)  # the files (label form) of runs left on an unanswering engine

    def __iadd__(self, other: Removed) -> Removed:
        self.containers += other.containers
        self.unanswered += other.unanswered
        self.left_swarm += [name for name in other.left_swarm if name not in self.left_swarm]
        self.engines |= other.engines
        self.left_files += [file for file in other.left_files if file not in self.left_files]
        return self

    @property
    def across(self) -> str:
        """` from N engines` when the runs removed were on more than one engine, else ''."""
        return f" from {len(self.engines)} engines" if len(self.engines) > 1 else ""

    def said(self, text: str) -> str:
        """`text` (what was removed), and a line that says when the engines left the swarm the harness made."""
        return text + (f"\nengines {', '.join(self.left_swarm)} left the swarm the harness made for them "
                       "(--topology-swarm join-and-leave: their last run is gone)" if self.left_swarm else "")

    def raise_unanswered(self, again: str) -> None:
        """DockerError naming the engines that did not answer, and `again`, the command that removes the rest."""
        if self.unanswered:
            raise DockerError(f"removed {self.containers} container(s); not removed from {', '.join(self.unanswered)}"
                              ": no answer", operation="remove",
                              hint=f"Start that engine again (or fix its address) and run `{again}` again.")


def _engine(name: str, host: str) -> Engine:
    """Engine `name` of a run's label: `host` as the file wrote it (a DOCKER_HOST-style URL, or a Docker context)."""
    return Engine(host, f"engine '{name}'") if "://" in host else context_engine(host, f"engine '{name}'")


def _client(name: str, host: str) -> docker.DockerClient:
    engine = _engine(name, host)
    client = docker.from_env(timeout=CHECK_SECONDS, environment=engine.docker_environment())
    client.ping()
    client.api.timeout = CALL_SECONDS
    return client


def answering(engines: Iterable[tuple[str, str]]) -> tuple[dict[str, docker.DockerClient], list[str]]:
    """A client of each of `engines` ((name, host) as `engines:` writes them) that answers, by name, and the others
    ("engine 'e1' (tcp://...)"). Nothing about a swarm is checked or changed: for commands that only read or
    remove what is on each engine (`harness logs`, `harness prune`)."""
    clients: dict[str, docker.DockerClient] = {}
    unanswered = []
    for name, host in engines:
        try:
            clients[name] = _client(name, host)
        except (docker.errors.DockerException, OSError, requests.exceptions.RequestException, DockerUnavailable):
            unanswered.append(f"engine '{name}' ({host})")
    return clients, unanswered


def remove_run_anywhere(client: docker.DockerClient, run: L.Run, leave: bool = True) -> Removed:
    """Remove `run` (listed on the engine of `client`): on one engine as `labels.remove_run`; across engines from
    each engine of its label (containers and volumes on the workers, then the manager's, the overlay network last)
    and from the engine of `client`. An engine that does not answer is skipped and named in the result. With
    `leave`, a swarm the harness made to be left with its last run is left (swarm.leave_made_swarm); a start across
    the same engines passes False: it is about to use that swarm. A Ctrl-C meanwhile is raised once it is done."""
    with InterruptsDeferred(f"removing run {run.run_id} of topology {run.topology}"):
        return _remove_run_anywhere(client, run, leave)


def _remove_run_anywhere(client: docker.DockerClient, run: L.Run, leave: bool) -> Removed:
    engines = run_engines(run)
    if not engines:
        return Removed(L.remove_run(client, run.run_id), engines={engine_address()})
    removed = Removed()
    clients: list[docker.DockerClient | None] = []
    for name, host in engines:
        try:
            clients.append(_client(name, host))
        except (docker.errors.DockerException, OSError, requests.exceptions.RequestException, DockerUnavailable):
            clients.append(None)
            removed.unanswered.append(f"engine '{name}' ({host}) of run {run.run_id}")
            removed.left_files[:] = [run.file] if run.file else []
            continue
        removed.engines.add(host)
    manager, *workers = clients
    for worker in [*workers, client]:  # `client` may be any of them, or hold what a worker's list no longer shows
        if worker is not None:
            removed.containers += _removed_from_worker(worker, run.run_id)
    if manager is not None:
        try:
            removed.containers += remove_on_manager(manager, run.run_id, patient=not removed.unanswered)
            _until_gone(manager, run.run_id, [worker for worker in workers if worker is not None])
        except docker.errors.APIError as error:  # the network still has endpoints on an engine that did not answer
            if not removed.unanswered:
                raise network_kept(f"engine '{engines[0][0]}' ({engines[0][1]})", run.run_id, error,
                                   f"harness down --run {run.run_id}") from None
            gone = ", ".join(f"'{name}'" for (name, _), kept in zip(engines, clients, strict=True) if kept is None)
            removed.unanswered[-1] += f" ({kept_network(gone)})"
    if leave and leave_made_swarm(clients):  # a swarm the harness made to be left with its last run (--topology-swarm)
        removed.left_swarm = [f"'{name}'" for name, _ in engines]
    return removed


def _removed_from_worker(client: docker.DockerClient, run_id: str) -> int:
    """The containers and volumes of `run_id` on one engine, counted once: each container is listed on its engine
    only, so `client` (one of the run's engines, or not) adds what no other list had."""
    try:
        return _remove_from_worker(client, run_id)
    except requests.exceptions.ConnectionError:
        return 0  # `client` is the engine this command was given: it answered a moment ago; the rest is said


def remove_leftovers_anywhere(client: docker.DockerClient, include_kept: bool = False, file: str | Path | None = None,
                              under: Path | None = None, leave: bool = True, topology: str | None = None) -> Removed:
    """`labels.remove_leftovers` (runs whose owner is gone; with include_kept, kept runs too; of one file or of
    files under one folder; of one topology name, a Compose project, or any), each run removed from every engine it
    ran on (remove_run_anywhere)."""
    removed = Removed()
    for run in L.list_runs(client, file):
        if (under is not None and not L.is_under(run.file, under)) or topology not in (None, run.topology):
            continue
        if (include_kept and run.kept) or (not run.kept and not run.owner_alive):
            removed += remove_run_anywhere(client, run, leave)
    return removed



def runs_across(engines: dict[str, RunEngine], file: str | Path) -> list[L.Run]:
    """The runs of topology file `file` on `engines` (their manager first), each with its containers from every
    engine (each as listed on its own engine, so removing or inspecting it talks to that engine), newest first."""
    return runs_on([engine.client for engine in engines.values()], file)


def runs_on(clients: Iterable[docker.DockerClient], file: str | Path) -> list[L.Run]:
    """`runs_across`, given the engines' clients."""
    merged: dict[str, L.Run] = {}
    for client in clients:
        for run in L.list_runs(client, file):
            if run.run_id not in merged:
                merged[run.run_id] = run
                continue
            into = merged[run.run_id]
            into.containers += run.containers
            into.networks += run.networks
            into.volumes += run.volumes
            into.started = into.started or run.started
    return sorted(merged.values(), key=lambda run: run.created, reverse=True)


@dataclass
class Spread:
    """A run as its engines list it: the run with its containers from every engine that answered, the engine of
    each container (by id), and the engines that did not answer (their containers are missing from it)."""

    run: L.Run
    engine_of: dict[str, str]
    unanswered: list[str]
    hosts: dict[str, str] = field(default_factory=dict)  # engine name -> where its published ports are reached


def spread(client: docker.DockerClient, run: L.Run) -> Spread | None:
    """`run` (listed on the engine of `client`) with its containers on each of its engines; None for a run on one
    engine."""
    engines = run_engines(run)
    if not engines:
        return None
    merged = L.Run(run.run_id, run.topology, run.file, run.kept, run.owner, run.shared, started=run.started)
    engine_of: dict[str, str] = {}
    unanswered = []
    hosts = {}
    for name, host in engines:
        try:
            listed = next((r for r in L.list_runs(_client(name, host)) if r.run_id == run.run_id), None)
        except (docker.errors.DockerException, OSError, requests.exceptions.RequestException, DockerUnavailable):
            unanswered.append(f"engine '{name}' ({host})")
            continue
        hosts[name] = published_host(_engine(name, host).address)
        if listed is not None:
            merged.containers += listed.containers
            merged.networks += listed.networks
            merged.started = merged.started or listed.started
            engine_of.update(dict.fromkeys((c.id for c in listed.containers), name))
    return Spread(merged, engine_of, unanswered, hosts)


@dataclass
class KnownRun:
    """A run as `harness ps` lists it: `run` with its containers from every engine of it that answered, `spread`
    (across engines: each container's engine; None for a run on one engine), and `found_on`, the engine it was
    listed on ((name, host) as a file or a run's label writes it; None: this machine's engine), and `host`, where
    this machine reaches the ports it publishes (None: this machine's engine's)."""

    run: L.Run
    spread: Spread | None
    found_on: tuple[str, str] | None
    host: str | None = None


def known_runs(local: docker.DockerClient | None, engines: Iterable[tuple[str, str]] = ()
               ) -> tuple[list[KnownRun], list[str]]:
    """Every run of every engine this machine knows of: this machine's engine (`local`; None: it did not answer),
    `engines` ((name, host): a topology file's), and the engines the runs found there name (their `engines` label),
    in turn; each engine asked once (by address), each run listed once (by id) with its containers on every engine.

    Returns:
        The runs, those of this machine's engine first (each engine's newest first), and those of `engines` that did
        not answer ("engine 'e1' (tcp://...)"; an engine of a run that does not answer is in its `spread`).
    """
    queue = [(name, host, True) for name, host in engines]  # (name, host, whether `engines` named it)
    asked: set[str] = set()
    found: dict[str, KnownRun] = {}
    unanswered: list[str] = []

    def listed_on(client: docker.DockerClient, where: tuple[str, str] | None, host: str | None = None) -> None:
        for run in L.list_runs(client):
            if run.run_id not in found:
                across = spread(client, run)
                found[run.run_id] = KnownRun(across.run if across is not None else run, across, where, host)
                queue.extend((name, host, False) for name, host in run_engines(run))

    if local is not None:
        asked.add(engine_address())
        listed_on(local, None)
    while queue:
        name, host, named = queue.pop(0)
        try:
            address = _engine(name, host).address
            if address in asked:
                continue
            asked.add(address)
            client = _client(name, host)
        except (docker.errors.DockerException, OSError, requests.exceptions.RequestException, DockerUnavailable):
            if named:
                unanswered.append(f"engine '{name}' ({host})")
            continue
        listed_on(client, (name, host), published_host(address))
    return list(found.values()), unanswered
