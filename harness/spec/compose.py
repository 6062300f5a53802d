"""docker-compose file -> topology data. Docker Compose v2 itself reads the file (`config`: interpolation, `$$`,
`.env`, `env_file`, `extends`, `include`, profiles, merge keys); this module maps its canonical form onto the
topology model.

Keys that change what a test sees are mapped; keys with no effect on a test run are ignored with one readable note
each; anything else is an error naming the key and the file, so nothing is silently dropped.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from harness.errors import TopologyFileError
from harness.spec.compose_cli import normalise
from harness.spec.source import Path_, SourceMap, dotted_path, load_yaml

# service keys of the canonical form that the mapping below reads
MAPPED = ("image", "build", "command", "entrypoint", "working_dir", "user", "environment", "tmpfs", "init",
          "volumes", "cap_add", "cap_drop", "privileged", "extra_hosts", "hostname", "shm_size", "ulimits",
          "sysctls", "stop_signal", "labels", "platform", "healthcheck", "ports", "expose", "networks",
          "depends_on", "profiles", "x-topology")
IGNORED = {
    "container_name": "names are per run so that runs do not collide",
    "restart": "containers live only for the run",
    "deploy": "one container per service",
    "logging": "logs are read through the Docker API",
    "stdin_open": "no terminal is attached",
    "tty": "no terminal is attached",
    "stop_grace_period": "containers are removed at once at teardown",
    "pull_policy": "images are used when present, else pulled once",
}
# every service key of the Compose specification, for "did you mean" on a near miss
COMPOSE_SERVICE_KEYS = sorted({
    *MAPPED, *IGNORED, "annotations", "attach", "blkio_config", "cgroup", "cgroup_parent", "configs", "cpu_count",
    "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset",
    "credential_spec", "develop", "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname",
    "env_file", "extends", "external_links", "gpus", "group_add", "ipc", "isolation", "links", "mac_address",
    "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit", "network_mode", "oom_kill_disable",
    "oom_score_adj", "pid", "pids_limit", "post_start", "pre_stop", "provider", "read_only", "runtime", "scale",
    "secrets", "security_opt", "storage_opt", "userns_mode", "uts", "volumes_from", "models", "label_file",
})
COMPOSE_TOP_KEYS = ["configs", "include", "models", "name", "networks", "secrets", "services", "version", "volumes"]
HEALTH_KEYS = ["disable", "interval", "retries", "start_interval", "start_period", "test", "timeout"]
BUILD_KEYS = ["args", "context", "dockerfile", "target"]
DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def load_compose(file: Path, *, profiles: tuple[str, ...] = (), env_file: Path | None = None
                 ) -> tuple[dict[str, Any], SourceMap, list[str]]:
    """Compose's canonical form of `file`, mapped to topology data.

    Returns:
        (topology data, lines of the topology keys in `file`, notes for a person).

    Raises:
        TopologyFileError: Compose rejected the file (its message, located at `file:line` where possible, with a
            "did you mean" for a near-miss key), or a key the harness cannot honour.
        ComposeUnavailable: no Docker Compose v2 binary was found.
    """
    canonical, notes = normalise(file, profiles=profiles, env_file=env_file, on_error=_compose_error)
    try:
        _, source = load_yaml(file)
    except TopologyFileError:
        source = SourceMap(file)  # Compose read it, so its lines are only for messages
    data, lines, more = to_topology(_unescape(canonical), source)
    return data, lines, notes + more


def to_topology(canonical: dict[str, Any], source: SourceMap) -> tuple[dict[str, Any], SourceMap, list[str]]:
    """Map Compose's canonical form (from `config`) onto topology data; `source` gives lines for messages."""
    out = SourceMap(source.file)
    notes: list[str] = []
    services = canonical.get("services") or {}
    topology: dict[str, Any] = {"name": canonical.get("name"), "services": {}}
    if "x-topology" in canonical:  # top-level topology keys (contracts, image_substitutes)
        topology.update(canonical["x-topology"] or {})
    extra_networks = [n for n in canonical.get("networks") or {} if n != "default"]
    if extra_networks:
        notes.append(f"{source.where(('networks',))}: networks {', '.join(extra_networks)}: every service of a run "
                     "is on one private network (aliases are kept)")
    jobs = {dep for service in services.values() for dep, options in (service.get("depends_on") or {}).items()
            if (options or {}).get("condition") == "service_completed_successfully"}
    for name, service in services.items():
        here: Path_ = ("services", name)
        out.lines[here] = source.line(here)
        topology["services"][name] = _service(name, service, set(services), here, source, out, notes)
        if name in jobs:
            topology["services"][name].setdefault("job", True)
    return topology, out, notes


def _service(name: str, service: dict[str, Any], names: set[str], here: Path_, source: SourceMap,
             out: SourceMap, notes: list[str]) -> dict[str, Any]:
    result: dict[str, Any] = {}

    def put(key: str, value: Any, from_key: str) -> None:
        if value not in (None, [], {}):
            result[key] = value
        out.lines[here + (key,)] = source.line(here + (from_key,))

    for key, value in sorted(service.items(), key=lambda item: item[0] == "expose"):  # ports first: the URL's port
        at = here + (key,)
        if key in IGNORED:
            notes.append(f"{source.where(at)}: {dotted_path(at)}: ignored for a test run ({IGNORED[key]})")
        elif key not in MAPPED:
            raise source.error(at, f"compose key '{key}' changes how the container runs and pytest-topology cannot "
                                   f"honour it (in {source.file}); remove it or move it to an override file "
                                   "that the test run does not use")
        elif key in ("image", "command", "entrypoint", "working_dir", "user", "init", "cap_add", "cap_drop",
                     "privileged", "hostname", "stop_signal", "labels", "platform", "sysctls", "tmpfs"):
            put(key, value, key)
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
        elif key == "networks":
            put("aliases", [a for options in (value or {}).values() for a in (options or {}).get("aliases") or []],
                key)
        elif key == "volumes":
            mounts, volumes, tmpfs = _volumes(value, at, source)
            put("mounts", mounts, key)
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
    return result


def _extra_hosts(value: Any, at: Path_, source: SourceMap) -> dict[str, str]:
    hosts: dict[str, str] = {}
    for entry in value if isinstance(value, list) else [f"{k}={v}" for k, v in (value or {}).items()]:
        host, sep, address = str(entry).partition("=")
        if not sep:
            host, _, address = str(entry).partition(":")
        hosts[host] = address
    return hosts


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


def _volumes(value: list[dict[str, Any]], at: Path_, source: SourceMap
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    mounts, volumes, tmpfs = [], [], []
    for index, volume in enumerate(value):
        kind, target, read_only = volume.get("type"), volume.get("target"), bool(volume.get("read_only"))
        if kind == "bind":
            mounts.append({"source": volume["source"], "target": target, "read_only": read_only})
        elif kind == "volume":
            volumes.append({"source": volume.get("source"), "target": target, "read_only": read_only})
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
