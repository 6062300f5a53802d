"""The parts a service is made of, each validated and typed: readiness probes, build, mounts and files, healthcheck,
resource and host settings (ulimits, blkio, devices), hooks, auth, fuzz settings, its attachment to a network.
Independent of Docker."""

from __future__ import annotations

import shlex
from typing import Any, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from harness.model.base import Port, _Strict


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
        command = self.command if isinstance(self.command, str) else shell_line(self.command or [])
        return f"command `{command}` exits 0"

    def ports(self) -> list[int]:
        """Container ports the probe talks to from the host (so they must be published)."""
        if self.http:
            return [self.http.port]
        return [self.tcp] if self.tcp else []


def shell_line(argv: list[str]) -> str:
    """An exec form (`["CMD", ...]`'s arguments) as a line a user could paste into a shell: `python -c 'print(1)'`. An
    argument holding a single quote is shown as is: quoting would split it, and a secret in it would escape masking."""
    return " ".join(arg if "'" in arg else shlex.quote(arg) for arg in argv)


class Ulimit(_Strict):
    soft: int = Field(description="the soft limit")
    hard: int = Field(description="the hard limit")


class BuildSecret(_Strict):
    """A secret a build's `RUN --mount=type=secret` reads, as Compose's `build.secrets` gives it with its source
    (a top-level `secrets:` entry: a file or an environment variable)."""

    source: str = Field(description="the secret's name")
    target: str | None = Field(default=None, description="the id the Dockerfile asks for (default: the name)")
    file: str | None = Field(default=None, description="a file holding the value, relative to the topology file")
    environment: str | None = Field(default=None, description="an environment variable holding the value")

    @model_validator(mode="after")
    def _one_source(self) -> BuildSecret:
        if (self.file is None) == (self.environment is None):
            raise ValueError(f"build secret '{self.source}' needs exactly one of file or environment")
        return self


# a build with one of these is run by Docker Compose itself (docker-py drives the engine's classic builder): the keys
# only BuildKit has, and shm_size, which the classic builder applies but Compose's BuildKit build on Docker 20.10 does
# not (measured: /dev/shm stays 64 MiB), so that the harness builds what Compose builds
BUILDKIT_KEYS = ("ssh", "secrets", "additional_contexts", "privileged", "entitlements", "ulimits", "shm_size")


