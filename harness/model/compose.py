"""docker-compose file -> topology data. Docker Compose v2 itself reads the file (`config`: interpolation, `$$`,
`.env`, `env_file`, `extends`, `include`, profiles, merge keys); this module maps its canonical form onto the
topology model.

Which keys are honoured, ignored (one readable note each) or refused (one error for all of a file's) is said by the
tables of harness.model.compose_keys; a key in none of them is an error too, so nothing is silently dropped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.errors import TopologyFileError
from harness.model.compose_cli import normalise
from harness.model.compose_errors import compose_error
from harness.model.compose_keys import IGNORED, REFUSED, known, refusal
from harness.model.compose_values import (
    REFUSAL_TAIL,
    _blkio,
    _build,
    _declares_networks,
    _deploy,
    _device_request,
    _extra_hosts,
    _file_objects,
    _healthcheck,
    _network_mode,
    _networks,
    _port,
    _service_networks,
    _volumes,
    bound_again,
    duration,
    fixed_addresses,
    hosts_in_file_order,
)
from harness.model.engine_needs import engine_needs
from harness.model.source import Path_, SourceMap, add_extended, dotted_path, load_yaml, merged

# service keys given to the model as they are (Compose's canonical form is the model's)
AS_IS = ("image", "command", "entrypoint", "working_dir", "user", "init", "cap_add", "cap_drop", "privileged",
         "hostname", "domainname", "stop_signal", "labels", "platform", "sysctls", "tmpfs", "ulimits", "dns",
         "dns_search", "dns_opt", "security_opt", "read_only", "group_add", "device_cgroup_rules", "runtime", "ipc",
         "pid", "uts", "cgroup", "userns_mode", "cgroup_parent", "isolation", "mac_address", "storage_opt",
         "oom_kill_disable", "oom_score_adj", "cpus", "cpu_shares", "cpu_period", "cpu_quota", "cpu_rt_period",
         "cpu_rt_runtime", "cpu_count", "cpu_percent", "cpuset", "pids_limit", "external_links",
         "use_api_socket", "pull_policy", "tty", "stdin_open")
BYTES = ("mem_limit", "memswap_limit", "mem_reservation", "mem_swappiness")  # numbers Compose writes as text
# the keys whose empty value Compose's `config` keeps (it drops the others' as if unset) and sends Docker as it is:
# `entrypoint: []` (or "") clears the image's ENTRYPOINT; `command: []` asks for the image's CMD, as no command does
EMPTY_MEANS = ("entrypoint", "command")
START_REFUSALS = "x-start-refusals"  # a mapped service's: what only a start of it refuses (pop_start_refusals)


def load_compose(files: Path | list[Path], *, profiles: tuple[str, ...] = (), env_file: Path | None = None,
                 project_name: str | None = None) -> tuple[dict[str, Any], SourceMap, list[str]]:
    """Compose's canonical form of `files` (one, or several merged by Compose: `-f a -f b`), mapped to topology data.

    Returns:
        (topology data, lines of the topology keys in `file`, notes for a person).

    Raises:
        TopologyFileError: Compose rejected the file (its message, located at `file:line` where possible, with a
            "did you mean" for a near-miss key), or a key the harness cannot honour.
        ComposeUnavailable: no Docker Compose v2 binary was found.
    """
    files = [files] if isinstance(files, Path) else files
    canonical, notes = normalise(files, profiles=profiles, env_file=env_file, on_error=compose_error,
                                 project_name=project_name)
    source, raw = _lines(files)
    data, lines, more = _to_topology(_unescape(canonical), source, _project_environment(files[0], env_file))
    hosts_in_file_order(data, raw)
    return data, lines, notes + more


def _lines(files: list[Path]) -> tuple[SourceMap, list[Any]]:
    """Lines of the keys, for messages (Compose read the files); of several files: each key in its file. And each
    file's YAML as written (None: unreadable)."""
    maps, raw = [], []
    for each in files:
        try:
            document, lines = load_yaml(each)
            add_extended(lines, document, each)  # a key a service gets through `extends`: at its own file's line
            maps.append(lines)
            raw.append(document)
        except TopologyFileError:
            maps.append(SourceMap(each))
            raw.append(None)
    return (maps[0] if len(maps) == 1 else merged(maps)), raw


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


