"""An edited file updates its kept run as `docker compose up` does: only a service whose container changed is
replaced (its dependents and everything else keep their containers and data); harness-only settings (auth, openapi,
fuzz, ready, ...) replace nothing."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import docker
import docker.errors
import pytest

from harness import load_topology
from harness.runtime import labels as L
from harness.runtime.topology import Topology

from ..conftest import harness_resources

SHOP = """name: {name}
services:
  db:
    image: postgres:15
    ready: {{command: [pg_isready, -U, postgres]}}{db}
  redis:
    image: redis:7
    ports: [6379]{redis}
  orders:
    image: python:3.11-slim
    command: [python, -m, http.server, "8000"]
    ports: [8000]
    environment: {{ORDERS_MODE: "{mode}"}}
    depends_on: [db, redis]{orders}
  web:
    image: python:3.11-slim
    command: [python, -m, http.server, "8000"]
    ports: [8000]
    depends_on: [orders]
"""
# settings that only tell the harness how to wait for, call or test a service
HARNESS_ONLY = {
    "db": "\n    timeout: 90",
    "redis": "\n    ready: {tcp: 6379}\n    openapi: /openapi.json",
    "orders": ("\n    ready: {http: {port: 8000, path: /}}\n    openapi: /openapi.json"
               "\n    auth: {headers: {X-Api-Key: not-a-secret}}"
               "\n    fuzz: {mode: negative, exclude: [{check: not_a_server_error, reason: 'a known bug, issue 12'}]}"
               "\n    pact_name: Orders\n    consumes: [db]"),
}


def write(file: Path, mode: str = "a", **extra: str) -> None:
    file.write_text(SHOP.format(name=file.parent.name.replace("_", "-")[:40], mode=mode, db=extra.get("db", ""),
                                redis=extra.get("redis", ""), orders=extra.get("orders", "")))


def container_ids(client: docker.DockerClient, file: Path) -> dict[str, str]:
    """service -> container id, of every container of `file`'s topology (by label)."""
    found = client.containers.list(all=True, filters={"label": f"{L.FILE}={file.resolve()}"}, sparse=True)
    return {L.labels_of(c)[L.SERVICE]: c.id for c in found}


def data_kept(topology: Topology) -> tuple[str, str]:
    """What test data `put_data` wrote: the redis key and the postgres row."""
    redis = topology["redis"].exec(["redis-cli", "get", "kept"]).output.strip()
    row = topology["db"].exec(["psql", "-U", "postgres", "-tAc", "select x from kept"]).output.strip()
    return redis, row


def put_data(topology: Topology) -> None:
    assert topology["redis"].exec(["redis-cli", "set", "kept", "yes"]).exit_code == 0
    created = topology["db"].exec(["psql", "-U", "postgres", "-c", "create table kept(x text); "
                                   "insert into kept values ('row')"])
    assert created.exit_code == 0, created.output


@pytest.fixture
def shop(tmp_path: Path, docker_client: docker.DockerClient) -> Iterator[Path]:
    file = tmp_path / "topology.yaml"
    write(file)
    yield file
    L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())  # what `harness down FILE` does


def test_harness_only_settings_added_to_a_kept_run_replace_no_container(shop: Path,
                                                                        docker_client: docker.DockerClient) -> None:
    put_data(Topology.kept_or_started(load_topology(shop)))
    before = container_ids(docker_client, shop)

    write(shop, **HARNESS_ONLY)
    said: list[str] = []
    topology = Topology.kept_or_started(load_topology(shop), say=said.append)

    assert container_ids(docker_client, shop) == before
    assert said == [f"reusing the running topology {topology.spec.name} (run {topology.run_id})"]
    assert data_kept(topology) == ("yes", "row")
    assert topology.spec.services["orders"].auth is not None  # the new settings are the ones used


