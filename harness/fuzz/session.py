"""Fuzzing a running topology: every service that declares `openapi:` gets one schemathesis run, one service after
another in the topology's order, all with one seed: a service's requests can change what another one answers (a
shared database, one service calling another), so runs at once would find other things each time.

Without --mode, --checks and --phases a run does what `st run` of the installed schemathesis does by default (read
from schemathesis, see engine.st_run_defaults).

A service's document is loaded from the service (with the service's `auth:`) or from a file next to the topology; the
run goes to the service's URL plus the spec's base path (OpenAPI 3 `servers`, Swagger 2 `basePath`: schemathesis'
origin semantics). When every answer there is 404, the paths are tried without the base path: if the service answers
there, that is reported as one finding and the run's results are those of the paths where it really answers.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from harness.fuzz.baseline import BaselineOutcome
from harness.fuzz.logs import attach_log
from harness.fuzz.options import DEFAULTS, FuzzOptions, default_cache_dir, fuzz_targets, refuse_unknown_names
from harness.fuzz.results import ServiceResult
from harness.fuzz.service import TopologyView, fuzz_service
from harness.model.topology import TopologySpec
from harness.runtime.topology import Topology

MAIN_SCRIPT = "HARNESS_FORKSERVER_MAIN"  # the fork server's environment: the parent's script (fuzz/preload.py)


def prepare_runs(names: list[str], options: FuzzOptions = DEFAULTS) -> None:
    """Start the fork server of the runs of several services (start_runs) now: its imports of schemathesis and
    Hypothesis (about 1 s of CPU) then overlap with starting or attaching to the topology instead of delaying the
    first run. Returns at once; does nothing for one service or when the server is running already."""
    if len(names) < 2:
        return
    from multiprocessing import forkserver, spawn

    _fork_server()
    # the launching script (pytest's, harness's): imported once by the server instead of by every run's process
    # (multiprocessing's spawn does that when the main module is a script; see preload.py)
    script = spawn.get_preparation_data("fuzz").get("init_main_from_path")
    # the server imports Hypothesis, which may write its folder right away
    with _environment(HYPOTHESIS_STORAGE_DIRECTORY=str(options.cache_dir or default_cache_dir()),
                      **({MAIN_SCRIPT: str(script)} if script else {})):
        forkserver.ensure_running()


def start_runs(topology: Topology, names: list[str], options: FuzzOptions = DEFAULTS
               ) -> dict[str, Future[ServiceResult]]:
    """Start fuzzing `names`, one service after another in the order of `names`, all with one seed (the given one,
    else one drawn now); returns a future per service, in that order, each done once its run is.

    One after another, because one service's requests can change another's answers (a shared database, a service
    that calls another): runs at once would find other things each time. One service runs in a thread of this
    process; several run each in a fresh process of its own, forked from a server process that has schemathesis
    imported already (prepare_runs starts it early), so that no run inherits the state of Hypothesis or schemathesis
    that an earlier run left. The services' logs are read here, after each run."""
    options = options.with_seed()
    futures: dict[str, Future[ServiceResult]] = {name: Future() for name in names}
    processes = None
    if len(names) > 1:
        prepare_runs(names, options)
        processes = ProcessPoolExecutor(max_workers=1, mp_context=_fork_server(), max_tasks_per_child=1)

    def run_one(name: str) -> ServiceResult:
        if processes is None:
            return fuzz_service(topology, name, options)
        since = time.time()
        return _with_log(processes.submit(fuzz_service, TopologyView.of(topology), name, options), topology, name,
                         since)

    def run_all() -> None:
        try:
            for position, name in enumerate(names):
                future = futures[name]
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    result = run_one(name)
                except BaseException as error:  # noqa: BLE001 - the service's future raises it; the next ones run
                    future.set_exception(error)
                    continue
                result.fuzzed_before, result.given = names[:position], options.given()
                future.set_result(result)
        finally:
            if processes is not None:
                processes.shutdown(wait=True)

    waiting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fuzz")
    waiting.submit(run_all)
    waiting.shutdown(wait=False)
    return futures