def pop_start_refusals(data: dict[str, Any]) -> list[str]:
    """What only a start of the mapped topology `data` refuses (its services' `x-start-refusals`, removed here),
    in the file's order: `TopologySpec.start_refusals`."""
    return [refusal for service in (data.get("services") or {}).values() if isinstance(service, dict)
            for refusal in service.pop(START_REFUSALS, [])]


def _refused_at_start(result: dict[str, Any], refused: list[str]) -> None:
    if refused:
        result[START_REFUSALS] = result.get(START_REFUSALS, []) + refused


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
    objects = {kind: canonical.get(kind) or {} for kind in ("secrets", "configs", "networks")}
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
        out.lines.update({path: line for path, line in source.lines.items()  # where what a key needs of the
                          if path[:3] in (here + ("healthcheck",), here + ("build",))})  # engine is said
    _top_level(canonical, source, notes, problems)
    volumes = {name: {"external": True, "name": definition.get("name") or name} if definition.get("external") else
               {k: v for k, v in definition.items() if k in ("driver", "driver_opts", "labels") and v}
               for name, definition in ((n, d or {}) for n, d in (canonical.get("volumes") or {}).items())}
    if any(volumes.values()):
        topology["volumes"] = {name: options for name, options in volumes.items() if options}
    if problems:  # with what the keys need of the engine: a front-end that reaches one says its refusals too
        error = problems[0] if len(problems) == 1 else _one_error(problems, source)
        error.engine_needs = tuple(engine_needs(topology["services"], source))
        error.compose_reads = True  # Compose read it: what the harness refuses of it
        raise error
    return topology, out, notes


def _one_error(problems: list[TopologyFileError], source: SourceMap) -> TopologyFileError:
    """Several problems in one message, one line each, as the topology loader reports several problems."""
    tail = REFUSAL_TAIL.format(file=source.file)
    first, *rest = [str(problem).removesuffix(tail).removeprefix(f"{problems[0].location}: ")
                    if index == 0 else str(problem).removesuffix(tail) for index, problem in enumerate(problems)]
    return TopologyFileError(problems[0].location, "\n".join([first, *rest]) + (
        f"\n({len(problems)} problems in {source.file}: fix each, or move the keys pytest-topology cannot "
        "honour to an override file that the test run does not use)"))


def _top_level(canonical: dict[str, Any], source: SourceMap, notes: list[str],
               problems: list[TopologyFileError]) -> None:
    """The keys of the file's volumes, secrets and configs (and the file's own) against the tables: a note for an
    ignored one that is set, an error for a refused one (a secret's or config's `external` is refused by a
    start of a service that uses it) or an unknown one. Networks: see `compose_values._networks`."""
    tail = REFUSAL_TAIL.format(file=source.file)
    for key in canonical:
        if key in REFUSED["file"]:
            problems.append(source.error((key,), f"top-level '{key}' cannot be honoured by a test run: "
                                                 f"{refusal('file', key)}{tail}"))
    for section, kind in (("volumes", "volume"), ("secrets", "secret"), ("configs", "config")):
        for name, definition in (canonical.get(section) or {}).items():
            for key, value in (definition or {}).items():
                at: Path_ = (section, name, key)
                if (kind == "volume" and key == "name" and not definition.get("external")
                        and value != f"{canonical.get('name')}_{name}"):  # Compose's own name for it: no note
                    notes.append(f"{source.where(at)}: {dotted_path(at)}: each run names its own volumes (Docker "
                                 f"Compose would use the volume {value}, shared with whatever else names it; a run's "
                                 "starts empty and is removed with the run)")
                elif key in IGNORED[kind] and value not in (None, {}, [], ""):
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
            _service_key(key, value, result, names, here, source, out, notes, objects, environment, problems)
        except TopologyFileError as problem:
            problems.append(problem)
    if result.get("network_mode") == "host" and service.get("ports"):  # Docker discards them; Compose starts it
        notes.append(f"{source.where(here + ('ports',))}: {dotted_path(here + ('ports',))}: published ports are "
                     "discarded when using host network mode (as Docker Compose warns): the service's ports are "
                     "the engine machine's own")
    if _restarts_when_done(service):
        result["restarted_by_compose"] = True
    if (replicas := result.get("replicas", 1)) > 1:
        problems.extend(_clashing_host_ports(service.get("ports") or [], replicas, here, source))
        problems.extend(fixed_addresses(service.get("x-networks") or {}, replicas, here, source))
    if "build" in result and result.get("platform") and not result["build"].get("platform"):
        result["build"]["platform"] = result["platform"]  # Compose builds for the service's platform
    return result