def test_a_changed_service_alone_is_replaced_and_the_run_stays_whole(shop: Path,
                                                                    docker_client: docker.DockerClient) -> None:
    harness = str(Path(sys.executable).parent / "harness")
    up = subprocess.run([harness, "up", str(shop), "--detach"], capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stderr
    first = load_topology(shop)
    put_data(Topology.kept_or_started(first))
    before = container_ids(docker_client, shop)
    run = L.labels_of(docker_client.containers.get(before["db"]))[L.RUN]

    write(shop, mode="b")
    up = subprocess.run([harness, "up", str(shop), "--detach"], capture_output=True, text=True, timeout=600)
    assert up.returncode == 0, up.stderr
    said = up.stderr.splitlines()
    assert (f"the kept topology {first.name} (run {run}) differs from what {shop.resolve()} gives now (the "
            "file, or a variable it takes from the environment or .env): "
            "updating it as `docker compose up` does (only a service whose container changed is replaced)") in said
    assert said[said.index("  db unchanged: kept"):][:4] == [
        "  db unchanged: kept",
        "  redis unchanged: kept",
        "  orders changed (environment): replacing it",
        "  web unchanged: kept (it depends on orders; Docker Compose does not replace a dependent either)"]
    assert f"updated topology {first.name} (run {run}): replaced orders; it stays running" in said

    after = container_ids(docker_client, shop)
    assert after.keys() == before.keys()
    assert {name for name in after if after[name] != before[name]} == {"orders"}
    replaced = L.labels_of(docker_client.containers.get(after["orders"]))
    assert {key: replaced[key] for key in L.run_labels_of(docker_client.containers.get(after["web"]))} \
        == L.run_labels_of(docker_client.containers.get(after["web"]))  # the same run: id, owner, kept, file
    assert L.started_fully(docker_client, run)

    topology = Topology.kept_or_started(load_topology(shop))  # a later session attaches to it as it is
    assert topology.run_id == run and topology.reused
    assert "ORDERS_MODE=b" in docker_client.containers.get(after["orders"]).attrs["Config"]["Env"]
    assert data_kept(topology) == ("yes", "row")
    reach = topology["web"].exec(["python", "-c", "import urllib.request as u; "
                                  "print(u.urlopen('http://orders:8000/').status)"])
    assert reach.output.strip() == "200", reach.output  # the new container answers at its name on the run's network

    ps = subprocess.run([harness, "ps"], capture_output=True, text=True, timeout=120)  # piped: aligned columns
    rows = [re.split(" {3,}", line.strip())[2:4] for line in ps.stdout.splitlines() if re.split(" {3,}", line.strip())[1:2] == [run]]
    assert sorted((service.strip(), status.strip()) for service, status in rows) == [
        ("db", "running"), ("orders", "running"), ("redis", "running"), ("web", "running")], ps.stdout
    down = subprocess.run([harness, "down", str(shop)], capture_output=True, text=True, timeout=300)
    assert down.returncode == 0 and "removed 4 container(s)" in down.stdout, down.stdout + down.stderr
    assert harness_resources(docker_client, first.name, shop) == []


RESTARTS = """name: {name}
services:
  db:
    image: redis:7
    environment: {{DB_MODE: "{mode}"}}
  web:
    image: redis:7
    depends_on: {{db: {{condition: service_started, restart: true}}}}
  api:
    image: redis:7
    depends_on: {{web: {{condition: service_started, restart: true}}}}
  plain:
    image: redis:7
    depends_on: [db]
"""


def states(client: docker.DockerClient, label: str) -> dict[str, tuple[str, str]]:
    """service -> (container id, when it last started), of the containers with `label` ('key=value')."""
    found = [client.containers.get(c.id) for c in client.containers.list(filters={"label": label}, sparse=True)]
    service = "com.docker.compose.service" if label.startswith("com.docker.compose") else L.SERVICE
    return {c.labels[service]: (c.id, c.attrs["State"]["StartedAt"]) for c in found}


def what_happened(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {name: "replaced" if after[name][0] != before[name][0] else
            "restarted" if after[name][1] != before[name][1] else "kept" for name in before}


def test_a_changed_dependency_restarts_dependents_with_restart_true_as_docker_compose_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """The same compose file, edited the same way, under `docker compose up -d` and under the harness: the changed
    service is replaced, its direct dependents with `restart: true` restarted (same container), nothing else."""
    from harness.model.compose_cli import compose_binary

    name = f"restarts-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(RESTARTS.format(name=name, mode="a"))

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    try:
        compose("up", "-d")
        said: list[str] = []
        Topology.kept_or_started(load_topology(file))
        by_compose = states(docker_client, f"com.docker.compose.project={name}")
        by_harness = states(docker_client, f"{L.FILE}={file.resolve()}")

        file.write_text(RESTARTS.format(name=name, mode="b"))
        compose("up", "-d")
        Topology.kept_or_started(load_topology(file), say=said.append)

        expected = {"db": "replaced", "web": "restarted", "api": "kept", "plain": "kept"}
        assert what_happened(by_compose, states(docker_client, f"com.docker.compose.project={name}")) == expected
        assert what_happened(by_harness, states(docker_client, f"{L.FILE}={file.resolve()}")) == expected
        assert sorted(said[1:5]) == [  # in Compose's order of the services (by name)
            "  api unchanged: kept",
            "  db changed (environment): replacing it",
            "  plain unchanged: kept (it depends on db; Docker Compose does not replace a dependent either)",
            "  web unchanged: restarting it after db (depends_on restart: true)"]
        assert said[5].endswith("replaced db; restarted web; it stays running")
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


def test_a_replaced_container_keeps_the_volume_of_its_images_volume_as_docker_compose_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """The real postgres and redis images declare VOLUMEs: Compose gives a recreated container the volumes Docker
    made for them in the old one, so a changed setting of the database itself keeps its data. So does the harness,
    and `harness down` removes that volume with the run."""
    import io

    from harness.model.compose_cli import compose_binary

    name = f"volumes-{uuid.uuid4().hex[:8]}"
    image = f"{name}:1"
    docker_client.images.build(fileobj=io.BytesIO(b"FROM redis:7\nVOLUME /data\n"), tag=image, rm=True)
    file = tmp_path / "compose.yaml"
    text = f"name: {name}\nservices:\n  store:\n    image: {image}\n    environment: {{MODE: MODE_VALUE}}\n"
    file.write_text(text.replace("MODE_VALUE", "a"))

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    def store(label: str) -> docker.models.containers.Container:
        return docker_client.containers.list(filters={"label": label})[0]

    def data_volume(label: str) -> str:
        return next(m["Name"] for m in store(label).attrs["Mounts"] if m["Destination"] == "/data")

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    volumes: dict[str, str] = {}
    try:
        compose("up", "-d")
        Topology.kept_or_started(load_topology(file))
        for label in (by_compose, by_harness):
            assert store(label).exec_run(["sh", "-c", "echo kept > /data/x"]).exit_code == 0
        before = {label: store(label).id for label in (by_compose, by_harness)}
        volumes = {label: data_volume(label) for label in (by_compose, by_harness)}

        file.write_text(text.replace("MODE_VALUE", "b"))
        compose("up", "-d")
        Topology.kept_or_started(load_topology(file))
        for label in (by_compose, by_harness):
            assert store(label).id != before[label]  # replaced
            assert store(label).exec_run(["cat", "/data/x"]).output.decode().strip() == "kept", label
            assert data_volume(label) == volumes[label]
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
        if by_compose in volumes:  # Compose leaves it: mounted by name in the new container, `down -v` keeps it
            L.remove_unused_volumes(docker_client, [volumes[by_compose]])
        docker_client.images.remove(image)
    assert harness_resources(docker_client, name, file) == []
    with pytest.raises(docker.errors.NotFound):
        docker_client.volumes.get(volumes[by_harness])  # `harness down` leaves nothing


def test_a_failed_update_removes_what_it_started_and_leaves_the_rest_with_its_data(
        shop: Path, docker_client: docker.DockerClient) -> None:
    from harness.errors import HarnessError

    first = Topology.kept_or_started(load_topology(shop))
    put_data(first)
    before = container_ids(docker_client, shop)

    write(shop, orders="\n    entrypoint: [sh, -c, 'echo cannot start; exit 3']")  # the edit breaks orders
    said: list[str] = []
    with pytest.raises(HarnessError) as info:
        Topology.kept_or_started(load_topology(shop), say=said.append)
    assert "exited with code 3" in str(info.value)
    assert said[-1] == (f"the update of topology {first.spec.name} (run {first.run_id}) did not finish: what it "
                        "started was removed; db, redis, web left as it was, with its data; orders: the old container(s) were "
                        "replaced, so none runs now (the run stays kept: fix "
                        f"the file and start again, or remove it: harness down --topology {shop.resolve()})")
    after = container_ids(docker_client, shop)
    assert after == {name: before[name] for name in ("db", "redis", "web")}  # as Compose leaves them
    assert all(docker_client.containers.get(after[name]).status == "running" for name in after)
    assert L.started_fully(docker_client, first.run_id)  # the next session updates it again, not replaces it

    write(shop, mode="b")  # fixed
    said.clear()
    fixed = Topology.kept_or_started(load_topology(shop), say=said.append)
    assert fixed.run_id == first.run_id
    assert data_kept(fixed) == ("yes", "row")
    assert {name: id_ for name, id_ in container_ids(docker_client, shop).items() if name != "orders"} == after
    assert fixed["orders"].exec(["printenv", "ORDERS_MODE"]).output.strip() == "b"


NETWORKS = """name: {name}
services:
  store:
    image: redis:7
    command: ["redis-server", "--appendonly", "yes", "--protected-mode", "no"]
    volumes: ["data:/data"]
    networks: [back]
    healthcheck: {{test: ["CMD", "redis-cli", "ping"], interval: 1s, retries: 30}}
  web:
    image: redis:7
    command: ["sleep", "infinity"]
    networks: [front]
  both:
    image: redis:7
    command: ["sleep", "infinity"]
    networks: [front, back]
networks:
  front: {{}}
  back:
    labels: {{tier: "{tier}"}}
volumes:
  data: {{}}
"""


def test_a_changed_network_is_made_again_and_its_containers_restarted_with_their_data_as_docker_compose_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """The same compose file, its network `back` edited, under `docker compose up -d` and under the harness: the
    network is made again, the containers on it restarted on it (the same containers: their data and named volumes
    stay), the others kept as they are."""
    from harness.model.compose_cli import compose_binary

    name = f"netchange-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(NETWORKS.format(name=name, tier="a"))

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    def store(label: str) -> docker.models.containers.Container:
        return next(c for c in docker_client.containers.list(filters={"label": label})
                    if c.labels.get("com.docker.compose.service", c.labels.get(L.SERVICE)) == "store")

    def network_id(label: str) -> str:
        return next(iter(store(label).attrs["NetworkSettings"]["Networks"].values()))["NetworkID"]

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    try:
        compose("up", "-d", "--wait")
        first = Topology.kept_or_started(load_topology(file))
        for label in (by_compose, by_harness):
            assert store(label).exec_run(["redis-cli", "set", "kept", "yes"]).exit_code == 0
            assert store(label).exec_run(["redis-cli", "save"]).exit_code == 0
        before = {label: states(docker_client, label) for label in (by_compose, by_harness)}
        networks_before = {label: network_id(label) for label in (by_compose, by_harness)}

        file.write_text(NETWORKS.format(name=name, tier="b"))
        compose("up", "-d", "--wait")
        said: list[str] = []
        topology = Topology.kept_or_started(load_topology(file), say=said.append)

        expected = {"store": "restarted", "both": "restarted", "web": "kept"}
        assert what_happened(before[by_compose], states(docker_client, by_compose)) == expected
        assert what_happened(before[by_harness], states(docker_client, by_harness)) == expected
        for label in (by_compose, by_harness):
            assert network_id(label) != networks_before[label], label  # made again
            assert store(label).exec_run(["redis-cli", "get", "kept"]).output.decode().strip() == "yes", label
        assert topology.run_id == first.run_id
        assert said[1:5] == [
            "  network back changed: making it again (as Docker Compose does; the named volumes stay)",
            "  both unchanged: restarting it on its network made again (as Docker Compose does)",  # Compose's order
            "  store unchanged: restarting it on its network made again (as Docker Compose does)",
            "  web unchanged: kept"]
        assert said[5].endswith("updated network(s) back; restarted both, store; it stays running")
        back = docker_client.networks.list(filters={"label": [f"{L.RUN}={topology.run_id}", f"{L.NETWORK}=back"]})
        assert [n.attrs["Labels"].get("tier") for n in back] == ["b"]
        reach = topology["both"].exec(["redis-cli", "-h", "store", "get", "kept"])
        assert reach.output.strip() == "yes", reach.output  # by its name on the network made again
        assert Topology.kept_or_started(load_topology(file)).reused  # whole again: used as it is
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


def test_a_failed_build_leaves_the_kept_run_with_its_data_as_docker_compose_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """A service whose build changed is replaced: Compose builds first, and a failed build leaves the project's
    container running with the anonymous volume of its image's VOLUME (its data). So does the harness: the build
    runs before any container of the kept run is touched."""
    from harness.errors import BuildFailed
    from harness.model.compose_cli import compose_binary

    name = f"rebuild-{uuid.uuid4().hex[:8]}"
    (tmp_path / "store").mkdir()
    dockerfile = tmp_path / "store" / "Dockerfile"
    dockerfile.write_text('FROM redis:7\nVOLUME /data\nCMD ["sleep", "infinity"]\n')
    file = tmp_path / "compose.yaml"
    file.write_text(f"name: {name}\nservices:\n  store:\n    build: ./store\n")

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)

    def store(label: str) -> docker.models.containers.Container:
        return docker_client.containers.list(filters={"label": label})[0]

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    images: list[str] = []
    said: list[str] = []
    try:
        assert compose("up", "-d", "--build").returncode == 0
        Topology.kept_or_started(load_topology(file))
        images = [store(label).image.id for label in (by_compose, by_harness)]
        for label in (by_compose, by_harness):
            assert store(label).exec_run(["sh", "-c", "echo kept > /data/x"]).exit_code == 0
        before = {label: store(label).id for label in (by_compose, by_harness)}

        dockerfile.write_text('FROM redis:7\nVOLUME /data\nRUN false\nCMD ["sleep", "infinity"]\n')
        failed = compose("up", "-d", "--build")
        assert failed.returncode != 0 and "false" in failed.stderr, failed.stderr
        with pytest.raises(BuildFailed):
            Topology.kept_or_started(load_topology(file), say=said.append)
        for label in (by_compose, by_harness):
            assert store(label).id == before[label], label  # the same container, still running
            assert store(label).exec_run(["cat", "/data/x"]).output.decode().strip() == "kept", label
        assert any("the run is left as it was, with its containers and their data" in line for line in said), said
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
        for image in images:
            with suppress(docker.errors.APIError):  # another session may use the base image's layers
                docker_client.images.remove(image, force=True)
    assert harness_resources(docker_client, name, file) == []


def test_a_service_gone_from_the_file_is_left_running_as_docker_compose_leaves_an_orphan(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`docker compose up` of a file without a service leaves that service's container running (an orphan, with a
    warning; only `--remove-orphans` removes it). So does an update of a kept run; `harness down` removes it with
    the run."""
    from harness.model.compose_cli import compose_binary

    name = f"orphan-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    both = f"name: {name}\nservices:\n  a: {{image: redis:7, command: [sleep, infinity]}}\n"
    file.write_text(both + "  old: {image: redis:7, command: [sleep, infinity]}\n")

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)

    def running(label: str) -> dict[str, str]:
        return {(c.labels.get("com.docker.compose.service") or c.labels[L.SERVICE]): c.id
                for c in docker_client.containers.list(filters={"label": label})}

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    said: list[str] = []
    try:
        assert compose("up", "-d").returncode == 0
        Topology.kept_or_started(load_topology(file))
        before = {label: running(label) for label in (by_compose, by_harness)}
        file.write_text(both)
        up = compose("up", "-d")
        assert up.returncode == 0 and "Found orphan containers" in up.stderr, up.stderr
        topology = Topology.kept_or_started(load_topology(file), say=said.append)
        assert [s.name for s in topology] == ["a"]
        for label in (by_compose, by_harness):
            assert running(label) == before[label], label  # the same containers, the orphan still running
        assert any("old no longer in the file: left running, as `docker compose up` leaves orphan containers" in line
                   for line in said), said
        said.clear()
        Topology.kept_or_started(load_topology(file), say=said.append)  # no change: reused, the note again
        assert said[0].startswith("reusing the running topology") and "left running" in said[1], said
    finally:
        compose("down", "--remove-orphans", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())  # `harness down FILE`
    assert harness_resources(docker_client, name, file) == []


def test_a_named_volume_whose_options_changed_is_kept_with_its_data_as_docker_compose_keeps_it(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`docker compose up` without a terminal (or `-y`) answers no to "Volume ... exists but doesn't match
    configuration in compose file. Recreate (data will be lost)?": the volume keeps its old options and its data.
    So does a kept run."""
    from harness.model.compose_cli import compose_binary

    name = f"volopts-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    text = (f"name: {name}\nservices:\n  app:\n    image: redis:7\n    command: [sleep, infinity]\n"
            "    volumes: [scratch:/data]\nvolumes:\n  scratch: {driver_opts: {type: tmpfs, device: tmpfs, o: SIZE}}\n")
    file.write_text(text.replace("SIZE", "size=8m"))

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)

    def seen(label: str) -> tuple[str, dict[str, str], str]:
        container = docker_client.containers.list(filters={"label": label})[0]
        volume = next(m["Name"] for m in container.attrs["Mounts"] if m["Destination"] == "/data")
        return container.id, docker_client.volumes.get(volume).attrs["Options"], \
            container.exec_run(["cat", "/data/x"]).output.decode().strip()

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    try:
        assert compose("up", "-d").returncode == 0
        Topology.kept_or_started(load_topology(file))
        for label in (by_compose, by_harness):
            docker_client.containers.list(filters={"label": label})[0].exec_run(["sh", "-c", "echo kept > /data/x"])
        before = {label: seen(label) for label in (by_compose, by_harness)}
        file.write_text(text.replace("SIZE", "size=16m"))
        up = compose("up", "-d")
        assert up.returncode == 0 and "doesn't match configuration in compose file" in up.stdout, up.stdout
        said: list[str] = []
        Topology.kept_or_started(load_topology(file), say=said.append)
        for label in (by_compose, by_harness):
            assert seen(label) == before[label], label
            assert before[label][1:] == ({"type": "tmpfs", "device": "tmpfs", "o": "size=8m"}, "kept")
        # said once, in one line: never lost silently, nor kept silently
        assert [line for line in said if "scratch" in line] == [
            "note: named volume scratch of the running topology: the file now defines it otherwise (driver, "
            "driver_opts, labels); kept as it is, with the data, as `docker compose up` keeps a volume without a "
            "terminal (it asks \"Volume ... exists but doesn't match configuration in compose file. Recreate (data "
            f"will be lost)?\" and the answer is no); to recreate, losing the data, remove the run first: harness down "
            f"--topology {file.resolve()}"]
        said.clear()  # the next use of the run says it again (the file still differs), and keeps the data
        Topology.kept_or_started(load_topology(file), say=said.append)
        assert len([line for line in said if "scratch" in line]) == 1 and seen(by_harness) == before[by_harness]
        file.write_text(text.replace("SIZE", "size=8m"))  # as it was: nothing to say
        said.clear()
        Topology.kept_or_started(load_topology(file), say=said.append)
        assert [line for line in said if "scratch" in line] == []
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


