"""A running topology: one private network, a container per service, started in dependency order.

Services whose dependencies are ready start concurrently; `build:` images are built concurrently from the start.
Any failure (or Ctrl-C) removes everything the run created, found by its run label.
"""

from __future__ import annotations

import difflib
import fcntl
import functools
import hashlib
import json
import random
import re
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Literal

import docker
import docker.errors

from harness.engine_source import resolve_engine
from harness.errors import DockerError, HarnessError, RemoteMount, UnknownService
from harness.runtime import labels as L
from harness.runtime.buildcontext import copy_digest
from harness.runtime.containers import CopyRef, MountRef, service_container
from harness.runtime.engine import connect, engine_address, publish_address, remote_engine, service_host
from harness.runtime.faults import Edge, TopologyFaults
from harness.runtime.imagelocks import using_contexts
from harness.runtime.images import (
    PlannedBuild,
    build_image,
    content_tag,
    planned_builds,
    prepare_images,
    substitute,
    tidy,
)
from harness.runtime.interrupts import InterruptsDeferred
from harness.runtime.service import ExecResult, Service, StartCancelled
from harness.spec.model import CONTAINER_KEYS, ServiceSpec, TopologySpec
from harness.spec.plan import StartPlan, restarted_by
from harness.spec.secrets import Masker

LOG_LINES_OF_THE_DEAD = 20
PORT_ATTEMPTS = 3  # a free port may be taken by another process between choosing it and publishing it
__all__ = ["ExecResult", "Progress", "Service", "StartEvent", "Topology"]
EventKind = Literal["building", "built", "cached", "starting", "waiting", "ready", "completed", "failed"]


@dataclass(frozen=True)
class StartEvent:
    service: str
    kind: EventKind
    seconds: float = 0.0
    detail: str = ""


Progress = Callable[[StartEvent], None]