@contextlib.contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Environment variables set for the processes started inside the block (unless already set), then restored."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _fork_server() -> Any:
    import multiprocessing

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["harness.fuzz.service", "harness.fuzz.engine", "harness.fuzz.preload"])
    return context


def _with_log(run: Future[ServiceResult], topology: Topology, name: str, since: float) -> ServiceResult:
    result = run.result()
    # a service may log a secret
    attach_log(result, lambda stream: topology[name].logs(since=since, timestamps=True, stream=stream),
               topology.masker)
    return result


class FuzzRun:
    """The fuzzing of one topology, for both front-ends: the services to fuzz and the options, checked before anything
    starts; one seed for every service; a run per service, started once, one after another in the topology's order.
    `harness fuzz` runs every service (`run`); pytest's first fuzz item starts the services still selected (`start`)
    and each item reads its service's future (`runs`).

    Raises (on creation):
        HarnessError: a named service without `openapi:`, or none to fuzz; AuthHookError: an auth hook that does not
            import; OptionError: unknown checks or phases, examples under 1 (`flags` name the options in messages).
    """

    def __init__(self, spec: TopologySpec, options: FuzzOptions, services: list[str] | None,
                 flags: Mapping[str, str]) -> None:
        self.spec = spec
        self.names = fuzz_targets(spec, services)
        refuse_unknown_names(spec, self.names, options, flags)
        self.flags = flags
        if options.baseline is not None:  # a file that cannot be read stops the run before anything starts
            from harness.fuzz.baseline import load

            load(options.baseline, flags["baseline"])
        elif options.baseline_update or options.baseline_prune:
            from harness.errors import OptionError

            given = "baseline_update" if options.baseline_update else "baseline_prune"
            # (flags names the options that take a value; these two are switches)
            flag = flags.get(given, flags["baseline"] + given.removeprefix("baseline").replace("_", "-"))
            raise OptionError(f"{flag} needs a baseline file: give {flags['baseline']} FILE too")
        self.options = options.with_seed()
        self.runs: dict[str, Future[ServiceResult]] = {}  # service -> its run, in the order started

    def prepare(self) -> None:
        """Start the fork server of the runs now (prepare_runs), while the topology starts."""
        prepare_runs(self.names, self.options)

    def start(self, topology: Topology, services: list[str] | None = None) -> dict[str, Future[ServiceResult]]:
        """Start the runs of `services` (default: every service of the run) not started yet, one after another in the
        topology's order; returns the futures of those started now."""
        wanted = [name for name in self.names if (services is None or name in services) and name not in self.runs]
        started = start_runs(topology, wanted, self.options) if wanted else {}
        self.runs.update(started)
        return started

    def add(self, service: str, run: Future[ServiceResult]) -> None:
        """A run of `service` made elsewhere (another xdist worker's, published): its result counts as this run's."""
        self.runs.setdefault(service, run)

    def run(self, topology: Topology, on_result: Callable[[ServiceResult], None] | None = None
            ) -> list[ServiceResult]:
        """Fuzz every service, one after another; `on_result` sees each result in that order. Raises the first
        service's HarnessError once the runs before it are reported."""
        results = []
        for future in self.start(topology).values():
            result = future.result()
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    def settle_baseline(self, interrupted: bool = False) -> BaselineOutcome | None:
        """With a baseline file: how the results line up with it (accepted, not reproduced, not reached), and the
        file written as `st run` writes it (created, `update`, `prune`; nothing after an interruption). None without
        one. Raises OptionError when the file cannot be read or written."""
        if self.options.baseline is None:
            return None
        from harness.fuzz.baseline import settle

        return settle(self.options.baseline, self.results(), update=self.options.baseline_update,
                      prune=self.options.baseline_prune, interrupted=interrupted, flag=self.flags["baseline"])

    def results(self) -> list[ServiceResult]:
        """The results of the runs that ended with one, in the order they were started (a run that raised failed its
        items or the command already)."""
        return [run.result() for run in self.runs.values() if run.done() and run.exception() is None]
