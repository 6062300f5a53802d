"""A kept run whose file changes a service's replica count, with Docker Compose itself as the oracle (`up -d` of the
edited file over the running project): the running replicas are kept as they are, with their anonymous volumes'
data; a scale up adds only the replicas beyond the old count (numbered after the highest), a scale down removes the
highest-numbered; a dependent (even with `restart: true`) is kept."""

from __future__ import annotations

import subprocess
import uuid
from contextlib import suppress
from pathlib import Path

import docker
import docker.errors
import pytest

from harness import load_topology
from harness.errors import HookFailed
from harness.model.compose_cli import compose_binary
from harness.runtime import labels as L
from harness.runtime.topology import Topology

from ..conftest import harness_resources

SCALED = """name: {name}
services:
  web:
    image: redis:7
    scale: {scale}
    volumes: [/data]
  client:
    image: redis:7
    depends_on:
      web: {{condition: service_started, restart: true}}
"""
COMPOSE = "com.docker.compose."
State = dict[str, tuple[str, str]]  # SERVICE-N -> (container id, when it last started)


def states(client: docker.DockerClient, label: str, service: str, number: str) -> State:
    found = [client.containers.get(c.id) for c in client.containers.list(filters={"label": label}, sparse=True)]
    return {f"{c.labels[service]}-{c.labels[number]}": (c.id, c.attrs["State"]["StartedAt"]) for c in found}


def step(client: docker.DockerClient, before: State, after: State) -> dict[str, str]:
    """SERVICE-N -> kept, restarted or new (and, of web, whether its /data holds what the first start wrote)."""
    result = {}
    for shown, (container_id, started) in sorted(after.items()):
        what = ("new" if shown not in before or before[shown][0] != container_id else
                "restarted" if before[shown][1] != started else "kept")
        if shown.startswith("web-"):
            marked = client.containers.get(container_id).exec_run(["test", "-e", "/data/mark"]).exit_code == 0
            what += " with its data" if marked else " empty"
        result[shown] = what
    return result


def volumes_of(client: docker.DockerClient, state: State) -> set[str]:
    """The volumes the containers of `state` mount."""
    return {m["Name"] for container_id, _ in state.values() for m in client.containers.get(container_id).attrs["Mounts"]
            if m.get("Type") == "volume"}


def remove_left(client: docker.DockerClient, volumes: set[str]) -> None:
    """Remove `volumes` (Compose's) that are still there: Compose leaves those of the replicas a scale down removed
    (and of a container it recreated) on the engine, unused, also after `down -v`."""
    for volume in volumes:
        with suppress(docker.errors.NotFound):
            client.volumes.get(volume).remove()


def mark(client: docker.DockerClient, state: State) -> None:
    for shown, (container_id, _) in state.items():
        if shown.startswith("web-"):
            assert client.containers.get(container_id).exec_run(["touch", "/data/mark"]).exit_code == 0


def test_a_changed_replica_count_keeps_the_running_replicas_as_docker_compose_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"scale-{uuid.uuid4().hex[:8]}"
    compose_dir, harness_dir = tmp_path / "compose", tmp_path / "harness"
    compose_dir.mkdir()
    harness_dir.mkdir()
    compose_file, harness_file = compose_dir / "compose.yaml", harness_dir / "compose.yaml"

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(compose_file), *args], capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr

    by_compose = (f"{COMPOSE}project={name}", COMPOSE + "service", COMPOSE + "container-number")
    by_harness = (f"{L.FILE}={harness_file.resolve()}", L.SERVICE, L.REPLICA)
    said: list[str] = []
    left: set[str] = set()  # the volumes Compose's containers mounted
    try:
        for file in (compose_file, harness_file):
            file.write_text(SCALED.format(name=name, scale=2))
        compose("up", "-d", "--wait")
        topology = Topology.kept_or_started(load_topology(harness_file))
        seen = {"compose": states(docker_client, *by_compose), "harness": states(docker_client, *by_harness)}
        left |= volumes_of(docker_client, seen["compose"])
        mark(docker_client, seen["compose"])
        mark(docker_client, seen["harness"])
        steps: dict[str, list[dict[str, str]]] = {"compose": [], "harness": []}
        for scale in (3, 1, 3):
            for file in (compose_file, harness_file):
                file.write_text(SCALED.format(name=name, scale=scale))
            compose("up", "-d", "--wait")
            said.clear()
            topology = Topology.kept_or_started(load_topology(harness_file), say=said.append)
            for side, labels in (("compose", by_compose), ("harness", by_harness)):
                now = states(docker_client, *labels)
                left |= volumes_of(docker_client, now) if side == "compose" else set()
                steps[side].append(step(docker_client, seen[side], now))
                seen[side] = now
            assert [r.number for r in topology["web"].replicas] == list(range(1, scale + 1))
            assert all(r.status == "running" for r in topology["web"].replicas)
            if scale == 1:  # the removed replicas' anonymous volumes went with them
                volumes = docker_client.volumes.list(filters={"label": f"{L.RUN}={topology.run_id}"})
                assert sorted(v.name for v in volumes if "-anon" in v.name) == [
                    f"harness-{name}-web-anon0-{topology.run_id}"]
                assert said[1:3] == ["  client unchanged: kept",
                                     "  web scaled from 3 to 1 replica: removing the 2 highest-numbered, the other 1 "
                                     "kept (as Docker Compose does)"], said
                assert said[-1].endswith(": scaled web from 3 to 1 replica; it stays running"), said
            if scale == 3 and len(steps["harness"]) == 1:
                assert said[2] == ("  web scaled from 2 to 3 replicas: adding 1, its 2 running kept (as Docker "
                                   "Compose does)"), said
        assert steps["compose"] == [
            {"client-1": "kept", "web-1": "kept with its data", "web-2": "kept with its data", "web-3": "new empty"},
            {"client-1": "kept", "web-1": "kept with its data"},
            {"client-1": "kept", "web-1": "kept with its data", "web-2": "new empty", "web-3": "new empty"},
        ]
        assert steps["harness"] == steps["compose"]
        assert Topology.kept_or_started(load_topology(harness_file)).reused  # whole: used as it is
    finally:
        compose("down", "-v", "--timeout", "0")
        remove_left(docker_client, left)
        L.remove_leftovers(docker_client, include_kept=True, file=harness_file.resolve())
    assert harness_resources(docker_client, name, harness_file) == []


