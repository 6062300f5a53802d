"""Plain data (from a YAML file, a compose file, the Python builder or `TopologySpec(...)`) -> a validated
TopologySpec, with the same rules and messages for all: each message names where (`file:line`, or the topology's name
when there is no file) and the dotted path of the key, what is allowed, and the near miss. `TopologySpec` runs
`validated` however it is made, so no topology skips these checks."""

from __future__ import annotations

import ipaddress
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.errors import DependencyCycle, TopologyFileError
from harness.model.base import internal, reading_compose, service_name_problem, topology_name, validating
from harness.model.compose_keys import known
from harness.model.departures import passed_through
from harness.model.engine_needs import engine_needs
from harness.model.placement import engine_references, suggest
from harness.model.plan import StartPlan
from harness.model.source import NamedSource, Path_, Source, dotted_path
from harness.model.topology import TopologySpec


@dataclass(frozen=True)
class _Origin:
    """Where a topology comes from: what locates its problems, the file it was read from (None: built in Python),
    and the folder its relative paths resolve against."""

    source: Source
    file: Path | None
    base_dir: Path
    compose: bool = False  # a compose file: what Compose accepts is accepted (alias collisions: notes, not errors)


def validate(data: dict[str, Any], source: Source, *, file: Path | None, base_dir: Path | None = None,
             compose: bool = False) -> TopologySpec:
    """Validate `data` (the topology's keys) into a TopologySpec read from `file` (None: built in Python); its
    relative paths resolve against `base_dir` (default: `file`'s folder). `compose`: read from a compose file, whose
    rules are Compose's (a network alias that is another service's name is then no error: see `alias_collisions`).

    Raises:
        TopologyFileError: the first problem (and every further problem on its own line), located by
            `source.where(path)`.
    """
    folder = base_dir if base_dir is not None else file.parent if file is not None else Path.cwd()
    with reading_compose(compose):
        return TopologySpec.model_validate(data, context={"origin": _Origin(source, file, folder.resolve(), compose)})


def validated(data: Any, handler: typing.Callable[[Any], TopologySpec], context: Any) -> TopologySpec:
    """TopologySpec's own validation (a pydantic wrap validator): `handler` checks the fields; then names,
    references, paths and cycles. Without an `_Origin` in `context` (`TopologySpec(...)` called directly), problems
    are located by the topology's name and relative paths resolve against the current folder."""
    if isinstance(data, TopologySpec):
        return data
    origin = context.get("origin") if isinstance(context, dict) else None
    if not isinstance(origin, _Origin):
        named = data.get("name") if isinstance(data, dict) else None
        origin = _Origin(NamedSource(named), None, Path.cwd())
    source = origin.source
    if isinstance(data, dict):
        if isinstance(data.get("services"), dict):
            for name in data["services"]:
                if problem := service_name_problem(name):
                    raise source.error(("services", name), problem)
        given = data.get("name")
        data = {**data, "name": _effective_name(given, origin.file)}
        if data["name"] is None and isinstance(given, str) and given:
            raise source.error(("name",), f"{given!r} has no letter or digit (a name keeps only lower-case letters, "
                                          "digits, '-' and '_', as Compose's project names): give one that has")
        if data["name"] is None:
            raise source.error(("name",), "required for a topology that is not read from a file (a file's folder "
                                          "names it otherwise): give " + ("name=" if given is None else
                                                                          "a name that is not empty"))
    try:
        with validating():  # the models inside leave their errors to this one, which locates them in the topology
            spec = handler(data)
    except ValidationError as exc:
        error = file_error(exc, data, source, own_file=None if origin.compose else origin.file)
        # the start's own refusals of these keys are said with these problems, where an engine answers (cli, pytest)
        error.engine_needs = tuple(engine_needs(data.get("services") if isinstance(data, dict) else None, source))
        raise error from None
    spec._file, spec._base_dir = origin.file, origin.base_dir  # noqa: SLF001 - set once, here
    spec._engine_needs = engine_needs({name: service.model_dump(mode="json", exclude_defaults=True)  # noqa: SLF001
                                       for name, service in spec.services.items()}, source)
    if not origin.compose and isinstance(data, dict):  # Compose resolves its own: model/departures.py scans its files
        spec._departures = tuple(passed_through(data.get("services"), os.environ))  # noqa: SLF001
    spec._engine_hosts_at = {engine.name: source.where(("engines", index, "host"))  # noqa: SLF001
                             for index, engine in enumerate(spec.engines)}
    try:
        _check_references(spec, source, aliases=not origin.compose)
    except TopologyFileError as error:
        error.engine_needs = tuple(spec.engine_needs)
        raise
    return spec


