"""The reference pages, rendered from the code when the site is built (an mkdocs hook, `hooks:` in mkdocs.yml).

A page asks for a table with a marker line, `<!-- reference: NAME -->`, replaced by `RENDERERS[NAME]()`:

    options        every option of the CLI and the pytest plugin, with its ini key, from harness.options' table
    topology-keys  every key of a topology file (and of `x-topology:` in a compose file), from the model's field
                   descriptions                                                             (`topology_keys()`)
    exit-codes     the CLI's exit codes, from harness.errors                                (`exit_codes()`)
    errors         every error class of harness.errors: its exit code, its fields, its docstring
    compose-keys   every key of the Compose specification: honoured, ignored (why) or refused (why, and what
                   Compose does), from harness.model.compose_keys                          (`compose_keys_reference()`)

Each renderer reads the code only (no Docker, nothing written): tests/unit/test_docs.py calls them too.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

MARKER = re.compile(r"^<!-- reference: ([a-z-]+) -->$", re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:  # noqa: ARG001 - mkdocs' signature
    """mkdocs event: each marker line becomes its table. An unknown name stops the build (KeyError)."""
    return MARKER.sub(lambda match: RENDERERS[match[1]](), markdown)


# --- options ---------------------------------------------------------------------------------------------------------

# how the table's features are titled on the page, in this order; the one-command options follow under their command
FEATURES = {"topology": "The topology (every command that reads one, and pytest)", "session": "The pytest session",
            "contracts": "Contracts", "fuzz": "Fuzzing", "report": "Reports"}


def options() -> tuple[Any, ...]:
    """Every option of both front-ends: harness.options' table (`Option` records: name, feature, help, kind, default,
    metavar, cli, commands, pytest, ini, ...), in its order."""
    from harness.options import options as table

    return table()


def options_reference() -> str:
    from harness.options import COMMANDS

    groups: dict[str, list[Any]] = {}
    for option in options():
        groups.setdefault(option.feature, []).append(option)
    order = [*FEATURES, *(feature for feature in groups if feature not in FEATURES)]
    out = []
    for feature in order:
        title = FEATURES.get(feature) or f"`harness {feature}`"
        out += [f"### {title}", ""] + ([f"{_cell(COMMANDS[feature]).capitalize()}.", ""] if feature in COMMANDS else [])
        out += ["| `harness` | pytest | ini key | value | default | what it does |", "|---|---|---|---|---|---|"]
        out += [f"| {_cli_cell(o)} | {_code(o.pytest or '')} | {_code(o.ini or '')} | {_value(o)} | "
                f"{_code(_default(o.default))} | {_cell(o.help)} |" for o in groups.get(feature, [])]
        out.append("")
    return "\n".join(out)


def _cli_cell(option: Any) -> str:
    if not option.cli:
        return ""
    from harness.options.table import TOPOLOGY_COMMANDS

    flags = ", ".join(f"`{flag}`" for flag in option.cli)
    where = "every command that reads a topology" if option.commands == TOPOLOGY_COMMANDS else ", ".join(
        option.commands)
    return f"{flags} ({where})"


def _value(option: Any) -> str:
    if option.kind is bool:
        return "(a switch)"
    metavar = option.metavar or option.name.upper()
    return _code(metavar.replace("|", ", ")) + (" (repeatable)" if option.repeatable else "")


def _default(value: Any) -> str:
    if value in (None, False, [], ()):
        return ""
    return str(value)


# --- topology keys ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Key:
    """One key of a topology file: its dotted path (`services.NAME.ready.http.port`), the type it takes, its
    default ('' when required) and its description."""

    path: str
    type: str
    default: str
    description: str


def topology_keys() -> list[Key]:
    """Every key the model accepts, depth first from `TopologySpec`; each nested model is listed once, where it is
    first met (a Healthcheck's keys under services.NAME.healthcheck, ...)."""
    from harness.model.topology import TopologySpec

    return list(_keys(TopologySpec, "", set()))


def _keys(model: type[BaseModel], prefix: str, seen: set[type]) -> Iterator[Key]:
    from harness.model.base import internal

    seen.add(model)
    for name, field in model.model_fields.items():
        if internal(field):  # set by the compose reader: no key a user writes
            continue
        key = field.alias or name
        path = f"{prefix}{key}"
        nested = [t for t in _leaf_types(field.annotation) if isinstance(t, type) and issubclass(t, BaseModel)]
        yield Key(path, _type_name(field.annotation), _field_default(name, field),
                  field.description or _first_paragraph(nested[0]) if nested else field.description or "")
        for inner in nested:
            if inner not in seen:
                step = ".NAME." if typing.get_origin(_unoptional(field.annotation)) is dict else "."
                step = "[]." if typing.get_origin(_unoptional(field.annotation)) is list else step
                yield from _keys(inner, path + step, seen)


def _leaf_types(annotation: Any) -> list[Any]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _leaf_types(args[0])
    return [t for arg in args for t in _leaf_types(arg)] if args else [annotation]


def _unoptional(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return _unoptional(typing.get_args(annotation)[0])
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unoptional(rest[0]) if len(rest) == 1 else annotation
    return annotation


def _type_name(annotation: Any) -> str:
    """As a person reads it: `list of str`, `int or str`, `mapping of str` (a model: `mapping`)."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or origin is typing.Union:
        return " or ".join(_type_name(a) for a in args if a is not type(None))
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in args)
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[1])}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "mapping"
    return getattr(annotation, "__name__", str(annotation))


def _field_default(name: str, field: Any) -> str:
    if field.is_required():
        return ""
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined or value is None:
        return ""
    if isinstance(value, BaseModel):
        return ""
    if name == "mode" and isinstance(value, int):
        return f"0{value:o}"  # permission bits, as written in a file
    return repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)


def _first_paragraph(model: type) -> str:
    own = model.__dict__.get("__doc__")  # not an inherited one (BaseModel's)
    return inspect.cleandoc(own).split("\n\n")[0].replace("\n", " ") if own else ""


def topology_keys_reference() -> str:
    from harness.model.compose_keys import HONOURED

    mapped = tuple(HONOURED["service"])
    out = ["| key | type | default | in a compose file | what it is |", "|---|---|---|---|---|"]
    for key in topology_keys():
        out.append(f"| `{key.path}` | {key.type} | {_code(key.default)} | {_in_compose(key.path, mapped)} | "
                   f"{_cell(key.description)} |")
    return "\n".join(out) + "\n"


# service keys a compose file gives through Compose's own keys (harness/model/compose.py maps them)
_FROM_COMPOSE = {
    "aliases": "`networks: {default: {aliases}}`, `container_name`",
    "mounts": "bind mounts of `volumes:`; `secrets:`/`configs:` with a `file:`",
    "files": "`secrets:`/`configs:` from `environment:` or `content:`",
    "job": "`depends_on: {X: {condition: service_completed_successfully}}` on a dependent",
    "restart_on_replace": "`depends_on: {X: {restart: true}}`",
    "env_file": "`env_file` (read by Compose)",
    "device_requests": "`gpus`, `deploy.resources.reservations.devices`",
    "mem_limit": "same key, `deploy.resources.limits.memory`",
    "mem_reservation": "same key, `deploy.resources.reservations.memory`",
    "cpus": "same key, `deploy.resources.limits.cpus`",
    "pids_limit": "same key, `deploy.resources.limits.pids`",
}


def _in_compose(path: str, mapped: tuple[str, ...]) -> str:
    """Where a compose file gives the key: Compose's own key of the same name, Compose's keys that the harness maps
    to it, or `x-topology:`. A key inside a Compose key is Compose's too (no entry: its parent's says it)."""
    parts = path.split(".")
    if parts[0] != "services":
        if parts[0] in ("name", "volumes"):
            return "" if len(parts) > 2 else f"`{parts[0]}`"
        return "`x-topology:` at the top"
    if len(parts) < 3:
        return "`services`"
    key = parts[2].removesuffix("[]")
    inside = len(parts) > 3 or parts[2].endswith("[]")
    if key in _FROM_COMPOSE:
        return "" if inside else _FROM_COMPOSE[key]
    if key in mapped:
        return "" if inside else "same key"
    return "`x-topology:` in the service"


# --- compose keys ----------------------------------------------------------------------------------------------------

# how each place of a key is titled on the page, in this order
COMPOSE_PLACES = {"service": "A service (`services.NAME`)", "deploy": "A service's `deploy:`",
                  "build": "A service's `build:`",
                  "network": "A network (`networks.NAME`)", "volume": "A volume (`volumes.NAME`)",
                  "secret": "A secret (`secrets.NAME`)", "config": "A config (`configs.NAME`)",
                  "file": "The file (top-level keys)"}


def compose_keys_reference() -> str:
    """One table per place: each key of the Compose specification, what a test run does with it, and why."""
    from harness.model.compose_keys import HONOURED, IGNORED, REFUSED, kinds

    out = []
    for kind in kinds():
        rows = [(key, "honoured", how) for key, how in HONOURED[kind].items()]
        rows += [(key, "ignored (a note)", why) for key, why in IGNORED[kind].items()]
        rows += [(key, "**refused**", f"{why}. Docker Compose: {compose}")
                 for key, (why, compose) in REFUSED[kind].items()]
        out += [f"#### {COMPOSE_PLACES[kind]}", "", "| key | for a test run | how, or why |", "|---|---|---|"]
        out += [f"| `{key}` | {verdict} | {_cell(text)} |" for key, verdict, text in sorted(rows)]
        out.append("")
    return "\n".join(out)


# --- errors and exit codes -------------------------------------------------------------------------------------------

def exit_codes() -> list[tuple[int, str]]:
    """(code, meaning) as the docstring of harness.errors lists them, 130 and 143 (interrupted) added by the CLI."""
    import harness.errors

    lines = re.findall(r"^\s+(\d)\s+(.+)$", harness.errors.__doc__ or "", re.MULTILINE)
    return [(int(code), text) for code, text in lines] + [
        (130, "interrupted by Ctrl-C (SIGINT)"),
        (143, "interrupted by SIGTERM (a CI cancelling the job, `kill`): 128 + the signal, as a shell reports it; "
              "Docker Compose exits 130 for both")]


def exit_codes_reference() -> str:
    out = ["| exit code | meaning |", "|---|---|"]
    out += [f"| **{code}** | {_cell(text)} |" for code, text in exit_codes()]
    return "\n".join(out) + "\n"


def error_classes() -> list[type]:
    """Every error class of harness.errors (its `__all__`), bases first."""
    import harness.errors

    return [getattr(harness.errors, name) for name in harness.errors.__all__]


def errors_reference() -> str:
    import harness.errors

    out = []
    for cls in error_classes():
        bases = ", ".join(f"`{b.__name__}`" for b in cls.__bases__ if b is not object)
        fields = _fields(cls)
        out += [f"### `{cls.__name__}`", "",
                f"Exit code **{cls.exit_code}** · based on {bases}" + (f" · fields: {fields}" if fields else ""), "",
                inspect.getdoc(cls) or "", ""]
    assert harness.errors.HarnessError in error_classes()
    return "\n".join(out)


def _fields(cls: type) -> str:
    """The fields a class declares: its constructor's parameters and its own annotated attributes (not ClassVars)."""
    names = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "fields")]
    names += [name for name, hint in cls.__dict__.get("__annotations__", {}).items() if "ClassVar" not in str(hint)]
    return ", ".join(f"`{n}`" for n in dict.fromkeys(names))


# --- table cells -----------------------------------------------------------------------------------------------------

def _cell(text: str) -> str:
    """One table cell: on one line, `|` escaped, and `{` outside code spans as an entity (else Markdown's attr_list
    takes a trailing `{...}` for attributes and drops it)."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    return "`".join(part if i % 2 else part.replace("{", "&#123;") for i, part in enumerate(parts))


def _code(text: str) -> str:
    return f"`{text}`" if text else ""


RENDERERS: dict[str, Callable[[], str]] = {
    "options": options_reference,
    "topology-keys": topology_keys_reference,
    "exit-codes": exit_codes_reference,
    "errors": errors_reference,
    "compose-keys": compose_keys_reference,
}
