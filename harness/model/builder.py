"""Topologies in Python, beside YAML: the same `TopologySpec` and the same validation as the file loaders, with the
topology's name and the dotted path of the key instead of file:line in errors.

    from harness import ready, topology
    shop = (topology("shop", base_dir=HERE)
            .service("redis", image="redis:7", ports=[6379], ready=ready.log("Ready to accept connections"))
            .service("api", build="./api", ports=[8000], depends_on=["redis"], ready=ready.http(8000, "/health")))
    with shop.start() as running:
        running["api"].url
"""

from __future__ import annotations

import copy
import difflib
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

from pydantic import BaseModel

from harness.errors import NotATopology, UnknownKeyword
from harness.model.base import internal
from harness.model.broker import BrokerSpec
from harness.model.parts import (
    AuthSpec,
    BuildSpec,
    ContainerFile,
    FuzzSpec,
    Healthcheck,
    Mount,
    ReadyProbe,
    ServiceNetwork,
    Ulimit,
    VolumeMount,
)
from harness.model.service import ServiceSpec
from harness.model.source import NamedSource
from harness.model.topology import ExcludedPact, NetworkSpec, TopologySpec
from harness.model.validate import validate

if TYPE_CHECKING:
    from harness.runtime.topology import Progress, Topology

Scalar = str | int | float | bool | None
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _keywords_checked(method: Callable[_P, _R]) -> Callable[_P, _R]:
    """`method` (TopologyBuilder.service) refusing a keyword it does not take with UnknownKeyword (the closest names),
    not Python's bare TypeError. Its signature is left as it is for type checkers and editors: they complete the
    keywords and call a misspelt one unexpected (a `**unknown: Never` parameter made mypy say `expected "Never"`)."""

    @functools.wraps(method)
    def checked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        unknown = [key for key in kwargs if key != "name" and key not in _SERVICE_KEYS]
        if unknown:
            builder, service = args[0], args[1] if len(args) > 1 else kwargs.get("name")
            raise _unknown_keyword(getattr(builder, "name", "?"), str(service), unknown[0])
        return method(*args, **kwargs)

    return checked


