"""Per-network `mac_address` on this engine (Docker 20.10, API 1.41: before endpoint MAC addresses, API 1.44), with
Docker Compose itself as the oracle: what it starts the harness starts with the same MAC addresses, what it refuses
the harness refuses with its message (tests/unit/runtime/test_mac_addresses.py: the rules for each API version)."""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import DockerError

from ..conftest import harness_resources

STARTS = """
name: {name}
services:
  other:
    image: redis:7
    command: ["sleep", "infinity"]
    networks:
      front: {{priority: 10}}
      back: {{mac_address: "02:42:ac:11:00:99"}}
  own:
    image: redis:7
    command: ["sleep", "infinity"]
    mac_address: "02:42:ac:11:00:98"
    networks: [front]
networks: {{front: {{}}, back: {{}}}}
"""


def compose(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from harness.model.compose_cli import compose_binary

    return subprocess.run([compose_binary(), "-f", str(file), *args], capture_output=True, text=True, timeout=300)


def mac_addresses(container: docker.models.containers.Container) -> tuple[str, list[str]]:
    """The container's MacAddress setting, and its interfaces' MAC addresses by network (in the file's names)."""
    networks = container.attrs["NetworkSettings"]["Networks"]
    return (container.attrs["Config"].get("MacAddress") or "",
            sorted(f"{name.rsplit('-', 2)[-2] if name.startswith('harness-') else name.rsplit('_', 1)[-1]}="
                   f"{settings['MacAddress']}" for name, settings in networks.items()))


def test_what_compose_starts_gets_the_same_mac_addresses(tmp_path: Path, docker_client: docker.DockerClient) -> None:
    name = f"mac-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(STARTS.format(name=name)).lstrip())
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        by_compose = {c.labels["com.docker.compose.service"]: mac_addresses(c) for c in docker_client.containers.list(
            filters={"label": f"com.docker.compose.project={name}"})}
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with Topology.start(load_topology(file)) as topology:
        by_harness = {s.name: mac_addresses(docker_client.containers.get(s.container.id)) for s in topology}
    assert harness_resources(docker_client, name) == []

    assert by_harness["own"] == by_compose["own"] == ("02:42:ac:11:00:98", ["front=02:42:ac:11:00:98"])
    # an endpoint's own MAC address is not applied before API 1.44: Compose passes it on, the engine ignores it
    for found in (by_compose["other"], by_harness["other"]):
        assert found[0] == "" and "back=02:42:ac:11:00:99" not in found[1]


@pytest.mark.parametrize(("networks", "refusal"), [
    ('{front: {mac_address: "02:42:ac:11:00:97", priority: 10}, back: {}}',
     '"specify mac-address per network" requires API version 1.44, but the Docker daemon API version is 1.41'),
    ('{front: {mac_address: "02:42:ac:11:00:97"}, back: {mac_address: "02:42:ac:11:00:96"}}',
     "a MAC address is specified for multiple networks (back, front), but this feature requires Docker Engine v25 or "
     "later"),
])
def test_what_compose_refuses_on_this_engine_is_refused_with_its_message(
        tmp_path: Path, docker_client: docker.DockerClient, networks: str, refusal: str) -> None:
    name = f"mac-{uuid.uuid4().hex[:8]}"
    file = tmp_path / "compose.yaml"
    file.write_text(textwrap.dedent(f"""
        name: {name}
        services:
          app:
            image: redis:7
            command: ["sleep", "infinity"]
            networks: {networks}
        networks: {{front: {{}}, back: {{}}}}
    """).lstrip())
    try:
        up = compose(file, "up", "-d")
        # Compose lists the networks in Go's map order (random); the harness sorts them
        assert up.returncode == 1 and (refusal in up.stderr or refusal.replace("(back, front)", "(front, back)")
                                       in up.stderr), up.stderr
    finally:
        assert compose(file, "down", "-v", "--timeout", "0").returncode == 0
    with pytest.raises(DockerError) as raised:
        Topology.start(load_topology(file))
    assert "service 'app': networks" in str(raised.value).splitlines()[1]
    assert f": {refusal}" in str(raised.value).splitlines()[1]
    assert harness_resources(docker_client, name) == []
