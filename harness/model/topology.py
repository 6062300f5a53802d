"""The validated, typed topology: what the file says, independent of Docker."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness.errors import TopologyFileError
from harness.model.base import _Strict
from harness.model.broker import BrokerSpec
from harness.model.departures import Departure
from harness.model.engine_needs import EngineNeed
from harness.model.parts import ServiceNetwork
from harness.model.service import ServiceSpec

if TYPE_CHECKING:
    from pydantic import ModelWrapValidatorHandler  # pydantic >= 2.10 exports it; the floor (2.6) does not


class ExcludedPact(_Strict):
    """Pacts left out of verification, with the reason. Selects by pact file name (a glob, e.g. `legacy-*.json`), or
    by consumer and/or provider (names as the pacts write them, or the service they map to)."""

    pact: str | None = Field(default=None, description="a pact file name or glob")
    consumer: str | None = Field(default=None, description="the consumer's name")
    provider: str | None = Field(default=None, description="the provider's name")
    reason: str = Field(min_length=10, description="why these pacts are not verified: a written reason is required")

    @model_validator(mode="after")
    def _selects_something(self) -> ExcludedPact:
        if self.pact is None and self.consumer is None and self.provider is None:
            raise ValueError("needs 'pact' (a file name or glob) or 'consumer' and/or 'provider'")
        return self


class ContractsSpec(_Strict):
    """Where the pacts are and which modules serve their provider states (paths relative to the topology file).

    `names` maps names used in pacts to services (also `pact_name:` on a service); `state_url` maps a provider to
    the path of its own state-change endpoint (called by the Pact verifier at the service's URL instead of the
    harness's handlers); `exclude` leaves pacts out with a written reason."""

    pacts: str = Field(default="contracts", description="the pact folder, relative to the topology file")
    states: list[str] = Field(
        default_factory=list,
        description="modules of provider-state handlers and message producers, relative to the topology file")
    names: dict[str, str] = Field(default_factory=dict, description="pact participant names -> services")
    state_url: dict[str, str] = Field(
        default_factory=dict, description="provider -> the path of its own provider-state endpoint")
    exclude: list[ExcludedPact] = Field(
        default_factory=list, description="pacts left out of verification, each with a written reason")
    broker: BrokerSpec | None = Field(
        default=None, description="a Pact Broker whose pacts for the provider services are verified too")

    @field_validator("state_url")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for provider, path in value.items():
            if not path.startswith("/"):
                raise ValueError(f"state_url of {provider!r} must be a path on the service starting with '/', "
                                 f"e.g. /_pact/provider_states (got {path!r})")
        return value


class Subnet(_Strict):
    """One address pool of a network (Compose's `ipam.config` entry)."""

    subnet: str = Field(description="CIDR, e.g. 172.28.0.0/16")
    gateway: str | None = Field(default=None, description="the gateway address in the subnet")
    ip_range: str | None = Field(default=None, description="CIDR the engine hands addresses from")
    aux_addresses: dict[str, str] = Field(
        default_factory=dict, description="host name -> an address of the subnet the engine never hands out "
                                          "(Docker's IPAM AuxiliaryAddresses, Compose's `aux_addresses`)")

    @model_validator(mode="after")
    def _aux_in_subnet(self) -> Subnet:
        for host, address in self.aux_addresses.items():
            problem = aux_address_problem(self.subnet, host, address)
            if problem:
                raise ValueError(problem)
        return self


def aux_address_problem(subnet: str, host: str, address: str) -> str | None:
    """Why `address` cannot be the auxiliary address `host` of the pool `subnet` (CIDR), or None. Checked before the
    engine sees it: Docker 20.10 keeps the pool of a network it refused for this (measured: the same subnet then
    "overlaps" until the engine restarts)."""
    try:
        pool = ipaddress.ip_network(subnet, strict=False)
    except ValueError:
        return None  # the engine says what is wrong with the subnet, as for Compose
    try:
        inside = ipaddress.ip_address(address) in pool
    except ValueError:
        return f"aux_addresses.{host}: {address!r} is not an IP address"
    if not inside:
        return (f"auxiliary address: ({host}:{address}) must belong to the master pool: {pool} (Docker refuses the "
                "network, so Docker Compose cannot start it either)")
    return None


NO_PORT_DRIVERS = ("macvlan", "ipvlan")  # the container has its own address on the parent's LAN: no port mapping


class NetworkSpec(_Strict):
    """A network of the topology (Compose's top-level `networks:`): one Docker network per run, removed with it;
    an `external` one is used as it is (it must exist) and left in place."""

    driver: str = Field(default="bridge", description="the network driver, as Compose gives it: bridge, macvlan, "
                                                       "ipvlan, overlay (on a swarm manager), ... (the engine decides "
                                                       "which it has)")
    internal: bool = Field(default=False, description="no route out; Docker publishes no port of a container that "
                                                      "is only on internal networks")
    enable_ipv6: bool = Field(default=False, description="IPv6 addresses too (needs an IPv6 subnet)")
    subnets: list[Subnet] = Field(default_factory=list, description="address pools (needed for fixed addresses)")
    ipam_driver: str | None = Field(default=None, description="the IPAM driver, as Compose gives it (`ipam.driver`; "
                                                              "none: Docker's default): the engine has it or not")
    options: dict[str, str] = Field(default_factory=dict, description="driver options")
    attachable: bool = Field(default=False, description="standalone containers may join (an overlay network: "
                                                        "needed for a run's containers, as under Compose)")
    labels: dict[str, str] = Field(default_factory=dict, description="network labels (besides the harness's own)")
    external: bool = Field(default=False, description="an existing network, used as it is and never removed")
    name: str | None = Field(default=None, description="an external network's name on the engine (default: "
                                                       "its key)")


class VolumeSpec(_Strict):
    """How a named volume of the run is created (Compose's top-level `volumes.NAME`)."""

    driver: str = Field(default="local", description="the volume driver")
    driver_opts: dict[str, str] = Field(
        default_factory=dict, description="the driver's options, e.g. {type: tmpfs, device: tmpfs, o: size=64m}")
    labels: dict[str, str] = Field(default_factory=dict, description="volume labels (besides the harness's own)")
    external: bool = Field(default=False, description="a volume made outside the run: mounted as it is, never "
                                                      "created or removed (missing: an error, as for Compose)")
    name: str | None = Field(default=None, description="an external volume's name on the engine (default: its key)")

    @field_validator("driver_opts", mode="before")
    @classmethod
    def _values_as_text(cls, value: Any) -> Any:
        return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else value


class EngineSpec(_Strict):
    """One Docker engine of a topology spread over several (`engines:`, a list: the first is the swarm manager)."""

    name: str = Field(description="the engine's name in `placement:` and messages")
    host: str = Field(description="a DOCKER_HOST-style URL (tcp://HOST:PORT, ssh://USER@HOST, unix:///PATH) or a "
                                  "Docker context's name")


class TopologySpec(_Strict):
    """A validated topology. However it is made (a file through `load_topology`, `harness.topology(...)`, or
    `TopologySpec(...)` directly) it is checked with the same rules; a problem raises `TopologyFileError`, one line
    per problem, located by `file:line` or, without a file, by the topology's name and the dotted path of the key
    (`topology 'shop': services.api.depends_on[0]: 'b' is not a service`).

    `name` is the topology's name (in container names, labels and messages), made valid as Compose does; read
    from a file without `name:`, the name of the file's folder. Made directly, it must be given, and relative paths
    resolve against the current folder (`harness.topology(name, base_dir=...)` says its folder)."""

    # filled in from the file's folder by its validation when a file has none
    name: str = Field(min_length=1, description="the topology's name (default: the folder holding the file)")
    services: dict[str, ServiceSpec] = Field(
        min_length=1, description="service name -> how to start it and tell it is ready")
    networks: dict[str, NetworkSpec] = Field(
        default_factory=dict, description="networks the services are on (none: every service is on one private "
                                          "network, as Compose's `default`)")
    contracts: ContractsSpec = Field(
        default_factory=ContractsSpec, description="where the pacts and their provider-state handlers are")
    volumes: dict[str, VolumeSpec] = Field(
        default_factory=dict, description="named volumes' driver and options (a volume not listed here gets the "
                                          "local driver); each run creates its own and removes it")
    engines: list[EngineSpec] = Field(
        default_factory=list, description="several Docker engines joined by a Docker Swarm overlay network, the first "
                                          "is the manager (none: one engine, as DOCKER_HOST or the Docker context "
                                          "says)")
    image_substitutes: dict[str, str] = Field(
        default_factory=dict, description="image -> image to use instead (for `image:` and FROM lines); a key "
                                          "ending in '/' is a registry prefix rule ('docker.io/': 'mirror/')")
    # The file it was read from (None: built in Python), and the folder relative paths (build contexts, mounts)
    # resolve against. Set by its validation.
    _file: Path | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    # Every file it was read from (compose files merged by Compose), the first being `_file`. Set by the loader.
    _files: tuple[Path, ...] = PrivateAttr(default=())
    # Every file the loader read for it (a compose file's: Compose's `.env`, env_file, extends, include, configs and
    # secrets files too). Set by the loader.
    _read: tuple[Path, ...] = PrivateAttr(default=())
    # How it departs from what its files give by default (options, values from the environment: model/departures.py).
    _departures: tuple[Departure, ...] = PrivateAttr(default=())
    _project_name: str | None = PrivateAttr(default=None)  # `-p NAME` it was loaded with (down_hint says it)
    # What the loader wants a person to know (compose keys ignored, ...): one readable line each.
    _notes: list[str] = PrivateAttr(default_factory=list)
    # Values of secret-looking interpolation variables (a compose file's `.env`): hidden wherever they are printed.
    _interpolation_secrets: set[str] = PrivateAttr(default_factory=set)
    # What only a start refuses (a secret's unset variable or missing file), `file:line: message` each: the file is
    # read without them, so that `down`, `ps` and `logs` work as under Docker Compose (refuse_start raises these).
    _start_refusals: tuple[str, ...] = PrivateAttr(default=())
    # What its keys need of the Docker engine (model/engine_needs.py), each at its file:line. Set by its validation.
    _engine_needs: list[EngineNeed] = PrivateAttr(default_factory=list)
    # engine name -> where its `host:` is (file:line, or the topology's name), for what is found of it later
    _engine_hosts_at: dict[str, str] = PrivateAttr(default_factory=dict)
    # service -> engine of a topology across engines, computed once by `engine_of` (model/placement.py)
    _placements: dict[str, str] | None = PrivateAttr(default=None)
    # how the engines' swarm is had (--topology-swarm: existing, join, join-and-leave; runtime/swarm.py)
    _swarm: str = PrivateAttr(default="existing")

    if TYPE_CHECKING:  # what a type checker takes: services as ServiceSpec's or plain mappings, as at run time
        def __init__(self, *, name: str, services: Mapping[str, ServiceSpec | Mapping[str, Any]],
                     contracts: ContractsSpec | Mapping[str, Any] | None = None,
                     image_substitutes: Mapping[str, str] | None = None) -> None: ...
    else:
        # pydantic's own: a custom __init__ would lose the validation context (the file a topology comes from); its
        # validation (`validated`) makes its errors one TopologyFileError itself
        __init__ = BaseModel.__init__

    @model_validator(mode="wrap")
    @classmethod
    def _validates_itself(cls, data: Any, handler: ModelWrapValidatorHandler[TopologySpec],
                          info: ValidationInfo) -> TopologySpec:
        from harness.model.validate import validated  # the rules need the whole model (and StartPlan)

        return validated(data, handler, info.context)

    @property
    def file(self) -> Path | None:
        """The (first) file it was read from; None for a topology built in Python."""
        return self._file

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file it was read from, in order (several compose files are merged by Docker Compose); none for a
        topology built in Python."""
        return self._files or ((self._file,) if self._file is not None else ())

    @property
    def identity(self) -> str:
        """Which files its runs belong to (the label on its containers; `harness down FILE...`): the resolved files
        joined by ',' as Compose's `config_files` label; one file is its path. A topology built in Python has none:
        `FOLDER/NAME (built in Python)`, under its folder as a file would be (`harness down` in that folder)."""
        if not self.files:
            return f"{self._base_dir / self.name} (built in Python)"
        return ",".join(str(f) for f in self.files)

    @property
    def read_files(self) -> tuple[Path, ...]:
        """Every host file the loader read for it, resolved: `files`, and for compose files every file Docker Compose
        reads with them (`.env` or `--env-file`, even when missing: one made later is read; `env_file`s, `extends` and
        `include` files, `configs` and `secrets` files). Those of its services (build contexts, mounts, env_file):
        harness.model.inputs."""
        return self._read or self.files

    def with_files(self, files: list[Path], read: list[Path] | None = None) -> TopologySpec:
        """A copy read from `files` (resolved; the first is `file`, its folder `base_dir`); `read`: every file the
        loader read for them (default: `files`)."""
        copy = self.with_image_substitutes({})
        copy._file, copy._files = files[0].resolve(), tuple(f.resolve() for f in files)
        copy._read = tuple(dict.fromkeys(f.resolve() for f in [*files, *(read or ())]))
        copy._base_dir = copy._file.parent
        return copy

    def with_departures(self, departures: list[Departure]) -> TopologySpec:
        """A copy that departs from its files' default in `departures` too (model/departures.py)."""
        copy = self.with_image_substitutes({})
        copy._departures = (*self._departures, *departures)
        return copy

    @property
    def departures(self) -> tuple[Departure, ...]:
        """How it departs from what its files give by default ("ITEM_SUFFIX from the environment", "compose.staging.yaml
        given beyond compose.yaml"), each with the services it touches; none for a topology loaded as its files
        say."""
        return self._departures

    def departures_for(self, services: Iterable[str], shell: bool | None = None) -> list[str]:
        """The departures that touch any of `services`, as phrases; `shell` True/False: only those that are (are not)
        values of the process environment."""
        names = set(services)
        return [d.what for d in self._departures if d.touches(names) and shell in (None, d.shell)]

    @property
    def notes(self) -> list[str]:
        """Lines for a person: keys of a compose file ignored for a test run, Compose's own warnings."""
        return self._notes

    @property
    def start_refusals(self) -> tuple[str, ...]:
        """What Docker Compose refuses at `up` but not at `config`, `down`, `ps` or `logs` (an `environment:` secret
        whose variable is not set, a secret's missing file), one `file:line: message` each, in the file's order."""
        return self._start_refusals

    def refuse_start(self) -> None:
        """Raise what only a start refuses (`start_refusals`), all in one message.

        Raises:
            TopologyFileError: at the first one's `file:line`, every one of them a line.
        """
        if self._start_refusals:
            first, _, message = self._start_refusals[0].partition(": ")
            more = "".join(f"\n{line}" for line in self._start_refusals[1:])
            raise TopologyFileError(first, message + more)

    @property
    def engine_needs(self) -> list[EngineNeed]:
        """The keys an engine before some API version refuses, as Docker Compose refuses them (each with its
        file:line and Compose's words): a start checks them all against its engine before it creates anything."""
        return self._engine_needs

    @property
    def interpolation_secrets(self) -> set[str]:
        """Values of secret-looking variables a compose file was interpolated with (model/secrets.py)."""
        return self._interpolation_secrets

    def with_image_substitutes(self, substitutes: dict[str, str], notes: list[str] | None = None,
                               secrets: set[str] | None = None) -> TopologySpec:
        """A copy whose substitutes are the file's, then `substitutes` (options win)."""
        copy = self.model_copy(update={"image_substitutes": {**self.image_substitutes, **substitutes}})
        copy._file, copy._files, copy._base_dir, copy._read = self._file, self._files, self._base_dir, self._read
        copy._departures, copy._engine_needs = self._departures, list(self._engine_needs)
        copy._start_refusals, copy._project_name = self._start_refusals, self._project_name
        copy._engine_hosts_at = dict(self._engine_hosts_at)
        copy._notes = list(self._notes if notes is None else notes)
        copy._interpolation_secrets = set(self._interpolation_secrets if secrets is None else secrets)
        return copy

    def service_networks(self, name: str) -> dict[str, ServiceNetwork]:
        """Network -> how service `name` is attached, in the order Docker Compose connects them (decreasing
        priority, then name): its `networks:`, else the network `default` (also when the topology declares none)."""
        attached = self.services[name].networks or {"default": ServiceNetwork()}
        return dict(sorted(attached.items(), key=lambda item: (-item[1].priority, item[0])))

    def namespace_outside_run(self, name: str) -> str | None:
        """Why service `name`'s network namespace is not one the run made (None when it is): `network_mode: host`
        (the engine machine's own network) or `container:NAME` (a container outside the run), also through
        `service:X` chains. Faults and captures are never put there."""
        seen: set[str] = set()
        while name not in seen:
            seen.add(name)
            mode = self.services[name].network_mode or ""
            if mode == "host":
                return "network_mode host: its network is the engine machine's own"
            if mode.startswith("container:"):
                return f"network_mode {mode}: its network is that of a container outside the run"
            if not mode.startswith("service:") or mode.removeprefix("service:") not in self.services:
                return None
            name = mode.removeprefix("service:")
        return None

    def only_internal(self, name: str) -> bool:
        """Service `name` is only on networks where Docker publishes none of its ports (`no_ports_reason`)."""
        return self.no_ports_reason(name) is not None

    def no_ports_reason(self, name: str) -> str | None:
        """Where service `name` is when Docker publishes none of its ports ("internal networks", "macvlan networks,
        whose driver maps no ports"), or None: only on internal networks, or only on internal ones and ones whose
        driver maps no ports (macvlan, ipvlan: Docker ignores the ports, as under Compose). No declared networks:
        None."""
        if not self.networks:
            return None
        on = [self.networks.get(n, NetworkSpec()) for n in self.service_networks(name)]
        if all(network.internal for network in on):
            return "internal networks"
        if all(network.internal or network.driver in NO_PORT_DRIVERS for network in on):
            drivers = "/".join(sorted({n.driver for n in on if n.driver in NO_PORT_DRIVERS}))
            return f"{drivers} networks, whose driver maps no ports"
        return None

    @property
    def swarm(self) -> str:
        """How a run across `engines` has its swarm: "existing" (checked), "join" (made when missing) or
        "join-and-leave" (made when missing, and left with its last run)."""
        return self._swarm

    def engine_host_at(self, name: str) -> str:
        """Where engine `name`'s `host:` is written: `file:line`, or `topology 'NAME'` without a file."""
        return self._engine_hosts_at.get(name) or f"topology {self.name!r}"

    def with_swarm(self, mode: str) -> TopologySpec:
        """A copy whose engines' swarm is had as `mode` says (see `swarm`)."""
        copy = self.with_image_substitutes({})
        copy._swarm = mode
        return copy

    def engine_of(self, name: str) -> str | None:
        """The engine (a key of `engines`) that runs service `name`: its `placement`, else the one automatic
        placement gives it (model/placement.py: by `weight`, services that must share an engine together); None for
        a topology on one engine (no `engines:`)."""
        if not self.engines:
            return None
        if self._placements is None:  # once, for every service (a copy with fewer services keeps it)
            from harness.model.placement import automatic_placement

            self._placements = automatic_placement(self)
        return self.services[name].placement or self._placements.get(name) or self.engines[0].name

    @property
    def base_dir(self) -> Path:
        """The folder relative paths resolve against: the file's, the builder's `base_dir`, or (made directly) the
        current folder when it was made."""
        return self._base_dir


def down_hint(spec: TopologySpec) -> str:
    """`harness down [-p NAME] --topology FILE...` that removes `spec`'s runs (with what selects the engine): `-p` when
    it was loaded with one (`harness up -p NAME`), as `docker compose -p NAME down`."""
    from harness.hints import down_command

    return down_command(spec.identity, spec._project_name)  # noqa: SLF001 - the loader's
