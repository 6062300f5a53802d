"""A service of a topology, validated and typed: its container, its readiness, its contracts and fuzz settings,
and the names and ports they use. Independent of Docker."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.model import envfiles
from harness.model.base import INTERNAL, ComposeOnlyBool, PortSpec, _Strict, parse_port
from harness.model.parts import (
    AuthSpec,
    BlkioConfig,
    BuildSpec,
    ContainerFile,
    DeviceRequest,
    FuzzSpec,
    Healthcheck,
    Hook,
    ImageVolume,
    Mount,
    ReadyProbe,
    ServiceNetwork,
    Ulimit,
    VolumeMount,
)

# What a change of each service key does to a running container (a kept run updated from an edited file):
# CONTAINER_KEYS are what Docker gets, compared as written: a change replaces the container (`ports`: those
# published, `published()`, so a readiness probe's port counts). RESOLVED_KEYS reach it through what they make: the
# image (its id: a rebuild or a moved tag counts) and the environment (env files read now). HARNESS_ONLY_KEYS only
# tell the harness how to start, wait for, call or test the service: a change never replaces a container
# (`depends_on`: only the start order, left out of Docker Compose's config hash too).
CONTAINER_KEYS = ("entrypoint", "command", "working_dir", "user", "ports", "aliases", "networks", "mounts", "files",
                  "volumes", "image_volumes",
                  "tmpfs", "init", "cap_add", "cap_drop", "privileged", "extra_hosts", "hostname", "shm_size",
                  "ulimits", "sysctls", "stop_signal", "labels", "platform", "healthcheck", "domainname",
                  "links", "external_links", "volumes_from", "network_mode", "outside_network_mode", "post_start",
                  "pre_stop", "stop_grace_period", "dns",
                  "dns_search", "dns_opt", "security_opt", "read_only", "group_add", "devices", "device_cgroup_rules",
                  "device_requests", "runtime", "ipc", "pid", "uts", "cgroup", "userns_mode", "cgroup_parent",
                  "isolation", "mac_address", "storage_opt", "blkio_config", "mem_limit",
                  "memswap_limit", "mem_reservation", "mem_swappiness", "oom_kill_disable", "oom_score_adj", "cpus",
                  "cpu_shares", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_count",
                  "cpu_percent", "cpuset", "pids_limit", "use_api_socket", "tty", "stdin_open")
RESOLVED_KEYS = {"image": "image", "build": "image", "environment": "environment", "env_file": "environment"}
PULL_POLICY = r"^(always|never|build|if_not_present|missing|refresh|daily|weekly|every_(\d+[wdhms])+)$"  # Compose's
HEALTH_MARGIN = 10.0  # seconds beyond a healthcheck's decision time: the harness's own polling, a loaded engine
# placement: which engine, not how its container is made (the engine is a part of the signature: signature.placed)
# REPLICA_KEYS: how many containers; compared by counting the run's containers of the service (signature.py): a
# changed count alone adds or removes replicas of the service (reuse.update), as Compose scales a running project.
REPLICA_KEYS = ("replicas",)
HARNESS_ONLY_KEYS = ("depends_on", "restart_on_replace", "job", "ready", "timeout", "openapi", "auth", "fuzz",
                     "consumes", "pact_name", "placement", "weight", "pull_policy", "restarted_by_compose")


class ServiceSpec(_Strict):
    image: str | None = Field(
        default=None, description="an image name; beside `build:`, the built image is also tagged with it")
    build: BuildSpec | None = Field(
        default=None, description="a build context folder, or {context, dockerfile, args, target, ...}: the keys of "
                                  "Compose's `build:`")
    entrypoint: str | list[str] | None = Field(
        default=None, description="overrides the image's ENTRYPOINT (a string or a list)")
    command: str | list[str] | None = Field(default=None, description="overrides the image's CMD (a string or a list)")
    working_dir: str | None = Field(default=None, description="the working directory in the container")
    user: str | None = Field(default=None, description="user (and group) the process runs as")
    environment: dict[str, str] = Field(default_factory=dict, description="variables of the container")
    env_file: list[str] = Field(default_factory=list, description="files of NAME=value lines, relative to the "
                                                                  "topology file; `environment:` wins")
    ports: list[PortSpec] = Field(default_factory=list, description="container ports: 8000, '53/udp', "
                                                                      "'9999/sctp', '8000-8002'; each published on "
                                                                      "a free port of 127.0.0.1")
    depends_on: list[str] = Field(default_factory=list, description="services ready before this one starts")
    restart_on_replace: list[str] = Field(
        default_factory=list, description="services of depends_on whose replacement (a kept run updated to an edited "
                                          "file) restarts this one: Compose's `depends_on: {db: {restart: true}}`")
    replicas: int = Field(default=1, ge=0, description="containers of it, as Compose's `scale` (see the guide)")
    job: bool = Field(default=False, description="a one-shot job: it must exit 0 before its dependents start")
    pull_policy: str | None = Field(default=None, pattern=PULL_POLICY, description="when its image is pulled, as "
                                    "Compose's: always, never, missing (default), build, daily, weekly, every_<time>")
    ready: ReadyProbe | None = Field(
        default=None, description="how to tell the service is ready (else its healthcheck, else running for 0.5 s)")
    healthcheck: Healthcheck | None = Field(default=None, description=(
        "the container's Docker HEALTHCHECK; its test is the readiness probe when there is no `ready:`"))
    timeout: float = Field(default=60.0, gt=0, description="seconds to become ready")
    aliases: list[str] = Field(default_factory=list,
                               description="more names of the service on every network it is on")
    networks: dict[str, ServiceNetwork] = Field(
        default_factory=dict, description="network of the topology's `networks:` -> aliases and fixed addresses "
                                          "there (default: the one network `default`)")
    placement: str | None = Field(default=None, description="the engine (a name under the topology's `engines:`) "
                                                            "that runs it (default: placed by `weight`)")
    weight: float = Field(default=1.0, gt=0, description="its share of an engine, for spreading unplaced services")
    mounts: list[Mount] = Field(
        default_factory=list, description="host files and folders mounted (or copied) into the container")
    files: list[ContainerFile] = Field(
        default_factory=list, description="files written into the container before it starts")
    volumes: list[VolumeMount] = Field(
        default_factory=list, description="named and anonymous Docker volumes, created per run")
    image_volumes: list[ImageVolume] = Field(default_factory=list, description="images' files (`type: image`)")
    tmpfs: list[str] = Field(default_factory=list, description="'/path' or '/path:size=64m,mode=1777'")
    init: bool | None = Field(default=None, description="run an init process as PID 1")
    cap_add: list[str] = Field(default_factory=list, description="Linux capabilities added")
    cap_drop: list[str] = Field(default_factory=list, description="Linux capabilities dropped")
    privileged: bool = Field(default=False, description="a privileged container")
    tty: bool = Field(default=False, description="a terminal (Docker's Tty, `docker run -t`); the log is one stream")
    stdin_open: bool = Field(default=False, description="stdin kept open (Docker's OpenStdin, `docker run -i`)")
    extra_hosts: dict[str, str | list[str]] = Field(
        default_factory=dict, description="host name -> IP address (or several: a list, each an /etc/hosts line)")
    hostname: str | None = Field(default=None, description="the container's host name")
    domainname: str | None = Field(default=None, description="the container's domain name")
    links: list[str] = Field(
        default_factory=list, description="'SERVICE' or 'SERVICE:ALIAS': a service of depends_on and another name of "
                                          "it, resolved by this container only (as Compose's `links`)")
    external_links: list[str] = Field(
        default_factory=list, description="'CONTAINER' or 'CONTAINER:ALIAS': a container started outside the run, "
                                          "resolved by this container only where it shares a network with it (an "
                                          "external one), as Compose's `external_links`")
    network_mode: str | None = Field(
        default=None, pattern=r"^(none|host|service:[a-z0-9][a-z0-9_.-]*|container:[A-Za-z0-9][A-Za-z0-9_.-]*|"
                              r"[A-Za-z0-9][A-Za-z0-9_.-]*)$",
        description="the container's network, as Docker Compose's `network_mode`: 'none' (no network); 'host' (the "
                    "engine machine's network: its ports are the machine's, reached on the engine's host, and no "
                    "service reaches it by name); 'service:NAME' (the network namespace of NAME, a service of "
                    "depends_on) or 'container:NAME' (of a container started outside the run): no ports of its own; "
                    "else a network: one of the topology's `networks:` (the run's), or the engine's network of that "
                    "name (outside the run, used as it is)")
    outside_network_mode: ComposeOnlyBool = Field(default=False, json_schema_extra=INTERNAL, description="network_mode "
                                                  "is the engine's network of that name, even where the topology has "
                                                  "a network of that key (as Compose reads it)")
    restarted_by_compose: ComposeOnlyBool = Field(default=False, json_schema_extra=INTERNAL, description="its "
        "`restart:` would have Docker start it again once it ends with 0 (for the message of a failed start)")
    post_start: list[Hook] = Field(
        default_factory=list, description="commands run in the container once it has started, in order, before "
                                          "its readiness is checked; one that fails fails the start (run again "
                                          "at each start: start(), restart(), restore)")
    pre_stop: list[Hook] = Field(
        default_factory=list, description="commands run in the container before it is stopped (stop(), "
                                          "restart(), teardown), in order, each within stop_grace_period; one that "
                                          "fails fails stop() (the container stays running, as under Compose) and "
                                          "is reported at teardown, which removes everything anyway")
    stop_grace_period: float | None = Field(
        default=None, ge=0, description="seconds each pre_stop hook is given (default: 10, Docker Compose's stop "
                                        "timeout)")
    volumes_from: list[str] = Field(
        default_factory=list, description="services of depends_on whose volumes and binds this container mounts too: "
                                          "'SERVICE', 'SERVICE:ro' or 'SERVICE:rw'; or 'container:NAME' (a "
                                          "container started outside the run, by its name or id)")
    dns: list[str] = Field(default_factory=list, description="DNS servers of the container")
    dns_search: list[str] = Field(default_factory=list, description="DNS search domains")
    dns_opt: list[str] = Field(default_factory=list, description="resolv.conf options, e.g. 'ndots:2'")
    security_opt: list[str] = Field(default_factory=list, description="security options, e.g. 'no-new-privileges'")
    read_only: bool = Field(default=False, description="the container's root file system is read-only")
    group_add: list[str] = Field(default_factory=list, description="more groups (names or ids) of the process")
    use_api_socket: bool = Field(
        default=False, description="the engine's socket at /var/run/docker.sock (of the engine's machine) and the "
                                   "user's registry credentials at /run/secrets/docker/config.json (DOCKER_CONFIG), "
                                   "as Docker Compose gives them")
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
    consumes: list[str] = Field(default_factory=list, description=(
        "services this one calls (an edge for the graph and contracts; no start order)"))
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
            # A name without a value takes the host's, and is left out when the host has none (Compose's rule for
            # `environment: {NAME: null}` and `- NAME`).
            return {k: v if isinstance(v, (dict, list)) else str(v).lower() if isinstance(v, bool) else str(v)
                    for k, v in ((k, os.environ.get(k) if v is None else v) for k, v in value.items())
                    if v is not None}
        return value

    @model_validator(mode="before")
    @classmethod
    def _as_compose_reads_them(cls, value: Any) -> Any:
        return _compose_short_forms(value)

    @model_validator(mode="after")
    def _network_mode_without_ports(self) -> ServiceSpec:
        if self.shares_namespace and self.published():
            raise ValueError(f"a service with network_mode {self.network_mode!r} publishes no ports of its own (Docker "
                             "refuses it): remove `ports` and any http or tcp `ready` probe (a command or log probe "
                             "works), or the network_mode")
        if self.outside_network_mode and not self.network_of_its_own:
            raise ValueError(f"outside_network_mode needs a network_mode that names a network: {self.network_mode!r}")
        return self

    @property
    def shares_namespace(self) -> bool:
        """Its network_mode is none, or another container's namespace (`service:`, `container:`): no own ports."""
        return self.network_mode == "none" or (self.network_mode or "").startswith(("service:", "container:"))

    @property
    def namespace_owners(self) -> dict[str, str]:
        """`network_mode`/`ipc`/`pid` -> X of `service:X`: X's (first) container's namespace, as Compose joins it."""
        return {key: value.removeprefix("service:") for key in ("network_mode", "ipc", "pid")
                if (value := getattr(self, key)) and value.startswith("service:")}

    @property
    def network_of_its_own(self) -> str | None:
        """The network its network_mode names (a network of the topology, or the engine's of that name), else None."""
        return None if self.network_mode in (None, "host") or self.shares_namespace else self.network_mode

    @model_validator(mode="after")
    def _one_mac_address_and_an_image(self) -> ServiceSpec:
        main = min(self.networks.items(), key=lambda item: (-item[1].priority, item[0]), default=None)
        if self.mac_address and main and main[1].mac_address and main[1].mac_address != self.mac_address:
            raise ValueError(f"the service-level mac_address should have the same value as network {main[0]} (its "
                             "first network, where Docker applies it; Docker Compose refuses it too): keep one of "
                             "them")
        if self.image is None and self.build is None:
            raise ValueError("needs 'image' (an image name) or 'build' (a build context), or both (the built "
                             "image is then also tagged with the image name)")
        return self

    @property
    def probe(self) -> ReadyProbe | None:
        """How the harness tells it is ready: `ready:`, else its healthcheck's test, else None (running and settled)."""
        return self.ready if self.ready is not None else self.healthcheck.as_probe() if self.healthcheck else None

    def full_environment(self, base_dir: Path) -> dict[str, str]:
        """The variables of each `env_file` (relative to `base_dir`, in order), then `environment` (which wins)."""
        return envfiles.full_environment(self, base_dir)

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
            settings["ports"] = [f"{port}/{protocol}" for port, protocol in published + bound_again(self)]
        return settings

    def published_ports(self) -> list[int]:
        """TCP ports to publish on 127.0.0.1: the declared ones, then any the readiness probe needs."""
        return [port for port, protocol in self.published() if protocol == "tcp"]