class BuildSpec(_Strict):
    """How an image is built, with the keys of Compose's `build:`. Those only BuildKit has (`BUILDKIT_KEYS`) make
    the harness run `docker compose build` for it; the others go to docker-py's build."""

    context: str = Field(description="the build context folder, relative to the topology file; or a URL (a Git "
                                     "repository, a tarball over HTTP) that Docker Compose's build fetches")
    dockerfile: str = Field(default="Dockerfile", description="the Dockerfile, relative to the context")
    dockerfile_inline: str | None = Field(
        default=None, description="the Dockerfile's text, instead of a file (.dockerignore still applies)")
    args: dict[str, str] = Field(default_factory=dict, description="build arguments (`--build-arg`)")
    target: str | None = Field(
        default=None,
        description="the stage of a multi-stage Dockerfile to build up to")
    labels: dict[str, str] = Field(default_factory=dict, description="labels of the built image")
    extra_hosts: list[str] = Field(default_factory=list, description="'host:address' entries for RUN steps")
    network: str | None = Field(default=None, description="network of RUN steps: default, host or none")
    shm_size: int | None = Field(default=None, ge=0, description="bytes of /dev/shm for RUN steps (built by Compose)")
    isolation: str | None = Field(default=None, description="the builder's isolation technology")
    no_cache: bool = Field(default=False, description="build without the layer cache (when the harness builds)")
    pull: bool = Field(default=False, description="pull the FROM images before building")
    tags: list[str] = Field(default_factory=list, description="more names for the built image")
    platform: str | None = Field(default=None, description="the platform to build for ('linux/amd64')")
    ssh: list[str] = Field(default_factory=list, description="'default' or 'ID=PATH': SSH agent or keys for "
                                                             "`RUN --mount=type=ssh` (BuildKit: built by Compose)")
    secrets: list[BuildSecret] = Field(default_factory=list, description="secrets for `RUN --mount=type=secret` "
                                                                          "(BuildKit: built by Compose)")
    additional_contexts: dict[str, str] = Field(
        default_factory=dict, description="named contexts: name -> folder or `docker-image://...` (BuildKit: built by "
                                          "Compose)")
    privileged: bool = Field(default=False, description="the security.insecure entitlement (BuildKit: built by "
                                                        "Compose)")
    entitlements: list[str] = Field(default_factory=list, description="entitlements granted to the build "
                                                                      "(BuildKit: built by Compose)")
    ulimits: dict[str, int | Ulimit] = Field(default_factory=dict, description="limits of RUN steps (BuildKit: "
                                                                               "built by Compose)")

    @field_validator("args", "labels", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _as_compose_takes_it(self) -> BuildSpec:
        if self.dockerfile_inline is not None and "dockerfile" in self.model_fields_set:
            raise ValueError("dockerfile and dockerfile_inline exclude each other (as for Docker Compose): give one")
        if self.network not in (None, "default", "host", "none"):
            raise ValueError(f"build network {self.network!r}: Docker Compose's builder (BuildKit) refuses a network "
                             "name (\"network mode not supported by buildkit\"); use default, host or none")
        return self

    @property
    def remote(self) -> bool:
        """The context is a URL (`git://`, `https://`, `git@host:...`): the builder fetches it, no folder is read."""
        return "://" in self.context or self.context.startswith("git@")

    def buildkit_keys(self) -> list[str]:
        """The keys set that only BuildKit has (the build is run by Docker Compose), in `BUILDKIT_KEYS` order."""
        return [key for key in BUILDKIT_KEYS if getattr(self, key)]


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
    `environment:` or `content:` (Compose copies them in the same way). `mode`: permission bits (default 0o444).
    Without `uid` and `gid` it is root's; with either, copied as Compose copies it (Docker's copyUIDGID: the owner
    given, or the container's `user` if it has one)."""

    target: str = Field(pattern=r"^/", description="absolute path in the container")
    content: str = Field(repr=False, description="the file's text")
    uid: int | None = Field(default=None, ge=0, description="owner user id (none: 0)")
    gid: int | None = Field(default=None, ge=0, description="owner group id (none: 0)")
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


class ImageVolume(_Strict):
    """An image's files mounted at `target` (Compose's `type: image` volume; Docker Engine 28, API 1.48, needed: an
    older engine is refused before the start creates anything, as Docker Compose refuses it)."""

    image: str = Field(description="the image whose files are mounted (on the engine)")
    target: str = Field(description="absolute path in the container")
    read_only: bool = Field(default=False, description="mounted read-only")
    subpath: str | None = Field(default=None, description="mount only this folder of the image")


# Docker's, for an unset (0) timing
DOCKER_HEALTH_DEFAULTS = {"interval": 30.0, "timeout": 30.0, "retries": 3, "start_interval": 5.0}


class Healthcheck(_Strict):
    """The container's Docker HEALTHCHECK (as `docker inspect` shows it). Durations in seconds."""

    test: list[str] | None = Field(
        default=None, min_length=1, description="['CMD', ...], ['CMD-SHELL', '...'] or ['NONE']; none: the image's "
                                                "HEALTHCHECK test, with these timings (as Docker merges them)")
    interval: float | None = Field(
        default=None, ge=0,
        description="seconds between Docker's checks (Docker's healthy decides readiness, as for "
                    "`docker compose up --wait`)")
    timeout: float | None = Field(default=None, ge=0, description="seconds one check may take")
    retries: int | None = Field(default=None, ge=0, description="failed checks before Docker calls it unhealthy")
    start_period: float | None = Field(default=None, ge=0, description="seconds during which failures do not count")
    start_interval: float | None = Field(
        default=None, ge=0, description="seconds between Docker's checks during start_period (Docker Engine 25 or "
                                        "later, API 1.44, as under Compose)")

    @field_validator("test", mode="before")
    @classmethod
    def _shell_string(cls, value: Any) -> Any:
        return ["CMD-SHELL", value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known_kind(self) -> Healthcheck:
        if self.test is None:
            return self
        if self.test[0] not in ("CMD", "CMD-SHELL", "NONE") or (self.test[0] != "NONE" and len(self.test) < 2):
            raise ValueError("test is ['CMD', program, args...], ['CMD-SHELL', 'shell command'], ['NONE'] or a "
                             "shell command string")
        return self

    def attempt_limit(self) -> float:
        """Seconds one run of the test may take: `timeout`, else Docker's default (30 s; 0 means the default)."""
        return self.timeout or DOCKER_HEALTH_DEFAULTS["timeout"]

    def first_check(self, start_interval_taken: bool) -> float:
        """Seconds from the container's start to Docker's first run of the test: `interval` (default 30 s); during a
        start_period, on an engine that takes start_interval (Docker Engine 25, API 1.44), `start_interval` (default
        5 s). Moby's daemon/health.go: the monitor's first timer is set when the container starts, before any run."""
        if start_interval_taken and self.start_period:
            return self.start_interval or DOCKER_HEALTH_DEFAULTS["start_interval"]
        return self.interval or DOCKER_HEALTH_DEFAULTS["interval"]

    def decision_time(self) -> float:
        """Seconds Docker may take to call the container healthy or unhealthy: start_period + (interval + timeout)
        * (retries + 1), with Docker's defaults for what is unset or 0 (interval 30 s, timeout 30 s, retries 3,
        start_period 0)."""
        interval = self.interval or DOCKER_HEALTH_DEFAULTS["interval"]
        retries = self.retries or DOCKER_HEALTH_DEFAULTS["retries"]
        return (self.start_period or 0.0) + (interval + self.attempt_limit()) * (retries + 1)

    def as_probe(self) -> ReadyProbe | None:
        """The same test as a command probe (what the waiting line and errors describe; Docker's healthy decides
        readiness, the harness does not run it itself); None for NONE, and
        for no test (the image's: the runtime reads it, `readiness.image_probe`)."""
        if self.test is None or self.test[0] == "NONE":
            return None
        command = self.test[1:] if self.test[0] == "CMD" else ["/bin/sh", "-c", " ".join(self.test[1:])]
        return ReadyProbe(command=command)


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
    """A command run in the container (as `docker exec`), as Compose's `post_start` and `pre_stop` hooks."""

    command: str | list[str] = Field(description="the command (a string runs in a shell)")
    user: str | None = Field(default=None, description="the user it runs as")
    privileged: bool = Field(default=False, description="run with extended privileges")
    working_dir: str | None = Field(default=None, description="the folder it runs in")
    environment: dict[str, str] = Field(default_factory=dict, description="more variables for it")


class ClientCredentials(_Strict):
    """A bearer token from another service of the topology (OAuth2 client_credentials), fetched when a service's
    fuzzing run starts."""

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



class ServiceNetwork(_Strict):
    """How a service is attached to one network of the topology (Compose's `services.NAME.networks.NET`)."""

    aliases: list[str] = Field(default_factory=list, description="more names of the service on this network")
    ipv4_address: str | None = Field(default=None, description="a fixed IPv4 address in the network's subnet")
    ipv6_address: str | None = Field(default=None, description="a fixed IPv6 address in the network's subnet")
    priority: int = Field(default=0, description="networks are connected in decreasing priority (the first one "
                                                 "is the container's default route)")
    mac_address: str | None = Field(default=None, description="the container's MAC address on this network (an "
                                                               "engine before Docker 25, API 1.44, takes none on "
                                                               "its first network, as under Compose)")
    link_local_ips: list[str] = Field(default_factory=list, description="link-local addresses of the container on "
                                                                       "this network (IPAMConfig.LinkLocalIPs)")
    driver_opts: dict[str, str] = Field(default_factory=dict, description="the endpoint's driver options (DriverOpts; "
                                                                          "which ones the engine applies is its own)")
    interface_name: str | None = Field(default=None, description="the interface's name in the container (Docker "
                                                                 "Engine 28.1 or later, API 1.49, as under Compose)")
    gw_priority: int = Field(default=0, description="which network gives the default gateway (GwPriority: engines "
                                                    "before API 1.48 ignore it, as under Compose)")



