"""Topology file -> validated TopologySpec. Reads our YAML format or a docker-compose file."""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.errors import TopologyFileError
from harness.model import TopologySpec
from harness.plan import DependencyCycle, StartPlan
from harness.source import Path_, SourceMap, dotted_path, load_yaml

COMPOSE_FILE = re.compile(r"^(docker-)?compose([.-].*)?\.ya?ml$")


def is_compose_file(file: Path, data: Any) -> bool:
    """Compose by its usual file name, or by keys only compose files have at the top."""
    if COMPOSE_FILE.match(file.name):
        return True
    return isinstance(data, dict) and bool({"version", "networks", "volumes"} & set(data))


def load_topology(file: str | Path) -> TopologySpec:
    """Load and validate a topology or compose file. Raises TopologyFileError naming file:line."""
    path = Path(file)
    data, source = load_yaml(path)
    if is_compose_file(path, data):
        from harness.compose import compose_to_topology

        data, source = compose_to_topology(data, source)
    if not isinstance(data, dict):
        raise TopologyFileError(f"{path.name}:1", "a topology file is a mapping with a 'services' key")
    try:
        spec = TopologySpec.model_validate({**data, "file": path.resolve()})
    except ValidationError as exc:
        raise _file_error(exc, source) from None
    _check_references(spec, source)
    return spec


def _check_references(spec: TopologySpec, source: SourceMap) -> None:
    names = list(spec.services)
    for name, service in spec.services.items():
        for key in ("depends_on", "consumes"):
            for index, other in enumerate(getattr(service, key)):
                path: Path_ = ("services", name, key, index)
                if other == name:
                    raise source.error(path, f"'{name}' cannot list itself")
                if other not in spec.services:
                    raise source.error(path, f"'{other}' is not a service{_suggest(other, names)}")
        if service.build:
            context = spec.base_dir / service.build.context
            if not context.is_dir():
                raise source.error(("services", name, "build"), f"build context '{service.build.context}' is not a "
                                   f"directory (looked in {context})")
            if not (context / service.build.dockerfile).is_file():
                raise source.error(("services", name, "build"), f"no Dockerfile '{service.build.dockerfile}' in "
                                   f"{context}")
        for index, mount in enumerate(service.mounts):
            if not (spec.base_dir / mount.source).exists():
                raise source.error(("services", name, "mounts", index),
                                   f"mount source '{mount.source}' does not exist (paths are relative to "
                                   f"{spec.base_dir})")
    try:
        StartPlan.from_spec(spec)
    except DependencyCycle as cycle:
        raise source.error(("services", cycle.names[0], "depends_on"), str(cycle)) from None


def _suggest(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _file_error(exc: ValidationError, source: SourceMap) -> TopologyFileError:
    messages = [_describe(error, source) for error in exc.errors()]
    first = messages[0]
    rest = [f"\n{where}: {message}" for where, message in messages[1:]]
    return TopologyFileError(first[0], first[1] + "".join(rest))


def _describe(error: Any, source: SourceMap) -> tuple[str, str]:
    loc: Path_ = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        message = f"unknown key '{loc[-1]}'{_suggest(str(loc[-1]), allowed)}; allowed: {', '.join(allowed)}"
        path = loc
    elif kind == "missing":
        message, path = f"required key '{loc[-1]}' is missing", loc[:-1]
    elif kind in ("value_error", "assertion_error"):
        message, path = str(error["msg"]).removeprefix("Value error, "), loc
    else:
        message, path = f"{error['msg']} (found {error['input']!r})", loc
    where = source.where(path)
    dotted = dotted_path(path)
    return where, f"{dotted}: {message}" if dotted else message


def _fields_at(loc: Path_) -> list[str]:
    """Field names of the model that sits at `loc` in a TopologySpec (for 'allowed keys' and suggestions)."""
    annotation: Any = TopologySpec
    for part in loc:
        annotation = _step(annotation, part)
    model = _model_in(annotation)
    return [n for n, f in model.model_fields.items() if not f.exclude] if model else []


def _step(annotation: Any, part: str | int) -> Any:
    model = _model_in(annotation)
    if model is not None and isinstance(part, str) and part in model.model_fields:
        return model.model_fields[part].annotation
    for arg in typing.get_args(annotation) or ():
        if typing.get_origin(annotation) is dict:
            return typing.get_args(annotation)[1]
        if typing.get_origin(annotation) is list:
            return arg
    return annotation


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                return arg
    return None