class Topology:
    """A running topology. `topology["dataservice"].url`; use as a context manager or call `close()`."""

    def __init__(self, spec: TopologySpec, client: docker.DockerClient, run_id: str, network: str | None,
                 keep: bool) -> None:
        self.spec = spec
        self.client = client
        self.run_id = run_id
        self.network = network
        self.keep = keep
        self.services: dict[str, Service] = {}
        self.reused = False  # a kept run of an earlier session (Topology.kept_or_started), not started now
        self.faults = TopologyFaults(self)  # faults per edge: .active(), .clear(), .history

    def edge(self, consumer: str, provider: str) -> Edge:
        """Faults on the calls `consumer` makes to `provider` (any two services of the topology), e.g.
        `with topology.edge("gateway", "dataservice").delay(ms=1500): ...`; see harness.runtime.faults.

        Raises:
            UnknownService: a name that is not a running service (with the near miss). InvalidFault: the same name
                twice.
        """
        return self.faults.edge(consumer, provider)

    def _add(self, service: Service) -> None:
        """Register a running service and give it its faults (`service.faults`), which follow its restarts."""
        self.services[service.name] = service
        service._faults = self.faults.edge(service.name, None)  # noqa: SLF001 - the topology wires its services
        service.on_start.append(self.faults.service_started)

    def __getitem__(self, name: str) -> Service:
        """The running service `name`.

        Raises:
            UnknownService: `name` is not a running service of this topology (a KeyError too), with the near miss.
        """
        try:
            return self.services[name]
        except KeyError:
            known = [n for n in self.spec.services if n in self.services]  # file order, not start order
            close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
            raise UnknownService(str(name), known, self.spec.project, close[0] if close else None) from None

    def __iter__(self) -> Iterator[Service]:
        """The running services, in the order of the topology file."""
        return iter([self.services[name] for name in self.spec.services if name in self.services])

    def __contains__(self, name: object) -> bool:
        return name in self.services

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def urls(self) -> dict[str, str]:
        """Service name -> base URL, for the services that publish a port."""
        return {s.name: s.url for s in self if s.ports}

    def close(self) -> None:
        """Remove every container and the network of this run (at once: no stop grace period).

        Raises:
            DockerError: the engine refused to remove something (the message names it and what to do).
        """
        try:
            with InterruptsDeferred():  # a second Ctrl-C must not leave half a topology behind
                L.remove_run(self.client, self.run_id)
        except docker.errors.APIError as error:
            raise DockerError(f"could not remove topology {self.spec.project} (run {self.run_id}): "
                              f"{_explain(error)}", operation="remove", run=self.run_id,
                              hint="Run `harness down` to retry, or `docker ps -a --filter "
                                   f"label={L.RUN}={self.run_id}` to see what is left.") from None

    def restore(self, only_left: bool = False) -> list[str]:
        """Put every service back as started: unpause, reconnect to the network, start (waiting for its probe) what
        is stopped, paused, disconnected or dead. One Docker list call when nothing is wrong.

        Args:
            only_left: only the services this process left stopped, paused, ... (`Service.left`): a topology shared
                with other processes (pytest-xdist workers) may have a service stopped on purpose by another one.

        Returns:
            One line per service that was not as started: what it was left as (and, for one that died by itself,
            its exit code and last log lines), and what was done.

        Raises:
            ServiceExited, ServiceNotReady: a service did not come back; DockerError: it is gone from the engine.
        """
        label = {"label": f"{L.RUN}={self.run_id}"}
        listed = {L.labels_of(c).get(L.SERVICE): c
                  for c in L.listed(lambda: self.client.containers.list(all=True, filters=label, sparse=True))}
        notes = []
        for service in self:
            if only_left and service.left is None:
                continue
            container = listed.get(service.name)
            if container is None:
                raise DockerError(f"service '{service.name}' of topology {self.spec.project} is gone from the engine "
                                  "(its container was removed)", service=service.name, operation="restore",
                                  hint="Something outside the test session removed it; run the tests again.")
            try:
                notes.extend(self._restore_one(service, container))
            except HarnessError as error:  # its last log lines may carry a secret
                raise self.masker.error(error) from None
        return [self.masker(note) for note in notes]

    def _finish_start(self, say: Callable[[str], None]) -> str | None:
        """A kept run whose start did not finish (its session ended first): wait for each running service with a
        probe, as its start would have (its `timeout`). What `restore` starts again waits for itself. Returns None
        when every one is ready (the run is then marked as started), else why not (the first error's first line)."""
        say(f"topology {self.spec.project} (run {self.run_id}) has no mark that its start finished (the session "
            "that started it ended while starting it, or an older harness started it): waiting for its services to "
            "be ready")
        waiting = [service for service in self if service.spec.probe is not None and not service.spec.job
                   and service.status == "running"]
        with ThreadPoolExecutor(max_workers=max(1, len(waiting))) as pool:
            unready = next((why for why in pool.map(_ready_or_why, waiting) if why is not None), None)
        if unready is not None:
            return self.masker(unready)  # a probe command may carry a secret
        L.mark_started(self.client, L.run_labels_of(next(iter(self)).container))
        return None

    @functools.cached_property
    def masker(self) -> Masker:
        """Hides this topology's secrets in what is printed of it (errors, progress, log sections)."""
        return Masker(self.spec)

    def _restore_one(self, service: Service, container: object) -> list[str]:
        state = L.container_status(container)
        networks = (container.attrs.get("NetworkSettings") or {}).get("Networks") or {}  # type: ignore[attr-defined]
        left = service.left or ""
        notes = []
        if state == "paused":
            service.unpause()
            notes.append(f"{service.name} was left {left or 'paused'}: unpaused it")
        if service._network and state != "exited" and service._network not in networks:  # noqa: SLF001
            service.connect()
            notes.append(f"{service.name} was left {left or 'disconnected from the network'}: reconnected it")
        if state in ("exited", "dead", "created"):
            status = str(container.attrs.get("Status", ""))  # type: ignore[attr-defined]
            code = re.search(r"\((-?\d+)\)", status)
            if service.spec.job and state == "exited" and code and code.group(1) == "0" and not left:
                return notes  # a job that ended well is as started: run again, it would redo its work
            tail = ""
            if left.startswith(("stopped", "killed")):
                what = f"was left {left}"
            else:  # not by this process: by itself, or by another (a session killed in the middle of a test)
                exit_code = code.group(1) if code else "?"
                # SIGKILL, SIGTERM: also the `.stop()` of a session that was killed (or the kernel's OOM killer)
                what = (f"was stopped or killed (exit code {exit_code})" if exit_code in ("137", "143")
                        else f"died (exit code {exit_code})")
                lines = service.logs(tail=LOG_LINES_OF_THE_DEAD).splitlines() or ["(the log is empty)"]
                tail = "; its last log lines:\n" + "\n".join(f"  | {line}" for line in lines)
            if service._network and service._network not in networks:  # noqa: SLF001
                service.connect()
            started = time.monotonic()
            service.start(wait=True)
            notes.append(f"{service.name} {what}: started it again (ready in {time.monotonic() - started:.1f} s)"
                         + tail)
        return notes

    @classmethod
    def start(cls, spec: TopologySpec, progress: Progress | None = None, keep: bool = False,
              owner: str | None = None, shared: bool = False) -> Topology:
        """Start every service of `spec` on a new private network, in dependency order, and wait until each is ready.

        Args:
            spec: from `load_topology(file)` or `harness.topology(...).spec`.
            progress: called with a StartEvent per step (building, built/cached, starting, waiting, ready, failed);
                `seconds` in events are wall-clock durations (time.monotonic).
            keep: leave it running after this process ends (until `harness down`).
            owner: the process whose end makes it a leftover (labels.owner_id; default: this one).
            shared: other sessions may use it while it runs (`harness verify`, `fuzz`, `fault`), as `harness up`'s;
                a kept run always is. Otherwise it is this session's own.

        Returns:
            The running Topology; `close()` it (or use it as a context manager) to remove it.

        Raises:
            DockerUnavailable, ImageMissing, BuildFailed, DockerError: the engine, an image, a build.
            ServiceExited, ServiceNotReady: a service died or did not pass its probe within its `timeout` (seconds).
            Anything created is removed before the error is raised (also on KeyboardInterrupt).
        """
        client = connect()
        _refuse_remote_binds(spec)
        L.remove_leftovers(client)
        run_id = uuid.uuid4().hex[:10]
        run_labels = L.run_labels(run_id, spec.project, spec.identity, keep, owner, shared)
        network = network_name(spec, run_id)
        topology = cls(spec, client, run_id, network, keep)
        topology._run(_Starter(topology, network, run_labels, topology._masked(progress)))
        return topology

    def _masked(self, progress: Progress | None) -> Progress:
        """`progress` with this topology's secrets hidden (a probe command may carry one: compose interpolation)."""
        report = progress or (lambda event: None)
        return lambda event: report(replace(event, detail=self.masker(event.detail)) if event.detail else event)

    def _run(self, starter: _Starter, kept: Collection[str] | None = None, holding: Collection[str] = ()) -> None:
        """Start what `starter` starts; the run is then marked as started. On any failure (or Ctrl-C) the whole
        run is removed, as a failed start leaves nothing running; but for an update of a kept run (`kept`: the
        services it did not touch), only what the update made is removed: the kept services stay running with their
        data and named volumes, as `docker compose up` leaves them when a recreated service fails."""
        try:
            starter.run()
            # a later session reuses a kept run as it is only if this start finished; `harness ps` says which runs
            # are still starting, or were left by an owner that died while starting them
            L.mark_started(self.client, starter.run_labels)
        except BaseException as error:
            try:
                starter.stop()  # creations in flight land before removal (a second Ctrl-C skips this wait)
            finally:
                if kept is None:
                    self.close()
                else:
                    self._undo_update(starter.run_labels, kept, holding)
            if isinstance(error, HarnessError):
                self.masker.error(error)  # a probe command, a log line or Docker's message may carry a secret
            raise

    def _undo_update(self, run_labels: dict[str, str], kept: Collection[str], holding: Collection[str]) -> None:
        """After a failed update: remove the containers the update made (the services it did not keep), but stop
        those of `holding` instead (they took the anonymous volumes, e.g. a database's data, of the containers they
        replace: removed with the run, or taken over by the next update); then mark the run as started again, so that
        the next session updates it again instead of replacing it whole."""
        with InterruptsDeferred():
            made = [c for c in L.listed(lambda: self.client.containers.list(
                        all=True, filters={"label": f"{L.RUN}={self.run_id}"}))
                    if L.labels_of(c).get(L.SERVICE) not in kept]
            L.remove_containers([c for c in made if L.labels_of(c).get(L.SERVICE) not in holding])
            for container in [c for c in made if L.labels_of(c).get(L.SERVICE) in holding]:
                with suppress(docker.errors.APIError):  # stopped or gone already
                    container.stop(timeout=0)
            for name in [n for n in self.services if n not in kept]:
                self.services.pop(name, None)
            L.mark_started(self.client, run_labels)

    @classmethod
    @contextmanager
    def reused_or_started(cls, spec: TopologySpec, progress: Progress | None = None,
                          say: Callable[[str], None] = lambda text: None) -> Iterator[Topology]:
        """The running topology of `spec`'s file (`harness up --detach`) if it was started from the same spec and
        images; else one started for this block and removed at its end. A kept run of an older version of the file
        is updated (`_updated`: only the services whose containers changed are replaced; a run whose start did not
        finish is replaced whole); a run of another live session is never touched. `say` gets one
        line telling which (for the console). A kept run is used by one session at a time (`using_kept_run`): this
        waits while another uses it, and holds it until the block ends."""
        client = connect()
        found: Topology | None = None
        using = using_kept_run(spec, say)  # held while this block uses a kept run: one session at a time
        with _closed_on_error(using), deciding(spec, say):
            run = _newest_run(client, spec)
            difference = _difference(client, spec, run) if run is not None else None
            changes = difference.lines() if difference is not None else []
            if run is not None and not changes:
                say(f"using the running topology {spec.project} (run {run.run_id})")
                found = cls._attached(spec, client, run)
            elif run is not None and difference is not None and run.kept and L.started_fully(client, run.run_id):
                found = cls._updated(spec, client, run, difference, progress, say)  # only what changed is replaced
            elif run is not None:
                say(f"the running topology {spec.project} (run {run.run_id}) was started from another version of "
                    f"{spec.identity} ({'; '.join(changes)}): "
                    + ("restarting it" if run.kept else "starting a new one beside it"))
                if run.kept:
                    L.remove_run(client, run.run_id)
                    found = cls.start(spec, progress=progress, keep=True)
                    say(f"restarted topology {spec.project} (run {found.run_id}); it stays running")
            else:
                say(f"starting topology {spec.project} from {spec.identity} (`harness up --detach` first to reuse one)")
        if found is not None:
            with using:
                yield found
            return
        using.close()  # a run of this block's own: nobody else's to wait for
        with cls.start(spec, progress=progress) as topology:
            yield topology

    @classmethod
    def attach(cls, spec: TopologySpec, say: Callable[[str], None] = lambda text: None) -> Topology | None:
        """The topology of `spec`'s file already running (started by `harness up` or `--topology-keep`), if it was
        started from the same spec and images; None otherwise (`say` is told why a running one is not used).

        Raises:
            DockerUnavailable: no engine answers.
        """
        client = connect()
        run = _newest_run(client, spec)
        if run is None:
            return None
        changes = _changes(client, spec, run)
        if changes:
            say(f"the running topology {spec.project} (run {run.run_id}) was started from another version of "
                f"{spec.identity}: {'; '.join(changes)}")
            return None
        return cls._attached(spec, client, run)

    @classmethod
    def kept_or_started(cls, spec: TopologySpec, progress: Progress | None = None,
                        say: Callable[[str], None] = lambda text: None, owner: str | None = None,
                        held: bool = False) -> Topology:
        """The kept run of `spec`'s file (`harness up --detach`, `--topology-keep`, an earlier `--topology-reuse`) if
        it was started from the same spec and images; a kept run of an older version of the file is updated, as
        `docker compose up` does: only the services whose containers changed are replaced (`_updated`; `say` is
        told what happens to each service); else a new kept run is started. Runs of other live sessions that are
        not kept are never used: their owner removes them when it ends. A kept run whose start did not finish (its
        session ended first) is used once each of its services is ready, else replaced whole. A kept run is changed
        only when no session uses it (`using_kept_run`, held while deciding; `held`: the caller's session holds it
        already).

        Raises:
            As `start`.
        """
        client = connect()
        # no session uses it while this one decides (the same order of the two locks everywhere: no deadlock)
        with nullcontext() if held else using_kept_run(spec, say), deciding(spec, say):
            kept = [run for run in L.find_runs(client, spec.identity) if run.topology == spec.project and run.kept]
            if kept:
                difference = _difference(client, spec, kept[0])
                changes = difference.lines()
                started = L.started_fully(client, kept[0].run_id)
                if not changes:
                    say(f"reusing the running topology {spec.project} (run {kept[0].run_id})")
                    topology = cls._attached(spec, client, kept[0])
                    topology.reused = True
                    unready = None if started else topology._finish_start(say)
                    if unready is None:
                        return topology
                    say(f"the kept topology {spec.project} (run {kept[0].run_id}) is not ready ({unready}): "
                        "restarting it")
                elif started and len(kept) == 1:  # as `docker compose up`: only what changed is replaced
                    return cls._updated(spec, client, kept[0], difference, progress, say)
                elif all(c.startswith("not running:") for c in changes) and not started:
                    say(f"the kept topology {spec.project} (run {kept[0].run_id}) did not finish its start (the "
                        f"session that started it ended first; {'; '.join(changes)}): restarting it")
                else:
                    say(f"the kept topology {spec.project} (run {kept[0].run_id}) was started from another version "
                        f"of {spec.identity} ({'; '.join(changes)}): restarting it")
                for run in kept:
                    L.remove_run(client, run.run_id)
            else:
                say(f"starting topology {spec.project} from {spec.identity}; it stays running for the next session")
            return cls.start(spec, progress=progress, keep=True, owner=owner)

    @classmethod
    def _updated(cls, spec: TopologySpec, client: docker.DockerClient, run: L.Run, difference: RunDifference,
                 progress: Progress | None, say: Callable[[str], None]) -> Topology:
        """The kept run `run`, updated to `spec` as `docker compose up` updates a project: the containers of the
        services that changed are replaced (their named volumes kept), services new in the file are started, those
        no longer in it removed; every other container is kept as it is, with its data (also one that depends on a
        replaced service: Docker Compose does not replace dependents either; one whose `restart_on_replace` names a
        replaced service is stopped first and started again once that is ready). The run keeps its id and labels.

        Raises:
            As `start`; what the update started is removed then, and the rest of the run is left as it was (with
            its data), still kept and marked as started.
        """
        say(f"the kept topology {spec.project} (run {run.run_id}) was started from another version of {spec.identity}: "
            "updating it as `docker compose up` does (only a service whose container changed is replaced)")
        replaced = {*difference.changed, *difference.removed}
        restarting = restarted_by(spec, replaced)
        say_update(spec, difference, say)
        L.unmark_started(client, run.run_id)  # until it is whole again: a session killed meanwhile leaves it unfinished
        labels = L.run_labels_of(run.containers[0])
        topology = cls._attached(spec, client, run, leaving_out=replaced)
        for name in restarting:  # stopped before its dependency is replaced, started once that is ready (as Compose)
            if name in topology and topology[name].status == "running":
                topology[name].stop()
        replacing = [c for c in run.containers if L.labels_of(c).get(L.SERVICE) in difference.changed]
        inherited = _anonymous_volumes(replacing)
        L.remove_containers(replacing, volumes=False)  # their anonymous volumes go to the new containers
        L.remove_containers([c for c in run.containers if L.labels_of(c).get(L.SERVICE) in difference.removed])
        kept = set(topology.services)
        try:
            topology._run(_Starter(topology, topology.network or "", labels, topology._masked(progress),
                                   kept=dict(topology.services), restarting=set(restarting), inherited=inherited),
                          kept=kept, holding=[name for name, volumes in inherited.items() if volumes])
        except BaseException:
            say(f"the update of topology {spec.project} (run {run.run_id}) did not finish: what it started was "
                f"removed; {', '.join(sorted(kept)) or 'nothing'} left as it was, with its data (the run stays kept: "
                f"fix the file and start again, or remove it: harness down "
                f"{' '.join('--topology ' + file for file in spec.identity.split(','))})")
            raise
        finally:  # those the new containers did not take (the image has that VOLUME no more; a failed start)
            L.remove_unused_volumes(client, [m.source for mounts in inherited.values() for m in mounts])
        topology.reused = True
        done = [f"replaced {', '.join(difference.changed)}"] if difference.changed else []
        done += [f"restarted {', '.join(restarting)}"] if restarting else []
        done += [f"started {', '.join(difference.added)}"] if difference.added else []
        done += [f"removed {', '.join(difference.removed)}"] if difference.removed else []
        say(f"updated topology {spec.project} (run {run.run_id}): {'; '.join(done)}; it stays running")
        return topology

    @classmethod
    def attach_run(cls, spec: TopologySpec, run_id: str) -> Topology | None:
        """The run `run_id` of `spec`'s file (started by another process of this session), or None if it is gone."""
        client = connect()
        run = next((run for run in L.list_runs(client, spec.identity) if run.run_id == run_id and run.containers), None)
        return cls._attached(spec, client, run) if run is not None else None

    @classmethod
    def _attached(cls, spec: TopologySpec, client: docker.DockerClient, run: L.Run,
                  leaving_out: Collection[str] = ()) -> Topology:
        network = network_name(spec, run.run_id)  # not a container's: one a test left disconnected is on none
        topology = cls(spec, client, run.run_id, network, keep=True)
        for container in run.containers:
            name = L.labels_of(container).get(L.SERVICE, "")  # fault helpers have none
            if name in spec.services and name not in leaving_out:
                topology._add(Service(name, spec.services[name], container, L.published_ports(container), network,
                                      host=service_host()))
        return topology

    @staticmethod
    def signatures(client: docker.DockerClient, spec: TopologySpec) -> dict[str, str]:
        """Service -> the signature a container of it started now would carry (its spec and its image's id)."""
        result = {}
        built: dict[str, str] = {}  # service with `build:` -> the content tag it runs (one per distinct build)
        named: dict[str, str] = {}  # `image:` name given beside `build:` -> that content tag, which a start runs
        for build in planned_builds(spec):
            tag = content_tag(client, build.context, build.build)
            built.update(dict.fromkeys(build.services, tag))
            named.update(dict.fromkeys(build.names, tag))
        for name, service in spec.services.items():
            image = service.image or ""
            reference = built.get(name) or named.get(image) or substitute(image, spec.image_substitutes)
            result[name] = service_signature(service, _image_id(client, reference), spec.base_dir)
        return result