JOINED = """name: {name}
services:
  store:
    image: redis:7
    command: ["redis-server", "--protected-mode", "no"]
    networks: [back]
  joined:  # the name Compose gives the file's network `back`: that network of the run, as its network_mode
    image: redis:7
    command: ["sleep", "infinity"]
    network_mode: {name}_back
networks:
  back:
    labels: {{tier: "{tier}"}}
"""


def test_a_network_mode_service_is_restarted_on_its_network_made_again_as_a_fresh_docker_compose_up_gives_it(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """A kept run whose network `back` is edited: a service whose network_mode is that network is stopped, joined to
    the network made again and started (the same container), as a fresh `docker compose up` of the edited file
    has it. (Docker Compose v2.40.3 itself fails such an update: it stops only the services that list the network,
    and the engine refuses to remove a network that a network_mode container is still on: "has active
    endpoints".)"""
    from harness.model.compose_cli import compose_binary

    name = f"netmode-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(JOINED.format(name=name, tier="a"))

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)

    def view(container: docker.models.containers.Container) -> tuple[str, list[str], int]:
        """Its network mode and networks (the file's `back` named by each its way), and whether it reaches
        `store` by name."""
        container.reload()
        networks = container.attrs["NetworkSettings"]["Networks"]
        named = {mode: "back" for mode in (f"{name}_back", *networks) if "back" in mode}
        reach = container.exec_run(["redis-cli", "-h", "store", "ping"])
        return (named.get(container.attrs["HostConfig"]["NetworkMode"], "?"), sorted(named.get(n, n) for n in networks),
                reach.exit_code)

    by_harness = f"{L.FILE}={file.resolve()}"
    try:
        first = Topology.kept_or_started(load_topology(file))
        before = states(docker_client, by_harness)
        network_before = first["joined"].container.attrs["NetworkSettings"]["Networks"]
        file.write_text(JOINED.format(name=name, tier="b"))
        said: list[str] = []
        topology = Topology.kept_or_started(load_topology(file), say=said.append)
        assert what_happened(before, states(docker_client, by_harness)) == {"store": "restarted", "joined": "restarted"}
        assert "  joined unchanged: restarting it on its network made again (as Docker Compose does)" in said, said
        joined = docker_client.containers.get(topology["joined"].container.id)
        assert joined.attrs["NetworkSettings"]["Networks"].keys() == network_before.keys()  # by its name
        assert [n["NetworkID"] for n in joined.attrs["NetworkSettings"]["Networks"].values()] != [
            n["NetworkID"] for n in network_before.values()]  # made again
        by_harness_view = view(joined)
        assert Topology.kept_or_started(load_topology(file)).reused  # whole again: used as it is

        up = compose("up", "-d", "--wait")  # the edited file, started afresh by Compose
        assert up.returncode == 0, up.stderr
        by_compose = next(c for c in docker_client.containers.list(
            filters={"label": f"com.docker.compose.project={name}"}) if c.labels["com.docker.compose.service"] ==
                          "joined")
        assert by_harness_view == view(by_compose) == ("back", ["back"], 0)
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


