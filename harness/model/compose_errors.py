"""Docker Compose's own errors about a file, said at `file:line` where they can be found, with the near miss for an
unknown key or service (harness.model.compose hands them here when Compose refuses the file)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from harness.errors import TopologyFileError
from harness.model.compose_keys import known
from harness.model.source import Path_, SourceMap, dotted_path, load_yaml

# every service key of the Compose specification, for "did you mean" on a near miss
COMPOSE_SERVICE_KEYS = sorted(known("service"))
COMPOSE_TOP_KEYS = ["configs", "include", "models", "name", "networks", "secrets", "services", "version", "volumes"]
HEALTH_KEYS = ["disable", "interval", "retries", "start_interval", "start_period", "test", "timeout"]


VALIDATION = re.compile(r"^validating (?P<file>.+?): (?P<path>\S*)\s*additional properties '(?P<key>[^']+)' not "
                        r"allowed$")
UNIQUE_NAME = re.compile(r"can't set container_name and (?P<name>\S+) as container name must be unique")
AT_PATH = re.compile(r"^(?:validating (?P<file>.+?): |error while interpolating )?(?P<path>services\.[\w.-]+?):? ")
SERVICE = re.compile(r'^service "(?P<name>[^"]+)" (?:depends on undefined service "(?P<missing>[^"]+)")?')
YAML_LINE = re.compile(r"^(?:(?P<file>/\S+?): )?yaml: line (?P<line>\d+): (?P<problem>.*)$")


def compose_error(file: Path, message: str) -> TopologyFileError:
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
    if match := UNIQUE_NAME.search(first):  # Compose says `services.scale`: the service's line, not `services:`
        return TopologyFileError(lines.where(("services", match["name"])), f"Docker Compose: {message}")
    required = [line for line in message.splitlines() if "is missing a value" in line and AT_PATH.match(line)]
    if len(required) > 1:  # every missing required variable, in file order (Compose names one per run)
        placed = sorted((lines.line(path := tuple(m["path"].split("."))), lines.where(path), line)
                        for line in required if (m := AT_PATH.match(line)))
        return TopologyFileError(placed[0][1], f"Docker Compose: {len(placed)} required variables are missing a "
                                               "value:\n" + "\n".join(f"{where}: {line}" for _, where, line in placed))
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
        return sorted(known("build"))
    return []
