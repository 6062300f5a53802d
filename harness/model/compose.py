"""docker-compose file -> topology data. Docker Compose v2 itself reads the file (`config`: interpolation, `$$`,
`.env`, `env_file`, `extends`, `include`, profiles, merge keys); this module maps its canonical form onto the
topology model.

Which keys are honoured, ignored (one readable note each) or refused (one error for all of a file's) is said by the
tables of harness.model.compose_keys; a key in none of them is an error too, so nothing is silently dropped.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import TopologyFileError
from harness.model.compose_cli import normalise
from harness.model.compose_keys import IGNORED, REFUSED, known, refusal
from harness.model.source import Path_, SourceMap, dotted_path, load_yaml, merged

# every service key of the Compose specification, for "did you mean" on a near miss
COMPOSE_SERVICE_KEYS = sorted(known("service"))
# service keys given to the model as they are (Compose's canonical form is the model's)
AS_IS = ("image", "command", "entrypoint", "working_dir", "user", "init", "cap_add", "cap_drop", "privileged",
         "hostname", "domainname", "stop_signal", "labels", "platform", "sysctls", "tmpfs", "ulimits", "dns",
         "dns_search", "dns_opt", "security_opt", "read_only", "group_add", "device_cgroup_rules", "runtime", "ipc",
         "pid", "uts", "cgroup", "userns_mode", "cgroup_parent", "isolation", "mac_address", "storage_opt",
         "oom_kill_disable", "oom_score_adj", "cpus", "cpu_shares", "cpu_period", "cpu_quota", "cpu_rt_period",
         "cpu_rt_runtime", "cpu_count", "cpu_percent", "cpuset", "pids_limit")
BYTES = ("mem_limit", "memswap_limit", "mem_reservation", "mem_swappiness")  # numbers Compose writes as text
COMPOSE_TOP_KEYS = ["configs", "include", "models", "name", "networks", "secrets", "services", "version", "volumes"]
HEALTH_KEYS = ["disable", "interval", "retries", "start_interval", "start_period", "test", "timeout"]
BUILD_KEYS = ["args", "context", "dockerfile", "target"]
REFUSAL_TAIL = " (in {file}); remove it or move it to an override file that the test run does not use"
SECRETS_DIR = "/run/secrets/"  # where Compose puts a secret whose target is not absolute; a config goes under /
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def load_compose(files: Path | list[Path], *, profiles: tuple[str, ...] = (), env_file: Path | None = None
                 ) -> tuple[dict[str, Any], SourceMap, list[str]]:
    """Compose's canonical form of `files` (one, or several merged by Compose: `-f a -f b`), mapped to topology data.

    Returns:
        (topology data, lines of the topology keys in `file`, notes for a person).

    Raises:
        TopologyFileError: Compose rejected the file (its message, located at `file:line` where possible, with a
            "did you mean" for a near-miss key), or a key the harness cannot honour.
        ComposeUnavailable: no Docker Compose v2 binary was found.
    """
    files = [files] if isinstance(files, Path) else files
    canonical, notes = normalise(files, profiles=profiles, env_file=env_file, on_error=_compose_error)
    source = _lines(files)
    data, lines, more = _to_topology(_unescape(canonical), source, _project_environment(files[0], env_file))
    return data, lines, notes + more


def _lines(files: list[Path]) -> SourceMap:
    """Lines of the keys, for messages (Compose read the files); of several files: each key in its file."""
    maps = []
    for each in files:
        try:
            maps.append(load_yaml(each)[1])
        except TopologyFileError:
            maps.append(SourceMap(each))
    return maps[0] if len(maps) == 1 else merged(maps)


def _project_environment(file: Path, env_file: Path | None) -> dict[str, str]:
    """The variables Compose resolves `secrets: {x: {environment: VAR}}` with: `.env` (or `--env-file`), then this
    process's environment, which wins (as for interpolation)."""
    from dotenv import dotenv_values  # the .env format as Compose reads it

    dotenv = env_file or file.parent / ".env"
    try:
        values = {k: v or "" for k, v in dotenv_values(dotenv).items()} if dotenv.is_file() else {}
    except OSError:
        values = {}
    return {**values, **os.environ}


