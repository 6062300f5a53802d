"""What a service uses that its run did not make, named by the file: a container started outside the run
(`network_mode: container:NAME`, `volumes_from: [container:NAME]`) or a network of the engine (`network_mode: NAME`).
Each is checked to be there before the service's container is created: a missing one fails the start with Docker's
words, as `docker compose up` fails. The run never starts, changes or removes them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import docker
import docker.errors

from harness.errors import DockerError
from harness.model.service import run_network

if TYPE_CHECKING:
    from harness.runtime.topology import Topology


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


def from_services(topology: Topology, name: str) -> dict[str, Any]:
    """`links` ((container name, alias)), `network_mode` ("none", "host", "container:ID", a network's engine name),
    `ipc_mode` and `pid_mode` ("container:ID", only for `service:X`) and `volumes_from` ("ID[:ro|:rw]") of service
    `name` of `topology`, from the running containers of the services they name (its dependencies: started before
    it); containers and networks outside the run as the file names them
    (harness.runtime.outside: a missing one is a DockerError)."""
    spec, client = topology.spec.services[name], topology.client_of(name)
    volumes_from = []
    for entry in spec.volumes_from:
        if entry.startswith("container:"):  # outside the run: by the name given, as Compose gives it
            volumes_from.append(container(client, name, "volumes_from", entry.removeprefix("container:")))
            continue
        other, access = (entry.rsplit(":", 1) if entry.endswith((":ro", ":rw")) else (entry, ""))
        volumes_from.append(topology[other].container.id + (f":{access}" if access else ""))
    mode: str | None = spec.network_mode
    if mode and mode.startswith("service:"):  # as Compose: the namespace of that service's container
        mode = "container:" + topology[mode.removeprefix("service:")].container.id
    elif mode and mode.startswith("container:"):
        mode = "container:" + container(client, name, "network_mode", mode.removeprefix("container:"))
    elif spec.network_of_its_own:  # one of the run's networks, else the engine's of that name
        run = run_network(spec, topology.networks)
        mode = topology.networks[run] if run else network(client, name, mode or "")
    # ipc and pid `service:X` as Compose: X's (first) container; others (host, private, container:NAME) as written
    shared = {f"{key}_mode": "container:" + topology[other].container.id
              for key, other in spec.namespace_owners.items() if key != "network_mode"}
    return {"links": links(topology, name), "volumes_from": volumes_from, "network_mode": mode, **shared}


def links(topology: Topology, name: str) -> list[tuple[str, str]]:
    """(container name, alias) of service `name`'s `links` and `external_links`: names only its container resolves,
    given to each network it is connected to (at its creation, and again when it is reconnected)."""
    spec, found = topology.spec.services[name], []
    for link in spec.links:
        other, _, alias = link.partition(":")
        if topology.spec.services[other].replicas:  # a link to a service of 0 replicas is left out, as by Compose
            found.append((_name(topology[other].container), alias or other))
    for link in spec.external_links:  # a container outside the run, by its own name (as Compose gives it)
        name_outside, _, alias = link.partition(":")
        found.append((name_outside, alias or name_outside))
    return found


def _name(container: Any) -> str:  # noqa: ANN401 - a docker-py Container, inspected or as listed (sparse)
    """The container's name: a listed one (a kept run's, reused) has `Names` where an inspected one has `Name`."""
    return str(container.name or (container.attrs.get("Names") or [""])[0].lstrip("/"))
