"""The one place that uses testcontainers: a service's container on the run's network, through its public API.

testcontainers' reaper (Ryuk) is never used: it cannot be pulled on machines without a registry, and the harness
removes what it creates itself (labels + owner process). It is switched off here, at the point of use, on the
configuration object every testcontainers version of the pin reads when a container starts (4.8-4.12 read the
environment only when testcontainers is first imported, which may have happened before the harness was).
Only API present in every version the pin allows (>= 4.8) is used: tests/ run against the floor in CI.
testcontainers is given the engine the harness resolved (`engine.resolve_engine`: its own search differs, and it
would write its pick into DOCKER_HOST), and does not prefix image names (the harness has applied
TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX already, before it checked that the image exists).
"""

from __future__ import annotations

import io
import os
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container
from docker.types import DeviceRequest, Mount, Ulimit
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from harness.engine_source import resolve_engine
from harness.model.parts import ContainerFile, VolumeMount
from harness.model.parts import Mount as SpecMount
from harness.model.service import ServiceSpec
from harness.runtime.networks import Attachment, connect

NANOSECONDS = 1_000_000_000


@dataclass(frozen=True)
class NetworkRef:
    """A network created by the harness (docker-py), handed to testcontainers, which only reads its name."""

    name: str


@dataclass(frozen=True)
class MountRef:
    """A host path or a volume of the run, mounted at `target` in the container. A bind that may create its missing
    source (`create_host_path`) and needs no propagation is given to Docker as a `-v` bind ("src:dst:rw,z"), as
    Docker Compose gives it: the engine then creates the folder; else through the mount API, which refuses it."""

    kind: str  # "bind", "volume" or "image"
    source: str  # absolute host path, the run's volume name, or an image
    target: str
    read_only: bool
    create_host_path: bool = False
    selinux: str | None = None  # "z" or "Z"
    propagation: str | None = None
    nocopy: bool = False  # a volume: the image's files at `target` are not copied into it
    subpath: str | None = None  # a volume: only this folder of it
    named: bool = False  # a volume of the file's `volumes:` (not an anonymous one)

    @classmethod
    def bind(cls, mount: SpecMount, source: str) -> MountRef:
        """The bind mount of `mount`, from `source` (its absolute host path)."""
        return cls("bind", source, mount.target, mount.read_only, mount.create_host_path, mount.selinux,
                   mount.propagation)

    @classmethod
    def volume(cls, volume: VolumeMount, source: str) -> MountRef:
        """The mount of `volume`, from the run's volume named `source`."""
        return cls("volume", source, volume.target, volume.read_only, selinux=volume.selinux, nocopy=volume.nocopy,
                   subpath=volume.subpath, named=volume.source is not None)

    @property
    def bind_mode(self) -> str | None:
        """The mode of the `-v` form ("ro,z") of a bind, a named volume or an anonymous one relabelled with z/Z, as
        Docker Compose passes them, else None (the mount API: a volume with `nocopy` or `subpath`). The form
        matters: the engine relabels (z) a volume given through the mount API, not one given as `name:dst:rw`."""
        if self.kind == "image" or (self.kind == "bind" and (not self.create_host_path or self.propagation)):
            return None
        if self.kind == "volume" and (not (self.named or self.selinux) or self.nocopy or self.subpath):
            return None
        return ",".join(["ro" if self.read_only else "rw", *([self.selinux] if self.selinux else [])])


@dataclass(frozen=True)
class CopyRef:
    """A file or folder of this machine copied to `target` in the container before it starts (`copy: true`): what a
    remote engine gets instead of a bind mount, which would name a path on the engine's machine. Or, with
    `content`, a file of that content (a Compose secret or config: owner uid:gid, permission bits `mode`)."""

    source: Path | None  # absolute; None for `content`
    target: str
    content: bytes | None = field(default=None, repr=False)
    uid: int | None = None  # given (even 0): the engine applies the owner (copyUIDGID), as Compose asks it to
    gid: int | None = None
    mode: int = 0o444

    @classmethod
    def of(cls, file: ContainerFile) -> CopyRef:
        return cls(None, file.target, file.content.encode(), file.uid, file.gid, file.mode)


