"""Compose's lifecycle hooks in a service's container: `post_start` after each start (`up`, `start`, `restart`),
`pre_stop` before each stop (`stop`, `restart`, `down`), each as `docker exec` with its user, privileges, folder and
variables.

As Docker Compose: a failing post_start hook fails the start; a failing pre_stop hook fails a control call's stop
(the container is left running), and a container that is not running (or is paused) gets no hook. Unlike Compose,
a pre_stop hook has a bounded time (its service's stop_grace_period, else Compose's default stop timeout) and a
teardown removes every container whatever its hooks did, then reports the hooks that failed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import TypeVar

import docker
import docker.errors
from docker.models.containers import Container
from docker.models.volumes import Volume

from harness.errors import HookFailed
from harness.model.parts import Hook
from harness.model.service import ServiceSpec
from harness.model.topology import TopologySpec
from harness.runtime import labels as L
from harness.runtime.interrupts import InterruptsDeferred
from harness.runtime.probes import CANCEL_POLL, Abandoned

DEFAULT_GRACE = 10.0  # seconds: Docker Compose's stop timeout for a service without stop_grace_period
T = TypeVar("T")
OUTPUT_TAIL = 500  # characters of a failed hook's output in its message


def grace(spec: ServiceSpec) -> float:
    """The seconds each pre_stop hook of `spec` is given: its stop_grace_period, else Compose's default (10)."""
    return spec.stop_grace_period if spec.stop_grace_period is not None else DEFAULT_GRACE


def post_start(name: str, spec: ServiceSpec, container: Container, cancelled: threading.Event | None = None) -> None:
    """Run `spec`'s post_start hooks, in order, in the started `container` (no time limit, as Compose). While they
    run, the engine holds a mark that they have not completed (`unfinished`), removed only once every hook has
    exited 0: a session that ends meanwhile (Ctrl-C, SIGTERM, SIGKILL) leaves it for the next use of a kept run.

    Raises:
        HookFailed: a hook exited non-zero (its output's end in the message).
        Abandoned: `cancelled` was set while a hook ran (within CANCEL_POLL seconds); the hook is left to end with
            its container, which the cancelled start removes.
    """
    if not spec.post_start:
        return
    if L.RUN not in L.labels_of(container):  # just created: its attrs may not carry its labels yet
        container.reload()
    run_id = L.labels_of(container).get(L.RUN)
    if run_id:  # a container of no run (made by hand) has no kept run to finish: no mark
        container.client.volumes.create(labels={**L.run_labels_of(container), L.SERVICE: name,
                                                L.REPLICA: str(L.replica_of(container)), L.POST_START: L.owner_id(),
                                                L.CONTAINER: container.id})
    for hook in spec.post_start:
        _run(name, "post_start", hook, container, within=None, cancelled=cancelled)
    for mark in unfinished(container.client, run_id, container.id) if run_id else []:
        with suppress(docker.errors.NotFound):  # removed by another start of it meanwhile
            mark.remove()


def unfinished(client: docker.DockerClient, run_id: str, container_id: str | None = None) -> list[Volume]:
    """The marks of run `run_id` (of one container: `container_id`) whose post_start hooks began and did not
    complete: their labels name the service, replica, container and the process that ran them."""
    wanted = [f"{L.RUN}={run_id}", L.POST_START, *([f"{L.CONTAINER}={container_id}"] if container_id else [])]
    return L.listed(lambda: client.volumes.list(filters={"label": wanted}))


def pre_stop(name: str, spec: ServiceSpec, container: Container, forced: threading.Event | None = None) -> bool:
    """Run `spec`'s pre_stop hooks, in order, in `container`, each within `grace(spec)` seconds.

    Returns:
        False when the container is not running (or paused): no hook ran, as under Compose.

    Raises:
        HookFailed: a hook exited non-zero, or did not end in time.
        Abandoned: `forced` was set while a hook ran (a second Ctrl-C): the hook is left to end with its container.
    """
    for hook in spec.pre_stop:
        try:
            _run(name, "pre_stop", hook, container, within=grace(spec), cancelled=forced)
        except docker.errors.APIError as error:
            if error.status_code in (404, 409):  # gone, stopped or paused: Compose skips its hooks too
                return False
            raise
    return True


def pre_stop_all(services: Iterable[tuple[str, ServiceSpec, Container]],
                 forced: threading.Event | None = None) -> list[HookFailed]:
    """The pre_stop hooks of every (name, spec, container) at once (each service's in order): a teardown waits at
    most the longest stop_grace_period, or until `forced` is set (a second Ctrl-C: as Compose's, it stops waiting).
    Every container is still running while any hook runs. Returns the failures (a hook that failed, timed out, or
    that Docker refused to run), in the order given; a hook given up because of `forced` is none."""
    having = [(name, spec, container) for name, spec, container in services if spec.pre_stop]
    if not having:
        return []

    def one(name: str, spec: ServiceSpec, container: Container) -> HookFailed | None:
        try:
            pre_stop(name, spec, container, forced)
        except HookFailed as failed:
            return failed
        except Abandoned:
            return None
        except docker.errors.APIError as error:
            return HookFailed(f"service '{name}': Docker did not run its pre_stop hook: "
                              f"{getattr(error, 'explanation', None) or error}", service=name, hook="pre_stop")
        return None

    with ThreadPoolExecutor(max_workers=min(8, len(having)), thread_name_prefix="harness-pre-stop") as pool:
        outcomes = list(pool.map(lambda entry: one(*entry), having))
    return [failed for failed in outcomes if failed is not None]