HOOKED = """name: {name}
services:
  web:
    image: redis:7
    scale: {scale}
    volumes: [shared:/shared]
    post_start:
      - command: ["sh", "-c", "test ! -e /shared/nostart"]
    pre_stop:
      - command: ["sh", "-c", "test ! -e /shared/nostop"]
volumes:
  shared:
"""


def test_a_scale_that_fails_leaves_the_running_replicas_as_they_were(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """A pre_stop hook of a replica a scale down removes fails: every replica is left running, as `docker compose up`
    leaves them (it says "web hook exited with status 1"); a post_start hook of a replica a scale up adds fails: that
    replica is removed, the running ones are kept, and the run is still whole (used as it is at its old count)."""
    name = f"scalefail-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"

    def replicas() -> list[str]:
        found = docker_client.containers.list(all=True, filters={"label": f"{L.FILE}={file.resolve()}"}, sparse=True)
        return sorted(f"{L.labels_of(c)[L.SERVICE]}-{L.labels_of(c)[L.REPLICA]} {c.attrs['State']}" for c in found)

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(compose_binary()), "-f", str(tmp_path / "oracle.yaml"), *args],
                              capture_output=True, text=True, timeout=300)

    try:
        for scale in (3, 1):  # Compose as the oracle of the failed scale down
            (tmp_path / "oracle.yaml").write_text(HOOKED.format(name=f"{name}-oracle", scale=scale))
            up = compose("up", "-d", "--wait")
            if scale == 3:
                assert up.returncode == 0, up.stderr
                web = docker_client.containers.get(f"{name}-oracle-web-1")
                assert web.exec_run(["touch", "/shared/nostop"]).exit_code == 0
        assert up.returncode != 0 and "web hook exited with status 1" in up.stderr, up.stderr
        assert len(docker_client.containers.list(filters={"label": f"com.docker.compose.project={name}-oracle"})) == 3

        file.write_text(HOOKED.format(name=name, scale=3))
        topology = Topology.kept_or_started(load_topology(file))
        assert topology["web"].exec(["touch", "/shared/nostop"]).exit_code == 0
        file.write_text(HOOKED.format(name=name, scale=1))
        said: list[str] = []
        with pytest.raises(HookFailed) as failed:
            Topology.kept_or_started(load_topology(file), say=said.append)
        assert "service 'web'" in str(failed.value) and "pre_stop" in str(failed.value), failed.value
        assert said[-1].startswith("a pre_stop hook of a replica that the update of topology"), said
        assert replicas() == ["web-1 running", "web-2 running", "web-3 running"]

        assert topology["web"].exec(["sh", "-c", "rm /shared/nostop; touch /shared/nostart"]).exit_code == 0
        file.write_text(HOOKED.format(name=name, scale=4))
        with pytest.raises(HookFailed):
            Topology.kept_or_started(load_topology(file))
        assert replicas() == ["web-1 running", "web-2 running", "web-3 running"]  # web-4 removed
        file.write_text(HOOKED.format(name=name, scale=3))
        assert Topology.kept_or_started(load_topology(file)).reused  # whole: used as it is
    finally:
        (tmp_path / "oracle.yaml").write_text(HOOKED.format(name=f"{name}-oracle", scale=1).replace(
            "    pre_stop:\n      - command: [\"sh\", \"-c\", \"test ! -e /shared/nostop\"]\n", ""))
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []
