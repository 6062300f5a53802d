"""A service of a topology, validated and typed: its container, its readiness, its contracts and fuzz settings,
and the names and ports they use. Independent of Docker."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.model.source import CallSource


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would take True as port 1
        raise ValueError(f"a port is a number, not {value!r}")
    return value


Port = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=65535)]
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
PORT_TEXT = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp))?$")  # 53/udp, 8000-8002, 8000-8002/tcp


def topology_name(text: str) -> str:
    """A topology name made valid as Compose makes a project name: lower case, only [a-z0-9_-], starting with a
    letter or digit ("My Project (copy)" -> "myprojectcopy")."""
    return re.sub(r"[^a-z0-9_-]", "", text.lower()).lstrip("_-")


def parse_port(value: int | str) -> tuple[list[int], str]:
    """`8000`, `"53/udp"`, `"8000-8002/tcp"` -> ([container ports], protocol).

    Raises:
        ValueError: not one of those forms, or a port outside 1..65535.
    """
    match = PORT_TEXT.match(str(value))
    if not match:
        raise ValueError(f"port {value!r} is not a container port: N, 'N/udp', 'N-M' or 'N-M/udp'")
    first, last = int(match[1]), int(match[2] or match[1])
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"port {value!r} is outside 1..65535 (or its range is reversed)")
    return list(range(first, last + 1)), match[3] or "tcp"


def service_name_problem(name: object) -> str | None:
    """Why `name` cannot be a service name (it becomes a host name on the network), or None."""
    if isinstance(name, str) and SERVICE_NAME.match(name):
        return None
    return (f"service name {name!r} must be lower-case letters, digits, '-', '_' or '.', "
            "starting with a letter or digit (it becomes a host name on the network)")


def _valid_port(value: int | str) -> int | str:
    parse_port(value)  # a ValueError names the bad one
    return value


PortSpec = Annotated[int | str, BeforeValidator(_no_bool), AfterValidator(_valid_port)]


# Set while a model validates: a model met inside another's validation leaves its errors to the outer one (which
# locates them in the whole topology); only the outermost turns them into one TopologyFileError.
_validating: ContextVar[bool] = ContextVar("validating", default=False)


@contextmanager
def validating() -> Iterator[bool]:
    """Inside it, models leave their errors to the validation around them; yields whether this is the outermost."""
    if _validating.get():
        yield False
        return
    token = _validating.set(True)
    try:
        yield True
    finally:
        _validating.reset(token)


def checked(model: type[_M], data: Any, where: str) -> _M:
    """`model` made of `data` (a mapping of its keys), its problems one TopologyFileError located by `where` (e.g.
    `ready.tcp(...)`) and the dotted path of the key, as the topology file's are."""
    with validating() as outermost:
        if not outermost:
            return model.model_validate(data)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            from harness.model.validate import file_error  # it knows the whole model: imported when needed

            raise file_error(exc, data, CallSource(where), model) from None


