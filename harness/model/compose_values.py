"""Compose's canonical form of one key -> the topology model's, key by key: networks (top-level and a service's),
network_mode, deploy, device requests, blkio_config, extra_hosts, build, healthcheck, ports, secrets and
configs, volumes. A value the harness cannot honour is one TopologyFileError at its line. Used by
harness.model.compose, which walks the file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import TopologyFileError
from harness.model.compose_keys import IGNORED, known
from harness.model.source import Path_, SourceMap, dotted_path
from harness.model.topology import aux_address_problem

REFUSAL_TAIL = " (in {file}); remove it or move it to an override file that the test run does not use"
SECRETS_DIR = "/run/secrets/"  # where Compose puts a secret whose target is not absolute; a config goes under /
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


NETWORK_KEYS = ("name", "driver", "driver_opts", "internal", "enable_ipv6", "ipam", "labels", "external", "attachable")
SERVICE_NETWORK_KEYS = ("aliases", "ipv4_address", "ipv6_address", "priority", "mac_address", "link_local_ips",
                        "driver_opts", "interface_name", "gw_priority")
IFNAME = "com.docker.network.endpoint.ifname"  # the driver option Compose sets from interface_name


def _declares_networks(canonical: dict[str, Any]) -> bool:
    """The file says more about networks than Compose's implicit `default` (every service on it, no options):
    then each network is created as declared; else the run keeps its one private network (named as before, so that
    kept runs of such a file stay reusable)."""
    networks = canonical.get("networks") or {}
    if set(networks) - {"default"}:
        return True
    if any(v not in (None, {}) for k, v in (networks.get("default") or {}).items() if k != "name"):
        return True
    return any(set(options or {}) - {"aliases"}
               for service in (canonical.get("services") or {}).values()
               for options in (service.get("networks") or {}).values())


def _networks(networks: dict[str, Any], project: str, source: SourceMap, notes: list[str],
              problems: list[TopologyFileError]) -> dict[str, Any]:
    """The top-level `networks:` as topology data: a bridge network per run for each (an external one used as it
    is); a key the harness cannot honour is added to `problems`."""
    result: dict[str, Any] = {}
    for name, network in networks.items():
        network = network or {}
        at: Path_ = ("networks", name)
        try:
            unknown = sorted(k for k in set(network) - set(NETWORK_KEYS) if not k.startswith("x-"))  # x-: ignored
            if unknown:
                raise source.error(at + (unknown[0],), f"network key '{unknown[0]}' cannot be honoured by "
                                                       f"pytest-topology{REFUSAL_TAIL.format(file=source.file)}")
            if network.get("external"):
                result[name] = {"external": True, "name": network.get("name") or name}
                continue
            ipam = network.get("ipam") or {}
            if any(set(pool) - {"subnet", "gateway", "ip_range", "aux_addresses"} for pool in ipam.get("config") or []):
                raise source.error(at + ("ipam",), "ipam config: only subnet, gateway, ip_range and aux_addresses are "
                                                   "supported")
            for index, pool in enumerate(ipam.get("config") or []):
                for host, address in (pool.get("aux_addresses") or {}).items():
                    problem = aux_address_problem(str(pool.get("subnet") or ""), host, str(address))
                    if problem:
                        raise source.error(at + ("ipam", "config", index, "aux_addresses", host), problem)
            if at + ("ipam", "options") in source.lines:  # not in Compose's canonical form: read where written
                notes.append(f"{source.where(at + ('ipam', 'options'))}: networks.{name}.ipam.options: not applied, "
                             "as Docker Compose does not apply them (its `config` leaves them out: the network is "
                             "created without IPAM options)")
            declared = network.get("name")
            if declared and declared != f"{project}_{name}":
                notes.append(f"{source.where(at + ('name',))}: networks.{name}.name: each run names its own network "
                             "(services reach each other by service name and aliases as before)")
            result[name] = {"internal": bool(network.get("internal")), "enable_ipv6": bool(network.get("enable_ipv6")),
                            "subnets": ipam.get("config") or [], "options": network.get("driver_opts") or {},
                            "labels": network.get("labels") or {},
                            # another driver as Compose gives it (macvlan, ipvlan, overlay): the engine has it or not
                            **({"driver": network["driver"]} if network.get("driver") not in (None, "bridge") else {}),
                            **({"attachable": True} if network.get("attachable") else {}),
                            # an IPAM driver as Compose gives it: the engine has it (a plugin) or says why not
                            **({"ipam_driver": ipam["driver"]} if ipam.get("driver") else {})}
        except TopologyFileError as problem:
            problems.append(problem)
    return result


def _service_networks(value: Any, at: Path_, source: SourceMap, notes: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for network, options in (value or {}).items():
        options = options or {}
        unknown = sorted(k for k in set(options) - set(SERVICE_NETWORK_KEYS) if not k.startswith("x-"))
        if unknown:
            raise source.error(at + (network, unknown[0]), f"'{unknown[0]}' of a service's network cannot be "
                                                           f"honoured by pytest-topology (supported: "
                                                           f"{', '.join(SERVICE_NETWORK_KEYS)}; in {source.file})")
        declared = (options.get("driver_opts") or {}).get(IFNAME)
        if options.get("interface_name") and declared not in (None, options["interface_name"]):
            notes.append(f"{source.where(at + (network, 'interface_name'))}: {dotted_path(at + (network,))}: "
                         f"interface_name is used, not driver_opts' {IFNAME} (Docker Compose warns \"ignoring "
                         f"services.{at[1]}.networks.{network}.interface_name as {IFNAME} driver_opts is already "
                         "declared\" but sets interface_name all the same)")
        result[network] = {k: {o: str(v) for o, v in value.items()} if k == "driver_opts" else value
                           for k, value in options.items() if value not in (None, [], {}) and not k.startswith("x-")}
    return result


def _network_mode(value: str, put: Any, networks: dict[str, Any]) -> None:
    """`network_mode` as Docker Compose gives it to Docker (HostConfig.NetworkMode, as written): `none`, `host`,
    `service:X` (X of the run), `container:NAME` (a container outside the run) as they are; `bridge` or `default`:
    the run's own network; another value is a network's name on the engine, as Docker reads it. A name Compose gives
    one of the file's networks (`networks:` of Compose's config, `PROJECT_KEY` or its `name:`) is that network of
    the run; any other name is the engine's network of that name, used as it is (a missing one fails the start with
    Docker's words, as under Compose), also the key of a file's network whose name on the engine is another
    (`outside_network_mode`). `networks`: the canonical top-level networks."""
    if value in ("none", "host") or value.startswith(("service:", "container:")):
        put("network_mode", value, "network_mode")
        return
    if value in ("", "bridge", "default"):
        return
    of_the_file = [key for key, network in networks.items() if (network or {}).get("name") == value]
    if of_the_file:
        if of_the_file[0] != "default":
            put("network_mode", of_the_file[0], "network_mode")
        return
    put("network_mode", value, "network_mode")
    if value in networks:  # a file's network named otherwise on the engine: Compose gives Docker `value` as written
        put("outside_network_mode", True, "network_mode")


def _deploy(value: dict[str, Any], at: Path_, source: SourceMap, notes: list[str], put: Any,
            result: dict[str, Any]) -> None:
    """`deploy:` as Docker Compose applies it to a container: its resources (Compose has already refused a value
    that differs from the service's own `cpus`, `mem_limit`, ...), its replicas; swarm settings noted as ignored."""
    for key, inner in value.items():
        here = at + (key,)
        if key.startswith("x-"):  # an extension field: Compose ignores it wherever it is
            continue
        if key in IGNORED["deploy"]:
            if inner not in (None, {}, []):
                notes.append(f"{source.where(here)}: {dotted_path(here)}: ignored for a test run "
                             f"({IGNORED['deploy'][key]})")
        elif key == "replicas":
            if inner is not None:
                put("replicas", int(inner), "deploy")
        elif key == "resources":
            limits, reservations = (inner or {}).get("limits") or {}, (inner or {}).get("reservations") or {}
            for (name, field), given in (((n, f), limits.get(n)) for n, f in (
                    ("cpus", "cpus"), ("memory", "mem_limit"), ("pids", "pids_limit"))):
                if given is not None:
                    put(field, float(given) if name == "cpus" else int(given), "deploy")
            if reservations.get("memory") is not None:
                put("mem_reservation", int(reservations["memory"]), "deploy")
            if reservations.get("devices"):
                put("device_requests", result.get("device_requests", []) + [
                    _device_request(d) for d in reservations["devices"]], "deploy")
        else:
            raise source.error(here, f"deploy key '{key}' is not known to pytest-topology (a newer Compose "
                                     f"specification?){REFUSAL_TAIL.format(file=source.file)}")


def _device_request(value: dict[str, Any]) -> dict[str, Any]:
    """Compose's device request (`gpus`, reservations' `devices`) in the model's form."""
    return {"driver": value.get("driver") or "", "count": value.get("count"),
            "device_ids": value.get("device_ids") or [], "capabilities": value.get("capabilities") or [],
            "options": {k: str(v) for k, v in (value.get("options") or {}).items()}}


def _blkio(value: dict[str, Any]) -> dict[str, Any]:
    """Compose's canonical `blkio_config` (entries as {path, rate} with the rate in bytes as text; its JSON form
    capitalises them) in the model's form."""
    def field(entry: dict[str, Any], name: str) -> Any:
        return entry.get(name, entry.get(name.capitalize()))

    out: dict[str, Any] = {"weight": value.get("weight")} if value.get("weight") is not None else {}
    out["weight_device"] = [{"path": field(e, "path"), "weight": int(field(e, "weight"))}
                            for e in value.get("weight_device") or []]
    for key in ("device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"):
        out[key] = [{"path": field(e, "path"), "rate": int(field(e, "rate"))} for e in value.get(key) or []]
    return out


def _extra_hosts(value: Any, at: Path_, source: SourceMap) -> dict[str, str | list[str]]:
    """Compose's `extra_hosts` ("host=ip" or "host:ip" lines; a host may have several addresses) -> the model's."""
    hosts: dict[str, list[str]] = {}
    for entry in value if isinstance(value, list) else [f"{k}={v}" for k, v in (value or {}).items()]:
        host, sep, address = str(entry).partition("=")
        if not sep:
            host, _, address = str(entry).partition(":")
        hosts.setdefault(host, []).append(address)
    return {host: addresses[0] if len(addresses) == 1 else addresses for host, addresses in hosts.items()}


def _build(value: dict[str, Any], at: Path_, source: SourceMap, secrets: dict[str, Any], notes: list[str]
           ) -> tuple[dict[str, Any], list[TopologyFileError]]:
    """Compose's canonical `build:` (paths absolute, `shm_size` in bytes, `extra_hosts` as 'host=ip') -> the model's
    BuildSpec data, with the file's `secrets:` definitions for `build.secrets`. Ignored keys are noted; every value
    that cannot be built as Compose builds it is one problem (all of them returned)."""
    tail = REFUSAL_TAIL.format(file=source.file)
    problems: list[TopologyFileError] = []
    build: dict[str, Any] = {}
    for key, inner in sorted(value.items(), key=lambda item: source.line(at + (item[0],))):  # in file order
        here = at + (key,)
        if key in IGNORED["build"]:
            if _truthy(inner):
                notes.append(f"{source.where(here)}: {dotted_path(here)}: ignored for a test run "
                             f"({IGNORED['build'][key]})")
        elif key not in known("build"):
            if not key.startswith("x-"):
                problems.append(source.error(here, f"build key '{key}' is not known to pytest-topology (a newer "
                                                   f"Compose specification?){tail}"))
        elif key == "network" and inner not in ("default", "host", "none"):
            problems.append(source.error(here, f"build network {inner!r}: Docker Compose's builder (BuildKit) "
                                               "refuses a network name (\"network mode not supported by buildkit\"), "
                                               f"so does the harness: use default, host or none{tail}"))
        elif key == "platforms":
            if len(inner) > 1:
                problems.append(source.error(here, f"build platforms {', '.join(inner)}: a test run runs one image "
                                                   "per service, of one platform (by construction); Docker Compose: "
                                                   "builds one image for each, on a builder that can (not the "
                                                   f"engine's own without the containerd image store){tail}"))
            elif inner:
                build["platform"] = inner[0]
        elif key == "secrets":
            for index, reference in enumerate(inner or []):
                definition = secrets.get(reference["source"]) or {}
                if definition.get("file") or definition.get("environment"):
                    build.setdefault("secrets", []).append({
                        "source": reference["source"], "target": reference.get("target"),
                        **{k: definition[k] for k in ("file", "environment") if definition.get(k)}})
                else:  # Compose: "build.secrets only supports environment or file-based secrets"
                    problems.append(source.error(here + (index,), f"build secret '{reference['source']}': only a "
                                                                  "`file:` or `environment:` secret can be given to a "
                                                                  f"build (Docker Compose refuses it too){tail}"))
        elif key == "extra_hosts":  # docker-py and Compose's builder take 'host:address'
            build[key] = [str(entry).replace("=", ":", 1) for entry in inner or []]
        elif key == "shm_size":
            build[key] = int(inner)
        elif key in ("no_cache", "pull", "privileged"):
            build[key] = _truthy(inner)
        elif key == "args":
            build[key] = {k: "" if v is None else str(v) for k, v in (inner or {}).items()}
        elif inner is not None:
            build[key] = str(inner) if key == "context" else inner  # context: absolute, Compose resolved it
    return build, problems


def _truthy(value: Any) -> bool:
    """Compose's canonical form writes some booleans as text ('true', 'false')."""
    return value not in (None, False, "", "false", "False", "0", [], {})


def _healthcheck(value: dict[str, Any], at: Path_, source: SourceMap) -> dict[str, Any] | None:
    if value.get("disable"):
        return {"test": ["NONE"]}
    # no `test`: Compose sends the timings alone, and Docker runs the image's HEALTHCHECK test with them
    check: dict[str, Any] = {"test": value["test"]} if value.get("test") is not None else {}
    for key in ("interval", "timeout", "start_period", "start_interval"):
        if value.get(key) is not None:
            check[key] = duration(str(value[key]))
    if value.get("retries") is not None:
        check["retries"] = int(value["retries"])
    return check


def duration(text: str) -> float:
    """A Go duration as Compose writes it ('1m30s', '500ms', '2s') -> seconds."""
    parts = DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(number) * SECONDS[unit] for number, unit in parts)