def _anonymous_volumes(containers: list) -> dict[str, list[MountRef]]:
    """Service -> the volumes Docker made for the VOLUMEs of its container's image (`containers` as listed)."""
    found: dict[str, list[MountRef]] = {}
    for container in containers:
        for mount in container.attrs.get("Mounts") or []:
            if mount.get("Type") == "volume" and L.ANONYMOUS_VOLUME.fullmatch(mount.get("Name") or ""):
                found.setdefault(L.labels_of(container)[L.SERVICE], []).append(
                    MountRef("volume", mount["Name"], mount["Destination"], not mount.get("RW", True)))
    return found


def say_update(spec: TopologySpec, difference: RunDifference, say: Callable[[str], None]) -> None:
    """One line per service: what updating a run with `difference` does to it (file order, then the removed)."""
    replaced = {*difference.changed, *difference.removed}
    restarting = restarted_by(spec, replaced)
    for name, service in spec.services.items():
        what = difference.changed.get(name, [])
        if name in difference.added:
            say(f"  {name} has no container in the run (new in the file, or left out by an update that did not "
                "finish): starting it")
        elif what is None:
            say(f"  {name} was started by another version of the harness: replacing it")
        elif what:
            say(f"  {name} changed ({', '.join(what)}): replacing it")
        elif name in restarting:
            after = [d for d in service.restart_on_replace if d in replaced]
            say(f"  {name} unchanged: restarting it after {', '.join(after)} (depends_on restart: true)")
        elif depends := [d for d in service.depends_on if d in replaced]:
            say(f"  {name} unchanged: kept (it depends on {', '.join(depends)}; Docker Compose does not replace a "
                "dependent either)")
        else:
            say(f"  {name} unchanged: kept")
    for name in difference.removed:
        say(f"  {name} is no longer in the file: removing it")