def _effective_name(name: Any, file: Path | None) -> Any:
    """The topology's name, made valid as Compose does: `name:`, else the name of the folder holding the file. A
    topology without a file has no folder to be named after: it must say its name (None: it does not)."""
    if not (name is None or isinstance(name, str)):
        return name  # pydantic says what it should be
    if not name:
        if file is None:
            return None  # refused by the caller
        name = file.parent.name
    elif file is None and not topology_name(name):
        return None  # nothing of the name the caller gave is left: refused by the caller
    return topology_name(name) or "topology"


def _check_references(spec: TopologySpec, source: Source, *, aliases: bool = True) -> None:
    names = list(spec.services)
    problems: list[tuple[Path_, str]] = alias_collisions(spec) if aliases else []
    for name, service in spec.services.items():
        for index, other in enumerate(service.restart_on_replace):
            if other not in service.depends_on:
                problems.append((("services", name, "restart_on_replace", index), f"'{other}' is not in depends_on "
                                 f"of '{name}' (restart_on_replace names some of its dependencies)"))
        shared: list[tuple[str, list[str | None]]] = [(key, [other]) for key, other in service.namespace_owners.items()]
        references: tuple[tuple[str, list[str | None]], ...] = (
                            ("links", [link.partition(":")[0] for link in service.links]),
                            *shared,
                            ("volumes_from", [None if v.startswith("container:") else  # outside the run
                                              v.rsplit(":", 1)[0] if v.endswith((":ro", ":rw")) else v
                                              for v in service.volumes_from]))
        for key, others in references:
            for index, referenced in enumerate(others):  # started first, as Compose makes them dependencies
                if referenced is None:
                    continue
                at: Path_ = ("services", name, key) + ((index,) if key in ("links", "volumes_from") else ())
                if referenced not in service.depends_on:
                    problems.append((at, f"'{referenced}' is not in depends_on of '{name}' ({key} names services it "
                                         "depends on, which are started first)"))
                elif key != "links" and spec.services[referenced].replicas == 0:  # a link to none is left out
                    what = {"network_mode": "share network namespace", "ipc": "share IPC namespace",
                            "pid": "share PID namespace"}.get(key, "share volume")
                    problems.append((at, f"cannot {what} with service {referenced}: container missing (it has 0 "
                                         "replicas; Docker Compose's refusal): give it a replica, or remove "
                                         f"{key} of '{name}'"))
        for key in ("depends_on", "consumes"):
            for index, other in enumerate(getattr(service, key)):
                path: Path_ = ("services", name, key, index)
                if other == name:
                    problems.append((path, f"'{name}' cannot list itself"))
                elif other not in spec.services:
                    problems.append((path, f"'{other}' is not a service{suggest(other, names)}"))
        if service.build and not service.build.remote:  # a URL: the builder fetches it (and says what fails)
            context = spec.base_dir / service.build.context
            if not context.is_dir():
                problems.append((("services", name, "build"), f"build context '{service.build.context}' is not a "
                                 f"directory (looked in {context})"))
            elif service.build.dockerfile_inline is None and not (context / service.build.dockerfile).is_file():
                problems.append((("services", name, "build"), f"no Dockerfile '{service.build.dockerfile}' in "
                                 f"{context}"))
        for index, env_file in enumerate(service.env_file):
            if not (spec.base_dir / env_file).is_file():
                problems.append((("services", name, "env_file", index), f"env_file '{env_file}' is not a file "
                                 f"(paths are relative to {spec.base_dir})"))
            elif unreadable := _unparsed_lines(spec.base_dir / env_file):
                problems.append((("services", name, "env_file", index), f"env_file '{env_file}': line(s) "
                                 f"{', '.join(map(str, unreadable))} are not KEY=VALUE (a quote left open, a space "
                                 "in a name?); fix or quote them (the values are not shown: they may be secrets)"))
        for index, mount in enumerate(service.mounts):  # a missing folder the engine creates is no problem
            if not mount.create_host_path and not (spec.base_dir / mount.source).exists():
                problems.append((("services", name, "mounts", index), f"mount source '{mount.source}' does not "
                                 f"exist (paths are relative to {spec.base_dir})"))
    problems += _contract_references(spec) + _network_references(spec) + engine_references(spec)
    if problems:
        raise _combined([(source.where(path), f"{dotted_path(path)}: {text}") for path, text in problems])
    try:
        StartPlan.from_spec(spec)
    except DependencyCycle as cycle:
        raise source.error(("services", cycle.names[0], "depends_on"), str(cycle)) from None


