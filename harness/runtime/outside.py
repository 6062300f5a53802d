"""What a service uses that its run did not make, named by the file: a container started outside the run
(`network_mode: container:NAME`, `volumes_from: [container:NAME]`) or a network of the engine (`network_mode: NAME`).
Each is checked to be there before the service's container is created: a missing one fails the start with Docker's
words, as `docker compose up` fails. The run never starts, changes or removes them."""

from __future__ import annotations

import docker
import docker.errors

from harness.errors import DockerError


def container(client: docker.DockerClient, service: str, key: str, name: str) -> str:
    """`name` (a container's name or id, as service `service`'s `key` gives it), once it is found on the engine.

    Raises:
        DockerError: no such container (Docker's words, as Compose reports them).
    """
    try:
        client.containers.get(name)
    except docker.errors.NotFound:
        raise DockerError(f"service '{service}': {key} container:{name}: No such container: {name} (Docker Compose "
                          f"fails the same way: \"Error response from daemon: No such container: {name}\")",
                          service=service, operation="create",
                          hint=f"Start the container {name} before the run (it is outside the run: the harness "
                               "neither starts nor removes it), or fix its name in the file.") from None
    return name


def network(client: docker.DockerClient, service: str, name: str) -> str:
    """`name` (the network service `service`'s network_mode names, by its name on the engine), once it is found.

    Raises:
        DockerError: no such network (Docker's words, as Compose reports them).
    """
    try:
        client.networks.get(name)
    except docker.errors.NotFound:
        raise DockerError(f"service '{service}': network_mode {name}: network {name} not found (Docker Compose fails "
                          f"the same way: \"Error response from daemon: network {name} not found\")", service=service,
                          operation="create", hint=f"Create the network {name} before the run (`docker network "
                                                   f"create {name}`: it is outside the run, used as it is), or name "
                                                   "one of the file's networks.") from None
    return name