def bound_again(spec: ServiceSpec) -> list[tuple[int, str]]:
    """(container port, protocol) of each further binding of a port `ports` lists more than once (a compose file's
    `8080:80` and `8081:80`): each published on a free port of its own, as Compose publishes each; the service's URL
    and `.port()` are those of the first."""
    seen: set[tuple[int, str]] = set()
    again: list[tuple[int, str]] = []
    for port in spec.ports:
        numbers, protocol = parse_port(port)
        for bound in ((n, protocol) for n in numbers):
            if bound in seen:
                again.append(bound)
            seen.add(bound)
    return again


def ready_limit(spec: ServiceSpec, check: Healthcheck | None = None) -> float:
    """Seconds the service may take to become ready. `check`: the healthcheck Docker runs in its container (with the
    timings as Docker merged them; its healthy is awaited), None when there is none. An explicit `timeout` wins; else
    at least what Docker needs to call that healthcheck healthy or unhealthy (`decision_time`) plus HEALTH_MARGIN, never
    below the default `timeout` (60 s): `docker compose up --wait` has no limit of its own."""
    if check is None or "timeout" in spec.model_fields_set:
        return spec.timeout
    return max(spec.timeout, check.decision_time() + HEALTH_MARGIN)


def run_network(service: ServiceSpec, networks: Collection[str]) -> str | None:
    """The network of the run (one of the topology's `networks`) the network_mode of `service` names, else None
    (none, host, another container's namespace, or the engine's network of that name: `outside_network_mode`)."""
    mode = service.network_of_its_own
    return mode if mode in networks and not service.outside_network_mode else None