def alias_collisions(spec: TopologySpec) -> list[tuple[Path_, str]]:
    """Network aliases that name two containers: an alias that is another service's name, or one alias of two
    services. Docker's DNS then answers with either container, so calls meant for one sometimes reach the other."""
    problems: list[tuple[Path_, str]] = []
    owner: dict[str, str] = {}  # alias -> the first service that has it
    for name, service in spec.services.items():
        for index, alias in enumerate(service.aliases):
            path: Path_ = ("services", name, "aliases", index)
            if alias in spec.services and alias != name:
                problems.append((path, f"alias '{alias}' is the name of service '{alias}': the name would reach "
                                       f"either container; remove the alias (or rename one of them)"))
            elif (first := owner.setdefault(alias, name)) != name:
                problems.append((path, f"alias '{alias}' is also an alias of service '{first}': it would reach "
                                       "either container; give each service its own aliases"))
    return problems


def _contract_references(spec: TopologySpec) -> list[tuple[Path_, str]]:
    """`contracts.names` values and `contracts.state_url` keys name services; a pact name belongs to one service."""
    names = list(spec.services)
    problems: list[tuple[Path_, str]] = []
    for pact_name, named in spec.contracts.names.items():
        if named not in spec.services:
            problems.append((("contracts", "names", pact_name),
                             f"'{named}' is not a service{suggest(named, names)}"))
    for provider in spec.contracts.state_url:
        if provider not in spec.services:
            problems.append((("contracts", "state_url", provider),
                             f"'{provider}' is not a service{suggest(provider, names)}"))
    claimed: dict[str, str] = {}
    for name, service in spec.services.items():
        if service.pact_name is not None:
            other = claimed.setdefault(service.pact_name, name)
            if other != name:
                problems.append((("services", name, "pact_name"),
                                 f"'{service.pact_name}' is already the pact_name of service '{other}'"))
    return problems


def _network_references(spec: TopologySpec) -> list[tuple[Path_, str]]:
    """A service's networks are networks of the topology; a fixed address is in a subnet the file gives that network
    (the engine hands out fixed addresses only from a user-configured subnet); a probe from this machine needs a
    published port, which Docker does not publish for a service only on internal networks."""
    declared = list(spec.networks) or ["default"]
    problems: list[tuple[Path_, str]] = []
    for name, service in spec.services.items():
        for network, attached in service.networks.items():
            path: Path_ = ("services", name, "networks", network)
            if network not in declared:
                problems.append((path, f"'{network}' is not a network of the topology's `networks:`"
                                       f"{suggest(network, declared)}"))
                continue
            definition = spec.networks.get(network)
            for key, version in (("ipv4_address", 4), ("ipv6_address", 6)):
                address = getattr(attached, key)
                if address is None or (definition is not None and definition.external):
                    continue  # an external network's subnet is the engine's to check
                problems += [(path + (key,), text) for text in _address_problems(address, version, network,
                                                                                 definition)]
        probe = service.probe
        reason = spec.no_ports_reason(name)
        if reason and probe is not None and (probe.http or probe.tcp):
            on = ", ".join(spec.service_networks(name))
            problems.append((("services", name), f"it is only on {reason} ({on}), so Docker "
                             "publishes none of its ports and its readiness probe "
                             f"({probe.describe()}) cannot reach it from here; probe it with a command inside it, "
                             "or put it on a bridge network that is not internal too"))
    return problems


