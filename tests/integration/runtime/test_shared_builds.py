"""Services that share a build share one image, built once: a one-shot job and the app on one context (with or
without `image:` on the app), and one context feeding five services as a Django template does (django, celery
worker, beat, flower, docs), started again and again; two sessions starting from one context at once build it once.
A second start of an unchanged file reuses the kept run, and old images of a context are removed only once no start
needs them. Against the real engine; only this test's images and containers are touched."""

from __future__ import annotations

import textwrap
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import Topology, load_topology
from harness.runtime import labels as L
from harness.runtime.topology import StartEvent

from ..conftest import harness_resources


def ids_of(client, context: Path) -> set[str]:  # noqa: ANN001 - every image built from `context`, untagged too
    return {image["Id"] for image in client.api.images(filters={"label": f"{L.CONTEXT}={context.resolve()}"})}


def untagged(client, context: Path) -> list[str]:  # noqa: ANN001
    return [image["Id"] for image in client.api.images(filters={"label": f"{L.CONTEXT}={context.resolve()}"})
            if not [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]]


def containers(client, file: Path) -> list[tuple[str, str, str]]:  # noqa: ANN001 - (service, id, created)
    found = client.containers.list(all=True, filters={"label": f"{L.FILE}={file.resolve()}"}, sparse=True)
    return sorted((L.labels_of(c).get(L.SERVICE, ""), c.id, c.attrs["Created"]) for c in found)


def remove_images(client, context: Path, names: list[str]) -> None:  # noqa: ANN001
    for name in names:
        try:
            client.api.remove_image(name, noprune=True)
        except Exception:  # noqa: BLE001 - never tagged (a failed start)
            pass
    for image in ids_of(client, context):
        client.api.remove_image(image, force=True)


def write(file: Path, text: str) -> Path:
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(textwrap.dedent(text).lstrip("\n"))
    return file


@pytest.mark.parametrize("app_image", [True, False], ids=["app-with-image-name", "no-image-name"])
def test_a_job_and_the_app_on_one_context_are_built_once_and_a_second_start_reuses_the_kept_run(
        tmp_path: Path, docker_client, app_image: bool) -> None:  # noqa: ANN001
    uid = uuid.uuid4().hex[:8]
    context = tmp_path / "orders"
    write(context / "Dockerfile", "FROM python:3.11-slim\nCOPY app.py /srv/app.py\n")
    write(context / "app.py", f"print('orders {uid}')\n")  # a content tag no other test has
    name = f"shop/orders-{uid}:dev"
    file = write(tmp_path / "docker-compose.yml", f"""
        name: shared-build-{uid}
        services:
          migrate:
            build: ./orders
            command: ["python3", "-c", "print('migrated')"]
          orders:
            build: ./orders
            {f"image: {name}" if app_image else ""}
            command: ["sleep", "infinity"]
            depends_on:
              migrate: {{condition: service_completed_successfully}}
    """)
    events: list[StartEvent] = []
    said: list[str] = []
    try:
        first = Topology.kept_or_started(load_topology(file), progress=events.append, say=said.append)
        assert [e.service for e in events if e.kind == "building" and not e.detail] == ["migrate"]  # once
        assert sorted((e.service, e.kind) for e in events if e.kind in ("built", "cached")) == [
            ("migrate", "built"), ("orders", "built")]
        image = first["orders"].container.image.id
        assert first["migrate"].container.image.id == image
        assert ids_of(docker_client, context) == {image}  # no second image, tagged or not
        if app_image:
            assert docker_client.images.get(name).id == image
        before = containers(docker_client, file)
        assert [service for service, _, _ in before] == ["migrate", "orders"]

        events.clear()
        said.clear()
        second = Topology.kept_or_started(load_topology(file), progress=events.append, say=said.append)
        assert said == [f"reusing the running topology shared-build-{uid} (run {first.run_id})"]
        assert second.run_id == first.run_id and second.reused
        assert events == []  # nothing built, nothing started
        assert containers(docker_client, file) == before

        file.write_text(file.read_text().replace('command: ["sleep", "infinity"]',
                                                 'command: ["sleep", "infinity"]\n    environment: {MODE: b}'))
        events.clear()
        third = Topology.kept_or_started(load_topology(file), progress=events.append, say=said.append)
        assert third.run_id == first.run_id
        # only orders is replaced, from the same image (found, not built); the job that ran is kept as it is
        assert [(e.service, e.kind) for e in events if e.kind in ("building", "built", "cached")] == [
            ("orders", "cached")]
        after = {service: id_ for service, id_, _ in containers(docker_client, file)}
        assert after["migrate"] == before[0][1] and after["orders"] != before[1][1]
        assert third["orders"].container.image.id == image
    finally:
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
        remove_images(docker_client, context, [name])
    assert harness_resources(docker_client, f"shared-build-{uid}", file) == []



