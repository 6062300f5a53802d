"""CI annotations: a GitHub Actions workflow command (`::error file=F,line=N,title=T::MESSAGE`) per failing item (a
pact interaction, a drift of an interaction, a fuzzed operation's findings, a topology that did not start), and a
Markdown step summary. Where each item is in its file is found here too (`Location`): a pact's interaction, an
OpenAPI operation, a service of the topology file; pytest's items report it (their `location`, JUnit's file/line).

The rule: a failed and an error verdict are both `::error` (either stops a merge); an excluded or skipped one writes
nothing (its reason is in the report). Paths are relative to the repository root (GITHUB_WORKSPACE, else the current
folder)."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness import verdict
from harness.verdict import Outcome

if TYPE_CHECKING:
    from harness.model.topology import TopologySpec
    from harness.report.junit import Case

PACT_ARRAYS = ("interactions", "messages")  # read_pact's order: `interactions`, else V3 message pacts' `messages`


@dataclass(frozen=True)
class Location:
    """A place in a file: `line` 1-based (None: the file as a whole)."""

    file: Path
    line: int | None = None


@dataclass(frozen=True)
class Annotation:
    """One annotation: `title` names the item (its test name), `message` says what failed (may span lines)."""

    title: str
    message: str
    where: Location | None = None
    level: str = "error"


def enabled(mode: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether annotations are written: `github` always, `off` never, `auto` when GITHUB_ACTIONS is `true`."""
    environ = os.environ if environ is None else environ
    return mode == "github" or (mode == "auto" and environ.get("GITHUB_ACTIONS") == "true")


def _repository_root(environ: Mapping[str, str] | None = None) -> Path:
    """What annotation paths are relative to: GITHUB_WORKSPACE, else the current folder."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("GITHUB_WORKSPACE") or Path.cwd())


def _escape_data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF escaped as GitHub's runner reads them."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """A workflow command's property value: as a message, and `:` and `,` too."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(annotation: Annotation, root: Path) -> str:
    """The workflow command of `annotation`, one line: `::error file=a/b.json,line=12,title=T::MESSAGE`. The file is
    relative to `root` when under it, else absolute; `line` only with a file."""
    properties = []
    if annotation.where is not None:
        file = annotation.where.file
        try:
            shown = file.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            shown = file.resolve().as_posix()
        properties.append(f"file={_escape_property(shown)}")
        if annotation.where.line is not None:
            properties.append(f"line={annotation.where.line}")
    properties.append(f"title={_escape_property(annotation.title)}")
    return f"::{annotation.level} {','.join(properties)}::{_escape_data(annotation.message.rstrip())}"


def commands(annotations: Iterable[Annotation], root: Path | None = None) -> list[str]:
    root = _repository_root() if root is None else root
    return [command(annotation, root) for annotation in annotations]


# --- where things are ---------------------------------------------------------------------------------------------

def json_array_lines(text: str, keys: tuple[str, ...] = PACT_ARRAYS) -> dict[str, list[int]]:
    """{key: the 1-based line where each element of the top-level array `key` starts} for the `keys` the JSON
    object `text` has (a key given twice: its last array, as json.loads keeps). Tolerant: text that is not JSON
    gives what was found before the problem."""
    found: dict[str, list[int]] = {}
    depth, line, index, size = 0, 1, 0, len(text)
    key: str | None = None  # the last string at depth 1 followed by `:`
    last_string: str | None = None
    collecting: list[int] | None = None  # the elements' lines of the array being read
    while index < size:
        char = text[index]
        if char == '"':
            end = index + 1
            while end < size and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            try:
                last_string = json.loads(text[index:end + 1])
            except ValueError:
                last_string = None
            index = end + 1
            continue
        if char == "\n":
            line += 1
        elif char == ":" and depth == 1:
            key = last_string
        elif char == "," and depth == 1:
            key = None
        elif char in "{[":
            if collecting is not None and depth == 2:
                collecting.append(line)
            if char == "[" and depth == 1 and key in keys:
                collecting = found[key] = []
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 1:
                collecting = None
        index += 1
    return found


def pact_lines(path: Path) -> list[int]:
    """The line of each interaction of a pact file, in the pact's order ([] when it cannot be read)."""
    return list(_pact_lines(path, *_version(path)))


