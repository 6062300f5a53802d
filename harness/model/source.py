"""Read YAML and remember the line of every key and list item, so errors can say `file:line`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import TopologyFileError

Path_ = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Maps a path of keys/indexes in the loaded document to a 1-based line of the file."""

    file: Path
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1

    def where(self, path: Path_) -> str:
        line = self.line(path)
        return f"{getattr(line, 'file', self.file).name}:{line}"  # a _FileLine: of another file (an override)

    def error(self, path: Path_, message: str) -> TopologyFileError:
        dotted = dotted_path(path)
        return TopologyFileError(self.where(path), f"{dotted}: {message}" if dotted else message)


class _FileLine(int):
    """A line of another file than its map's: a key of a compose override file (`-f a.yml -f b.yml`)."""

    file: Path

    def __new__(cls, line: int, file: Path) -> _FileLine:
        made = super().__new__(cls, line)
        made.file = file
        return made


class NamedSource:
    """Where problems of a topology that was not read from a file are: its name, then the dotted path of the key
    (`topology 'shop': services.api.depends_on[0]: ...`); there is no file and no line to name."""

    def __init__(self, name: object) -> None:
        self.name = name

    def where(self, path: Path_) -> str:
        return f"topology {self.name!r}" if isinstance(self.name, str) and self.name else "topology"

    def error(self, path: Path_, message: str) -> TopologyFileError:
        dotted = dotted_path(path)
        return TopologyFileError(self.where(path), f"{dotted}: {message}" if dotted else message)


class CallSource:
    """Where problems of a model made directly in Python are: the call (`ServiceSpec(...)`, `ready.tcp(...)`), then
    the dotted path of the key."""

    def __init__(self, call: str) -> None:
        self.call = call

    def where(self, path: Path_) -> str:
        return self.call

    def error(self, path: Path_, message: str) -> TopologyFileError:
        dotted = dotted_path(path)
        return TopologyFileError(self.call, f"{dotted}: {message}" if dotted else message)


Source = SourceMap | NamedSource | CallSource  # what locates a problem: file:line, the topology's name, or the call


def merged(maps: list[SourceMap]) -> SourceMap:
    """Lines of files merged by Compose (`-f a.yml -f b.yml`), as one map of the first file: each key at its line in
    the file that holds the longest part of its path, the later file's for a key in both (its value is the one
    Compose kept)."""
    lines: dict[Path_, int] = {}
    for source in maps:
        lines.update({path: _FileLine(line, getattr(line, "file", source.file))  # (`extends`: of a third file)
                      for path, line in source.lines.items()})
    return SourceMap(maps[0].file, lines)


def add_extended(source: SourceMap, document: Any, file: Path) -> None:
    """Add to `source` (the lines of `file`, whose YAML is `document`) the lines of the keys its services get through
    Compose's `extends`, each at its file and line: a key a service does not write itself is taken from the service
    it extends (in another file, relative to the extending one, or the same file), and so on down the chain."""
    for name in _services(document):
        _extend(source, ("services", name), file, document, name, frozenset())


def _services(document: Any) -> dict[str, Any]:
    services = document.get("services") if isinstance(document, dict) else None
    return services if isinstance(services, dict) else {}


def _extend(source: SourceMap, into: Path_, file: Path, document: Any, name: str,
            seen: frozenset[tuple[Path, str]]) -> None:
    service = _services(document).get(name)
    extends = service.get("extends") if isinstance(service, dict) else None
    base = extends if isinstance(extends, str) else extends.get("service") if isinstance(extends, dict) else None
    given = extends.get("file") if isinstance(extends, dict) else None
    base_file = (file.parent / given).resolve() if isinstance(given, str) else file
    if not isinstance(base, str) or (base_file, base) in seen:  # none, or a cycle (Compose refuses it)
        return
    try:
        base_document, base_lines = load_yaml(base_file)
    except TopologyFileError:  # unreadable, or named through a variable: Compose said what it read
        return
    for path, line in base_lines.lines.items():
        if path[:2] == ("services", base) and len(path) > 2 and path[2] != "extends":
            source.lines.setdefault(into + path[2:], _FileLine(line, base_file))  # the service's own key wins
    _extend(source, into, base_file, base_document, base, seen | {(base_file, base)})


def dotted_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(file: Path) -> tuple[Any, SourceMap]:
    """Parse `file`; return the plain data and a SourceMap. Syntax errors and duplicate keys are TopologyFileErrors."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyFileError(str(file), f"cannot read the topology file: {exc.strerror}") from None
    source = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark and mark and (mark.line >= len(text.splitlines()) or str(exc.context).startswith(
                ("while parsing a flow", "while scanning a quoted"))):
            mark = exc.context_mark  # ran off the end, or an unclosed [ { or quote: say where it began
        line = min(mark.line + 1, len(text.splitlines())) or 1 if mark else 1  # the end of the file: its last line
        raise TopologyFileError(f"{file.name}:{line}", f"invalid YAML: {exc.problem or exc}") from None
    if node is not None:
        _record_lines(node, (), source)
    return data, source


def _record_lines(node: yaml.Node, path: Path_, source: SourceMap) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` keys keep the line of the mapping they extend
            key = key_node.value
            if key in seen:
                where = f"{source.file.name}:{key_node.start_mark.line + 1}"
                raise TopologyFileError(where, f"{dotted_path(path + (key,))}: duplicate key '{key}'")
            seen.add(key)
            source.lines[path + (key,)] = key_node.start_mark.line + 1
            _record_lines(value_node, path + (key,), source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            source.lines[path + (index,)] = item.start_mark.line + 1
            _record_lines(item, path + (index,), source)