def pop_secret_files(data: dict[str, Any]) -> set[str]:
    """The contents of the files a compose file's services mount as secrets (mapped topology `data`, whose
    `x-secret-files` lists are removed here), to be hidden wherever the harness prints; an unreadable one adds
    nothing (the start reports it)."""
    values: set[str] = set()
    for service in (data.get("services") or {}).values():
        for file in service.pop("x-secret-files", []) if isinstance(service, dict) else []:
            try:
                text = Path(file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            values |= {text, text.strip()}
    return values


def _to_topology(canonical: dict[str, Any], source: SourceMap, environment: dict[str, str] | None = None
                ) -> tuple[dict[str, Any], SourceMap, list[str]]:
    """Map Compose's canonical form (from `config`) onto topology data; `source` gives lines for messages,
    `environment` the values of `environment:` secrets and configs (Compose's: `.env`, then this process's).

    Raises:
        TopologyFileError: every key of every service the harness cannot honour, and every bad value, in one
            message (each at its `file:line`).
    """
    out = SourceMap(source.file)
    notes: list[str] = []
    problems: list[TopologyFileError] = []
    objects = {kind: canonical.get(kind) or {} for kind in ("secrets", "configs")}
    services = canonical.get("services") or {}
    topology: dict[str, Any] = {"name": canonical.get("name"), "services": {}}
    if "x-topology" in canonical:  # top-level topology keys (contracts, image_substitutes)
        topology.update(canonical["x-topology"] or {})
    networked = _declares_networks(canonical)
    if networked:
        topology["networks"] = _networks(canonical.get("networks") or {}, str(canonical.get("name") or ""), source,
                                         notes, problems)
    jobs = {dep for service in services.values() for dep, options in (service.get("depends_on") or {}).items()
            if (options or {}).get("condition") == "service_completed_successfully"}
    for name, service in services.items():
        here: Path_ = ("services", name)
        out.lines[here] = source.line(here)
        if networked:  # kept per network rather than folded into `aliases`
            service = {**service, "x-networks": service.get("networks")}
            service.pop("networks", None)
        topology["services"][name] = _service(name, service, set(services), here, source, out, notes, problems,
                                              objects, os.environ if environment is None else environment)
        if name in jobs:
            topology["services"][name].setdefault("job", True)
    _top_level(canonical, source, notes, problems)
    volumes = {name: {k: v for k, v in (definition or {}).items() if k in ("driver", "driver_opts") and v}
               for name, definition in (canonical.get("volumes") or {}).items()}
    if any(volumes.values()):
        topology["volumes"] = {name: options for name, options in volumes.items() if options}
    if len(problems) == 1:
        raise problems[0]
    if problems:  # one line each, as the topology loader reports several problems
        tail = REFUSAL_TAIL.format(file=source.file)
        first, *rest = [str(problem).removesuffix(tail).removeprefix(f"{problems[0].location}: ")
                        if index == 0 else str(problem).removesuffix(tail) for index, problem in enumerate(problems)]
        raise TopologyFileError(problems[0].location, "\n".join([first, *rest]) + (
            f"\n({len(problems)} problems in {source.file}: fix each, or move the keys pytest-topology cannot "
            "honour to an override file that the test run does not use)"))
    return topology, out, notes


def _top_level(canonical: dict[str, Any], source: SourceMap, notes: list[str],
               problems: list[TopologyFileError]) -> None:
    """The keys of the file's volumes, secrets and configs (and the file's own) against the tables: a note for an
    ignored one that is set, an error for a refused one (a secret's or config's `external` is refused where a
    service uses it) or an unknown one. Networks: see `_networks`."""
    tail = REFUSAL_TAIL.format(file=source.file)
    for key in canonical:
        if key in REFUSED["file"]:
            problems.append(source.error((key,), f"top-level '{key}' cannot be honoured by a test run: "
                                                 f"{refusal('file', key)}{tail}"))
    for section, kind in (("volumes", "volume"), ("secrets", "secret"), ("configs", "config")):
        for name, definition in (canonical.get(section) or {}).items():
            for key, value in (definition or {}).items():
                at: Path_ = (section, name, key)
                if key in IGNORED[kind] and value not in (None, {}, [], ""):
                    notes.append(f"{source.where(at)}: {dotted_path(at)}: ignored for a test run "
                                 f"({IGNORED[kind][key]})")
                elif kind == "volume" and key in REFUSED[kind] and value:
                    problems.append(source.error(at, f"volume key '{key}' cannot be honoured by a test run: "
                                                     f"{refusal(kind, key)}{tail}"))
                elif key not in known(kind) and not key.startswith("x-"):
                    problems.append(source.error(at, f"{kind} key '{key}' is not known to pytest-topology (a newer "
                                                     f"Compose specification?){tail}"))


def _service(name: str, service: dict[str, Any], names: set[str], here: Path_, source: SourceMap,
             out: SourceMap, notes: list[str], problems: list[TopologyFileError],
             objects: dict[str, dict[str, Any]], environment: Mapping[str, str]) -> dict[str, Any]:
    """One service's topology data; what cannot be honoured is added to `problems` (all of them are reported)."""
    result: dict[str, Any] = {}
    for key, value in sorted(service.items(), key=lambda item: item[0] == "expose"):  # ports first: the URL's port
        try:
            _service_key(key, value, result, names, here, source, out, notes, objects, environment)
        except TopologyFileError as problem:
            problems.append(problem)
    return result


def _service_key(key: str, value: Any, result: dict[str, Any], names: set[str], here: Path_, source: SourceMap,
                 out: SourceMap, notes: list[str], objects: dict[str, dict[str, Any]],
                 environment: Mapping[str, str]) -> None:
    def put(key: str, value: Any, from_key: str) -> None:
        if value not in (None, [], {}):
            result[key] = value
        out.lines[here + (key,)] = source.line(here + (from_key,))

    at = here + (key,)
    if key in IGNORED["service"]:
        notes.append(f"{source.where(at)}: {dotted_path(at)}: ignored for a test run ({IGNORED['service'][key]})")
    elif key in REFUSED["service"]:
        raise source.error(at, f"compose key '{key}' cannot be honoured by a test run: "
                               f"{refusal('service', key)}{REFUSAL_TAIL.format(file=source.file)}")
    elif key not in known("service") and key not in ("x-topology", "x-networks"):
        raise source.error(at, f"compose key '{key}' is not known to pytest-topology (a newer Compose "
                               f"specification?){REFUSAL_TAIL.format(file=source.file)}")
    elif key in AS_IS:
        put(key, value, key)
    elif key in BYTES:
        put(key, int(value), key)
    elif key == "devices":  # Compose's canonical {source, target, permissions} -> Docker's "HOST:CONTAINER:rwm"
        put(key, [f"{d['source']}:{d.get('target') or d['source']}:{d.get('permissions') or 'rwm'}"
                  for d in value], key)
    elif key == "gpus":  # Compose asks for the capability "gpu" of each entry
        put("device_requests", result.get("device_requests", []) + [
            _device_request({**entry, "capabilities": ["gpu"]}) for entry in value], key)
    elif key == "links":  # Compose: "SERVICE[:ALIAS]"; a link makes SERVICE a dependency (in `depends_on` here)
        put(key, list(value), key)
    elif key == "volumes_from":
        outside = [v for v in value if v.startswith("container:")]
        if outside:
            raise source.error(at, f"volumes_from {outside[0]}: a run only mounts from its own containers (by "
                                   "construction); Docker Compose: mounts the volumes of that container, started "
                                   f"outside the project{REFUSAL_TAIL.format(file=source.file)}")
        if any(v.endswith((":ro", ":rw")) for v in value):  # Compose v2 gives Docker the container's id alone
            notes.append(f"{source.where(at)}: {dotted_path(at)}: ':ro' and ':rw' are not applied, as Docker Compose "
                         "does not apply them (it mounts the volumes as the other service has them)")
        put(key, [v.rsplit(":", 1)[0] if v.endswith((":ro", ":rw")) else v for v in value], key)
    elif key == "post_start":
        put(key, [{k: v for k, v in hook.items() if v not in (None, {}, [])} for hook in value or []], key)
    elif key == "network_mode":
        _network_mode(str(value), at, source, put)
    elif key == "blkio_config":
        put(key, _blkio(value), key)
    elif key == "deploy":
        _deploy(value or {}, at, source, notes, put, result)
    elif key == "scale" and value != 1:
        raise source.error(at, f"scale {value}: a test run starts one container per service (by construction: a "
                               "service is one base URL); Docker Compose: starts that many containers"
                               f"{REFUSAL_TAIL.format(file=source.file)}")
    elif key == "environment":
        # a variable named without a value and not set where Compose ran is left out, as Compose does
        put(key, {k: v for k, v in (value or {}).items() if v is not None}, key)
    elif key == "shm_size":
        put(key, int(value) if str(value).isdigit() else value, key)
    elif key == "ulimits":
        put(key, value, key)
    elif key == "extra_hosts":
        put(key, _extra_hosts(value, at, source), key)
    elif key == "build":
        put(key, _build(value, at, source), key)
    elif key == "healthcheck":
        put(key, _healthcheck(value, at, source), key)
    elif key in ("ports", "expose"):
        ports = result.get("ports", []) + [_port(p, at + (i,), source) for i, p in enumerate(value)]
        put("ports", list(dict.fromkeys(ports)), key)
    elif key == "x-networks":
        put("networks", _service_networks(value, here + ("networks",), source), "networks")
        out.lines.update({path: line for path, line in source.lines.items()
                          if path[: len(here) + 1] == here + ("networks",)})  # each network's own line
    elif key == "networks":
        put("aliases", result.get("aliases", []) + [
            a for options in (value or {}).values() for a in (options or {}).get("aliases") or []], key)
    elif key == "container_name":  # another service may call it by this name: Compose's DNS resolves it
        put("aliases", [value, *result.get("aliases", [])], key)
    elif key in ("secrets", "configs"):
        mounts, files, secret_files = _file_objects(key, value, objects[key], environment, at, source, notes)
        put("mounts", result.get("mounts", []) + mounts, key)
        put("files", result.get("files", []) + files, key)
        if secret_files:
            result["x-secret-files"] = result.get("x-secret-files", []) + secret_files
    elif key == "volumes":
        mounts, volumes, tmpfs = _volumes(value, at, source)
        put("mounts", result.get("mounts", []) + mounts, key)
        put("volumes", volumes, key)
        put("tmpfs", result.get("tmpfs", []) + tmpfs, key)
    elif key == "depends_on":  # `required: false` on a service that is not there (another profile): dropped
        put(key, [d for d, o in value.items() if d in names or (o or {}).get("required", True)], key)
        put("restart_on_replace", [d for d in result.get(key, []) if (value[d] or {}).get("restart")], key)
    elif key == "x-topology":
        if not isinstance(value, dict):
            raise source.error(at, "x-topology holds pytest-topology service keys (ready, timeout, openapi, ...)")
        for inner, inner_value in value.items():
            result[inner] = inner_value
            for path, line in source.lines.items():
                if path[: len(at) + 1] == at + (inner,):
                    out.lines[here + path[len(at):]] = line


NETWORK_KEYS = ("name", "driver", "driver_opts", "internal", "enable_ipv6", "ipam", "labels", "external", "attachable")
SERVICE_NETWORK_KEYS = ("aliases", "ipv4_address", "ipv6_address", "priority")


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
            unknown = sorted(set(network) - set(NETWORK_KEYS))
            if unknown:
                raise source.error(at + (unknown[0],), f"network key '{unknown[0]}' cannot be honoured by "
                                                       f"pytest-topology{REFUSAL_TAIL.format(file=source.file)}")
            if network.get("external"):
                result[name] = {"external": True, "name": network.get("name") or name}
                continue
            driver = network.get("driver") or "bridge"
            if driver != "bridge":
                raise source.error(at + ("driver",), f"network driver '{driver}' is not supported: a run's "
                                                     "networks are bridge networks of one engine (remove `driver:`, "
                                                     "or use an external network)")
            ipam = network.get("ipam") or {}
            if ipam.get("driver") not in (None, "default"):
                raise source.error(at + ("ipam", "driver"), f"ipam driver '{ipam['driver']}' is not supported "
                                                            "(only Docker's default)")
            if any(set(pool) - {"subnet", "gateway", "ip_range"} for pool in ipam.get("config") or []):
                raise source.error(at + ("ipam",), "ipam config: only subnet, gateway and ip_range are supported")
            if network.get("attachable"):
                notes.append(f"{source.where(at + ('attachable',))}: networks.{name}.attachable: ignored for a test "
                             "run (it lets swarm services join; a run's networks are bridge networks of one engine)")
            declared = network.get("name")
            if declared and declared != f"{project}_{name}":
                notes.append(f"{source.where(at + ('name',))}: networks.{name}.name: each run names its own network "
                             "(services reach each other by service name and aliases as before)")
            result[name] = {"internal": bool(network.get("internal")), "enable_ipv6": bool(network.get("enable_ipv6")),
                            "subnets": ipam.get("config") or [], "options": network.get("driver_opts") or {},
                            "labels": network.get("labels") or {}}
        except TopologyFileError as problem:
            problems.append(problem)
    return result


def _service_networks(value: Any, at: Path_, source: SourceMap) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for network, options in (value or {}).items():
        options = options or {}
        unknown = sorted(set(options) - set(SERVICE_NETWORK_KEYS))
        if unknown:
            raise source.error(at + (network, unknown[0]), f"'{unknown[0]}' of a service's network cannot be "
                                                           f"honoured by pytest-topology (supported: "
                                                           f"{', '.join(SERVICE_NETWORK_KEYS)}; in {source.file})")
        result[network] = {k: v for k, v in options.items() if v not in (None, [], {})}
    return result


def _network_mode(value: str, at: Path_, source: SourceMap, put: Any) -> None:
    """`none` and `service:X` as Compose gives them; `bridge` or the default network is the run's own network; `host`
    and `container:X` cannot be had in a test run."""
    tail = REFUSAL_TAIL.format(file=source.file)
    if value == "host":
        raise source.error(at, "network_mode host cannot be honoured by a test run: the harness publishes each port on "
                               "a free port of 127.0.0.1 and services reach each other by name on the run's network "
                               "(by construction); Docker Compose: the container uses the machine's network and its "
                               f"ports are the machine's{tail}")
    if value.startswith("container:"):
        raise source.error(at, f"network_mode {value}: a run only joins its own containers (by construction); Docker "
                               f"Compose: the container joins that container's network namespace{tail}")
    if value in ("none", "") or value.startswith("service:"):
        put("network_mode", value or None, "network_mode")
    elif value not in ("bridge", "default"):  # a network name: the run's one network stands for every network
        raise source.error(at, f"network_mode {value!r} cannot be honoured by a test run: every service of a run is "
                               f"on one private network; Docker Compose: joins the network {value!r}{tail}")


def _deploy(value: dict[str, Any], at: Path_, source: SourceMap, notes: list[str], put: Any,
            result: dict[str, Any]) -> None:
    """`deploy:` as Docker Compose applies it to a container: its resources (Compose has already refused a value
    that differs from the service's own `cpus`, `mem_limit`, ...), one replica; swarm settings noted as ignored."""
    for key, inner in value.items():
        here = at + (key,)
        if key in IGNORED["deploy"]:
            if inner not in (None, {}, []):
                notes.append(f"{source.where(here)}: {dotted_path(here)}: ignored for a test run "
                             f"({IGNORED['deploy'][key]})")
        elif key == "replicas" and inner != 1:
            raise source.error(here, f"deploy.replicas {inner}: a test run starts one container per service (by "
                                     "construction: a service is one base URL); Docker Compose: starts that many "
                                     f"containers{REFUSAL_TAIL.format(file=source.file)}")
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
        elif key != "replicas":
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


def _build(value: dict[str, Any], at: Path_, source: SourceMap) -> dict[str, Any]:
    unknown = sorted(set(value) - set(BUILD_KEYS))
    if unknown:
        raise source.error(at, f"build key(s) {', '.join(unknown)} cannot be honoured by pytest-topology "
                               f"(in {source.file}; supported: {', '.join(BUILD_KEYS)})")
    build = {k: v for k, v in value.items() if v is not None}
    build["args"] = {k: "" if v is None else str(v) for k, v in (value.get("args") or {}).items()}
    build["context"] = str(value["context"])  # absolute: Compose resolved it against the project folder
    return build


def _healthcheck(value: dict[str, Any], at: Path_, source: SourceMap) -> dict[str, Any] | None:
    if value.get("disable"):
        return {"test": ["NONE"]}
    if "start_interval" in value:
        raise source.error(at + ("start_interval",), "healthcheck start_interval needs Docker API 1.44; the "
                                                     f"harness probes every 0.1 s anyway: remove it (in {source.file})")
    if value.get("test") is None:
        raise source.error(at, "healthcheck needs a `test` (the image's own HEALTHCHECK is not read); or give the "
                               "service a probe under `x-topology: {ready: ...}`")
    check: dict[str, Any] = {"test": value["test"]}
    for key in ("interval", "timeout", "start_period"):
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
    if protocol not in ("tcp", "udp"):
        raise source.error(at, f"port protocol {protocol!r} is not supported (tcp or udp)")
    if protocol == "tcp" and str(target).isdigit():
        return int(target)
    return f"{target}/{protocol}"


def _file_objects(kind: str, value: list[dict[str, Any]], defined: dict[str, Any], environment: Mapping[str, str],
                  at: Path_, source: SourceMap, notes: list[str]
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """A service's `secrets:` or `configs:` as Compose gives them to its container: a `file:` source bind-mounted
    read-only (uid, gid and mode ignored, as Compose ignores them), an `environment:` or `content:` source written
    into the container before it starts (mode 0444 unless given, owner uid:gid, default root); an empty value is not
    written. A relative target is under /run/secrets/ (secrets) or / (configs).

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
        if definition.get("external"):  # Compose: "unsupported external secret"
            raise source.error(here, f"external {singular} '{name}': Docker Compose does not start a service with "
                                     f"one either (only swarm services have them); give it a `file:`, "
                                     "`environment:` or `content:` source")
        if definition.get("file"):
            if not Path(definition["file"]).exists():  # Compose warns, then the engine refuses the mount
                raise source.error(here, f"{singular} '{name}': its file {definition['file']} does not exist (Docker "
                                         "Compose cannot start the service either)")
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
                raise source.error(here, f"environment variable {variable!r} required by {singular} '{name}' is not "
                                         "set (Docker Compose refuses to start it too); set it, or put it in .env")
            content = environment[variable]
        else:
            content = definition.get("content") or ""
        if content == "":  # Compose writes nothing for an empty value
            continue
        owner = {k: str(reference.get(k) or 0) for k in ("uid", "gid")}
        if not all(v.isdigit() for v in owner.values()):  # Compose needs numbers too (it writes them into a tar)
            raise source.error(here, f"uid and gid of {singular} '{name}' must be numbers (got "
                                     f"{owner['uid']}:{owner['gid']})")
        mode = reference.get("mode")
        files.append({"target": target, "content": content, "uid": int(owner["uid"]), "gid": int(owner["gid"]),
                      "mode": 0o444 if mode is None else int(mode, 8) if isinstance(mode, str) else int(mode),
                      "secret": kind == "secrets"})
    return mounts, files, secret_files


def _volumes(value: list[dict[str, Any]], at: Path_, source: SourceMap
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    mounts, volumes, tmpfs = [], [], []
    for index, volume in enumerate(value):
        # Compose refuses a volume without a target ("is missing a mount target")
        kind, target, read_only = volume.get("type"), volume["target"], bool(volume.get("read_only"))
        if kind == "bind":
            bind: dict[str, Any] | None = volume.get("bind")
            if bind is not None and not bind.get("create_host_path") and not Path(volume["source"]).exists():
                raise source.error(at + (index,), f"bind source {volume['source']} does not exist, and "
                                                  "`create_host_path: false` says not to create it (Docker Compose "
                                                  "cannot start the service either)")
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
            size = (volume.get("tmpfs") or {}).get("size")
            tmpfs.append(f"{target}:size={size}" if size else target)
        else:
            raise source.error(at + (index,), f"volume type {kind!r} is not supported (bind, volume or tmpfs; in "
                                              f"{source.file})")
    return mounts, volumes, tmpfs


def _unescape(node: Any) -> Any:
    """`config` writes every `$` of a value as `$$` (so its output can be read again); undo that."""
    if isinstance(node, str):
        return node.replace("$$", "$")
    if isinstance(node, list):
        return [_unescape(item) for item in node]
    if isinstance(node, dict):
        return {key: _unescape(value) for key, value in node.items()}
    return node


VALIDATION = re.compile(r"^validating (?P<file>.+?): (?P<path>\S*)\s*additional properties '(?P<key>[^']+)' not "
                        r"allowed$")
AT_PATH = re.compile(r"^(?:validating (?P<file>.+?): )?(?P<path>services\.[\w.-]+) ")
SERVICE = re.compile(r'^service "(?P<name>[^"]+)" (?:depends on undefined service "(?P<missing>[^"]+)")?')
YAML_LINE = re.compile(r"^(?:(?P<file>/\S+?): )?yaml: line (?P<line>\d+): (?P<problem>.*)$")


def _compose_error(file: Path, message: str) -> TopologyFileError:
    """Compose's own message, at `file:line` where it can be found, with the near miss for an unknown key or
    service."""
    first = message.splitlines()[0] if message else ""
    try:
        data, lines = load_yaml(file)
    except TopologyFileError:
        data, lines = None, SourceMap(file)
    if match := VALIDATION.match(first):
        path: Path_ = tuple(p for p in match["path"].split(".") if p) + (match["key"],)
        near = _near(match["key"], _allowed_at(path[:-1]))
        if Path(match["file"]).resolve() != file.resolve():
            try:
                _, lines = load_yaml(Path(match["file"]))  # an included or extended file
            except TopologyFileError:
                lines = SourceMap(Path(match["file"]))
        return TopologyFileError(lines.where(path), f"{dotted_path(path)}: unknown key '{match['key']}'{near} "
                                                    f"(Docker Compose: {message})")
    if match := YAML_LINE.match(first):
        name = Path(match["file"]).name if match["file"] else file.name
        return TopologyFileError(f"{name}:{match['line']}", f"invalid YAML: {match['problem']} (Docker Compose)")
    if match := SERVICE.match(first):
        if match["missing"]:
            services = list(data["services"]) if isinstance(data, dict) and isinstance(data.get("services"),
                                                                                        dict) else []
            near = _near(match["missing"], services, "service")
            return TopologyFileError(lines.where(("services", match["name"], "depends_on")),
                                     f"Docker Compose: {message}{near}")
        return TopologyFileError(lines.where(("services", match["name"])), f"Docker Compose: {message}")
    if match := AT_PATH.match(first):
        return TopologyFileError(lines.where(tuple(match["path"].split("."))), f"Docker Compose: {message}")
    return TopologyFileError(file.name, f"Docker Compose: {message}")


def _near(word: str, choices: list[str], kind: str = "") -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean {kind + ' ' if kind else ''}'{close[0]}'?)" if close else ""


def _allowed_at(path: Path_) -> list[str]:
    if len(path) == 0:
        return COMPOSE_TOP_KEYS
    if len(path) == 2 and path[0] == "services":
        return COMPOSE_SERVICE_KEYS
    if len(path) == 3 and path[2] == "healthcheck":
        return HEALTH_KEYS
    if len(path) == 3 and path[2] == "build":
        return BUILD_KEYS + ["additional_contexts", "cache_from", "cache_to", "extra_hosts", "labels", "network",
                             "no_cache", "platforms", "pull", "secrets", "shm_size", "ssh", "tags", "ulimits"]
    return []