def _restarts_when_done(service: dict[str, Any]) -> bool:
    """Whether Docker would start the service's container again after it ends with 0, under the RestartPolicy
    Compose gives it: `deploy.restart_policy.condition` where set (any: always), else `restart:`."""
    policy = (service.get("deploy") or {}).get("restart_policy")
    mode = (policy.get("condition") or "") if isinstance(policy, dict) else str(service.get("restart") or "")
    return mode.partition(":")[0] in ("always", "any", "unless-stopped")


def _clashing_host_ports(ports: list[Any], replicas: int, here: Path_, source: SourceMap
                         ) -> list[TopologyFileError]:
    """Ports whose host port (or range) has fewer ports than the service has replicas: Docker Compose gives each
    replica the next port of the range, and the replica left without one fails to start ("port is already
    allocated"), so does the start here. The harness publishes on free ports of its own; the refusal is Compose's."""
    problems = []
    for index, port in enumerate(ports):
        published = str(port.get("published") or "") if isinstance(port, dict) else ""
        if not published:
            continue
        first, _, last = published.partition("-")
        count = int(last or first) - int(first) + 1
        if count < replicas:
            at = here + ("ports", index)
            problems.append(source.error(at, (
                f"host port {published} for {replicas} replicas: Docker Compose fails to start replica "
                f"{count + 1} (\"port is already allocated\": each replica needs a host port of its own); give "
                f"only the container port ({port.get('target')}), or a range of at least {replicas} host ports")))
    return problems


