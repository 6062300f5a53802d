"""The one place that uses testcontainers: a service's container on the run's network, through its public API.

testcontainers' reaper (Ryuk) is never used: it cannot be pulled on machines without a registry, and the harness
removes what it creates itself (labels + owner process). It is switched off here, at the point of use, on the
configuration object every testcontainers version of the pin reads when a container starts (4.8-4.12 read the
environment only when testcontainers is first imported, which may have happened before the harness was).
Only API present in every version the pin allows (>= 4.8) is used: tests/ run against the floor in CI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from docker.types import Mount, Ulimit
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from harness.spec.model import ServiceSpec

NANOSECONDS = 1_000_000_000


@dataclass(frozen=True)
class NetworkRef:
    """A network created by the harness (docker-py), handed to testcontainers, which only reads its name."""

    name: str


@dataclass(frozen=True)
class MountRef:
    """A host path or a volume of the run, mounted at `target` in the container."""

    kind: str  # "bind" or "volume"
    source: str  # absolute host path, or the run's volume name
    target: str
    read_only: bool


def service_container(*, image: str, name: str, network: str, aliases: list[str], spec: ServiceSpec,
                      environment: dict[str, str], ports: dict[tuple[int, str], int], mounts: list[MountRef],
                      labels: dict[str, str]) -> DockerContainer:
    """A container (not started) for one service, configured as Docker Compose would configure it.

    Args:
        spec: the service's options (entrypoint, command, user, tmpfs, healthcheck, ...).
        environment: the variables the container gets (env_file, then environment).
        ports: (container port, "tcp"|"udp") -> host port, published on 127.0.0.1 only.
        mounts: bind mounts and volumes, resolved by the caller.
        labels: the harness's labels, over the service's own `labels:`.
    """
    testcontainers_config.ryuk_disabled = True
    container = DockerContainer(image).with_name(name)
    container.with_network(NetworkRef(network)).with_network_aliases(*aliases)  # type: ignore[arg-type]
    for key, value in environment.items():  # with_env: with_envs is newer than the pin's floor (4.8)
        container.with_env(key, value)
    if spec.command is not None:
        container.with_command(spec.command)
    for (port, protocol), host_port in ports.items():
        # with_bind_ports() cannot bind to one address, and loopback only is the point: docker-py's (ip, port) form
        container.ports[f"{port}/{protocol}"] = ("127.0.0.1", host_port)  # type: ignore[assignment]
    options = _options(spec, mounts, labels)
    if isinstance(getattr(container, "tmpfs", None), dict) and "tmpfs" in options:
        container.tmpfs.update(options.pop("tmpfs"))  # newer testcontainers pass their own tmpfs= to create()
    container.with_kwargs(**options)  # with_kwargs replaces earlier kwargs: one call with all of them
    return container


def _options(spec: ServiceSpec, mounts: list[MountRef], labels: dict[str, str]) -> dict[str, Any]:
    """docker-py `containers.create` keyword arguments for everything but image, command, env, ports, network."""
    options: dict[str, Any] = {
        "labels": {**spec.labels, **labels},
        "mounts": [Mount(m.target, m.source, type=m.kind, read_only=m.read_only) for m in mounts],
        "cap_add": spec.cap_add or None,
        "cap_drop": spec.cap_drop or None,
        "privileged": spec.privileged,
        "init": spec.init,
        "working_dir": spec.working_dir,
        "user": spec.user,
        "hostname": spec.hostname,
        "shm_size": spec.shm_size,
        "stop_signal": spec.stop_signal,
        "platform": spec.platform,
        "entrypoint": spec.entrypoint,
        "sysctls": spec.sysctls or None,
        "extra_hosts": spec.extra_hosts or None,
        "tmpfs": dict(entry.partition(":")[::2] for entry in spec.tmpfs) or None,
        "ulimits": [Ulimit(name=n, soft=v, hard=v) if isinstance(v, int) else Ulimit(name=n, soft=v.soft, hard=v.hard)
                    for n, v in spec.ulimits.items()] or None,
        "healthcheck": _healthcheck(spec),
    }
    return {key: value for key, value in options.items() if value is not None}


def _healthcheck(spec: ServiceSpec) -> dict[str, Any] | None:
    check = spec.healthcheck
    if check is None:
        return None
    out: dict[str, Any] = {"test": check.test}
    for key in ("interval", "timeout", "start_period"):
        if getattr(check, key) is not None:
            out[key] = int(getattr(check, key) * NANOSECONDS)
    if check.retries is not None:
        out["retries"] = check.retries
    return out