def service_container(*, image: str, name: str, networks: list[Attachment], spec: ServiceSpec,
                      environment: dict[str, str], ports: dict[tuple[int, str], int], mounts: list[MountRef],
                      labels: dict[str, str], publish_on: str = "127.0.0.1", copies: list[CopyRef] | None = None,
                      client: docker.DockerClient | None = None, links: list[tuple[str, str]] | None = None,
                      volumes_from: list[str] | None = None, network_mode: str | None = None,
                      mac_address: str | None = None, docker_py: bool = False, ipc_mode: str | None = None,
                      pid_mode: str | None = None, bound_again: dict[tuple[int, str], list[int]] | None = None
                      ) -> DockerContainer | CopiedContainer:
    """A container (not started) for one service, configured as Docker Compose would configure it.

    Args:
        spec: the service's options (entrypoint, command, user, tmpfs, healthcheck, ...).
        environment: the variables the container gets (env_file, then environment).
        ports: (container port, "tcp"|"udp") -> host port, published on `publish_on` only (an address of the
            engine's machine: loopback for a local engine).
        bound_again: (container port, protocol) -> the host ports of its further bindings (a compose file binding it
            more than once), published on `publish_on` too, after `ports`' one.
        mounts: bind mounts and volumes, resolved by the caller.
        labels: the harness's labels, over the service's own `labels:`.
        copies: files copied in before the start; they need `client` (the engine's docker-py client).
        links: (container name, alias), resolved by this container only (Compose's `links`); they need `client`.
        volumes_from: containers whose volumes it mounts too ("ID", "ID:ro").
        network_mode: "none" or "container:ID" instead of `network` (then no aliases, links or ports); it needs
            `client`.
        mac_address: the container's own MAC address (networks.mac_addresses: the engine's API decides whether
            the service's goes there or on its first network).
        ipc_mode, pid_mode: "container:ID" for the service's `ipc` or `pid` `service:X`, instead of the spec's.
        docker_py: made with docker-py on `client` in any case (an engine of several: testcontainers knows the one
            engine of this process).
    """
    copies = [*(copies or []), *map(CopyRef.of, spec.files)]
    binds, repeated, mounts = _binds(mounts)
    options = {**_options(spec, mounts, labels), **({"volumes_from": volumes_from} if volumes_from else {}),
               "mac_address": mac_address,
               **{key: value for key, value in (("ipc_mode", ipc_mode), ("pid_mode", pid_mode)) if value}}
    # testcontainers joins one network, by name and aliases only, and has no argument for links or a network_mode:
    # those, several networks or a fixed address are created with docker-py (connected before the start, as Compose);
    # so is an open stdin, which testcontainers' create would close once a `docker attach` ends (`_create`)
    first = networks[0] if networks else None
    if docker_py or copies or links or network_mode or first is None or len(networks) > 1 or _start_interval(spec) \
            or repeated or spec.stdin_open or first != Attachment(first.network, first.aliases):  # a fixed address, ...
        assert client is not None
        return CopiedContainer(client, image, name, networks, spec, environment,
                               _bindings(ports, bound_again or {}, publish_on),
                               {**options, "volumes": binds or None}, copies, links or [], network_mode, repeated)
    testcontainers_config.ryuk_disabled = True
    testcontainers_config.hub_image_name_prefix = ""
    container = _testcontainer(image).with_name(name)
    # testcontainers types a Network of its own; it reads only the name
    container.with_network(NetworkRef(first.network)).with_network_aliases(*first.aliases)  # type: ignore[arg-type]
    for key, value in environment.items():  # with_env: with_envs is newer than the pin's floor (4.8)
        container.with_env(key, value)
    if spec.command is not None:
        container.with_command(spec.command)
    # with_bind_ports() cannot bind to one address, and loopback only is the point: docker-py's (ip, port) form
    # (testcontainers types the values as ports alone)
    container.ports.update(_bindings(ports, bound_again or {}, publish_on))  # type: ignore[arg-type]
    for source, bind in binds.items():
        container.with_volume_mapping(source, bind["bind"], bind["mode"])
    if isinstance(getattr(container, "tmpfs", None), dict) and "tmpfs" in options:
        container.tmpfs.update(options.pop("tmpfs"))  # newer testcontainers pass their own tmpfs= to create()
    container.with_kwargs(**options)  # with_kwargs replaces earlier kwargs: one call with all of them
    return container