def _compose_short_forms(value: Any) -> Any:  # noqa: ANN401 - a service's mapping before validation, or anything
    """A service's mapping with `labels`/`sysctls` values as text, and `volumes: ["./src:/app:ro"]` entries whose source
    is a path (`.`, `/`, `~`) as binds under `mounts` (as Compose reads the key: read-write unless `:ro`, a missing
    folder created); named volumes stay volumes."""
    if not isinstance(value, dict):
        return value
    value = {**value, **{key: {k: str(v) for k, v in value[key].items()} for key in ("sysctls", "labels")
                         if isinstance(value.get(key), dict)}}
    volumes = value.get("volumes")
    binds = [v for v in volumes if isinstance(v, str) and v.startswith((".", "/", "~")) and ":" in v] \
        if isinstance(volumes, list) else []
    if not binds:
        return value
    mounts = list(value.get("mounts") or [])
    for bind in binds:
        source, _, rest = bind.partition(":")
        source, (target, _, mode) = os.path.expanduser(source), rest.partition(":")
        mounts.append({"source": source, "target": target, "read_only": mode == "ro", "create_host_path": True}
                      if mode in ("", "ro", "rw") else bind)  # else the mount's own error
    return {**value, "volumes": [v for v in volumes if v not in binds], "mounts": mounts}