class TopologyBuilder:
    """A topology under construction, as a value: each method returns a new builder with the change (calls chain) and
    leaves the one it is called on as it was, so that builders made from one base (`base.service("extra1", ...)`,
    `base.service("extra2", ...)`) do not share services, as two fixtures made from one base expect. `spec`
    validates."""

    def __init__(self, name: str, base_dir: Path) -> None:
        self.name = name
        self.base_dir = base_dir
        self._services: dict[str, dict[str, Any]] = {}
        self._top: dict[str, Any] = {}

    @_keywords_checked
    def service(  # noqa: PLR0913 - one keyword per key of a service in a topology file
        self, name: str, *,
        image: str | None = None,
        build: str | Path | BuildSpec | Mapping[str, Any] | None = None,
        entrypoint: str | Sequence[str] | None = None,
        command: str | Sequence[str] | None = None,
        working_dir: str | None = None,
        user: str | None = None,
        environment: Mapping[str, Scalar] | None = None,
        env_file: str | Path | Sequence[str | Path] | None = None,
        ports: Sequence[int | str] | None = None,
        depends_on: Sequence[str] | None = None,
        restart_on_replace: Sequence[str] | None = None,
        replicas: int | None = None,
        job: bool | None = None,
        pull_policy: str | None = None,
        ready: ReadyProbe | Mapping[str, Any] | None = None,
        healthcheck: Healthcheck | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        aliases: Sequence[str] | None = None,
        networks: Sequence[str] | Mapping[str, ServiceNetwork | Mapping[str, Any] | None] | None = None,
        placement: str | None = None,
        weight: float | None = None,
        mounts: Sequence[Mount | str | Mapping[str, Any]] | None = None,
        files: Sequence[ContainerFile | Mapping[str, Any]] | None = None,
        volumes: Sequence[VolumeMount | str | Mapping[str, Any]] | None = None,
        image_volumes: Sequence[Mapping[str, Any]] | None = None,
        tmpfs: Sequence[str] | None = None,
        init: bool | None = None,
        cap_add: Sequence[str] | None = None,
        cap_drop: Sequence[str] | None = None,
        privileged: bool | None = None,
        tty: bool | None = None,
        stdin_open: bool | None = None,
        extra_hosts: Mapping[str, str | Sequence[str]] | None = None,
        hostname: str | None = None,
        domainname: str | None = None,
        links: Sequence[str] | None = None,
        external_links: Sequence[str] | None = None,
        network_mode: str | None = None,
        post_start: Sequence[Mapping[str, Any]] | None = None,
        pre_stop: Sequence[Mapping[str, Any]] | None = None,
        stop_grace_period: float | None = None,
        volumes_from: Sequence[str] | None = None,
        dns: Sequence[str] | None = None,
        dns_search: Sequence[str] | None = None,
        dns_opt: Sequence[str] | None = None,
        security_opt: Sequence[str] | None = None,
        read_only: bool | None = None,
        group_add: Sequence[str] | None = None,
        use_api_socket: bool | None = None,
        devices: Sequence[str] | None = None,
        device_cgroup_rules: Sequence[str] | None = None,
        device_requests: Sequence[Mapping[str, Any]] | None = None,
        runtime: str | None = None,
        ipc: str | None = None,
        pid: str | None = None,
        uts: str | None = None,
        cgroup: str | None = None,
        userns_mode: str | None = None,
        cgroup_parent: str | None = None,
        isolation: str | None = None,
        mac_address: str | None = None,
        storage_opt: Mapping[str, str] | None = None,
        blkio_config: Mapping[str, Any] | None = None,
        mem_limit: int | None = None,
        memswap_limit: int | None = None,
        mem_reservation: int | None = None,
        mem_swappiness: int | None = None,
        oom_kill_disable: bool | None = None,
        oom_score_adj: int | None = None,
        cpus: float | None = None,
        cpu_shares: int | None = None,
        cpu_period: int | None = None,
        cpu_quota: int | None = None,
        cpu_rt_period: int | None = None,
        cpu_rt_runtime: int | None = None,
        cpu_count: int | None = None,
        cpu_percent: int | None = None,
        cpuset: str | None = None,
        pids_limit: int | None = None,
        shm_size: int | str | None = None,
        ulimits: Mapping[str, int | Ulimit | Mapping[str, int]] | None = None,
        sysctls: Mapping[str, Scalar] | None = None,
        stop_signal: str | None = None,
        labels: Mapping[str, Scalar] | None = None,
        platform: str | None = None,
        openapi: str | None = None,
        auth: AuthSpec | Mapping[str, Any] | None = None,
        fuzz: FuzzSpec | Mapping[str, Any] | None = None,
        consumes: Sequence[str] | None = None,
        pact_name: str | None = None,
    ) -> Self:
        """A new builder with service `name` added (or replaced). Each keyword is the key of a service in a topology
        file, with the same meaning and validation (`image`, `build` (a context folder relative to `base_dir`),
        `ports` (container ports: 8000, "53/udp"), `depends_on`, `ready` (a probe from `harness.ready`), `timeout`
        (seconds), ...); None leaves a key out (its default). Values are checked when `spec` (or `start`) is called.

        Raises:
            UnknownKeyword: a keyword that is not a key of a service (the message names the closest ones); also a
                TypeError, as Python's own for an unexpected keyword.
        """
        given = locals()  # the keywords, by name: each is the key of the same name in a topology file
        changed = self._copy()
        changed._services[name] = {key: _plain(given[key]) for key in _SERVICE_KEYS if given[key] is not None}
        return changed

    def contracts(self, pacts: str | Path | None = None, *, states: Sequence[str | Path] | None = None,
                  names: Mapping[str, str] | None = None, state_url: Mapping[str, str] | None = None,
                  exclude: Sequence[ExcludedPact | Mapping[str, str]] | None = None,
                  broker: BrokerSpec | Mapping[str, Any] | None = None) -> Self:
        """A new builder with the keys of `contracts:` of a topology file: the pact folder (default `contracts`) and
        states modules, relative to `base_dir`; `names` (name in pacts -> service), `state_url` (provider -> path of
        its own state-change endpoint), `exclude` (pacts left out, each with a written reason), `broker` (a Pact
        Broker: {url, selectors, pending, wip_since, provider_branch}). None leaves a key out."""
        given = {"pacts": pacts, "states": states, "names": names, "state_url": state_url, "exclude": exclude,
                 "broker": broker}
        changed = self._copy()
        changed._top["contracts"] = {key: _plain(value) for key, value in given.items() if value is not None}
        return changed

    def networks(self, networks: Mapping[str, NetworkSpec | Mapping[str, Any]]) -> Self:
        """`networks:` of a topology file: network -> {internal, subnets, external, ...}; a service names the ones
        it is on with `networks=`. Without any, every service is on one private network. A new builder."""
        changed = self._copy()
        changed._top["networks"] = {name: _plain(network) for name, network in networks.items()}
        return changed

    def image_substitutes(self, substitutes: Mapping[str, str]) -> Self:
        """`image_substitutes:` of a topology file: image -> image to use instead (for `image:` and FROM lines); a
        key ending in '/' is a registry prefix rule (`{"docker.io/": "mirror/"}`). A new builder."""
        changed = self._copy()
        changed._top["image_substitutes"] = dict(substitutes)
        return changed

    def _copy(self) -> Self:
        """A builder with the same keys, whose changes leave this one as it is (the values: plain data, copied)."""
        changed = copy.copy(self)
        changed._services, changed._top = copy.deepcopy(self._services), copy.deepcopy(self._top)
        return changed

    @property
    def spec(self) -> TopologySpec:
        """The validated topology (it has no file: `spec.file` is None).

        Raises:
            TopologyFileError: as the file loaders do, located as `topology 'NAME': services.api.depends_on[0]: ...`.
        """
        data = {"name": self.name, "services": dict(self._services), **self._top}
        return validate(data, NamedSource(self.name), file=None, base_dir=self.base_dir)

    def start(self, progress: Progress | None = None, keep: bool = False) -> Topology:
        """Validate and start the topology (see `Topology.start`): use it as a context manager to remove it."""
        from harness.runtime.topology import Topology

        return Topology.start(self.spec, progress=progress, keep=keep)