class _Strict(BaseModel):
    """A model of the topology. Made directly (`ServiceSpec(image=..., ports=[8000])`), a bad value is one
    TopologyFileError located by the class (`ServiceSpec(...): ports[0]: ...`), not pydantic's own error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    if not TYPE_CHECKING:  # type checkers keep pydantic's typed signature of each model
        def __init__(self, /, **data: Any) -> None:
            # pydantic calls it for a model inside another too (a custom __init__): that one locates the errors
            with validating() as outermost:
                if not outermost:
                    super().__init__(**data)
                    return
                try:
                    super().__init__(**data)
                except ValidationError as exc:
                    from harness.model.validate import file_error  # it knows the whole model: imported when needed

                    raise file_error(exc, data, CallSource(f"{type(self).__name__}(...)"), type(self)) from None


_M = TypeVar("_M", bound=_Strict)


class HttpCheck(_Strict):
    port: Port = Field(description="container port to GET")
    path: str = Field(default="/", description="path to GET")
    status: int = Field(default=200, description="the status that means ready")


class ReadyProbe(_Strict):
    """How to tell a service is ready. Exactly one of http, tcp, log, command."""

    http: HttpCheck | None = Field(
        default=None, description="ready when an HTTP GET from the host answers with `status`")
    tcp: Port | None = Field(
        default=None, description="ready when this container port accepts a TCP connection from the host")
    log: str | None = Field(
        default=None, description="ready when the service's log has this line (a substring) `times` times")
    times: int = Field(default=1, ge=1, description="how many times the `log` line must be seen")
    command: str | list[str] | None = Field(
        default=None, description="ready when this command exits 0 inside the container (a string runs in a shell)")
    interval: float = Field(default=0.1, gt=0, description="seconds between attempts")

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ReadyProbe:
        kinds = [k for k in ("http", "tcp", "log", "command") if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"needs exactly one of http, tcp, log, command (found: {found})")
        if self.command is not None and not (self.command.strip() if isinstance(self.command, str) else self.command):
            raise ValueError("command is empty: give the program and its arguments, e.g. ['pg_isready'], or a shell "
                             "command string")
        if self.times != 1 and self.log is None:
            raise ValueError("'times' only applies to a 'log' probe")
        return self

    def describe(self) -> str:
        if self.http:
            return f"http GET :{self.http.port}{self.http.path} -> {self.http.status}"
        if self.tcp:
            return f"tcp :{self.tcp}"
        if self.log is not None:
            return f"log line {self.log!r}" + (f" x{self.times}" if self.times > 1 else "")
        command = self.command if isinstance(self.command, str) else " ".join(self.command or [])
        return f"command `{command}` exits 0"

    def ports(self) -> list[int]:
        """Container ports the probe talks to from the host (so they must be published)."""
        if self.http:
            return [self.http.port]
        return [self.tcp] if self.tcp else []


class BuildSpec(_Strict):
    context: str = Field(description="the build context folder, relative to the topology file")
    dockerfile: str = Field(default="Dockerfile", description="the Dockerfile, relative to the context")
    args: dict[str, str] = Field(default_factory=dict, description="build arguments (`--build-arg`)")
    target: str | None = Field(
        default=None,
        description="the stage of a multi-stage Dockerfile to build up to")

    @field_validator("args", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else value


class Mount(_Strict):
    """A host file or directory (relative to the topology file) mounted read-only unless `read_only: false`
    ('SOURCE:/target:rw'). Compose bind mounts arrive here read-write, as Compose mounts them. `copy: true`: copied
    into the container before it starts instead (the container's own copy; what a remote engine needs).
    `create_host_path: true`: a missing source folder is created by the engine, as for Compose's short syntax;
    `selinux` ('z' shared, 'Z' private relabelling) and `propagation` (rprivate, rslave, ...) as Compose passes them."""

    source: str = Field(description="a host file or folder, relative to the topology file")
    target: str = Field(description="absolute path in the container")
    read_only: bool = Field(
        default=True, description="mounted read-only (`SOURCE:/target:rw` in the short form: false)")
    copied: bool = Field(
        default=False, alias="copy",
        # `copy` in files: BaseModel.copy is a method
        description="copied into the container before it starts instead of mounted (the container's own copy)")
    create_host_path: bool = Field(default=False, description="a missing source folder is created by the engine")
    selinux: Literal["z", "Z"] | None = Field(default=None, description="SELinux relabelling: 'z' shared, 'Z' private")
    propagation: Literal["private", "rprivate", "shared", "rshared", "slave", "rslave"] | None = Field(
        default=None, description="bind propagation, as Docker's")

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            source, sep, rest = value.partition(":")
            target, _, mode = rest.partition(":")
            if not sep or not target.startswith("/") or mode not in ("", "ro", "rw"):
                raise ValueError("a mount is 'SOURCE:/absolute/target[:ro|:rw]' or {source: ..., target: ...}")
            return {"source": source, "target": target, "read_only": mode != "rw"}
        return value


class ContainerFile(_Strict):
    """A file written into the container before it starts: a Compose secret or config whose source is
    `environment:` or `content:` (Compose copies them in the same way). `mode`: permission bits (default 0o444)."""

    target: str = Field(pattern=r"^/", description="absolute path in the container")
    content: str = Field(repr=False, description="the file's text")
    uid: int = Field(default=0, ge=0, description="owner user id")
    gid: int = Field(default=0, ge=0, description="owner group id")
    mode: int = Field(default=0o444, ge=0, le=0o7777, description="permission bits")
    secret: bool = Field(default=False, description="its content is hidden wherever the harness prints")


class VolumeMount(_Strict):
    """A Docker volume: named (`source`, shared by the services of one run) or anonymous (no `source`). Created
    for each run with the run's labels and removed with it."""

    source: str | None = Field(default=None, description="a named volume of the run (none: an anonymous volume)")
    target: str = Field(description="absolute path in the container")
    read_only: bool = Field(default=False, description="mounted read-only")
    nocopy: bool = Field(default=False, description="do not copy the image's files at `target` into a new volume")
    subpath: str | None = Field(default=None, description="mount only this folder of the volume (Docker 26+)")
    selinux: Literal["z", "Z"] | None = Field(default=None, description="SELinux relabelling: 'z' shared, 'Z' private")

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = value.split(":")
            if len(parts) == 1:
                return {"target": parts[0]}
            if len(parts) > 3 or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
                raise ValueError("a volume is 'NAME:/target[:ro|:rw]', '/target' or {source: ..., target: ...}")
            return {"source": parts[0], "target": parts[1], "read_only": parts[2:] == ["ro"]}
        return value


class Healthcheck(_Strict):
    """The container's Docker HEALTHCHECK (as `docker inspect` shows it). Durations in seconds."""

    test: list[str] = Field(min_length=1, description="['CMD', ...], ['CMD-SHELL', '...'] or ['NONE']")
    interval: float | None = Field(
        default=None, ge=0,
        description="seconds between Docker's checks (the harness runs the test every 0.1 s while it waits)")
    timeout: float | None = Field(default=None, ge=0, description="seconds one check may take")
    retries: int | None = Field(default=None, ge=0, description="failed checks before Docker calls it unhealthy")
    start_period: float | None = Field(default=None, ge=0, description="seconds during which failures do not count")

    @field_validator("test", mode="before")
    @classmethod
    def _shell_string(cls, value: Any) -> Any:
        return ["CMD-SHELL", value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known_kind(self) -> Healthcheck:
        if self.test[0] not in ("CMD", "CMD-SHELL", "NONE") or (self.test[0] != "NONE" and len(self.test) < 2):
            raise ValueError("test is ['CMD', program, args...], ['CMD-SHELL', 'shell command'], ['NONE'] or a "
                             "shell command string")
        return self

    def as_probe(self) -> ReadyProbe | None:
        """The same test, run by the harness as a command probe (faster than Docker's interval); None for NONE."""
        if self.test[0] == "NONE":
            return None
        command = self.test[1:] if self.test[0] == "CMD" else ["/bin/sh", "-c", " ".join(self.test[1:])]
        return ReadyProbe(command=command)


class Ulimit(_Strict):
    soft: int = Field(description="the soft limit")
    hard: int = Field(description="the hard limit")


class BlkioRate(_Strict):
    path: str = Field(description="a block device of the engine's machine")
    rate: int = Field(ge=0, description="bytes (bps) or operations (iops) per second")


class BlkioWeight(_Strict):
    path: str = Field(description="a block device of the engine's machine")
    weight: int = Field(ge=10, le=1000, description="relative weight, 10..1000")


class BlkioConfig(_Strict):
    """Block IO limits, as Compose's `blkio_config` (Docker's HostConfig.Blkio*)."""

    weight: int | None = Field(default=None, ge=10, le=1000, description="relative weight, 10..1000")
    weight_device: list[BlkioWeight] = Field(default_factory=list, description="weight per device")
    device_read_bps: list[BlkioRate] = Field(default_factory=list, description="read bytes per second per device")
    device_write_bps: list[BlkioRate] = Field(default_factory=list, description="write bytes per second per device")
    device_read_iops: list[BlkioRate] = Field(default_factory=list, description="read operations per second")
    device_write_iops: list[BlkioRate] = Field(default_factory=list, description="write operations per second")


class DeviceRequest(_Strict):
    """Devices asked of a driver (GPUs): Compose's `gpus` and `deploy.resources.reservations.devices`."""

    driver: str = Field(default="", description="the device driver, e.g. nvidia ('' : any)")
    count: int | None = Field(default=None, description="how many devices (-1: all)")
    device_ids: list[str] = Field(default_factory=list, description="ids of the devices")
    capabilities: list[str] = Field(default_factory=list, description="capabilities asked for, e.g. gpu")
    options: dict[str, str] = Field(default_factory=dict, description="driver options")


class Hook(_Strict):
    """A command run in the container (as `docker exec`), as Compose's `post_start` hooks."""

    command: str | list[str] = Field(description="the command (a string runs in a shell)")
    user: str | None = Field(default=None, description="the user it runs as")
    privileged: bool = Field(default=False, description="run with extended privileges")
    working_dir: str | None = Field(default=None, description="the folder it runs in")
    environment: dict[str, str] = Field(default_factory=dict, description="more variables for it")


class ClientCredentials(_Strict):
    """A bearer token from another service of the topology (OAuth2 client_credentials), refreshed when it expires."""

    token_service: str = Field(description="the service of the topology that issues the tokens")
    token_path: str = Field(default="/oauth/token", description="the token endpoint's path on that service")
    client_id: str = Field(description="the client's id")
    client_secret: str = Field(description="the client's secret (hidden in every message and report)")
    audience: str | None = Field(
        default=None, description="the `audience` form field, when the token service needs one")


class AuthSpec(_Strict):
    """How a tool (fuzzing) authenticates to a service. Exactly one of the three."""

    client_credentials: ClientCredentials | None = Field(
        default=None, description="a bearer token from another service of the topology")
    headers: dict[str, str] | None = Field(
        default=None,
        description="fixed headers sent with every request, e.g. an API key")
    hook: str | None = Field(default=None, pattern=r"^[\w.]+:\w+$",
                             description="module:function(topology) -> headers, called again when they expire")

    @model_validator(mode="after")
    def _exactly_one(self) -> AuthSpec:
        if sum(kind is not None for kind in (self.client_credentials, self.headers, self.hook)) != 1:
            raise ValueError("needs exactly one of client_credentials, headers or hook")
        return self


class ExcludedCheck(_Strict):
    check: str = Field(description="a schemathesis check, or a kind of error finding (missing_auth, no_requests, ...)")
    reason: str = Field(min_length=10, description="why this check does not apply: a written reason is required")


class FuzzSpec(_Strict):
    checks: list[str] | None = Field(
        default=None,
        description="schemathesis checks to run (default: those `st run` runs)")  # None: the harness's defaults
    mode: Literal["positive", "negative", "all"] | None = Field(
        default=None, description="data schemathesis generates: valid (positive), invalid (negative) or both "
                                  "(all); default: `st run`'s (all)")
    exclude: list[ExcludedCheck] = Field(
        default_factory=list, description="checks left out, each with a written reason")


# What a change of each service key does to a running container (a kept run updated from an edited file):
# CONTAINER_KEYS are what Docker gets, compared as written: a change replaces the container (`ports`: those
# published, `published()`, so a readiness probe's port counts). RESOLVED_KEYS reach it through what they make: the
# image (its id: a rebuild or a moved tag counts) and the environment (env files read now). HARNESS_ONLY_KEYS only
# tell the harness how to start, wait for, call or test the service: a change never replaces a container
# (`depends_on`: only the start order, left out of Docker Compose's config hash too).
CONTAINER_KEYS = ("entrypoint", "command", "working_dir", "user", "ports", "aliases", "networks", "mounts", "files",
                  "volumes",
                  "tmpfs", "init", "cap_add", "cap_drop", "privileged", "extra_hosts", "hostname", "shm_size",
                  "ulimits", "sysctls", "stop_signal", "labels", "platform", "healthcheck", "domainname",
                  "links", "volumes_from", "network_mode", "post_start", "dns",
                  "dns_search", "dns_opt", "security_opt", "read_only", "group_add", "devices", "device_cgroup_rules",
                  "device_requests", "runtime", "ipc", "pid", "uts", "cgroup", "userns_mode", "cgroup_parent",
                  "isolation", "mac_address", "storage_opt", "blkio_config", "mem_limit",
                  "memswap_limit", "mem_reservation", "mem_swappiness", "oom_kill_disable", "oom_score_adj", "cpus",
                  "cpu_shares", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_count",
                  "cpu_percent", "cpuset", "pids_limit")
RESOLVED_KEYS = {"image": "image", "build": "image", "environment": "environment", "env_file": "environment"}
HARNESS_ONLY_KEYS = ("depends_on", "restart_on_replace", "job", "ready", "timeout", "openapi", "auth", "fuzz",
                     "consumes", "pact_name")


class ServiceNetwork(_Strict):
    """How a service is attached to one network of the topology (Compose's `services.NAME.networks.NET`)."""

    aliases: list[str] = Field(default_factory=list, description="more names of the service on this network")
    ipv4_address: str | None = Field(default=None, description="a fixed IPv4 address in the network's subnet")
    ipv6_address: str | None = Field(default=None, description="a fixed IPv6 address in the network's subnet")
    priority: int = Field(default=0, description="networks are connected in decreasing priority (the first one "
                                                 "is the container's default route)")


class ServiceSpec(_Strict):
    image: str | None = Field(
        default=None,
        description="an image name; beside `build:`, the built image is also tagged with it")
    build: BuildSpec | None = Field(
        default=None, description="a build context folder, or {context, dockerfile, args, target}")
    entrypoint: str | list[str] | None = Field(
        default=None, description="overrides the image's ENTRYPOINT (a string or a list)")
    command: str | list[str] | None = Field(default=None, description="overrides the image's CMD (a string or a list)")
    working_dir: str | None = Field(default=None, description="the working directory in the container")
    user: str | None = Field(default=None, description="user (and group) the process runs as")
    environment: dict[str, str] = Field(default_factory=dict, description="variables of the container")
    env_file: list[str] = Field(default_factory=list, description="files of NAME=value lines, relative to the "
                                                                  "topology file; `environment:` wins")
    ports: list[PortSpec] = Field(default_factory=list, description="container ports: 8000, '53/udp', "
                                                                      "'8000-8002'; each published on a free port "
                                                                      "of 127.0.0.1")
    depends_on: list[str] = Field(
        default_factory=list, description="services that must be ready before this one starts")
    restart_on_replace: list[str] = Field(
        default_factory=list, description="services of depends_on whose replacement (a kept run updated to an edited "
                                          "file) restarts this one: Compose's `depends_on: {db: {restart: true}}`")
    job: bool = Field(default=False, description="a one-shot job: it must exit 0 before its dependents start")
    ready: ReadyProbe | None = Field(
        default=None, description="how to tell the service is ready (else its healthcheck, else running for 0.5 s)")
    healthcheck: Healthcheck | None = Field(
        default=None,
        description="the container's Docker HEALTHCHECK; its test is the readiness probe when there is no `ready:`")
    timeout: float = Field(default=60.0, gt=0, description="seconds to become ready")
    aliases: list[str] = Field(default_factory=list,
                               description="more names of the service on every network it is on")
    networks: dict[str, ServiceNetwork] = Field(
        default_factory=dict, description="network of the topology's `networks:` -> aliases and fixed addresses "
                                          "there (default: the one network `default`)")
    mounts: list[Mount] = Field(
        default_factory=list, description="host files and folders mounted (or copied) into the container")
    files: list[ContainerFile] = Field(
        default_factory=list, description="files written into the container before it starts")
    volumes: list[VolumeMount] = Field(
        default_factory=list, description="named and anonymous Docker volumes, created per run")
    tmpfs: list[str] = Field(default_factory=list, description="'/path' or '/path:size=64m,mode=1777'")
    init: bool | None = Field(default=None, description="run an init process as PID 1")
    cap_add: list[str] = Field(default_factory=list, description="Linux capabilities added")
    cap_drop: list[str] = Field(default_factory=list, description="Linux capabilities dropped")
    privileged: bool = Field(default=False, description="a privileged container")
    extra_hosts: dict[str, str | list[str]] = Field(
        default_factory=dict, description="host name -> IP address (or several: a list, each an /etc/hosts line)")
    hostname: str | None = Field(default=None, description="the container's host name")
    domainname: str | None = Field(default=None, description="the container's domain name")
    links: list[str] = Field(
        default_factory=list, description="'SERVICE' or 'SERVICE:ALIAS': a service of depends_on and another name of "
                                          "it, resolved by this container only (as Compose's `links`)")
    network_mode: str | None = Field(
        default=None, pattern=r"^(none|service:[a-z0-9][a-z0-9_.-]*)$",
        description="'none' (no network) or 'service:NAME' (the network namespace of NAME, a service of "
                    "depends_on): the container is not on the topology's network and publishes no ports of its own")
    post_start: list[Hook] = Field(
        default_factory=list, description="commands run in the container once it has started, in order, before "
                                          "its readiness is checked; one that fails fails the start")
    volumes_from: list[str] = Field(
        default_factory=list, description="services of depends_on whose volumes and binds this container mounts too: "
                                          "'SERVICE', 'SERVICE:ro' or 'SERVICE:rw'")
    dns: list[str] = Field(default_factory=list, description="DNS servers of the container")
    dns_search: list[str] = Field(default_factory=list, description="DNS search domains")
    dns_opt: list[str] = Field(default_factory=list, description="resolv.conf options, e.g. 'ndots:2'")
    security_opt: list[str] = Field(default_factory=list, description="security options, e.g. 'no-new-privileges'")
    read_only: bool = Field(default=False, description="the container's root file system is read-only")
    group_add: list[str] = Field(default_factory=list, description="more groups (names or ids) of the process")
    devices: list[str] = Field(default_factory=list, description="host devices: 'HOST:CONTAINER[:rwm]'")
    device_cgroup_rules: list[str] = Field(default_factory=list, description="device cgroup rules, e.g. 'c 1:3 mr'")
    device_requests: list[DeviceRequest] = Field(default_factory=list, description="devices asked of a driver (GPUs)")
    runtime: str | None = Field(default=None, description="the OCI runtime, e.g. runc")
    ipc: str | None = Field(default=None, description="IPC namespace mode: private, shareable, host, ...")
    pid: str | None = Field(default=None, description="PID namespace mode: host")
    uts: str | None = Field(default=None, description="UTS namespace mode: host")
    cgroup: Literal["host", "private"] | None = Field(default=None, description="cgroup namespace mode")
    userns_mode: str | None = Field(default=None, description="user namespace mode: host")
    cgroup_parent: str | None = Field(default=None, description="the parent cgroup of the container")
    isolation: str | None = Field(default=None, description="isolation technology (Windows engines; 'default')")
    mac_address: str | None = Field(default=None, description="the container's MAC address on its network")
    storage_opt: dict[str, str] = Field(default_factory=dict, description="storage driver options, e.g. size: 1G")
    blkio_config: BlkioConfig | None = Field(default=None, description="block IO weights and limits")
    mem_limit: int | None = Field(default=None, ge=0, description="memory limit in bytes")
    memswap_limit: int | None = Field(default=None, ge=-1, description="memory + swap limit in bytes (-1: no limit)")
    mem_reservation: int | None = Field(default=None, ge=0, description="memory soft limit in bytes")
    mem_swappiness: int | None = Field(default=None, ge=0, le=100, description="swappiness, 0..100")
    oom_kill_disable: bool | None = Field(default=None, description="the OOM killer spares the container")
    oom_score_adj: int | None = Field(default=None, ge=-1000, le=1000, description="OOM score adjustment")
    cpus: float | None = Field(default=None, ge=0, description="CPUs the container may use (0.5: half of one)")
    cpu_shares: int | None = Field(default=None, ge=0, description="relative CPU weight")
    cpu_period: int | None = Field(default=None, ge=0, description="CFS period in microseconds")
    cpu_quota: int | None = Field(default=None, description="CFS quota in microseconds per period")
    cpu_rt_period: int | None = Field(default=None, ge=0, description="real-time period in microseconds")
    cpu_rt_runtime: int | None = Field(default=None, ge=0, description="real-time runtime in microseconds")
    cpu_count: int | None = Field(default=None, ge=0, description="CPU count (Windows engines)")
    cpu_percent: int | None = Field(default=None, ge=0, le=100, description="CPU percent (Windows engines)")
    cpuset: str | None = Field(default=None, description="CPUs the container may run on, e.g. '0-1'")
    pids_limit: int | None = Field(default=None, description="most processes the container may have (-1: none)")
    shm_size: int | str | None = Field(default=None, description="size of /dev/shm: bytes or '64m'")
    ulimits: dict[str, int | Ulimit] = Field(
        default_factory=dict, description="resource limits: a number or {soft, hard}")
    sysctls: dict[str, str] = Field(default_factory=dict, description="kernel parameters of the container")
    stop_signal: str | None = Field(default=None, description="the signal that stops the container")
    labels: dict[str, str] = Field(default_factory=dict, description="container labels (besides the harness's own)")
    platform: str | None = Field(default=None, description="the image platform, e.g. linux/amd64")
    openapi: str | None = Field(
        default=None,
        description="the service's OpenAPI document: a path it serves ('/openapi.json') or a file next to the topology")
    auth: AuthSpec | None = Field(default=None, description="how fuzzing authenticates to the service")
    fuzz: FuzzSpec = Field(default_factory=FuzzSpec, description="how the service is fuzzed")
    consumes: list[str] = Field(
        default_factory=list,
        description="services this one calls (an edge for the graph and contracts; no start order)")
    pact_name: str | None = Field(default=None, min_length=1,
                                  description="the name pacts give this service, when it is not the service's name")

    @field_validator("networks", mode="before")
    @classmethod
    def _network_list(cls, value: Any) -> Any:  # Compose's short form: a list of names
        if isinstance(value, list):
            return {name: {} for name in value}
        return {k: {} if v is None else v for k, v in value.items()} if isinstance(value, dict) else value

    @field_validator("build", mode="before")
    @classmethod
    def _build_shorthand(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @field_validator("env_file", mode="before")
    @classmethod
    def _one_env_file(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value  # Compose takes one file as a string too

    @field_validator("environment", mode="before")
    @classmethod
    def _env_values_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):  # numbers and booleans as Compose writes them; a list or mapping is refused
            return {k: v if isinstance(v, (dict, list)) else "" if v is None else str(v).lower()
                    if isinstance(v, bool) else str(v) for k, v in value.items()}
        return value

    @field_validator("sysctls", "labels", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _network_mode_without_ports(self) -> ServiceSpec:
        if self.network_mode and self.published():
            raise ValueError(f"a service with network_mode {self.network_mode!r} publishes no ports of its own (Docker "
                             "refuses it): remove `ports` and any http or tcp `ready` probe (a command or log probe "
                             "works), or the network_mode")
        return self

    @model_validator(mode="after")
    def _image_or_build(self) -> ServiceSpec:
        if self.image is None and self.build is None:
            raise ValueError("needs 'image' (an image name) or 'build' (a build context), or both (the built "
                             "image is then also tagged with the image name)")
        return self

    @property
    def probe(self) -> ReadyProbe | None:
        """How the harness tells it is ready: `ready:`, else its healthcheck's test, else None (running and settled)."""
        if self.ready is not None:
            return self.ready
        return self.healthcheck.as_probe() if self.healthcheck else None

    def full_environment(self, base_dir: Path) -> dict[str, str]:
        """The variables of each `env_file` (relative to `base_dir`, in order), then `environment` (which wins)."""
        from dotenv import dotenv_values  # the .env format as Compose reads it (quotes, comments, `export`)

        merged: dict[str, str] = {}
        for file in self.env_file:
            merged.update({k: v or "" for k, v in dotenv_values(base_dir / file, interpolate=False).items()})
        return {**merged, **self.environment}

    def published(self) -> list[tuple[int, str]]:
        """(container port, protocol) to publish on 127.0.0.1: the declared ones, then any the probe needs."""
        found: list[tuple[int, str]] = []
        for port in self.ports:
            numbers, protocol = parse_port(port)
            found += [(n, protocol) for n in numbers]
        found += [(p, "tcp") for p in (self.probe.ports() if self.probe else [])]
        return list(dict.fromkeys(found))

    def container_settings(self) -> dict[str, Any]:
        """The CONTAINER_KEYS that are not at their default, as JSON values (`ports`: `published()` as 'N/tcp')."""
        settings = self.model_dump(mode="json", include=set(CONTAINER_KEYS) - {"ports"}, exclude_defaults=True,
                                   by_alias=True)
        if published := self.published():
            settings["ports"] = [f"{port}/{protocol}" for port, protocol in published]
        return settings

    def published_ports(self) -> list[int]:
        """TCP ports to publish on 127.0.0.1: the declared ones, then any the readiness probe needs."""
        return [port for port, protocol in self.published() if protocol == "tcp"]