Binding = tuple[str, int] | list[tuple[str, int]]


def _bindings(ports: dict[tuple[int, str], int], bound_again: dict[tuple[int, str], list[int]],
              publish_on: str) -> dict[str, Binding]:
    """docker-py's `ports` argument: "PORT/PROTOCOL" -> (address, host port), or a list of them for a port bound more
    than once (the first is the service's)."""
    bindings: dict[str, Binding] = {}
    for (port, protocol), host_port in ports.items():
        more = bound_again.get((port, protocol), [])
        first = (publish_on, host_port)
        bindings[f"{port}/{protocol}"] = [first, *((publish_on, again) for again in more)] if more else first
    return bindings


def _testcontainer(image: str) -> DockerContainer:
    """testcontainers' container on the harness's engine; this process's DOCKER_HOST stays as it was."""
    before = os.environ.get("DOCKER_HOST")
    try:
        return DockerContainer(image, docker_client_kw={"environment": resolve_engine().docker_environment()})
    finally:
        if before is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = before


class CopiedContainer:
    """A service container that gets copies before it starts: created with docker-py (the arguments
    service_container gives testcontainers, which creates and starts in one step before 4.9 and cannot copy before
    the start), given its files with put_archive, then started. Same start/stop/get_wrapped_container as a
    testcontainers DockerContainer."""

    def __init__(self, client: docker.DockerClient, image: str, name: str, networks: list[Attachment],
                 spec: ServiceSpec, environment: dict[str, str], ports: dict[str, Binding],
                 options: dict[str, Any], copies: list[CopyRef], links: list[tuple[str, str]] | None = None,
                 network_mode: str | None = None, repeated_binds: list[str] | None = None) -> None:
        self.client = client
        self.spec = spec
        self.repeated_binds = repeated_binds or []
        networking: dict[str, Any] = {"network_mode": network_mode} if network_mode else {
            "network": networks[0].network,
            "networking_config": {networks[0].network: networks[0].endpoint(client.api.api_version, links)}}
        self.arguments: dict[str, Any] = {
            "image": image, "command": spec.command, "environment": environment, "ports": ports, "name": name,
            **networking, **options}
        # the engine (API < 1.44) creates a container on one network; the others are connected before the start
        self.more_networks = [] if network_mode else networks[1:]
        self.links = links or []
        self.copies = copies
        self.container: Container | None = None

    def start(self) -> CopiedContainer:
        self.container = _create(self.client, self.arguments, _start_interval(self.spec), self.repeated_binds)
        for attachment in self.more_networks:  # with the links, as Compose connects each network
            connect(self.client, self.container.id, attachment, self.links)
        for copy in self.copies:
            if copy.content is None:
                self.container.put_archive("/", _archive(copy))
            elif copy.uid is None and copy.gid is None:  # as Compose: root's, the engine applies no owner
                self.container.put_archive("/", _content_archive(copy))
            else:  # the tar's owner counts (copyUIDGID, as Compose copies secrets); docker-py's put_archive drops it
                api = self.client.api
                response = api._put(api._url("/containers/{0}/archive", self.container.id),  # noqa: SLF001
                                    params={"path": "/", "copyUIDGID": "1"}, data=_content_archive(copy))
                api._raise_for_status(response)  # noqa: SLF001
        self.container.start()
        return self

    def stop(self) -> None:
        if self.container is not None:
            self.container.remove(force=True, v=True)

    def get_wrapped_container(self) -> Container:
        assert self.container is not None
        return self.container


def _archive(copy: CopyRef) -> bytes:
    """A tar of `copy.source` at its target path (parents included: the engine creates missing folders), owned by
    root (the uid of this machine means nothing in the container)."""
    def as_root(member: tarfile.TarInfo) -> tarfile.TarInfo:
        member.uid = member.gid = 0
        member.uname = member.gname = "root"
        return member

    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        tar.add(str(copy.source), arcname=copy.target.strip("/"), filter=as_root)
    return data.getvalue()


