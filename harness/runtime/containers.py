"""The one place that uses testcontainers: a service's container on the run's network, through its public API.

testcontainers' reaper (Ryuk) is never used: it cannot be pulled on machines without a registry, and the harness
removes what it creates itself (labels + owner process). It is switched off here, at the point of use, on the
configuration object every testcontainers version of the pin reads when a container starts (4.8-4.12 read the
environment only when testcontainers is first imported, which may have happened before the harness was).
Only API present in every version the pin allows (>= 4.8) is used: tests/ run against the floor in CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer


@dataclass(frozen=True)
class NetworkRef:
    """A network created by the harness (docker-py), handed to testcontainers, which only reads its name."""

    name: str


def service_container(*, image: str, name: str, network: str, aliases: list[str], environment: dict[str, str],
                      command: str | list[str] | None, ports: dict[int, int], mounts: list[tuple[Path, str]],
                      labels: dict[str, str]) -> DockerContainer:
    """A container (not started) for one service.

    Args:
        ports: container port -> host port, published on 127.0.0.1 only.
        mounts: (absolute host path, container path), mounted read-only.
    """
    testcontainers_config.ryuk_disabled = True
    container = DockerContainer(image).with_name(name)
    container.with_network(NetworkRef(network)).with_network_aliases(*aliases)  # type: ignore[arg-type]
    for key, value in environment.items():  # with_env: with_envs is newer than the pin's floor (4.8)
        container.with_env(key, value)
    if command is not None:
        container.with_command(command)
    for port, host_port in ports.items():
        # with_bind_ports() cannot bind to one address, and loopback only is the point: docker-py's (ip, port) form
        container.ports[f"{port}/tcp"] = ("127.0.0.1", host_port)  # type: ignore[assignment]
    for source, target in mounts:
        container.with_volume_mapping(str(source), target, "ro")
    container.with_kwargs(labels=labels)  # with_kwargs replaces earlier kwargs: one call with all of them
    return container
