"""A service's per-network `link_local_ips`, `driver_opts`, `gw_priority`, `interface_name` and a healthcheck's
`start_interval` on this engine (Docker 20.10, API 1.41), with Docker Compose itself as the oracle: what it starts
the harness starts with the same endpoint settings, what it refuses here the harness refuses with its message
(tests/unit/runtime/test_endpoint_keys.py: the rules for newer engines)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import DockerError

from ..conftest import harness_resources
from .test_compose_mac import compose

STARTS = """
name: {name}
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    networks:
      front:
        link_local_ips: ["169.254.10.10"]
        driver_opts: {{com.docker.network.endpoint.sysctls: "net.ipv4.conf.IFNAME.log_martians=1"}}
        gw_priority: 5
      back: {{}}
networks: {{front: {{}}, back: {{}}}}
"""


def endpoints(container: docker.models.containers.Container) -> dict[str, object]:
    """Network (the file's name) -> the endpoint settings these keys give, and the network the container was
    created on."""
    def short(name: str) -> str:
        return name.rsplit("-", 2)[-2] if name.startswith("harness-") else name.rsplit("_", 1)[-1]

    networks = container.attrs["NetworkSettings"]["Networks"]
    return {"created on": short(container.attrs["HostConfig"]["NetworkMode"]), **{
        short(name): ((settings.get("IPAMConfig") or {}).get("LinkLocalIPs"), settings.get("DriverOpts"),
                      settings.get("GwPriority", 0))
        for name, settings in networks.items()}}


def test_what_compose_starts_gets_the_same_endpoint_settings(tmp_path: Path, docker_client: docker.DockerClient
                                                             ) -> None:
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(STARTS.format(name=name)).lstrip())
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        by_compose = endpoints(docker_client.containers.list(
            filters={"label": f"com.docker.compose.project={name}"})[0])
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with Topology.start(load_topology(file)) as topology:
        by_harness = endpoints(docker_client.containers.get(topology["app"].container.id))
    assert harness_resources(docker_client, name) == []

    assert by_harness == by_compose == {
        "created on": "back", "back": (None, None, 0),
        # the engine keeps the link-local address and the driver options; before API 1.48 it ignores GwPriority
        "front": (["169.254.10.10"], {"com.docker.network.endpoint.sysctls": "net.ipv4.conf.IFNAME.log_martians=1"},
                  0)}


@pytest.mark.parametrize(("service", "refusal"), [
    ("networks: {front: {interface_name: web0}}", "interface_name requires Docker Engine v28.1 or later"),
    ("healthcheck: {test: [CMD, 'true'], start_period: 5s, start_interval: 1s}",
     "can't set healthcheck.start_interval as feature require Docker Engine v25 or later"),
    ("volumes: [{type: image, source: 'redis:7', target: /image}]",
     "volume with type=image require Docker Engine v28 or later"),
], ids=["interface_name", "start_interval", "image_volume"])
def test_what_compose_refuses_on_this_engine_is_refused_with_its_message(
        tmp_path: Path, docker_client: docker.DockerClient, service: str, refusal: str) -> None:
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(f"""
        name: {name}
        services:
          app:
            image: redis:7
            command: ["sleep", "infinity"]
            {service}
        networks: {{front: {{}}}}
    """).lstrip())
    try:
        up = compose(file, "up", "-d")
        assert up.returncode == 1 and refusal in up.stderr, up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(DockerError) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value).splitlines()[1].startswith("compose.yaml:6: service 'app': ")
    assert f": {refusal} (needs API" in str(raised.value).splitlines()[1]
    assert harness_resources(docker_client, name) == []


SEVERAL = """
name: {name}
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    healthcheck: {{test: [CMD, 'true'], start_period: 5s, start_interval: 1s}}
    networks:
      front: {{interface_name: web0}}
  other:
    image: redis:7{more}
    command: ["sleep", "infinity"]
    networks:
      front: {{mac_address: "02:42:ac:11:00:95"}}
      back: {{mac_address: "02:42:ac:11:00:96"}}
networks: {{front: {{}}, back: {{}}}}
"""
REFUSED_HERE = [
    "compose.yaml:6: service 'app': healthcheck.start_interval: can't set healthcheck.start_interval as feature "
    "require Docker Engine v25 or later (needs API 1.44, Docker Engine 25)",
    "compose.yaml:8: service 'app': networks.front.interface_name: interface_name requires Docker Engine v28.1 or "
    "later (needs API 1.49, Docker Engine 28.1)",
    "compose.yaml:12: service 'other': networks: a MAC address is specified for multiple networks (back, front), but "
    "this feature requires Docker Engine v25 or later (needs API 1.44, Docker Engine 25)"]


def test_every_key_this_engine_is_too_old_for_is_refused_in_one_message_before_anything_is_created(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """Compose refuses them one per run (the first service it creates); the harness says all of them at once."""
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(SEVERAL.format(name=name, more="")).lstrip())
    try:
        up = compose(file, "up", "-d")
        # one of them (Compose creates the services at once; it lists the networks in Go's map order)
        assert up.returncode == 1 and any(line.split(": ", 3)[3].split(" (needs")[0] in up.stderr.replace(
            "(front, back)", "(back, front)") for line in REFUSED_HERE), up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(DockerError) as raised:
        Topology.start(load_topology(file))
    assert str(raised.value).splitlines() == [
        f"topology {name}: 3 keys of the file cannot be created on this Docker engine (API 1.41); Docker Compose "
        "refuses them too:", *REFUSED_HERE,
        "Use Docker Engine 28.1 or later (API 1.49); or remove these keys (or move them to an override file that the "
        "test run does not use)."]
    assert harness_resources(docker_client, name) == []  # not even a network


def test_a_file_refused_as_it_is_read_is_refused_with_the_engines_refusals_in_the_same_message(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    # refused as it is read: a fixed host port for two replicas (Compose fails at the second)
    file.write_text(textwrap.dedent(SEVERAL.format(name=name, more='\n    ports: ["16379:6379"]\n    scale: 2')).lstrip())
    up = subprocess.run([str(Path(sys.executable).parent / "harness"), "up", "--detach", "-f", str(file)],
                        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert up.returncode == 2, up.stderr
    assert up.stderr.splitlines() == [
        "error: compose.yaml:11: services.other.ports[0]: host port 16379 for 2 replicas: Docker Compose fails to "
        'start replica 2 ("port is already allocated": each replica needs a host port of its own); give only the '
        "container port (6379), or a range of at least 2 host ports",
        "and on this Docker engine (API 1.41), 3 keys that Docker Compose refuses on it too:",
        *(line.replace("compose.yaml:12:", "compose.yaml:14:") for line in REFUSED_HERE),
        "Use Docker Engine 28.1 or later (API 1.49); or remove these keys (or move them to an override file that the "
        "test run does not use)."]
    (tmp_path / "test_app.py").write_text("def test_app(topology):\n    pass\n")
    session = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--topology", "compose.yaml",
                              "test_app.py"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert session.returncode == 4, session.stdout + session.stderr  # a usage error, as pytest's own
    assert [line.removeprefix("ERROR: ") for line in session.stderr.strip().splitlines()] == [
        line.removeprefix("error: ") for line in up.stderr.splitlines()]
    assert harness_resources(docker_client, name) == []


IMAGE_VOLUME = """
name: {name}
services:
  app:
    image: redis:7
    command: ["sleep", "infinity"]
    volumes:
      - {{type: image, source: "python:3.11-slim", target: /python, image: {{subpath: usr/local}}}}
      - {{type: volume, source: data, target: /data}}
    healthcheck: {{test: [CMD, 'true'], start_period: 5s, start_interval: 1s}}
volumes: {{data: {{}}}}
"""


def test_an_image_volume_is_refused_by_this_engine_with_composes_words_in_one_message_with_the_others(
        tmp_path: Path, docker_client: docker.DockerClient) -> None:
    """`type: image` needs Docker Engine 28 (API 1.48): Compose refuses it on this engine as it creates the
    container; the harness says it with the other keys this engine is too old for, before anything is created."""
    name = f"endpoint-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(IMAGE_VOLUME.format(name=name)).lstrip())
    try:
        up = compose(file, "up", "-d")
        assert up.returncode == 1, up.stderr
        assert "volume with type=image require Docker Engine v28 or later" in up.stderr or \
            "can't set healthcheck.start_interval as feature require Docker Engine v25 or later" in up.stderr, \
            up.stderr  # Compose says the first it meets
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    spec = load_topology(file)
    assert [v.model_dump() for v in spec.services["app"].image_volumes] == [
        {"image": "python:3.11-slim", "target": "/python", "read_only": False, "subpath": "usr/local"}]
    with pytest.raises(DockerError) as raised:
        Topology.start(spec)
    assert str(raised.value).splitlines() == [
        f"topology {name}: 2 keys of the file cannot be created on this Docker engine (API 1.41); Docker Compose "
        "refuses them too:",
        "compose.yaml:6: service 'app': image_volumes: volume with type=image require Docker Engine v28 or later "
        "(needs API 1.48, Docker Engine 28)",
        "compose.yaml:9: service 'app': healthcheck.start_interval: can't set healthcheck.start_interval as feature "
        "require Docker Engine v25 or later (needs API 1.44, Docker Engine 25)",
        "Use Docker Engine 28 or later (API 1.48); or remove these keys (or move them to an override file that the "
        "test run does not use)."]
    assert harness_resources(docker_client, name) == []  # not even the volume