def _ready_or_why(service: Service) -> str | None:
    try:
        service.wait_ready(time.monotonic())
    except HarnessError as error:
        return str(error).splitlines()[0]
    except docker.errors.APIError as error:
        return f"service '{service.name}': the Docker engine refused: {_explain(error)}"
    return None


# the parts of a signature, in the order a message names them: what a container is started from
SIGNATURE_PARTS = ("image", "environment", *CONTAINER_KEYS, "copied files")


def service_signature(service: ServiceSpec, image_id: str, base_dir: Path) -> str:
    """What a service's container is started from, as JSON {part: short hash} (SIGNATURE_PARTS): its image (name
    and id), its environment (env files read now), each container setting not at its default (CONTAINER_KEYS) and
    the content of its `copy: true` mounts. Harness-only keys (HARNESS_ONLY_KEYS: ready, auth, openapi, fuzz, ...)
    are not in it: changing them never replaces a container. Equal signatures: the container can be reused;
    `signature_changes` names what differs."""
    try:
        environment = service.full_environment(base_dir)
    except Exception:  # noqa: BLE001 - an unreadable env file: the start reports it
        environment = {}
    copies = {}
    for mount in service.mounts:
        if mount.copied:
            try:
                copies[mount.source] = copy_digest(base_dir / mount.source)
            except OSError as error:  # a missing source: the start reports it
                copies[mount.source] = f"unreadable: {error.strerror}"
    parts: dict[str, object] = {"image": [service.image, image_id], **service.container_settings()}
    if environment:
        parts["environment"] = sorted(environment.items())
    if copies:
        parts["copied files"] = sorted(copies.items())
    return json.dumps({part: hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]
                       for part, value in parts.items()}, sort_keys=True)