@functools.lru_cache(maxsize=64)  # every item of a file asks: read each version of a file once
def _pact_lines(path: Path, *version: int) -> tuple[int, ...]:
    try:
        found = json_array_lines(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return ()
    return tuple(next((found[key] for key in PACT_ARRAYS if key in found), []))


def _version(path: Path) -> tuple[int, int]:
    """What tells two versions of a file apart: its modification time and size ((0, 0): it cannot be read)."""
    try:
        stat = path.stat()
    except OSError:
        return 0, 0
    return stat.st_mtime_ns, stat.st_size


def interaction_location(path: Path, labels: list[str], label: str | None) -> Location:
    """Where interaction `label` (one of the pact's `labels`, in its order) starts in pact `path`; the file as a whole
    when `label` is None or its line is not found."""
    lines = pact_lines(path) if label is not None and label in labels else []
    index = labels.index(label) if lines and label is not None else -1
    return Location(path, lines[index] if 0 <= index < len(lines) else None)


def yaml_lines(path: Path) -> dict[tuple[str, ...], int]:
    """{(key, key, ...): 1-based line} of every mapping key of a YAML or JSON file ({} when it cannot be read)."""
    return dict(_yaml_lines(path, *_version(path)))


@functools.lru_cache(maxsize=64)
def _yaml_lines(path: Path, *version: int) -> tuple[tuple[tuple[str, ...], int], ...]:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return ()
    lines: dict[tuple[str, ...], int] = {}

    def walk(node: Any, at: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                here = (*at, str(key.value))
                lines[here] = key.start_mark.line + 1
                walk(value, here)
    walk(node, ())
    return tuple(lines.items())


def service_location(spec: TopologySpec, service: str | None) -> Location | None:
    """The line of `services.SERVICE` in the topology's files (the last file of merged compose files that names it,
    as Compose keeps its value); the first file when `service` is None or not found; None for a topology built in
    Python."""
    if not spec.files:
        return None
    if service is not None:
        for file in reversed(spec.files):
            line = yaml_lines(file).get(("services", service))
            if line is not None:
                return Location(file, line)
    return Location(spec.files[0])


def operation_location(spec: TopologySpec, service: str, operation: str) -> Location | None:
    """Where a fuzzed operation (`GET /items/{id}`) is: its line in the service's OpenAPI document when `openapi:` is
    a file (the document with no line for the service as a whole: nothing of it is at line 1); else (a document the
    service serves) the service in the topology file."""
    location = spec.services[service].openapi if service in spec.services else None
    if location and not location.startswith(("/", "http://", "https://")):
        document = spec.base_dir / location
        method, _, path = operation.partition(" ")
        line = yaml_lines(document).get(("paths", path, method.lower())) if path else None
        if line is not None or document.is_file():
            return Location(document, line)
    return service_location(spec, service)


# --- annotations of each feature's results ------------------------------------------------------------------------

def case_annotations(cases: Iterable[Case], base: Path | None = None) -> list[Annotation]:
    """One per failed or errored case (a pact interaction, a drift check of one, a fuzzed operation: the JUnit cases
    of harness.report), at the case's file and line (`file` relative to `base`, default the current folder)."""
    base = Path.cwd() if base is None else base
    return [Annotation(case.name, message, Location(base / case.file, case.line) if case.file else None)
            for case in cases for message in [case.failure or case.error] if message is not None]


def file_line_location(location: str, files: Iterable[Path]) -> Location | None:
    """`NAME:LINE` or `NAME` of a topology file error (harness.model.source) as the place in the one of `files` it
    names; None when it names none of them."""
    name, _, line = location.rpartition(":") if location.rpartition(":")[2].isdigit() else (location, "", "")
    for file in files:
        if name in (file.name, str(file)):
            return Location(file, int(line) if line else None)
    return None


def annotate_error(error: BaseException, mode: str, title: str, write: Callable[[str], None]) -> None:
    """An error that ended a run (`title`: the command) and was not annotated at its place yet (start_annotation,
    a topology file error): one annotation without a place, and the step summary (--annotations: see write_ci)."""
    if getattr(error, "annotated", False):
        return
    write_ci(mode, title, [], write, more=[Annotation(title, str(error))])


def mark_annotated(error: BaseException) -> None:
    """`error` has its annotation (at its place): annotate_error leaves it."""
    error.annotated = True  # type: ignore[attr-defined]


def start_annotation(error: BaseException, spec: TopologySpec | None) -> Annotation:
    """A topology that did not start (or whose file is invalid): at the service the error names in the topology
    file, else at the file."""
    name = spec.name if spec is not None else "topology"
    where = service_location(spec, getattr(error, "service", None)) if spec is not None else None
    return Annotation(f"topology {name} did not start", str(error), where)


# --- the step summary -----------------------------------------------------------------------------------------------

def _case_counts(cases: Iterable[Case]) -> dict[Outcome, int]:
    """{passed, failed, error, excluded: how many cases}."""
    return verdict.counts(case.outcome for case in cases)


def step_summary(title: str, counts: Mapping[Outcome, int], failing: Iterable[str] = (), matrix: str = "",
                 links: Iterable[Path] = (), notes: Iterable[str] = (),
                 environ: Mapping[str, str] | None = None) -> str:
    """The Markdown of a run's step summary: a heading, the counts (then `notes`: more counts, e.g. a fuzz
    baseline's), the failing items (one line each), the contract `matrix` (Markdown: matrix_markdown), the report
    files. A summary page resolves no relative link, and a file of the run is not on the web: the files are named
    by their paths (relative to the repository root: what an upload-artifact step gives), with a link to the run's
    page (its artifacts) when GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID say where it is."""
    environ = os.environ if environ is None else environ
    parts = [f"### {title}", "", " | ".join(f"**{n}** {outcome}" for outcome, n in counts.items())]
    for note in notes:
        parts += ["", _markdown_text(note)]
    failing = list(failing)
    if failing:
        parts += ["", *(f"- {_markdown_text(item)}" for item in failing)]
    if matrix.strip():
        parts += ["", "<details open><summary>contract matrix</summary>", "", matrix.strip("\n"), "", "</details>"]
    shown = [_relative(link, _repository_root(environ)) for link in links]
    if shown:
        run = run_url(environ)
        where = f" (the run's artifacts, when uploaded: [{run}]({run}))" if run else ""
        parts += ["", "Reports: " + ", ".join(f"`{text}`" for text in shown) + where]
    return "\n".join(part.rstrip() for part in parts) + "\n"


def run_url(environ: Mapping[str, str] | None = None) -> str:
    """The page of this workflow run (`$GITHUB_SERVER_URL/$GITHUB_REPOSITORY/actions/runs/$GITHUB_RUN_ID`), "" when
    one of them is not set."""
    environ = os.environ if environ is None else environ
    parts = [environ.get(name, "") for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    return f"{parts[0].rstrip('/')}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else ""


def write_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append `markdown` to the file GITHUB_STEP_SUMMARY names (None: it is not set)."""
    environ = os.environ if environ is None else environ
    target = environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    with open(target, "a", encoding="utf-8") as file:
        file.write(markdown + "\n")
    return Path(target)


def write_ci(mode: str, title: str, cases: list[Case], write: Callable[[str], None], *, matrix: str = "",
             links: Iterable[Path | None] = (), more: Iterable[Annotation] = (), notes: Iterable[str] = ()) -> None:
    """What a run gives a CI when annotations are on (`mode`, see enabled): `write` (stdout, a line at a time) gets
    a workflow command per failed or errored case and per annotation of `more` (a topology that did not start); the
    step summary (`title`, the counts and `notes`, the failing items, the contract `matrix` (Markdown), the written
    report files) is appended to $GITHUB_STEP_SUMMARY when it is set."""
    if not enabled(mode):
        return
    annotations = [*case_annotations(cases), *more]
    for line in commands(annotations):
        write(line)
    failing = [f"{a.title}: {(a.message.splitlines() or [''])[0]}" for a in annotations]
    counts: dict[Outcome, int] = _case_counts(cases) if cases or not annotations else {"error": len(annotations)}
    write_step_summary(step_summary(title, counts, failing, matrix, [link for link in links if link is not None],
                                    notes))


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _markdown_text(text: str) -> str:
    """One line of text shown as it is in Markdown (its special characters escaped)."""
    first = (text.splitlines() or [""])[0]
    return "".join(f"\\{c}" if c in "\\`*_{}[]<>()#+-.!|" else c for c in first)