# the keywords of `TopologyBuilder.service` (a unit test keeps them so): every key a user writes
_SERVICE_KEYS = tuple(name for name, field in ServiceSpec.model_fields.items() if not internal(field))


def _unknown_keyword(topology_name: str, service: str, keyword: str) -> UnknownKeyword:
    allowed = list(_SERVICE_KEYS)
    close = difflib.get_close_matches(keyword, allowed, n=1, cutoff=0.6)
    near = f" (did you mean '{close[0]}'?)" if close else ""
    return UnknownKeyword(f"topology {topology_name!r}", f"services.{service}.{keyword}: unknown key '{keyword}'"
                          f"{near}; allowed: {', '.join(allowed)}", keyword=keyword, allowed=allowed,
                          suggestion=close[0] if close else None)


def topology(name: str, *, base_dir: str | Path | None = None) -> TopologyBuilder:
    """Start building a topology called `name`.

    Args:
        name: the topology's name (in container names, labels and messages). It is made valid as Compose makes a
            project name: lower-cased, and every character but letters, digits, '-' and '_' dropped
            (`"My Topo"` -> `mytopo`); a name with none of those is a TopologyFileError.
        base_dir: the folder relative `build:` contexts, mounts and `openapi:` files are resolved against; by
            default the folder of the Python file that calls `topology()`, or the current folder when the caller
            is no file (`python -c`, a script on stdin, an interactive session).
    """
    if base_dir is None:
        caller = sys._getframe(1).f_globals.get("__file__")  # noqa: SLF001 - the calling module's folder
        base_dir = Path(caller).parent if caller and not str(caller).startswith("<") else Path.cwd()
    return TopologyBuilder(name, Path(base_dir).resolve())


def as_spec(source: Any, base_dir: Path) -> TopologySpec:
    """A TopologySpec from a spec, a builder, or a file path (relative to `base_dir`; a list: compose files)."""
    if isinstance(source, TopologySpec):
        return source
    if isinstance(source, TopologyBuilder):
        return source.spec
    if isinstance(source, (str, Path)):
        from harness.model.loader import load_topology

        return load_topology(base_dir / source)
    if isinstance(source, (list, tuple)) and source and all(isinstance(s, (str, Path)) for s in source):
        from harness.model.loader import load_topology

        return load_topology([base_dir / s for s in source])  # compose files, merged by Compose
    raise NotATopology(type(source).__name__)


def _plain(value: Any) -> Any:
    """Probes and other spec objects become the plain data a topology file would hold."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_defaults=True, by_alias=True)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
