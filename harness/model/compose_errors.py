"""Docker Compose's own errors about a file, said at `file:line` where they can be found, with the near miss for an
unknown key or service (harness.model.compose hands them here when Compose refuses the file)."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

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
# Compose's path of an interpolated value: keys joined by '.', a list item as `[]` (`include.[].path`)
REQUIRED_AT = re.compile(r"^error while interpolating (?P<path>\S+?): required variable (?P<name>\S+) is missing a "
                         r"value")
# go-yaml's syntax errors: `yaml: line N: ...`, of an include `failed to parse FILE: yaml: line N: ...`, a duplicate
# key `failed to parse FILE: line N: mapping key "x" already defined at line M`
YAML_LINE = re.compile(r"^(?:failed to parse )?(?:(?P<file>/\S+?): )?(?:yaml: )?line (?P<line>\d+): (?P<problem>.*)$")


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
        return _invalid_yaml(Path(match["file"]) if match["file"] else file, int(match["line"]), match["problem"],
                             first.removeprefix(f"{match['file']}: "))  # compose_cli named the file of several
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
    required = [(m, line) for line in message.splitlines() if (m := REQUIRED_AT.match(line.strip()))]
    if required:  # every missing required variable, anywhere in the file, in file order (Compose names one per run)
        placed = sorted(_placed(file, data, lines, m["path"], m["name"]) + (line.strip(),) for m, line in required)
        if len(placed) == 1:
            return TopologyFileError(placed[0][1], f"Docker Compose: {message}")
        return TopologyFileError(placed[0][1], f"Docker Compose: {len(placed)} required variables are missing a "
                                               "value:\n" + "\n".join(f"{where}: {line}" for _, where, line in placed))
    if match := AT_PATH.match(first):
        return TopologyFileError(lines.where(tuple(match["path"].split("."))), f"Docker Compose: {message}")
    return TopologyFileError(file.name, f"Docker Compose: {message}")


def _invalid_yaml(file: Path, line: int, problem: str, said: str) -> TopologyFileError:
    """Compose's YAML syntax error, at the line of `file` where the problem is: go-yaml (Compose's parser) counts
    lines its own way for some errors (a tab on line 4 is `line 3`, a bad indentation on line 4 `line 1`), so the
    line is PyYAML's (where an unclosed `[`, `{` or quote began), with Compose's own words when its line differs."""
    try:
        load_yaml(file)
    except TopologyFileError as error:
        found = int(error.location.rpartition(":")[2]) if error.location.rpartition(":")[2].isdigit() else line
    else:
        found = line  # PyYAML reads it: Compose's line stands
    return TopologyFileError(f"{file.name}:{found}", f"invalid YAML: {problem} (Docker Compose"
                                                     + (f": {said})" if found != line else ")"))


def _placed(file: Path, data: Any, lines: SourceMap, dotted: str, variable: str) -> tuple[int, str]:  # noqa: ANN401
    """(order, `file:line`) of the value at Compose's `dotted` path that names `variable`: in `file`, else in a file it
    includes (Compose's message does not say which), else the file without a line."""
    path, whole = _walked(data, dotted, variable)
    if whole:
        return lines.line(path), lines.where(path)
    items = data.get("include") if isinstance(data, dict) else None
    for item in items if isinstance(items, list) else []:
        paths = item.get("path") if isinstance(item, dict) else item  # one path, or several merged
        for included in paths if isinstance(paths, list) else [paths]:
            try:
                document, found = load_yaml((file.parent / str(included)).resolve())
            except TopologyFileError:
                continue
            inner, whole = _walked(document, dotted, variable)
            if whole:
                return 10**6 + found.line(inner), found.where(inner)  # after the file's own
    return 0, file.name


def _walked(data: Any, dotted: str, variable: str) -> tuple[Path_, bool]:  # noqa: ANN401 - a YAML document
    """Compose's dotted path of an interpolated value (`services.web.environment.A`, `networks.front.name`,
    `include.[].path`) as the document's path: a key that holds dots (a label `com.example.x`) taken whole, a list
    item `[]` as the one that names `variable`; as far as it leads, and whether that is all the way."""
    parts, node = dotted.split("."), data
    path: Path_ = ()
    while parts:
        if isinstance(node, dict):
            key = next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in node), None)
            if key is None:
                break
            path, node, parts = (*path, key), node[key], parts[len(key.split(".")):]
        elif isinstance(node, list) and parts[0] == "[]":
            index = next((i for i, item in enumerate(node) if re.search(rf"\${{?{re.escape(variable)}\b", str(item))),
                         None)
            if index is None:
                break
            path, node, parts = (*path, index), node[index], parts[1:]
        else:
            break
    return path, not parts


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
