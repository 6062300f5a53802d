"""What a kept run gets before it is used or updated: the images of its changed builds built first (compared by the
image they give, as Compose compares them), and, for `harness up --detach`, what is stopped started again."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection

import docker

from harness.errors import BuildFailed
from harness.model.topology import TopologySpec
from harness.runtime import labels as L
from harness.runtime.engines import RunEngine
from harness.runtime.images import PlannedBuild, build_image, planned_builds, prepare_images
from harness.runtime.runlocks import using_kept_run
from harness.runtime.signature import RunDifference
from harness.runtime.topology import Progress, StartEvent, Topology


def kept_and_restored(spec: TopologySpec, progress: Progress | None, say: Callable[[str], None]) -> Topology:
    """`Topology.kept_or_started`; a kept run used as it is gets what is stopped, dead or paused started again and
    waited for (`Topology.restore`, one line each to `say`), as `docker compose up -d --wait` starts a stopped
    container; under the lock a session using the run holds (never under its test).

    Raises:
        As `Topology.kept_or_started` and `Topology.restore`.
    """
    with using_kept_run(spec, say):
        topology = Topology.kept_or_started(spec, progress=progress, say=say, held=True)
        for note in topology.restore() if topology.reused else []:
            say(note)
    return topology


def rebuilt(spec: TopologySpec, client: docker.DockerClient, run: L.Run, engines: dict[str, RunEngine],
            difference: RunDifference, progress: Progress | None, say: Callable[[str], None],
            again: Callable[[], RunDifference]) -> RunDifference:
    """`difference`, after building the images of the services it changes by their image alone (a file of the
    context changed, so the content tag is new): as `docker compose up --build`, the built image's id decides
    (a file the image does not use gives the same image from the cache: nothing to replace); `again` takes the
    difference anew.

    Raises:
        BuildFailed: a build failed (the run is left as it was, and said so).
    """
    stale = [n for n, what in difference.changed.items() if what == ["image"] and spec.services[n].build]
    if not stale:
        return difference
    build_or_say(spec, client, run, engines, stale, progress, say)
    return again()


def build_or_say(spec: TopologySpec, client: docker.DockerClient, run: L.Run, engines: dict[str, RunEngine],
                 services: Collection[str], progress: Progress | None, say: Callable[[str], None],
                 builder: docker.DockerClient | None = None) -> None:
    """Build the images of `services` (their FROM images checked first: a substitute's alias made anew) before any
    container of `run` is touched; across engines by the `builder` when there is one (the start copies them).

    Raises:
        BuildFailed: a build failed; the run is left as it was, and `say` is told so.
    """
    try:
        for engine_client, on_engine in [(builder, None)] if builder else clients_of(spec, client, engines):
            building = {n: s for n, s in spec.services.items()
                        if n in services and (on_engine is None or n in on_engine) and (not builder or s.build)}
            if building:
                prepare_images(engine_client, spec.model_copy(update={"services": building}))
        _build_first(spec, lambda name: builder or (engines[str(spec.engine_of(name))].client if engines else client),
                     services, progress)
    except BuildFailed:
        say(f"a build for the update of topology {spec.name} (run {run.run_id}) failed: the run is left as it was, "
            "with its containers and their data, as `docker compose up` leaves a project when a build fails (the "
            "run stays kept: fix the build and start again)")
        raise


def _build_first(spec: TopologySpec, client_of: Callable[[str], docker.DockerClient], changed: Collection[str],
                 progress: Progress | None) -> None:
    """Build the images of the `changed` services before any container of the run is touched, as `docker compose
    up` builds before it recreates: a failed build leaves the run as it was (the replaced containers' anonymous
    volumes, a database's data, would be lost otherwise). The start finds them built.

    Raises:
        BuildFailed: a build failed.
    """
    for build in planned_builds(spec):
        engines: dict[int, str] = {}  # the engines that run a changed service of the build (one, without engines:)
        for name in build.services:
            if name in changed:
                engines.setdefault(id(client_of(name)), name)
        for service in engines.values():
            _build_one(client_of(service), build, service, progress)


def _build_one(client: docker.DockerClient, build: PlannedBuild, service: str, progress: Progress | None) -> None:
    building = functools.partial(StartEvent, service, "building")
    build_image(client, build.context, build.build, service=service, names=build.names,
                project_dir=build.project_dir, on_start=(lambda: progress(building())) if progress else None,
                on_line=(lambda line: progress(building(detail=line))) if progress else None)


def clients_of(spec: TopologySpec, client: docker.DockerClient,
             engines: dict[str, RunEngine]) -> list[tuple[docker.DockerClient, set[str] | None]]:
    """(client, the services its engine runs) per engine; without engines: (client, None: every service)."""
    if not engines:
        return [(client, None)]
    return [(e.client, {n for n in spec.services if spec.engine_of(n) == e.name}) for e in engines.values()]