SIDECAR = """name: {name}
services:
  sidecar:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    environment: {{MODE: "{mode}"}}
    scale: {scale}
  tap:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: "service:sidecar"
"""
REACH = ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000', timeout=30)"]


def test_a_service_in_a_replaced_services_namespace_is_recreated_after_it_as_docker_compose_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`network_mode: service:sidecar`, sidecar's environment edited: Compose recreates sidecar, then tap (its
    namespace is the new container's); so does the harness (a restart of tap found its namespace gone and the update
    failed). Then sidecar scaled to 3: tap still runs in a sidecar's namespace and reaches its server."""
    from harness.model.compose_cli import compose_binary

    name = f"joins-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(SIDECAR.format(name=name, mode="a", scale=1))

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    def joined(label: str) -> tuple[str, int]:
        """tap's network mode (as 'sidecar' if it is a running sidecar's container) and whether it reaches :8000."""
        found = [docker_client.containers.get(c.id) for c in docker_client.containers.list(filters={"label": label})]
        service = "com.docker.compose.service" if label.startswith("com.docker.compose") else L.SERVICE
        sidecars = {f"container:{c.id}" for c in found if c.labels[service] == "sidecar"}
        tap = next(c for c in found if c.labels[service] == "tap")
        mode = tap.attrs["HostConfig"]["NetworkMode"]
        return ("sidecar" if mode in sidecars else mode), tap.exec_run(REACH).exit_code

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    try:
        compose("up", "-d", "--wait")
        Topology.kept_or_started(load_topology(file))
        compose_before, harness_before = states(docker_client, by_compose), states(docker_client, by_harness)

        file.write_text(SIDECAR.format(name=name, mode="b", scale=1))
        compose("up", "-d", "--wait")
        said: list[str] = []
        Topology.kept_or_started(load_topology(file), say=said.append)
        expected = {"sidecar": "replaced", "tap": "replaced"}
        assert what_happened(compose_before, states(docker_client, by_compose)) == expected
        assert what_happened(harness_before, states(docker_client, by_harness)) == expected
        assert said[1:3] == [
            "  sidecar changed (environment): replacing it",
            "  tap unchanged: recreating it after sidecar (its network_mode names sidecar, whose container is new: "
            "Docker Compose recreates it too)"]
        assert said[-1].endswith("replaced sidecar; recreated tap; it stays running"), said
        assert joined(by_compose) == joined(by_harness) == ("sidecar", 0)

        file.write_text(SIDECAR.format(name=name, mode="b", scale=3))
        compose("up", "-d", "--wait")
        topology = Topology.kept_or_started(load_topology(file))
        assert [r.status for r in topology["sidecar"].replicas] == ["running"] * 3
        assert joined(by_compose) == joined(by_harness) == ("sidecar", 0)
        assert Topology.kept_or_started(load_topology(file)).reused  # whole: used as it is
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