def test_a_service_that_runs_the_image_another_builds_is_reused_even_when_the_name_moved(
        tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    uid = uuid.uuid4().hex[:8]
    context = tmp_path / "app"
    write(context / "Dockerfile", "FROM python:3.11-slim\nCOPY app.py /srv/app.py\n")
    write(context / "app.py", f"print('app {uid}')\n")
    name = f"shop-{uid}/app:dev"
    file = write(tmp_path / "docker-compose.yml", f"""
        name: named-build-{uid}
        services:
          web:
            build: ./app
            image: {name}
            command: ["sleep", "infinity"]
          worker:
            image: {name}
            command: ["sleep", "infinity"]
            depends_on: [web]
    """)
    try:
        first = Topology.kept_or_started(load_topology(file))
        assert first["worker"].container.image.id == first["web"].container.image.id
        before = containers(docker_client, file)
        docker_client.images.get("python:3.11-slim").tag(name)  # as another file's build of that name would
        said: list[str] = []
        second = Topology.kept_or_started(load_topology(file), say=said.append)
        # a start now would run the worker from web's build again (not from whatever the name is now): the same
        assert said == [f"reusing the running topology named-build-{uid} (run {first.run_id})"]
        assert second.run_id == first.run_id and containers(docker_client, file) == before
    finally:
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
        remove_images(docker_client, context, [name])
    assert harness_resources(docker_client, f"named-build-{uid}", file) == []

DJANGO = """
    name: cookie-{uid}
    x-django: &django
      build:
        context: .
        dockerfile: ./compose/local/django/Dockerfile
      command: ["sleep", "infinity"]
    services:
      django:
        <<: *django
        image: cookie_{uid}_local_django
        command: ["python3", "-m", "http.server", "8000"]
        ports: ["8000"]
        healthcheck:
          test: ["CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/')"]
          interval: 1s
      celeryworker:
        <<: *django
        image: cookie_{uid}_local_celeryworker
        depends_on: [django]
    {roles}
"""
ROLES = ("celerybeat", "flower", "docs")  # each its own build of the same context (another build arg)
RUNS = 4


def test_one_context_feeding_five_services_starts_every_time(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    uid = uuid.uuid4().hex[:8]
    write(tmp_path / "compose/local/django/Dockerfile",
          "FROM python:3.11-slim\nARG ROLE=django\nCOPY version.txt /srv/version.txt\nRUN echo $ROLE > /srv/role\n")
    roles = "".join(f"""
      {role}:
        <<: *django
        image: cookie_{uid}_local_{role}
        build:
          context: .
          dockerfile: ./compose/local/django/Dockerfile
          args: {{ROLE: {role}}}
        depends_on: [django]""" for role in ROLES)
    file = write(tmp_path / "docker-compose.yml", DJANGO.format(uid=uid, roles=roles))
    services = ("django", "celeryworker", *ROLES)
    names = [f"cookie_{uid}_local_{service}" for service in services]
    try:
        for run in range(RUNS):  # a change each time: four new images of the context per run, old ones pile up
            (tmp_path / "version.txt").write_text(f"{uid} {run}\n")
            events: list[StartEvent] = []
            with Topology.start(load_topology(file), progress=events.append) as topology:
                ran = {service.name: service.container.image.id for service in topology}
                building = [e.service for e in events if e.kind == "building" and not e.detail]
                assert len(building) == 4 and set(ROLES) <= set(building), f"run {run}"  # one per distinct build
                assert ran["django"] == ran["celeryworker"]
                assert len(set(ran.values())) == 4
                for role in ROLES:
                    assert topology[role].exec(["cat", "/srv/role"]).output.strip() == role
                    assert topology[role].exec(["cat", "/srv/version.txt"]).output.strip() == f"{uid} {run}"
                for service, name in zip(services, names, strict=True):
                    assert docker_client.images.get(name).id == ran[service]
            # the tidy after the start removed every older image of the context (all unused, beyond the newest 3
            # that carry a content tag: this run's four, which were in use then); none is left untagged
            assert ids_of(docker_client, tmp_path) == set(ran.values()), f"run {run}"
            assert untagged(docker_client, tmp_path) == []
    finally:
        remove_images(docker_client, tmp_path, names)
    assert harness_resources(docker_client, f"cookie-{uid}", file) == []


def test_two_sessions_starting_from_one_context_at_once_build_it_once(tmp_path: Path, docker_client) -> None:  # noqa: ANN001
    uid = uuid.uuid4().hex[:8]
    context = tmp_path / "app"
    write(context / "Dockerfile", "FROM python:3.11-slim\nCOPY app.py /srv/app.py\n")
    write(context / "app.py", f"print('app {uid}')\n")
    files = [write(tmp_path / session / "topology.yaml", f"""
        name: session-{session}-{uid}
        services:
          app: {{build: ../app, command: [sleep, infinity]}}
    """) for session in ("one", "two")]
    events: dict[Path, list[StartEvent]] = {file: [] for file in files}
    go = threading.Barrier(len(files))
    started: list[Topology] = []

    def start(file: Path) -> Topology:
        spec = load_topology(file)
        go.wait()  # both sessions compute the same content tag and find no image: one builds, the other waits
        started.append(Topology.start(spec, progress=events[file].append))
        return started[-1]

    try:
        with ThreadPoolExecutor(len(files)) as pool:
            one, two = pool.map(start, files)
        outcomes = sorted(e.kind for file in files for e in events[file] if e.kind in ("built", "cached"))
        assert outcomes == ["built", "cached"]
        assert one["app"].container.image.id == two["app"].container.image.id
        assert ids_of(docker_client, context) == {one["app"].container.image.id}  # no second image, tagged or not
    finally:
        for topology in started:
            topology.close()
        remove_images(docker_client, context, [])
    for file in files:
        assert harness_resources(docker_client, f"session-{file.parent.name}-{uid}", file) == []