def signature_changes(running: str, expected: str) -> list[str] | None:
    """The parts (SIGNATURE_PARTS) that differ between two signatures (a part missing from one is at its default);
    None if `running` is of another form (its container was started by another version of the harness)."""
    try:
        old, new = json.loads(running), json.loads(expected)
    except ValueError:
        return None
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None
    order = {part: index for index, part in enumerate(SIGNATURE_PARTS)}
    return sorted((part for part in {*old, *new} if old.get(part) != new.get(part)),
                  key=lambda part: (order.get(part, len(order)), part))


def network_name(spec: TopologySpec, run_id: str) -> str:
    """The private network of run `run_id` of `spec`'s topology."""
    return f"harness-{docker_name(spec.project)}-{run_id}"


def docker_name(text: str) -> str:
    """`text` as a part of a container or network name Docker accepts ([a-zA-Z0-9][a-zA-Z0-9_.-]*)."""
    cleaned = re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-_.")
    return cleaned or "topology"


def _image_id(client: docker.DockerClient, reference: str) -> str:
    try:
        return str(client.images.get(reference).id)
    except (docker.errors.ImageNotFound, docker.errors.NullResource):
        return f"missing:{reference}"
    except docker.errors.APIError:  # an invalid reference: nothing runs from it
        return f"invalid:{reference}"


def _newest_run(client: docker.DockerClient, spec: TopologySpec) -> L.Run | None:
    """The newest live run of `spec`'s topology (same resolved file and same name) that other sessions may use: one
    of `harness up` or a kept one, never another session's own (a pytest run stops services and removes it)."""
    runs = [run for run in L.find_runs(client, spec.identity) if run.topology == spec.project and run.shared]
    return runs[0] if runs else None


@contextmanager
def deciding(spec: TopologySpec, say: Callable[[str], None]) -> Iterator[None]:
    """One process at a time decides whether the kept run of a file is used, replaced or started, and starts it:
    two sessions at the same moment would otherwise take each other's run, still starting, for one of an older
    version and remove it. A lock file per topology file (flock: released if the holder dies)."""
    with _locked(spec, "kept", f"waiting for another session that is starting or checking topology {spec.project}",
                 say):
        yield  # closing the file releases the lock


def using_kept_run(spec: TopologySpec, say: Callable[[str], None]) -> IO[str]:
    """Hold the kept run of `spec`'s file for one session (pytest --topology-reuse) until the returned file is closed:
    another session reusing it waits. It would otherwise put back, under this session's test, a service that test
    stopped on purpose, or replace the run under its tests (flock: released if the holder dies)."""
    return _locked(spec, "using", f"waiting for another session that uses the kept topology {spec.project} (one "
                                  "session at a time reuses a kept run)", say)