def _binds(mounts: list[MountRef]) -> tuple[dict[str, dict[str, str]], list[str], list[MountRef]]:
    """docker-py's `volumes` ({host path: {bind: target, mode: "rw,z"}}: the `-v` binds, as Compose passes a bind
    that may create its folder), the `-v` binds of a source given again ("src:dst:mode": docker-py keys `volumes` by
    source, and its list form writes "dst:rw,z" into Config.Volumes; `_create` adds them to HostConfig.Binds, where
    Compose has them) and the mounts left for the mount API."""
    binds: dict[str, dict[str, str]] = {}
    repeated: list[str] = []
    rest: list[MountRef] = []
    for mount in mounts:
        mode = mount.bind_mode
        if mode is None:
            rest.append(mount)
        elif mount.source in binds:
            repeated.append(f"{mount.source}:{mount.target}:{mode}")
        else:
            binds[mount.source] = {"bind": mount.target, "mode": mode}
    return binds, repeated, rest


def _mount(ref: MountRef) -> dict[str, Any]:
    if ref.kind == "image":  # docker-py has no such type: the API's fields, as Compose gives them (API 1.48)
        return {"Type": "image", "Source": ref.source, "Target": ref.target, "ReadOnly": ref.read_only,
                **({"ImageOptions": {"Subpath": ref.subpath}} if ref.subpath else {})}
    mount = Mount(ref.target, ref.source, type=ref.kind, read_only=ref.read_only, propagation=ref.propagation,
                  no_copy=ref.nocopy)
    if ref.subpath:  # docker-py has no argument for it: the API's field (engines before API 1.45 ignore it)
        mount.setdefault("VolumeOptions", {})["Subpath"] = ref.subpath
    return dict(mount)


def _content_archive(copy: CopyRef) -> bytes:
    """A tar of one file: `copy.content` at `copy.target`, owned by uid:gid, with `copy.mode`."""
    assert copy.content is not None
    member = tarfile.TarInfo(copy.target.strip("/"))
    member.size, member.mode, member.uid, member.gid = len(copy.content), copy.mode, copy.uid or 0, copy.gid or 0
    member.mtime = int(time.time())
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        tar.addfile(member, io.BytesIO(copy.content))
    return data.getvalue()


def _options(spec: ServiceSpec, mounts: list[MountRef], labels: dict[str, str]) -> dict[str, Any]:
    """docker-py `containers.create` keyword arguments for everything but image, command, env, ports, network."""
    options: dict[str, Any] = {
        "labels": {**spec.labels, **labels},
        "mounts": [_mount(m) for m in mounts],
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
        "entrypoint": spec.entrypoint,  # [] too: no ENTRYPOINT, not the image's (Compose sends it so)
        "tty": spec.tty or None,
        "stdin_open": spec.stdin_open or None,
        "sysctls": spec.sysctls or None,
        # a list: a host may have several addresses (one /etc/hosts line each, as Compose gives them)
        "extra_hosts": [f"{host}:{address}" for host, value in spec.extra_hosts.items()
                        for address in ([value] if isinstance(value, str) else value)] or None,
        "tmpfs": dict(entry.partition(":")[::2] for entry in spec.tmpfs) or None,
        "ulimits": [Ulimit(name=n, soft=v, hard=v) if isinstance(v, int) else Ulimit(name=n, soft=v.soft, hard=v.hard)
                    for n, v in spec.ulimits.items()] or None,
        "healthcheck": _healthcheck(spec),
        **_host_options(spec),
    }
    return {key: value for key, value in options.items() if value is not None}