def _service_key(key: str, value: Any, result: dict[str, Any], names: set[str], here: Path_, source: SourceMap,
                 out: SourceMap, notes: list[str], objects: dict[str, dict[str, Any]],
                 environment: Mapping[str, str], problems: list[TopologyFileError]) -> None:
    def put(key: str, value: Any, from_key: str) -> None:
        if value not in (None, [], {}) or key in EMPTY_MEANS:
            result[key] = value
        out.lines[here + (key,)] = source.line(here + (from_key,))

    at = here + (key,)
    if key.startswith("x-") and key not in ("x-topology", "x-networks"):  # an extension field: Compose ignores it
        return
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
        # Compose v2 gives Docker the service's container id, or the NAME of `container:NAME`, alone (":ro" dropped)
        if any(v.endswith((":ro", ":rw")) for v in value):
            notes.append(f"{source.where(at)}: {dotted_path(at)}: ':ro' and ':rw' are not applied, as Docker Compose "
                         "does not apply them (it mounts the volumes as the other container has them)")
        put(key, [v.rsplit(":", 1)[0] if v.endswith((":ro", ":rw")) else v for v in value], key)
    elif key in ("post_start", "pre_stop"):
        put(key, [{k: v for k, v in hook.items() if v not in (None, {}, [])} for hook in value or []], key)
    elif key == "stop_grace_period":
        put(key, duration(str(value)), key)
    elif key == "network_mode":
        _network_mode(str(value), put, objects["networks"])
    elif key == "blkio_config":
        put(key, _blkio(value), key)
    elif key == "deploy":
        _deploy(value or {}, at, source, notes, put, result)
    elif key == "scale":
        put("replicas", int(value), key)
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
        build, refused = _build(value, at, source, objects["secrets"], notes)
        problems.extend(refused)
        if not refused:
            put(key, build, key)
        secret_files = [secret["file"] for secret in build.get("secrets", []) if secret.get("file")]
        if secret_files:  # hidden wherever the harness prints, as a service's secrets (a build log may show one)
            result["x-secret-files"] = result.get("x-secret-files", []) + secret_files
    elif key == "healthcheck":
        put(key, _healthcheck(value, at, source), key)
    elif key in ("ports", "expose"):
        ports = [_port(p, at + (i,), source) for i, p in enumerate(value)]
        if key == "expose" and any(str(p).endswith("/sctp") for p in ports):
            # the harness publishes `expose:` ports for tests on the host; an SCTP one would make an engine without
            # SCTP refuse the container, which Compose (exposing it only) starts
            notes.append(f"{source.where(at)}: {dotted_path(at)}: SCTP ports of `expose:` are neither published nor "
                         "exposed by the harness (services of its networks reach them, as under Compose; publish one "
                         "with `ports:`)")
            ports = [p for p in ports if not str(p).endswith("/sctp")]
        # a container port of `ports:` bound again (another host port or address) stays in the list, once per binding:
        # each is published, as Compose publishes each; one of `expose:` that `ports:` binds already is not
        before = result.get("ports", [])
        again = [ports[index] for index in bound_again(value)] if key == "ports" else []
        put("ports", before + [p for p in dict.fromkeys(ports) if p not in before] + again, key)
    elif key == "x-networks":
        put("networks", _service_networks(value, here + ("networks",), source, notes), "networks")
        out.lines.update({path: line for path, line in source.lines.items()
                          if path[: len(here) + 1] == here + ("networks",)})  # each network's own line
    elif key == "networks":
        put("aliases", result.get("aliases", []) + [
            a for options in (value or {}).values() for a in (options or {}).get("aliases") or []], key)
    elif key == "container_name":  # another service may call it by this name: Compose's DNS resolves it
        put("aliases", [value, *result.get("aliases", [])], key)
    elif key in ("secrets", "configs"):
        at_start: list[str] = []
        mounts, files, secret_files = _file_objects(key, value, objects[key], environment, at, source, notes,
                                                    at_start)
        _refused_at_start(result, at_start)
        put("mounts", result.get("mounts", []) + mounts, key)
        put("files", result.get("files", []) + files, key)
        if secret_files:
            result["x-secret-files"] = result.get("x-secret-files", []) + secret_files
    elif key == "volumes":
        at_start = []
        mounts, volumes, tmpfs, images = _volumes(value, at, source, at_start)
        _refused_at_start(result, at_start)
        put("mounts", result.get("mounts", []) + mounts, key)
        put("volumes", volumes, key)
        named = [index for index, volume in enumerate(value) if volume.get("type") == "volume"]
        out.lines.update({at + (mapped,): source.line(at + (index,)) for mapped, index in enumerate(named)})
        put("tmpfs", result.get("tmpfs", []) + tmpfs, key)
        put("image_volumes", images, key)
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


def _unescape(node: Any) -> Any:
    """`config` writes every `$` of a value as `$$` (so its output can be read again); undo that."""
    if isinstance(node, str):
        return node.replace("$$", "$")
    if isinstance(node, list):
        return [_unescape(item) for item in node]
    if isinstance(node, dict):
        return {key: _unescape(value) for key, value in node.items()}
    return node