@contextmanager
def _closed_on_error(handle: IO[str]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        handle.close()
        raise


def _lock_file(spec: TopologySpec, kind: str) -> Path:
    folder = Path(tempfile.gettempdir()) / "pytest-topology"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{spec.identity}\0{spec.project}".encode()).hexdigest()[:16]
    return folder / f"{kind}-{key}.lock"


def _locked(spec: TopologySpec, kind: str, waiting: str, say: Callable[[str], None]) -> IO[str]:
    """An exclusive lock per topology file and `kind`: the open lock file (closing it releases the lock)."""
    handle = open(_lock_file(spec, kind), "a")  # noqa: SIM115 - the caller closes it
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(waiting)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:  # Ctrl-C while waiting
            handle.close()
            raise
    return handle


@dataclass(frozen=True)
class RunDifference:
    """How a running run differs from its file now, per service (empty: the same containers would be started)."""

    changed: dict[str, list[str] | None]  # service -> the signature parts that differ; None: another harness version
    added: list[str]  # in the file, not running
    removed: list[str]  # running, no longer in the file

    def __bool__(self) -> bool:
        return bool(self.changed or self.added or self.removed)

    def lines(self) -> list[str]:
        """One readable item per kind of difference, e.g. 'orders changed (environment, ports)'."""
        lines = [f"not running: {', '.join(self.added)}"] if self.added else []
        if self.removed:
            lines.append(f"no longer in the file: {', '.join(self.removed)}")
        lines += [f"{name} changed ({', '.join(what)})" if what is not None
                  else f"{name} was started by another version of the harness" for name, what in self.changed.items()]
        return lines


def _difference(client: docker.DockerClient, spec: TopologySpec, run: L.Run) -> RunDifference:
    """What differs between a running run and `spec` now."""
    running = {L.labels_of(c)[L.SERVICE]: L.labels_of(c).get(L.SIGNATURE) for c in run.containers
               if L.SERVICE in L.labels_of(c)}  # fault helpers and the like belong to no service
    expected = Topology.signatures(client, spec)
    changed = {name: what for name in expected if name in running and running[name] != expected[name]
               and (what := signature_changes(running[name] or "", expected[name])) != []}
    return RunDifference(changed, added=sorted(set(expected) - set(running)),
                         removed=sorted(set(running) - set(expected)))


def _changes(client: docker.DockerClient, spec: TopologySpec, run: L.Run) -> list[str]:
    """What differs between a running run and `spec` now, one item per kind (empty: the same topology)."""
    return _difference(client, spec, run).lines()


class _Starter:
    """Builds images and starts services, each in its own thread, as soon as what it needs is ready."""

    def __init__(self, topology: Topology, network: str, run_labels: dict[str, str], progress: Progress,
                 kept: dict[str, Service] | None = None, restarting: Collection[str] = (),
                 inherited: dict[str, list[MountRef]] | None = None) -> None:
        self.topology = topology
        self.updating = kept is not None  # a running run: its network is there
        self.kept = kept or {}  # services of a run being updated, left running: only the others are started
        self.restarting = restarting  # of the kept: started again once their dependencies are ready
        self.inherited = inherited or {}  # service -> anonymous volumes of the container it replaces
        self.spec = topology.spec
        self.network = network
        self.run_labels = run_labels
        self.progress = progress
        self.cancelled = threading.Event()
        self.lock = threading.Lock()
        self.images: dict[str, Future[str]] = {}
        self.ready: dict[str, Future[Service]] = {}
        self.network_created: Future[object] = Future()
        self.volumes_created: Future[dict[str, str]] = Future()  # volume name in the file -> name in the engine
        self.spawned: set[Future] = set()  # futures with a thread behind them (the others never complete)
        self.built_as: dict[str, Future[str]] = {}  # `image:` beside `build:` -> that build
        self.built_now: set[Path] = set()  # the contexts of the images this start built
        self.failures: list[BaseException] = []  # in the order they happened; the first is reported

    def run(self) -> None:
        builds = planned_builds(self.spec)
        # No prune removes an image of these contexts until every container of this start exists (imagelocks).
        with using_contexts(str(build.context.resolve()) for build in builds):
            self._run(builds)
        if self.built_now:  # old images of what was built, unless another session uses them
            tidy(self.topology.client, sorted(self.built_now))

    def _run(self, builds: list[PlannedBuild]) -> None:
        # Every image is checked (and missing ones pulled) first: one error names all that are missing.
        run_images = prepare_images(self.topology.client, self.spec)
        # Everything that does not depend on readiness starts at once: the network, the volumes, every build.
        self.network_created = _done(self.network) if self.updating else self._spawn(self._create_network, "network")
        self.volumes_created = self._spawn(self._create_volumes, "volumes")
        starting = [name for name in self.spec.services if name not in self.kept]
        for build in builds:  # one per distinct build: the services that share it run one image, built once
            runs_it = [name for name in starting if name in build.services or run_images.get(name) in build.names]
            if not runs_it:
                continue  # every service that runs it is kept as it is (an update of a kept run)
            future = self._spawn(functools.partial(self._build, build), runs_it[0])
            self.images.update(dict.fromkeys(build.services, future))
            self.built_as.update(dict.fromkeys(build.names, future))
        for name, image in run_images.items():  # an image another service builds is ready when that build is
            self.images[name] = self.built_as.get(image) or _done(image)
        for level in StartPlan.from_spec(self.spec).levels:
            for name in level:
                if name in self.restarting:
                    self.ready[name] = self._spawn(self._restart, name)
                else:
                    self.ready[name] = _done(self.kept[name]) if name in self.kept else self._spawn(self._start, name)
        try:
            wait(self.ready.values(), return_when=FIRST_EXCEPTION)
            if self.failures:
                raise self.failures[0]
        except BaseException:
            self.cancelled.set()
            raise

    def stop(self) -> None:
        """Cancel, and wait for the threads creating the network and containers (so that teardown sees them).
        They end within one Docker call once cancelled; a thread that still creates something after this removes
        it itself, and what a killed process leaves is reaped by the next start (its owner is dead)."""
        self.cancelled.set()
        creating = [self.network_created, self.volumes_created, *self.ready.values()]
        wait([future for future in creating if future in self.spawned], timeout=60)

    def _await(self, future: Future) -> object:
        """The future's result, or StartCancelled as soon as the start is cancelled."""
        while not future.done():
            if self.cancelled.is_set():
                raise StartCancelled()
            wait([future], timeout=0.05)
        if future.exception() is not None:
            raise StartCancelled()  # the failure itself is reported by the thread that had it
        return future.result()

    def _spawn(self, work: Callable[[str], object], name: str) -> Future:
        future: Future = Future()
        self.spawned.add(future)

        def body() -> None:
            try:
                try:
                    future.set_result(work(name))
                except docker.errors.APIError as error:  # any Docker refusal not said better where it happened
                    # a container that stopped or went away is why Docker refused: its exit code and log say more
                    raise self._ended(name) or DockerError(
                        f"service '{name}': the Docker engine refused: {_explain(error)}", service=name,
                        operation="start", hint=_start_hint(error)) from None
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                if not isinstance(exc, StartCancelled):
                    with self.lock:
                        self.failures.append(exc)
                    self.cancelled.set()
                    # the headline only: the whole error (its log lines, what to do) is said once, by the caller
                    self.progress(StartEvent(name, "failed", detail=(str(exc).splitlines() or [""])[0].split(". ")[0]))
                future.set_exception(exc)

        threading.Thread(target=body, name=f"harness-{name}", daemon=True).start()
        return future

    def _ended(self, name: str) -> HarnessError | None:
        """Why service `name`'s container, once created, no longer runs (Service.ended); None if it runs or was not
        created yet."""
        with self.lock:
            service = self.topology.services.get(name)
        try:
            return service.ended() if service is not None else None
        except docker.errors.APIError:
            return None

    def _remove_container(self, name: str) -> None:
        try:
            self.topology.client.containers.get(name).remove(force=True, v=True)
        except docker.errors.NotFound:
            pass

    def _create_network(self, _: str) -> object:
        try:
            return self.topology.client.networks.create(self.network, driver="bridge", labels=self.run_labels,
                                                        check_duplicate=True)
        except docker.errors.APIError as error:
            raise DockerError(f"could not create the network {self.network}: {_explain(error)}",
                              operation="create network") from None

    def _create_volumes(self, _: str) -> dict[str, str]:
        """A volume of the engine for each named volume the services use, labelled with the run."""
        names = {v.source for s in self.spec.services.values() for v in s.volumes if v.source}
        created: dict[str, str] = {}
        for volume in sorted(names):
            created[volume] = f"harness-{self.spec.project}-{volume}-{self.topology.run_id}"
            try:
                self.topology.client.volumes.create(created[volume], labels=self.run_labels)
            except docker.errors.APIError as error:
                raise DockerError(f"could not create the volume {created[volume]}: {_explain(error)}",
                                  operation="create volume") from None
        return created

    def _mounts(self, name: str, image: str) -> list[MountRef]:
        """Bind mounts (paths relative to the topology file) and volumes; an anonymous volume gets a labelled
        volume of its own, so that teardown finds it by the run's label. A replacing container also gets the
        volumes Docker made for its image's VOLUMEs in the container it replaces (`inherited`)."""
        spec = self.spec.services[name]
        named = self._await(self.volumes_created) if spec.volumes else {}
        assert isinstance(named, dict)
        mounts = [MountRef.bind(m, str((self.spec.base_dir / m.source).resolve())) for m in spec.mounts if not m.copied]
        for index, volume in enumerate(spec.volumes):
            if volume.source:
                source = named[volume.source]
            else:
                source = f"harness-{self.spec.project}-{name}-anon{index}-{self.topology.run_id}"
                self.topology.client.volumes.create(source, labels=self.run_labels)
            mounts.append(MountRef.volume(volume, source))
        if self.inherited.get(name):  # as Compose: the replaced container's volume at a VOLUME of the image now
            declared = self.topology.client.images.get(image).attrs.get("Config", {}).get("Volumes") or {}
            taken = {m.target for m in mounts} | {entry.partition(":")[0] for entry in spec.tmpfs}
            mounts += [m for m in self.inherited[name] if m.target in declared and m.target not in taken]
        return mounts

    def _build(self, build: PlannedBuild, name: str) -> str:
        """Build (or find) `build`'s image; progress is said as `name`'s (the first service that runs it), and the
        outcome for each of its services that is started."""
        started = time.monotonic()
        tag, built = build_image(self.topology.client, build.context, build.build, service=name,
                                 on_start=lambda: self.progress(StartEvent(name, "building")),
                                 on_line=lambda line: self.progress(StartEvent(name, "building", detail=line)),
                                 names=build.names)
        if built:
            self.built_now.add(build.context)
        for service in build.services:
            if service not in self.kept:
                self.progress(StartEvent(service, "built" if built else "cached", time.monotonic() - started, tag))
        return tag

    def _restart(self, name: str) -> Service:
        """Start a kept service again (stopped while a dependency was replaced) once its dependencies are ready."""
        service = self.kept[name]
        for dependency in service.spec.depends_on:
            self._await(self.ready[dependency])
        started = time.monotonic()
        self.progress(StartEvent(name, "starting"))
        since = time.time()  # a log probe counts only the lines of this start
        service.start(wait=False)
        service.wait_ready(started, self.cancelled, log_since=since)
        self.progress(StartEvent(name, "ready", time.monotonic() - started, service.url if service.ports else ""))
        return service

    def _start(self, name: str) -> Service:
        spec = self.spec.services[name]
        image = str(self._await(self.images[name]))
        self._await(self.network_created)
        for dependency in spec.depends_on:
            self._await(self.ready[dependency])
        mounts = self._mounts(name, image)
        started = time.monotonic()
        self.progress(StartEvent(name, "starting"))
        signature = service_signature(spec, _image_id(self.topology.client, image), self.spec.base_dir)
        container_name = f"harness-{docker_name(self.spec.project)}-{name}-{self.topology.run_id}"
        copies = [CopyRef((self.spec.base_dir / m.source).resolve(), m.target) for m in spec.mounts if m.copied]
        remote = remote_engine() is not None
        attempts = REMOTE_PORT_ATTEMPTS if remote else PORT_ATTEMPTS
        for attempt in range(attempts):
            ports = _ports_to_publish(spec.published(), remote)
            tcp_ports = {str(port): host for (port, protocol), host in ports.items() if protocol == "tcp"}
            container = service_container(
                image=image, name=container_name, network=self.network,
                aliases=[name, *spec.aliases], spec=spec, environment=spec.full_environment(self.spec.base_dir),
                ports=ports, mounts=mounts, labels={**self.run_labels, L.SERVICE: name, L.SIGNATURE: signature,
                                                    L.PORTS: json.dumps(tcp_ports)},
                publish_on=publish_address(), copies=copies, client=self.topology.client)
            try:
                container.start()
                break
            except docker.errors.APIError as error:
                if _port_taken(error) and attempt + 1 < attempts:  # here, or on a remote engine's machine
                    self._remove_container(container_name)  # created, not started: free its name, other ports
                    continue
                raise DockerError(f"service '{name}': Docker could not create or start its container: "
                                  f"{_explain(error)}", service=name, operation="start",
                                  hint=_start_hint(error)) from None
        if self.cancelled.is_set():  # the start was abandoned while this container was being created
            self._remove_container(container_name)
            raise StartCancelled()
        tcp = {port: host for (port, protocol), host in ports.items() if protocol == "tcp"}
        service = Service(name, spec, container.get_wrapped_container(), tcp, self.network, host=service_host())
        service.udp_ports = {port: host for (port, protocol), host in ports.items() if protocol == "udp"}
        with self.lock:
            self.topology._add(service)
        if spec.job:
            self.progress(StartEvent(name, "waiting", detail="a job: until it exits 0"))
        elif spec.probe:
            self.progress(StartEvent(name, "waiting", detail=spec.probe.describe()))
        outcome = service.wait_ready(started, self.cancelled)
        self.progress(StartEvent(name, "completed" if outcome == "completed" else "ready", time.monotonic() - started,
                                 "exited 0" if outcome == "completed" else service.url if tcp else ""))
        return service


def _start_hint(error: docker.errors.APIError) -> str:
    text = _explain(error).lower()
    if "port is already allocated" in text:
        return "Other processes keep taking the free ports chosen for it; run again."
    if "invalid reference format" in text or "repository name must be lowercase" in text:
        return "Fix the service's `image:` in the topology file (a Docker image reference is lower-case)."
    if "no such image" in text:
        return "Build or load the image first, or use `build:` instead of `image:`."
    return "Check the service's image, command, ports and mounts in the topology file."


def _explain(error: docker.errors.APIError) -> str:
    """Docker's own explanation, without docker-py's request line."""
    return str(getattr(error, "explanation", None) or error).strip()[:300]


REMOTE_PORT_ATTEMPTS = 5  # a remote engine's machine: ports tried before its refusal is reported
REMOTE_PORTS = (20000, 32767)  # below Linux's ephemeral range, where Docker and outgoing connections take ports


def _ports_to_publish(published: list[tuple[int, str]], remote: bool) -> dict[tuple[int, str], int]:
    """(container port, protocol) -> host port, chosen once per run so that a service keeps its URL across stop/start
    (a port Docker chooses changes at every start). Local engine: free on 127.0.0.1 here. Remote engine: a random
    port of REMOTE_PORTS, which the engine accepts or refuses as taken on its machine (the caller tries again)."""
    if not remote:
        return {(port, protocol): _free_port(protocol) for port, protocol in published}
    chosen = random.sample(range(REMOTE_PORTS[0], REMOTE_PORTS[1] + 1), len(published))
    return dict(zip(published, chosen, strict=True))


def _port_taken(error: docker.errors.APIError) -> bool:
    text = _explain(error)
    return "port is already allocated" in text or "address already in use" in text


def _refuse_remote_binds(spec: TopologySpec) -> None:
    """A bind mount names a path on the engine's machine: with a remote engine, it is refused before anything starts
    unless it is declared a copy (`copy: true`)."""
    engine = remote_engine()
    if engine is None:
        return
    binds = [(name, m) for name, service in spec.services.items() for m in service.mounts if not m.copied]
    if binds:
        listed = ", ".join(f"service '{name}': {m.source} -> {m.target}" for name, m in binds)
        raise RemoteMount(
            f"topology {spec.project}: the Docker engine is remote ({resolve_engine().where}), and a bind "
            f"mount would name a path on its machine ({engine}), not on this one: {listed}",
            hint="Declare each as a copy in the topology file, uploaded before the service starts: "
                 "`mounts: [{source: ..., target: ..., copy: true}]`; or use a local engine.",
            services=sorted({name for name, _ in binds}), engine=engine_address())


def _free_port(protocol: str = "tcp") -> int:
    """A free port on 127.0.0.1, chosen once per run so that a service keeps its URL across stop/start."""
    with socket.socket(type=socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _done(value: object) -> Future:
    future: Future = Future()
    future.set_result(value)
    return future