def _port(value: Any, at: Path_, source: SourceMap) -> int | str:
    """A canonical port ({target, protocol, ...}) or an `expose` entry ('7000-7001', '53/udp') -> model form."""
    if isinstance(value, dict):
        target, protocol = value["target"], value.get("protocol") or "tcp"
    else:
        target, _, protocol = str(value).partition("/")
        protocol = protocol or "tcp"
    if protocol not in ("tcp", "udp", "sctp"):  # Compose's schema has no other
        raise source.error(at, f"port protocol {protocol!r} is not supported (tcp, udp or sctp)")
    if protocol == "tcp" and str(target).isdigit():
        return int(target)
    return f"{target}/{protocol}"


def bound_again(ports: list[Any]) -> list[int]:
    """The indexes of `ports` (Compose's canonical form) that bind a container port and protocol an earlier entry
    binds already (on another host port or address): Compose publishes each binding, and so does the harness."""
    seen: set[tuple[str, str]] = set()
    again = []
    for index, port in enumerate(ports):
        key = (str(port.get("target")), port.get("protocol") or "tcp") if isinstance(port, dict) else (str(port), "")
        if key in seen:
            again.append(index)
        seen.add(key)
    return again


def _file_objects(kind: str, value: list[dict[str, Any]], defined: dict[str, Any], environment: Mapping[str, str],
                  at: Path_, source: SourceMap, notes: list[str], start_refusals: list[str]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """A service's `secrets:` or `configs:` as Compose gives them to its container: a `file:` source bind-mounted
    read-only (uid, gid and mode ignored, as Compose ignores them), an `environment:` or `content:` source written
    into the container before it starts (mode 0444 unless given, owner uid:gid, default root); an empty value is not
    written. A relative target is under /run/secrets/ (secrets) or / (configs). A file that does not exist, a
    variable that is not set or an `external` one is added to `start_refusals` (`file:line: message`): Compose
    refuses them at `up` only; `down`, `ps`, `logs` work without them.

    Returns:
        (mounts, files, host files mounted as secrets).
    """
    mounts, files, secret_files = [], [], []
    singular = kind[:-1]
    for index, reference in enumerate(value or []):
        name = reference["source"]
        here = at + (index,)
        target = reference.get("target") or ""
        base = SECRETS_DIR if kind == "secrets" else "/"
        target = target if target.startswith("/") else base + (target or name)
        definition = defined.get(name) or {}
        if definition.get("external"):  # Compose refuses it at `up` only ("unsupported external secret")
            start_refusals.append(str(source.error(here, f"external {singular} '{name}': Docker Compose does not "
                                                         "start a service with one either (only swarm services have "
                                                         "them); give it a `file:`, `environment:` or `content:` "
                                                         "source")))
            continue
        if definition.get("file"):
            if not Path(definition["file"]).exists():  # Compose warns, then the engine refuses the mount
                start_refusals.append(str(source.error(here, f"{singular} '{name}': its file {definition['file']} "
                                                             "does not exist (Docker Compose cannot start the service "
                                                             "either)")))
                continue
            mounts.append({"source": definition["file"], "target": target, "read_only": True})
            if kind == "secrets":
                secret_files.append(definition["file"])
            if any(reference.get(k) is not None for k in ("uid", "gid", "mode")):
                notes.append(f"{source.where(here)}: {dotted_path(here)}: uid, gid and mode of a {singular} from a "
                             "file are ignored, as Docker Compose ignores them (it mounts the file)")
            continue
        if definition.get("environment"):
            variable = definition["environment"]
            if variable not in environment:
                start_refusals.append(str(source.error(here, f"environment variable {variable!r} required by "
                                                             f"{singular} '{name}' is not set (Docker Compose refuses "
                                                             "to start it too); set it, or put it in .env")))
                continue
            content = environment[variable]
        else:
            content = definition.get("content") or ""
        if content == "":  # Compose writes nothing for an empty value
            continue
        # only those given: Compose asks the engine to apply the owner (copyUIDGID) only when one is given
        owner = {k: str(reference[k]) for k in ("uid", "gid") if reference.get(k) is not None}
        if not all(v.isdigit() for v in owner.values()):  # Compose needs numbers too (it writes them into a tar)
            raise source.error(here, f"uid and gid of {singular} '{name}' must be numbers (got "
                                     f"{owner.get('uid', 0)}:{owner.get('gid', 0)})")
        mode = reference.get("mode")
        files.append({"target": target, "content": content, **{k: int(v) for k, v in owner.items()},
                      "mode": 0o444 if mode is None else int(mode, 8) if isinstance(mode, str) else int(mode),
                      "secret": kind == "secrets"})
    return mounts, files, secret_files


def _volumes(value: list[dict[str, Any]], at: Path_, source: SourceMap, start_refusals: list[str]
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str], list[dict[str, Any]]]:
    """Compose's canonical service `volumes:` -> the model's bind mounts, volumes, tmpfs and image volumes (those
    need Docker Engine 28: model/engine_needs.py). A missing bind source Compose must not create is added to
    `start_refusals` (Compose refuses it at `up` only)."""
    mounts, volumes, tmpfs, images = [], [], [], []
    for index, volume in enumerate(value):
        # Compose refuses a volume without a target ("is missing a mount target")
        kind, target, read_only = volume.get("type"), volume["target"], bool(volume.get("read_only"))
        if kind == "bind":
            bind: dict[str, Any] | None = volume.get("bind")
            if bind is not None and not bind.get("create_host_path") and not Path(volume["source"]).exists():
                start_refusals.append(str(source.error(
                    at + (index,), f"bind source {volume['source']} does not exist, and `create_host_path: false` "
                                   "says not to create it (Docker Compose cannot start the service either)")))
                continue  # the start refuses it; validation would refuse the file for `down` too
            mounts.append({"source": volume["source"], "target": target, "read_only": read_only,
                           # Compose passes a bind without `create_host_path: false` as a `-v` bind (the engine
                           # creates a missing folder), unless it needs the mount API (propagation)
                           "create_host_path": bind is None or bool(bind.get("create_host_path")),
                           **{k: bind[k] for k in ("selinux", "propagation") if bind and bind.get(k)}})
        elif kind == "volume":
            options, bind = volume.get("volume") or {}, volume.get("bind") or {}
            volumes.append({"source": volume.get("source"), "target": target, "read_only": read_only,
                            **{k: options[k] for k in ("nocopy", "subpath") if options.get(k)},
                            **({"selinux": bind["selinux"]} if bind.get("selinux") else {})})
        elif kind == "tmpfs":
            options = volume.get("tmpfs") or {}
            # Compose gives Docker the mode as the number it read (TmpfsOptions.Mode): `0o1770`, not `1770`
            words = ([f"size={options['size']}"] if options.get("size") else []) + (
                [f"mode={int(options['mode']):o}"] if options.get("mode") else [])
            tmpfs.append(f"{target}:{','.join(words)}" if words else target)
        elif kind == "image":
            subpath = (volume.get("image") or {}).get("subpath")
            images.append({"image": volume["source"], "target": target, "read_only": read_only,
                           **({"subpath": subpath} if subpath else {})})
        else:
            raise source.error(at + (index,), f"volume type {kind!r} is not supported (bind, volume, tmpfs or image; "
                                              f"in {source.file})")
    return mounts, volumes, tmpfs, images