def _host_options(spec: ServiceSpec) -> dict[str, Any]:
    """The Compose keys that become HostConfig fields, as Docker Compose sets them (`cpus` -> NanoCpus, `cpuset` ->
    CpusetCpus, `ipc` -> IpcMode, ...); None for those not given."""
    blkio = spec.blkio_config
    rates = {key: [{"Path": r.path, "Rate": r.rate} for r in getattr(blkio, key)] or None if blkio else None
             for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops")}
    return {
        "domainname": spec.domainname,
        "dns": spec.dns or None,
        "dns_search": spec.dns_search or None,
        "dns_opt": spec.dns_opt or None,
        "security_opt": spec.security_opt or None,
        "read_only": spec.read_only or None,
        "group_add": spec.group_add or None,
        "devices": spec.devices or None,
        "device_cgroup_rules": spec.device_cgroup_rules or None,
        "device_requests": [DeviceRequest(driver=r.driver, count=r.count, device_ids=r.device_ids or None,
                                          capabilities=[r.capabilities] if r.capabilities else None,
                                          options=r.options or None) for r in spec.device_requests] or None,
        "runtime": spec.runtime,
        "ipc_mode": spec.ipc,
        "pid_mode": spec.pid,
        "uts_mode": spec.uts,
        "cgroupns": spec.cgroup,
        "userns_mode": spec.userns_mode,
        "cgroup_parent": spec.cgroup_parent,
        "isolation": spec.isolation,
        "storage_opt": spec.storage_opt or None,
        "blkio_weight": blkio.weight if blkio else None,
        "blkio_weight_device": [{"Path": w.path, "Weight": w.weight} for w in blkio.weight_device] or None
        if blkio else None,
        **rates,
        "mem_limit": spec.mem_limit,
        "memswap_limit": spec.memswap_limit,
        "mem_reservation": spec.mem_reservation,
        "mem_swappiness": spec.mem_swappiness,
        "oom_kill_disable": spec.oom_kill_disable,
        "oom_score_adj": spec.oom_score_adj,
        "nano_cpus": round(spec.cpus * 1e9) if spec.cpus else None,
        "cpu_shares": spec.cpu_shares,
        "cpu_period": spec.cpu_period,
        "cpu_quota": spec.cpu_quota,
        "cpu_rt_period": spec.cpu_rt_period,
        "cpu_rt_runtime": spec.cpu_rt_runtime,
        "cpu_count": spec.cpu_count,
        "cpu_percent": spec.cpu_percent,
        "cpuset_cpus": spec.cpuset,
        "pids_limit": spec.pids_limit,
    }


def _start_interval(spec: ServiceSpec) -> int | None:
    """The healthcheck's start_interval in nanoseconds (None: not set); engine_check.refuse_unmet refuses it before
    API 1.44, as Compose."""
    check = spec.healthcheck
    return None if check is None or check.start_interval is None else int(check.start_interval * NANOSECONDS)


def _create(client: docker.DockerClient, arguments: dict[str, Any], start_interval: int | None,
            repeated_binds: list[str]) -> Container:
    """docker-py's containers.create(**arguments), with the healthcheck's StartInterval where set (docker-py's
    Healthcheck has no such field and drops it), more `-v` binds (`_binds`) in HostConfig.Binds, and stdin open as
    Compose keeps it (docker-py's would also be closed once a `docker attach` ends, as `docker run -i` without -d)."""
    if start_interval is None and not repeated_binds and not arguments.get("stdin_open"):
        return client.containers.create(**arguments)
    from docker.models.containers import _create_container_args  # the same arguments as containers.create

    create = _create_container_args({**arguments, "version": client.api._version})  # noqa: SLF001
    name, platform = create.pop("name", None), create.pop("platform", None)
    config = client.api.create_container_config(**create)
    if start_interval is not None:
        config["Healthcheck"]["StartInterval"] = start_interval
    config.update(AttachStdin=False, StdinOnce=False)  # Compose's, whatever `stdin_open` is
    if repeated_binds:
        config["HostConfig"]["Binds"] = [*(config["HostConfig"].get("Binds") or []), *repeated_binds]
    return client.containers.get(client.api.create_container_from_config(config, name, platform)["Id"])


def _healthcheck(spec: ServiceSpec) -> dict[str, Any] | None:
    check = spec.healthcheck
    if check is None:
        return None
    out: dict[str, Any] = {"test": check.test} if check.test is not None else {}  # none: the image's test
    for key in ("interval", "timeout", "start_period"):  # start_interval: _create
        if getattr(check, key) is not None:
            out[key] = int(getattr(check, key) * NANOSECONDS)
    if check.retries is not None:
        out["retries"] = check.retries
    return out