def _address_problems(address: str, version: int, network: str, definition: Any) -> list[str]:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return [f"{address!r} is not an IPv{version} address"]
    if ip.version != version:
        return [f"{address!r} is not an IPv{version} address"]
    subnets = [ipaddress.ip_network(s.subnet, strict=False) for s in (definition.subnets if definition else [])]
    subnets = [s for s in subnets if s.version == version]
    if not subnets:
        return [f"a fixed address needs a subnet of network '{network}' (Docker: user specified IP address is "
                f"supported only when connecting to networks with user configured subnets); give it "
                f"`ipam: {{config: [{{subnet: ...}}]}}`"]
    if not any(ip in subnet for subnet in subnets):
        return [f"{address} is not in a subnet of network '{network}' ({', '.join(map(str, subnets))})"]
    reserved = [host for pool in definition.subnets for host, aux in pool.aux_addresses.items() if aux == address]
    if reserved:  # the engine reserves it for that host; a container's start then fails
        return [f"{address} is an auxiliary address of network '{network}' (aux_addresses.{reserved[0]}), which the "
                "engine never gives a container (Docker: Address already in use; Docker Compose cannot start it "
                "either)"]
    return []


def _combined(messages: list[tuple[str, str]]) -> TopologyFileError:
    """One error whose first line is the first problem and each further line another, all as `file:line: ...`."""
    (where, first), rest = messages[0], messages[1:]
    return TopologyFileError(where, first + "".join(f"\n{w}: {m}" for w, m in rest))


def file_error(exc: ValidationError, data: Any, source: Source, model: type[BaseModel] = TopologySpec,
               own_file: Path | None = None) -> TopologyFileError:
    """pydantic's errors of validating `data` as `model` as one TopologyFileError: a line per key, located by
    `source`, with the allowed keys and the near miss. `own_file`: a file read as a pytest-topology file; a Docker
    Compose service key in it is said as such (no list of allowed keys), and once, how it would be read as compose."""
    by_path: dict[Path_, list[Any]] = {}
    for error in exc.errors():
        by_path.setdefault(_path_in(data, tuple(error["loc"])), []).append(error)
    messages = [_describe(path, errors, source, model) for path, errors in by_path.items()]
    compose_keys = [(index, path) for index, (path, errors) in enumerate(by_path.items())
                    if own_file is not None and errors[0]["type"] == "extra_forbidden" and len(path) == 3
                    and path[0] == "services" and str(path[2]) in known("service")]
    for index, path in compose_keys:
        messages[index] = (messages[index][0], f"{dotted_path(path)}: unknown key '{path[2]}' (a Docker Compose key)")
    if compose_keys and own_file is not None:
        messages.append((own_file.name, COMPOSE_KEYS_IN_OWN_FORMAT))
    return _combined(messages)


COMPOSE_KEYS_IN_OWN_FORMAT = (
    "this file is read as a pytest-topology file, not by Docker Compose: its name is not compose*.yaml or "
    "docker-compose*.yaml, and it has none of the top-level keys only compose files have (version, networks, "
    "volumes, include, secrets, configs); to have it read as a compose file, name it compose.yaml (or "
    "compose.NAME.yaml, docker-compose.yaml); the keys of a pytest-topology file: docs/guides/topology-file.md")


