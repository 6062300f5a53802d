"""What every model of the topology is built on: port and name rules, and the strict base model whose bad values
are one TopologyFileError located by the class. Independent of Docker."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from harness.model.source import CallSource


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would take True as port 1
        raise ValueError(f"a port is a number, not {value!r}")
    return value


Port = Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=65535)]
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
PORT_TEXT = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$")  # 53/udp, 8000-8002, 8000-8002/tcp, 9999/sctp


def topology_name(text: str) -> str:
    """A topology name made valid as Compose makes a project name: lower case, only [a-z0-9_-], starting with a
    letter or digit ("My Project (copy)" -> "myprojectcopy")."""
    return re.sub(r"[^a-z0-9_-]", "", text.lower()).lstrip("_-")


def parse_port(value: int | str) -> tuple[list[int], str]:
    """`8000`, `"53/udp"`, `"8000-8002/tcp"`, `"9999/sctp"` -> ([container ports], protocol).

    Raises:
        ValueError: not one of those forms, or a port outside 1..65535.
    """
    match = PORT_TEXT.match(str(value))
    if not match:
        raise ValueError(f"port {value!r} is not a container port: N, 'N/udp', 'N/sctp', 'N-M' or 'N-M/udp'")
    first, last = int(match[1]), int(match[2] or match[1])
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"port {value!r} is outside 1..65535 (or its range is reversed)")
    return list(range(first, last + 1)), match[3] or "tcp"


def service_name_problem(name: object) -> str | None:
    """Why `name` cannot be a service name (it becomes a host name on the network), or None."""
    if isinstance(name, str) and SERVICE_NAME.match(name):
        return None
    return (f"service name {name!r} must be lower-case letters, digits, '-', '_' or '.', "
            "starting with a letter or digit (it becomes a host name on the network)")


def _valid_port(value: int | str) -> int | str:
    parse_port(value)  # a ValueError names the bad one
    return value


PortSpec = Annotated[int | str, BeforeValidator(_no_bool), AfterValidator(_valid_port)]


# Set while a model validates: a model met inside another's validation leaves its errors to the outer one (which
# locates them in the whole topology); only the outermost turns them into one TopologyFileError.
_validating: ContextVar[bool] = ContextVar("validating", default=False)


@contextmanager
def validating() -> Iterator[bool]:
    """Inside it, models leave their errors to the validation around them; yields whether this is the outermost."""
    if _validating.get():
        yield False
        return
    token = _validating.set(True)
    try:
        yield True
    finally:
        _validating.reset(token)


def checked(model: type[_M], data: Any, where: str) -> _M:
    """`model` made of `data` (a mapping of its keys), its problems one TopologyFileError located by `where` (e.g.
    `ready.tcp(...)`) and the dotted path of the key, as the topology file's are."""
    with validating() as outermost:
        if not outermost:
            return model.model_validate(data)
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            from harness.model.validate import file_error  # it knows the whole model: imported when needed

            raise file_error(exc, data, CallSource(where), model) from None


INTERNAL: dict[str, Any] = {"internal": True}  # json_schema_extra of a field a compose file's reading sets


def internal(field: FieldInfo) -> bool:
    """A field no user writes (INTERNAL): the compose reader sets it; written in a topology file, the builder or
    `ServiceSpec(...)` it is an unknown key, and the reference does not list it."""
    extra = field.json_schema_extra
    return isinstance(extra, dict) and extra.get("internal") is True


_compose_reading: ContextVar[bool] = ContextVar("compose_reading", default=False)


@contextmanager
def reading_compose(compose: bool) -> Iterator[None]:
    """`with reading_compose(True):` the models validated inside come from a compose file's reading (a ContextVar:
    pydantic's validation context does not reach a model inside another, made by its own __init__)."""
    token = _compose_reading.set(compose)
    try:
        yield
    finally:
        _compose_reading.reset(token)


def from_compose_only(value: Any) -> Any:
    """A field validator of an INTERNAL field: its value only from a compose file's reading, else the unknown-key
    error (pydantic's `extra_forbidden`, which the file's error says with the allowed keys)."""
    if not _compose_reading.get():
        raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted")
    return value


ComposeOnlyBool = Annotated[bool, BeforeValidator(from_compose_only)]  # an INTERNAL flag: see from_compose_only


class _Strict(BaseModel):
    """A model of the topology. Made directly (`ServiceSpec(image=..., ports=[8000])`), a bad value is one
    TopologyFileError located by the class (`ServiceSpec(...): ports[0]: ...`), not pydantic's own error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    if not TYPE_CHECKING:  # type checkers keep pydantic's typed signature of each model
        def __init__(self, /, **data: Any) -> None:
            # pydantic calls it for a model inside another too (a custom __init__): that one locates the errors
            with validating() as outermost:
                if not outermost:
                    super().__init__(**data)
                    return
                try:
                    super().__init__(**data)
                except ValidationError as exc:
                    from harness.model.validate import file_error  # it knows the whole model: imported when needed

                    raise file_error(exc, data, CallSource(f"{type(self).__name__}(...)"), type(self)) from None


_M = TypeVar("_M", bound=_Strict)
