"""docker-compose file -> topology data, for the common subset of compose. No compose binary is needed.

Keys in the subset are translated; keys that do not matter for a test run are ignored with a named warning;
everything else is an error, so nothing is silently dropped.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from harness.spec.source import Path_, SourceMap, dotted_path

SUPPORTED = ("image", "build", "command", "environment", "ports", "expose", "depends_on", "healthcheck",
             "networks", "volumes", "x-topology")
IGNORED = {
    "container_name": "names are per run so that runs do not collide",
    "restart": "containers live only for the run",
    "labels": "the harness labels containers itself",
    "logging": "logs are read through the Docker API",
    "stdin_open": "no terminal is attached",
    "tty": "no terminal is attached",
    "platform": "images are built or used for this machine",
    "pull_policy": "images are built locally or pulled only when missing",
    "deploy": "one container per service",
    "hostname": "services are reached by their service name",
    "stop_grace_period": "containers are removed at once at teardown",
    "stop_signal": "containers are removed at once at teardown",
    "init": "not needed for a test run",
}
TOP_LEVEL_IGNORED = {"networks": "every run gets one private network", "volumes": "named volumes are not supported"}
HEALTH_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
CONDITIONS = {"service_started", "service_healthy"}


class ComposeKeyIgnored(UserWarning):
    """A compose key that pytest-topology does not use for a test run."""


def compose_to_topology(data: Any, source: SourceMap) -> tuple[dict[str, Any], SourceMap]:
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise source.error((), "a compose file needs a 'services' mapping")
    out = SourceMap(source.file)
    topology: dict[str, Any] = {"services": {}}
    for key, value in data.items():
        if key == "services" or key == "version" or key.startswith("x-"):
            continue
        if key == "name":
            topology["name"] = value
            out.lines[("name",)] = source.line((key,))
        elif key in TOP_LEVEL_IGNORED:
            _warn(source, (key,), TOP_LEVEL_IGNORED[key])
        else:
            raise source.error((key,), f"top-level key '{key}' is not supported by pytest-topology "
                                       "(supported: services, name, version, networks, volumes, x-*)")
    for name, service in data["services"].items():
        here: Path_ = ("services", name)
        out.lines[here] = source.line(here)
        if not isinstance(service, dict):
            raise source.error(here, "a service is a mapping of compose keys")
        topology["services"][name] = _service(service, here, source, out)
    return topology, out


def _service(service: dict[str, Any], here: Path_, source: SourceMap, out: SourceMap) -> dict[str, Any]:
    result: dict[str, Any] = {}

    def put(key: str, value: Any, from_key: str) -> None:
        result[key] = value
        out.lines[here + (key,)] = source.line(here + (from_key,))

    # x-topology last: its keys (e.g. `ready`) win over what compose keys translate to, whatever the order
    for key, value in sorted(service.items(), key=lambda item: item[0] == "x-topology"):
        at = here + (key,)
        if key in IGNORED:
            _warn(source, at, IGNORED[key])
        elif key not in SUPPORTED:
            raise source.error(at, f"compose key '{key}' is not supported by pytest-topology; supported: "
                                   f"{', '.join(SUPPORTED)}; ignored with a warning: {', '.join(sorted(IGNORED))}")
        elif key == "environment":
            put("environment", _environment(value, at, source), key)
        elif key in ("ports", "expose"):
            before = result.get("ports", [])
            put("ports", before + [_container_port(p, at + (i,), source) for i, p in enumerate(value)], key)
            for index in range(len(value)):
                out.lines[here + ("ports", len(before) + index)] = source.line(at + (index,))
        elif key == "depends_on":
            put("depends_on", _depends_on(value, at, source), key)
            for index, item in enumerate(value):
                key_or_index = item if isinstance(value, dict) else index
                out.lines[here + ("depends_on", index)] = source.line(at + (key_or_index,))
        elif key == "healthcheck":
            probe = _healthcheck(value, at, source)
            if probe:
                put("ready", probe, key)
        elif key == "networks":
            put("aliases", _aliases(value, at, source), key)
        elif key == "volumes":
            put("mounts", [_bind_mount(v, at + (i,), source) for i, v in enumerate(value)], key)
            _carry_lines(source, out, at, here + ("mounts",))
        elif key == "x-topology":
            if not isinstance(value, dict):
                raise source.error(at, "x-topology holds pytest-topology service keys (ready, timeout, openapi, ...)")
            for inner, inner_value in value.items():
                put(inner, inner_value, key)
                _carry_lines(source, out, at + (inner,), here + (inner,))
        elif key == "build" and isinstance(value, dict):
            put("build", _build(value, at, source), key)
        else:
            put(key, value, key)
    if "build" in result:
        result.pop("image", None)  # compose uses `image` as the tag of the built image; we tag by content
    return result


def _carry_lines(source: SourceMap, out: SourceMap, old: Path_, new: Path_) -> None:
    """Lines of everything under `old` in the compose file become the lines of the same things under `new`."""
    for path, line in source.lines.items():
        if path[: len(old)] == old:
            out.lines[new + path[len(old):]] = line


def _warn(source: SourceMap, at: Path_, why: str) -> None:
    warnings.warn(ComposeKeyIgnored(f"{source.where(at)}: {dotted_path(at)}: ignored by pytest-topology ({why})"),
                  stacklevel=3)


def _environment(value: Any, at: Path_, source: SourceMap) -> dict[str, Any]:
    if isinstance(value, dict):
        return {k: os.environ.get(k, "") if v is None else v for k, v in value.items()}
    if isinstance(value, list):
        env: dict[str, Any] = {}
        for item in value:
            name, sep, text = str(item).partition("=")
            env[name] = text if sep else os.environ.get(name, "")
        return env
    raise source.error(at, "environment is a list of NAME=value or a mapping")


def _container_port(value: Any, at: Path_, source: SourceMap) -> int:
    """'80', '8080:80', '127.0.0.1:8080:80', '80/tcp', 80 or {target: 80} -> 80 (published on a free port)."""
    if isinstance(value, dict) and "target" in value:
        text = f"{value['target']}/{value.get('protocol', 'tcp')}"
    else:
        text = str(value)
    port, _, protocol = text.rpartition(":")[2].partition("/")
    if protocol not in ("", "tcp") or not port.isdigit():
        raise source.error(at, f"port {value!r} is not supported (a TCP container port such as '8080:80' or 80)")
    return int(port)


def _depends_on(value: Any, at: Path_, source: SourceMap) -> list[str]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for dep, options in value.items():
            condition = (options or {}).get("condition", "service_started") if isinstance(options, (dict, type(None))) \
                else options
            if condition not in CONDITIONS:
                raise source.error(at + (dep,), f"depends_on condition {condition!r} is not supported "
                                                f"(supported: {', '.join(sorted(CONDITIONS))})")
        return list(value)
    raise source.error(at, "depends_on is a list of services or a mapping of service -> {condition: ...}")


def _healthcheck(value: Any, at: Path_, source: SourceMap) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        raise source.error(at, "healthcheck is a mapping with a 'test' key")
    unknown = set(value) - HEALTH_KEYS
    if unknown:
        raise source.error(at, f"healthcheck key(s) {', '.join(sorted(unknown))} not supported "
                               f"(supported: {', '.join(sorted(HEALTH_KEYS))})")
    if value.get("disable"):
        return None
    test = value.get("test")
    if test is None:
        raise source.error(at, "healthcheck needs a `test` (the image's own HEALTHCHECK is not read); or give the "
                               "service a probe under `x-topology: {ready: ...}`")
    if isinstance(test, str):
        return {"command": ["/bin/sh", "-c", test]}
    if isinstance(test, list) and len(test) > 1 and test[0] in ("CMD", "CMD-SHELL"):
        return {"command": test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", " ".join(test[1:])]}
    if isinstance(test, list) and test == ["NONE"]:
        return None
    raise source.error(at + ("test",), f"healthcheck test {test!r} is not supported (use [\"CMD\", ...], "
                                       "[\"CMD-SHELL\", \"...\"] or a string)")


def _aliases(value: Any, at: Path_, source: SourceMap) -> list[str]:
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return [a for options in value.values() if isinstance(options, dict) for a in options.get("aliases", [])]
    raise source.error(at, "networks is a list of network names or a mapping with aliases")


def _bind_mount(value: Any, at: Path_, source: SourceMap) -> dict[str, str]:
    text = value if isinstance(value, str) else None
    if isinstance(value, dict) and value.get("type") == "bind":
        text = f"{value.get('source')}:{value.get('target')}"
    parts = (text or "").split(":")
    if len(parts) < 2 or not parts[0].startswith((".", "/")):
        raise source.error(at, f"volume {value!r} is not supported: only bind mounts of files next to the compose "
                               "file ('./conf:/etc/conf:ro'); containers are thrown away after each run")
    if len(parts) == 3 and "ro" not in parts[2].split(","):
        _warn(source, at, f"mode '{parts[2]}': the harness mounts files read-only")
    return {"source": parts[0], "target": parts[1]}


def _build(value: dict[str, Any], at: Path_, source: SourceMap) -> dict[str, Any]:
    unknown = set(value) - {"context", "dockerfile", "args"}
    if unknown:
        raise source.error(at, f"build key(s) {', '.join(sorted(unknown))} not supported "
                               "(supported: context, dockerfile, args)")
    build = dict(value)
    if isinstance(build.get("args"), list):
        build["args"] = dict(str(a).partition("=")[::2] for a in build["args"])
    return build