def pre_stop_run(client: docker.DockerClient, spec: TopologySpec, run_id: str,
                 forced: threading.Event | None = None) -> list[HookFailed]:
    """`pre_stop_all` for the running containers of run `run_id`, with the hooks of `spec` (the file as it is now,
    as `docker compose down` takes them from the file)."""
    wanted = {name for name, service in spec.services.items() if service.pre_stop}
    if not wanted:
        return []
    running = L.listed(lambda: client.containers.list(filters={"label": f"{L.RUN}={run_id}"}))
    return pre_stop_all([(name, spec.services[name], container) for container in running
                         if (name := L.labels_of(container).get(L.SERVICE, "")) in wanted], forced)


def down(runs: list[tuple[docker.DockerClient, str]], spec: TopologySpec,
         remove: Callable[[], T]) -> tuple[list[HookFailed], T]:
    """Runs taken down as `docker compose down` does: the pre_stop hooks (`pre_stop_run`) of each (engine, run id) of
    `runs`, then `remove()` whatever they did. Ctrl-C and SIGTERM meanwhile force it as Compose's second Ctrl-C
    (the hooks are no longer waited for) but never cut the removal short; KeyboardInterrupt is raised once it is
    done (InterruptsDeferred).

    Returns:
        The hooks that failed, and what `remove()` returned.
    """
    failures = []
    with InterruptsDeferred(f"removing topology {spec.name}") as deferred:
        try:
            with deferred.waiting_for("pre_stop hooks") as forced:
                for client, run_id in runs:
                    failures += pre_stop_run(client, spec, run_id, forced)
        finally:
            removed = remove()
    return failures, removed


def down_run(client: docker.DockerClient, spec: TopologySpec, run_id: str) -> list[HookFailed]:
    """`down` of run `run_id` on one engine: the hooks that failed."""
    return down([(client, run_id)], spec, lambda: L.remove_run(client, run_id))[0]


def combined(failures: list[HookFailed]) -> HookFailed:
    """One error for the pre_stop hooks of a teardown that failed: one line (and output) each."""
    if len(failures) == 1:
        return failures[0]
    first = failures[0]
    return HookFailed("\n".join(str(failed) for failed in failures), service=first.service, hook="pre_stop",
                      container_exit=first.container_exit, hint=first.hint)


def _run(name: str, kind: str, hook: Hook, container: Container, within: float | None,
         cancelled: threading.Event | None = None) -> None:
    """Run `hook` as `docker exec` in `container` and wait for it, at most `within` seconds (None: no limit), and
    only until `cancelled` is set.

    Raises:
        HookFailed: it exited non-zero or did not end in time. docker.errors.APIError: Docker refused the exec.
        Abandoned: `cancelled` was set while it ran (Docker cannot stop an exec: removing the container ends it).
    """
    command = ["/bin/sh", "-c", hook.command] if isinstance(hook.command, str) else hook.command
    api = container.client.api
    exec_id = api.exec_create(container.id, command, user=hook.user or "", privileged=hook.privileged,
                              workdir=hook.working_dir, environment=hook.environment or None)["Id"]
    output: list[bytes] = []
    refused: list[docker.errors.APIError] = []

    def wait() -> None:
        try:
            output.append(api.exec_start(exec_id))
        except docker.errors.APIError as error:  # the container stopped or went away meanwhile
            refused.append(error)

    # exec_start blocks until the command ends and has no time limit of its own: it waits in a thread of its own
    waiting = threading.Thread(target=wait, daemon=True, name=f"harness-{kind}-{name}")
    waiting.start()
    deadline = None if within is None else time.monotonic() + within
    while waiting.is_alive() and (deadline is None or time.monotonic() < deadline):
        if cancelled is not None and cancelled.is_set():
            raise Abandoned()
        waiting.join(CANCEL_POLL if deadline is None else max(0.0, min(CANCEL_POLL, deadline - time.monotonic())))
    if refused:
        raise refused[0]
    text = (output[0] if output else b"").decode(errors="replace").strip()[-OUTPUT_TAIL:]
    tail = f":\n{text}" if text else ""
    fix = ("Docker Compose fails the start too; fix the hook or the image." if kind == "post_start" else
           "Docker Compose stops with an error too (the container stays running under it); fix the hook, or give "
           "the service a longer stop_grace_period.")
    if waiting.is_alive():  # abandoned: the container is stopped or removed next, which ends it
        raise HookFailed(f"service '{name}': its {kind} hook {command!r} did not end within {within:g} s (its "
                         f"stop_grace_period, else Docker Compose's default of {DEFAULT_GRACE:g} s){tail}",
                         service=name, hook=kind, hint=fix)
    code = api.exec_inspect(exec_id).get("ExitCode")
    if code != 0:
        raise HookFailed(f"service '{name}': its {kind} hook {command!r} exited with {code}{tail}", service=name,
                         hook=kind, container_exit=code, hint=fix)
