"""`pull_policy` as Docker Compose honours it, against a real registry (Debian's docker-registry on 127.0.0.1) with
Compose itself as the oracle: which image each service's container runs when the local tag and the registry's differ,
and a missing image under `never` failing as Compose fails."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import docker
import pytest

from harness import Topology, load_topology
from harness.errors import ImageMissing

from ..conftest import harness_resources
from .test_compose_images import push, registry, remove_image  # noqa: F401 - registry: the module's fixture

POLICIES = {"always": "always", "missing": "missing", "refresh": "every_1s", "daily": "daily"}


def compose(file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from harness.model.compose_cli import compose_binary

    return subprocess.run([compose_binary(), "-f", str(file), *args], capture_output=True, text=True, timeout=300)


def test_each_pull_policy_pulls_what_docker_compose_pulls(registry, tmp_path: Path,  # noqa: F811
                                                           docker_client: docker.DockerClient) -> None:
    """The registry has python:3.11-slim under each name, this engine redis:7 (tagged just now, and 1 s ago for the
    `every_1s` one): `always` and `every_1s` pull (python), `missing` and `daily` do not (redis), under both."""
    name = f"pullpolicy-{uuid.uuid4().hex[:8]}"
    images = {service: f"{registry}/{name}/{service}:1" for service in POLICIES}
    for image in images.values():
        push(docker_client, "python:3.11-slim", image)
    file = tmp_path / "compose.yaml"
    file.write_text(f"name: {name}\nservices:\n" + "".join(
        f"  {service}: {{image: '{images[service]}', pull_policy: {policy}, command: [sleep, infinity]}}\n"
        for service, policy in POLICIES.items()))
    python, redis = (docker_client.images.get(image).id for image in ("python:3.11-slim", "redis:7"))

    def tagged_locally() -> None:
        for image in images.values():
            docker_client.images.get("redis:7").tag(*image.rsplit(":", 1))
        time.sleep(1.5)  # the local tags are older than every_1s's window, younger than daily's

    ran: dict[str, dict[str, str]] = {}
    try:
        tagged_locally()
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 0, up.stderr
        project = {"label": f"com.docker.compose.project={name}"}
        ran["compose"] = {c.labels["com.docker.compose.service"]: c.attrs["Image"]
                          for c in docker_client.containers.list(filters=project)}
        compose(file, "down", "-t", "0")
        tagged_locally()
        with Topology.start(load_topology(file)) as topology:
            ran["harness"] = {service.name: service.container.attrs["Image"] for service in topology}
    finally:
        compose(file, "down", "-t", "0")
        for image in images.values():
            remove_image(docker_client, image)
    expected = {"always": python, "missing": redis, "refresh": python, "daily": redis}
    assert ran["harness"] == ran["compose"] == expected
    assert harness_resources(docker_client, name) == []


def test_a_missing_image_under_never_fails_as_compose_fails_without_a_pull(registry, tmp_path: Path,  # noqa: F811
                                                                          docker_client: docker.DockerClient) -> None:
    name = f"pullnever-{uuid.uuid4().hex[:8]}"
    image = f"{registry}/{name}/app:1"
    push(docker_client, "python:3.11-slim", image)  # pullable: only the policy keeps it out
    file = tmp_path / "compose.yaml"
    file.write_text(f"name: {name}\nservices:\n  app: {{image: '{image}', pull_policy: never, command: [sleep, "
                    "infinity]}\n")
    try:
        up = compose(file, "up", "-d", "--wait")
        assert up.returncode == 1 and f"No such image: {image}" in up.stderr, up.stderr
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(image)
        compose(file, "down", "-t", "0")
        with pytest.raises(ImageMissing) as raised:
            Topology.start(load_topology(file))
        assert str(raised.value).startswith(
            f"1 image(s) of topology {name} are not in the local Docker engine and could not be pulled:\n"
            f"  {image} (needed by service 'app'): its pull_policy (never) does not pull it; Docker Compose does not "
            f"pull it either, and fails: `No such image: {image}`\n"), str(raised.value)
        assert raised.value.exit_code == 3
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(image)
    finally:
        compose(file, "down", "-t", "0")
        remove_image(docker_client, image)
    assert harness_resources(docker_client, name) == []