BROKER = """name: {name}
services:
  broker:
    image: python:3.11-slim
    command: ["sleep", "1001"]
    environment: {{MODE: "{mode}"}}
    ipc: shareable
  worker:
    image: python:3.11-slim
    command: ["sleep", "1002"]
    pid: "service:broker"
    ipc: "service:broker"
"""


def test_a_service_in_a_replaced_services_pid_and_ipc_namespace_is_recreated_after_it_as_docker_compose_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`pid` and `ipc` `service:broker`, broker's environment edited: Compose recreates broker, then worker (it
    joins the new container's namespaces); so does the harness."""
    from harness.model.compose_cli import compose_binary

    name = f"pidipc-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(BROKER.format(name=name, mode="a"))

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    def joined(label: str) -> tuple[str, str, str]:
        """worker's PID and IPC mode (as 'broker' if a running broker's container) and the PID 1 it sees."""
        found = [docker_client.containers.get(c.id) for c in docker_client.containers.list(filters={"label": label})]
        service = "com.docker.compose.service" if label.startswith("com.docker.compose") else L.SERVICE
        brokers = {f"container:{c.id}" for c in found if c.labels[service] == "broker"}
        worker = next(c for c in found if c.labels[service] == "worker")
        host = worker.attrs["HostConfig"]
        first = worker.exec_run(["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline"]).output.decode().strip()
        return (*("broker" if host[key] in brokers else host[key] for key in ("PidMode", "IpcMode")), first)

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    try:
        compose("up", "-d", "--wait")
        Topology.kept_or_started(load_topology(file))
        assert joined(by_compose) == joined(by_harness) == ("broker", "broker", "sleep 1001")
        compose_before, harness_before = states(docker_client, by_compose), states(docker_client, by_harness)

        file.write_text(BROKER.format(name=name, mode="b"))
        compose("up", "-d", "--wait")
        said: list[str] = []
        Topology.kept_or_started(load_topology(file), say=said.append)
        expected = {"broker": "replaced", "worker": "replaced"}
        assert what_happened(compose_before, states(docker_client, by_compose)) == expected
        assert what_happened(harness_before, states(docker_client, by_harness)) == expected
        assert said[1:3] == [
            "  broker changed (environment): replacing it",
            "  worker unchanged: recreating it after broker (its ipc names broker, whose container is new: Docker "
            "Compose recreates it too)"]
        assert said[-1].endswith("replaced broker; recreated worker; it stays running"), said
        assert joined(by_compose) == joined(by_harness) == ("broker", "broker", "sleep 1001")
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