def hosts_in_file_order(data: dict[str, Any], raw: list[Any]) -> None:
    """`extra_hosts` in the files' order, also the addresses of a host given twice (`config` sorts them; `up` keeps
    the order, and the first is the one a lookup returns); what the files do not spell as such (interpolated) after."""
    for name, service in (data.get("services") or {}).items():
        hosts = service.get("extra_hosts") if isinstance(service, dict) else None
        if not isinstance(hosts, dict):
            continue
        written: list[tuple[str, str]] = []
        for document in raw:
            entries = (((document or {}).get("services") or {}).get(name) or {}).get("extra_hosts") if isinstance(
                document, dict) else None
            pairs = entries if isinstance(entries, list) else [f"{k}={v}" for k, v in (entries or {}).items()]
            for entry in pairs:
                host, sep, address = str(entry).partition("=")
                if not sep:
                    host, _, address = str(entry).partition(":")
                written.append((host.strip(), address.strip()))
        for host, addresses in hosts.items():
            if isinstance(addresses, list):
                order = [a for h, a in written if h == host]
                hosts[host] = sorted(addresses, key=lambda a: order.index(a) if a in order else len(order))
        first = [h for h, _ in written]
        service["extra_hosts"] = dict(sorted(hosts.items(), key=lambda i: first.index(i[0]) if i[0] in first
                                             else len(first)))


def fixed_addresses(networks: dict[str, Any], replicas: int, here: Path_, source: SourceMap
                    ) -> list[TopologyFileError]:
    """A fixed `ipv4_address`/`ipv6_address` of a service of several `replicas`: Docker Compose gives every replica
    that address, and the engine refuses the second ("Address already in use"); refused here before anything
    starts, as a host port for several replicas is."""
    problems = []
    for network, endpoint in networks.items():
        for key in ("ipv4_address", "ipv6_address"):
            if address := (endpoint or {}).get(key):
                problems.append(source.error(here + ("networks", network, key), (
                    f"{key} {address} for {replicas} replicas: Docker Compose fails to start all of them (\"Error "
                    "response from daemon: Address already in use\": each replica needs an address of its own); "
                    "leave the address out (Docker gives each replica one), or run 1 replica")))
    return problems