def _path_in(data: Any, loc: Path_) -> Path_:
    """`loc` without pydantic's union-member tags ('str', 'list[str]'), which are not keys of the document."""
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(node, (dict, list)) or node is None:
            path.append(part)  # a missing or unknown key: keep it, it is what the message is about
            break
        else:
            break
        path.append(part)
    return tuple(path)


def _describe(path: Path_, errors: list[Any], source: Source, model: type[BaseModel]) -> tuple[str, str]:
    error = errors[0]
    loc: Path_ = path
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1], model)
        message = f"unknown key '{loc[-1]}'{suggest(str(loc[-1]), allowed)}; allowed: {', '.join(allowed)}"
        path = loc
    elif kind == "missing":
        message, path = f"required key '{loc[-1]}' is missing", loc[:-1]
    elif kind in ("value_error", "assertion_error"):
        message, path = str(error["msg"]).removeprefix("Value error, "), loc
    elif kind == "list_type" and isinstance(error["input"], (str, int, float)):
        found = _found(error["input"], loc)
        message, path = f"must be a list (found {found}): write [{found}]", loc
    elif kind == "too_short" and not error["input"]:
        message, path = f"must not be empty: give at least one (found {_found(error['input'], loc)})", loc
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message, path = f"must be a mapping of keys (found {_found(error['input'], loc)})", loc
    else:  # a union gives one error per member: 'a valid string or a valid list'
        wanted = " or ".join(dict.fromkeys(str(e["msg"]).removeprefix("Input should be ") for e in errors))
        message = (f"Input should be {wanted}" if str(error["msg"]).startswith("Input should be ")
                   else str(error["msg"]))
        message, path = f"{message} (found {_found(error['input'], loc)})", loc
        if kind == "string_too_short" and loc and loc[-1] == "reason":  # an exclusion's reason: for the next reader
            message += ("; an exclusion needs a written reason of at least 10 characters that says why, e.g. "
                        "'legacy kiosk, retired in Q3'")
    where = source.where(path)
    dotted = dotted_path(path)
    return where, f"{dotted}: {message}" if dotted else message


def _unparsed_lines(file: Path) -> list[int]:
    """Line numbers python-dotenv (the reader of env files here) cannot parse; it would skip them silently."""
    from dotenv.parser import parse_stream

    with file.open(encoding="utf-8", errors="replace") as stream:
        return [binding.original.line for binding in parse_stream(stream) if binding.error]


# Under these keys any value may be a secret (passwords, tokens, API keys): messages show keys and shapes only.
SECRET_KEYS = frozenset({"environment", "auth", "args", "headers", "client_secret", "env_file"})


def _found(value: Any, path: Path_) -> str:  # noqa: ANN401 - any YAML value
    """The offending input as a message shows it: as is, or under a secret-holding key without its values."""
    if any(part in SECRET_KEYS for part in path if isinstance(part, str)):
        return _masked(value)
    return repr(value)


def _masked(value: Any) -> str:  # noqa: ANN401 - any YAML value
    """`value` with every scalar hidden: mapping keys and `KEY=` prefixes of compose-style lists stay visible."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_masked(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_masked(item) for item in value) + "]"
    if isinstance(value, str) and "=" in value:
        return repr(value.split("=", 1)[0] + "=...")
    return "..." if value is not None else "None"


def _fields_at(loc: Path_, root: type[BaseModel]) -> list[str]:
    """Field names of the model that sits at `loc` in a `root` (for 'allowed keys' and suggestions)."""
    annotation: Any = root
    for part in loc:
        annotation = _step(annotation, part)
    model = _model_in(annotation)
    return [f.alias or n for n, f in model.model_fields.items() if not f.exclude and not internal(f)] if model else []


def _step(annotation: Any, part: str | int) -> Any:
    model = _model_in(annotation)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    for arg in typing.get_args(annotation) or ():
        if typing.get_origin(annotation) is dict:
            return typing.get_args(annotation)[1]
        if typing.get_origin(annotation) is list:
            return arg
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None