METRICS = """name: {name}
services:
  db:
    image: redis:7
    command: ["sleep", "infinity"]
    environment: {{MODE: "{mode}"}}
  web:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    depends_on: [db]
    restart_on_replace: [db]
  metrics:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    network_mode: "service:web"
    depends_on: [web]
"""


def test_an_update_says_it_restarted_the_services_in_a_restarted_services_namespace(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """db replaced: web restarted (restart_on_replace), and with it metrics (in web's network namespace, restarted
    into the new one): the summary lists both, and metrics reaches web's server on localhost again."""
    name = f"metrics-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "topology.yaml"
    file.write_text(METRICS.format(name=name, mode="a"))
    label = f"{L.FILE}={file.resolve()}"
    try:
        Topology.kept_or_started(load_topology(file))
        before = states(docker_client, label)
        file.write_text(METRICS.format(name=name, mode="b"))
        said: list[str] = []
        topology = Topology.kept_or_started(load_topology(file), say=said.append)
        assert what_happened(before, states(docker_client, label)) == {"db": "replaced", "web": "restarted",
                                                                       "metrics": "restarted"}
        assert said[-3:-1] == [
            "  web unchanged: restarting it after db (depends_on restart: true)",
            "  metrics unchanged: restarting it after web (its network_mode names web, whose namespace is new once "
            "it starts again)"], said
        assert said[-1].endswith("replaced db; restarted web, metrics; it stays running"), said
        assert topology["metrics"].exec(REACH).exit_code == 0
    finally:
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


UNUSED_FILE = """name: {name}
services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM python:3.11-slim
        COPY used.txt /used.txt
        CMD ["sleep", "infinity"]
"""


def test_a_context_file_the_image_does_not_use_replaces_nothing_as_docker_compose_build_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """NOTES.md of the build context edited: `docker compose up -d --wait --build` rebuilds from the cache, gets the
    same image and keeps the container; so does a kept run (it replaced it, "changed (image)", and said the file was
    another version). A file the image copies replaces it, and the message says why (not the file)."""
    from harness.model.compose_cli import compose_binary

    name = f"unused-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(UNUSED_FILE.format(name=name))
    (tmp_path / "NOTES.md").write_text("v1\n")
    (tmp_path / "used.txt").write_text("v1\n")

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    try:
        compose("up", "-d", "--wait", "--build")
        first = Topology.kept_or_started(load_topology(file))
        compose_before, harness_before = states(docker_client, by_compose), states(docker_client, by_harness)

        (tmp_path / "NOTES.md").write_text("v2\n")
        compose("up", "-d", "--wait", "--build")
        said: list[str] = []
        Topology.kept_or_started(load_topology(file), say=said.append)
        assert what_happened(compose_before, states(docker_client, by_compose)) == {"app": "kept"}
        assert what_happened(harness_before, states(docker_client, by_harness)) == {"app": "kept"}
        assert said == [f"reusing the running topology {name} (run {first.run_id})"]

        (tmp_path / "used.txt").write_text("v2\n")
        compose("up", "-d", "--wait", "--build")
        said.clear()
        topology = Topology.kept_or_started(load_topology(file), say=said.append)
        assert what_happened(compose_before, states(docker_client, by_compose)) == {"app": "replaced"}
        assert what_happened(harness_before, states(docker_client, by_harness)) == {"app": "replaced"}
        assert said[0] == (f"the kept topology {name} (run {first.run_id}): the image built for app changed (its build "
                           "context): updating it as `docker compose up` does (only a service whose container changed "
                           "is replaced)")
        assert topology["app"].exec(["cat", "/used.txt"]).output.strip() == "v2"
    finally:
        compose("down", "-v", "--timeout", "0", "--rmi", "local")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


VOLUMES_FROM = """name: {name}
services:
  data:
    image: redis:7
    environment: {{MODE: "{mode}"}}
    volumes: [/shared]
  app:
    image: redis:7
    volumes_from: [data]
  reader:
    image: redis:7
    volumes_from: [app]
  other:
    image: redis:7
    depends_on: [data]
"""


def test_a_service_with_volumes_from_a_replaced_service_is_recreated_after_it_as_docker_compose_does(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`volumes_from: [data]`, data's environment edited: Compose recreates data (its anonymous volume kept), then app
    (its mounts are the new container's), and reader, whose volumes_from names app; a dependent without volumes_from
    is kept. So does the harness; each sees what data's volume held before."""
    from harness.model.compose_cli import compose_binary

    name = f"volfrom-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(VOLUMES_FROM.format(name=name, mode="a"))

    def compose(*args: str) -> None:
        done = subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr

    def shared(label: str) -> dict[str, tuple[str, bool]]:
        """service -> (the volume at /shared, as 'data's' if it is the one data mounts; whether it holds the mark)."""
        found = [docker_client.containers.get(c.id) for c in docker_client.containers.list(filters={"label": label})]
        service = "com.docker.compose.service" if label.startswith("com.docker.compose") else L.SERVICE
        volumes = {c.labels[service]: next((m["Name"] for m in c.attrs["Mounts"] if m["Destination"] == "/shared"),
                                           "") for c in found}
        return {c.labels[service]: ("data's" if volumes[c.labels[service]] == volumes["data"] else
                                    volumes[c.labels[service]],
                                    c.exec_run(["test", "-e", "/shared/mark"]).exit_code == 0) for c in found}

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    left: set[str] = set()
    try:
        compose("up", "-d", "--wait")
        topology = Topology.kept_or_started(load_topology(file))
        assert topology["data"].exec(["touch", "/shared/mark"]).exit_code == 0
        compose_data = next(c for c in docker_client.containers.list(filters={"label": by_compose})
                            if c.labels["com.docker.compose.service"] == "data")
        assert compose_data.exec_run(["touch", "/shared/mark"]).exit_code == 0
        compose_before, harness_before = states(docker_client, by_compose), states(docker_client, by_harness)

        file.write_text(VOLUMES_FROM.format(name=name, mode="b"))
        compose("up", "-d", "--wait")
        said: list[str] = []
        Topology.kept_or_started(load_topology(file), say=said.append)
        expected = {"data": "replaced", "app": "replaced", "reader": "replaced", "other": "kept"}
        # the volume Compose recreated data with: the new container mounts it by name, so `down -v` leaves it
        left = {m["Name"] for c in docker_client.containers.list(filters={"label": by_compose})
                for m in c.attrs["Mounts"] if m.get("Type") == "volume"}
        assert what_happened(compose_before, states(docker_client, by_compose)) == expected
        assert what_happened(harness_before, states(docker_client, by_harness)) == expected
        assert "  app unchanged: recreating it after data (its volumes_from names data, whose container is new: " \
               "Docker Compose recreates it too)" in said, said
        assert "  reader unchanged: recreating it after app (its volumes_from names app, whose container is new: " \
               "Docker Compose recreates it too)" in said, said
        assert said[-1].endswith("replaced data; recreated app, reader; it stays running"), said
        sides = {side: {service: seen for service, seen in shared(label).items() if service != "other"}
                 for side, label in (("compose", by_compose), ("harness", by_harness))}
        assert sides["compose"] == sides["harness"] == {service: ("data's", True) for service in ("app", "data",
                                                                                                   "reader")}
        assert Topology.kept_or_started(load_topology(file)).reused  # whole again: used as it is
    finally:
        compose("down", "-v", "--timeout", "0")
        for volume in left:
            with suppress(docker.errors.NotFound):
                docker_client.volumes.get(volume).remove()
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []


def test_a_named_volume_whose_labels_changed_is_kept_as_docker_compose_keeps_it(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """A volume's `labels` are part of its definition for Compose (it asks whether to recreate it, and without a
    terminal keeps it): the kept run keeps it too, with its old labels and its data, and says so."""
    from harness.model.compose_cli import compose_binary

    name = f"vollabels-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    text = (f"name: {name}\nservices:\n  app:\n    image: redis:7\n    volumes: [data:/data]\n"
            "volumes:\n  data: {labels: {team: TEAM}}\n")
    file.write_text(text.replace("TEAM", "shop"))

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(compose_binary()), "-f", str(file), *args], capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)

    def seen(label: str) -> tuple[str, str]:
        container = docker_client.containers.list(filters={"label": label})[0]
        volume = next(m["Name"] for m in container.attrs["Mounts"] if m["Destination"] == "/data")
        return docker_client.volumes.get(volume).attrs["Labels"]["team"], container.exec_run(
            ["cat", "/data/x"]).output.decode().strip()

    by_compose, by_harness = f"com.docker.compose.project={name}", f"{L.FILE}={file.resolve()}"
    try:
        assert compose("up", "-d").returncode == 0
        Topology.kept_or_started(load_topology(file))
        for label in (by_compose, by_harness):
            docker_client.containers.list(filters={"label": label})[0].exec_run(["sh", "-c", "echo kept > /data/x"])
        file.write_text(text.replace("TEAM", "web"))
        up = compose("up", "-d")
        assert up.returncode == 0 and "doesn't match configuration in compose file" in up.stdout, up.stdout
        said: list[str] = []
        Topology.kept_or_started(load_topology(file), say=said.append)
        assert seen(by_compose) == seen(by_harness) == ("shop", "kept")
        assert [line for line in said if line.startswith("note: named volume data")], said
    finally:
        compose("down", "-v", "--timeout", "0")
        L.remove_leftovers(docker_client, include_kept=True, file=file.resolve())
    assert harness_resources(docker_client, name, file) == []
