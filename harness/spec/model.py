"""The validated, typed topology: what the file says, independent of Docker."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

Port = Annotated[int, Field(ge=1, le=65535)]
SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def service_name_problem(name: object) -> str | None:
    """Why `name` cannot be a service name (it becomes a host name on the network), or None."""
    if isinstance(name, str) and SERVICE_NAME.match(name):
        return None
    return (f"service name {name!r} must be lower-case letters, digits, '-', '_' or '.', "
            "starting with a letter or digit (it becomes a host name on the network)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpCheck(_Strict):
    port: Port
    path: str = "/"
    status: int = 200


class ReadyProbe(_Strict):
    """How to tell a service is ready. Exactly one of http, tcp, log, command."""

    http: HttpCheck | None = None
    tcp: Port | None = None
    log: str | None = None
    times: int = Field(default=1, ge=1)
    command: str | list[str] | None = None
    interval: float = Field(default=0.1, gt=0, description="seconds between attempts")

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> ReadyProbe:
        kinds = [k for k in ("http", "tcp", "log", "command") if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none"
            raise ValueError(f"needs exactly one of http, tcp, log, command (found: {found})")
        if self.times != 1 and self.log is None:
            raise ValueError("'times' only applies to a 'log' probe")
        return self

    def describe(self) -> str:
        if self.http:
            return f"http GET :{self.http.port}{self.http.path} -> {self.http.status}"
        if self.tcp:
            return f"tcp :{self.tcp}"
        if self.log is not None:
            return f"log line {self.log!r}" + (f" x{self.times}" if self.times > 1 else "")
        command = self.command if isinstance(self.command, str) else " ".join(self.command or [])
        return f"command `{command}` exits 0"

    def ports(self) -> list[int]:
        """Container ports the probe talks to from the host (so they must be published)."""
        if self.http:
            return [self.http.port]
        return [self.tcp] if self.tcp else []


class BuildSpec(_Strict):
    context: str
    dockerfile: str = "Dockerfile"
    args: dict[str, str] = Field(default_factory=dict)

    @field_validator("args", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        return {k: str(v) for k, v in value.items()} if isinstance(value, dict) else value


class Mount(_Strict):
    """A file or directory mounted read-only; `source` is relative to the topology file."""

    source: str
    target: str

    @model_validator(mode="before")
    @classmethod
    def _from_short_form(cls, value: Any) -> Any:
        if isinstance(value, str):
            source, sep, target = value.partition(":")
            if not sep or not target.startswith("/"):
                raise ValueError("a mount is 'SOURCE:/absolute/target' or {source: ..., target: ...}")
            return {"source": source, "target": target}
        return value


class ClientCredentials(_Strict):
    """A bearer token from another service of the topology (OAuth2 client_credentials), refreshed when it expires."""

    token_service: str
    token_path: str = "/oauth/token"
    client_id: str
    client_secret: str
    audience: str | None = None


class AuthSpec(_Strict):
    """How a tool (fuzzing) authenticates to a service. Exactly one of the three."""

    client_credentials: ClientCredentials | None = None
    headers: dict[str, str] | None = None  # fixed headers, e.g. an API key
    hook: str | None = Field(default=None, pattern=r"^[\w.]+:\w+$",
                             description="module:function(topology) -> headers, called again when they expire")

    @model_validator(mode="after")
    def _exactly_one(self) -> AuthSpec:
        if sum(kind is not None for kind in (self.client_credentials, self.headers, self.hook)) != 1:
            raise ValueError("needs exactly one of client_credentials, headers or hook")
        return self


class ExcludedCheck(_Strict):
    check: str
    reason: str = Field(min_length=10, description="why this check does not apply: a written reason is required")


class FuzzSpec(_Strict):
    checks: list[str] | None = None  # None: the harness's defaults
    exclude: list[ExcludedCheck] = Field(default_factory=list)


class ServiceSpec(_Strict):
    image: str | None = None
    build: BuildSpec | None = None
    command: str | list[str] | None = None
    environment: dict[str, str] = Field(default_factory=dict)
    ports: list[Port] = Field(default_factory=list)
    depends_on: list[str] = Field(default_factory=list)
    ready: ReadyProbe | None = None
    timeout: float = Field(default=60.0, gt=0, description="seconds to become ready")
    aliases: list[str] = Field(default_factory=list)
    mounts: list[Mount] = Field(default_factory=list)
    openapi: str | None = None
    auth: AuthSpec | None = None
    fuzz: FuzzSpec = Field(default_factory=FuzzSpec)
    consumes: list[str] = Field(default_factory=list)
    pact_name: str | None = Field(default=None, min_length=1,
                                  description="the name pacts give this service, when it is not the service's name")

    @field_validator("build", mode="before")
    @classmethod
    def _build_shorthand(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @field_validator("environment", mode="before")
    @classmethod
    def _env_values_as_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                    for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _image_or_build(self) -> ServiceSpec:
        if (self.image is None) == (self.build is None):
            raise ValueError("needs exactly one of 'image' (an image name) or 'build' (a build context)")
        return self

    def published_ports(self) -> list[int]:
        """Ports to publish on 127.0.0.1: the declared ones, then any the readiness probe needs."""
        ports = list(dict.fromkeys(self.ports))
        return ports + [p for p in (self.ready.ports() if self.ready else []) if p not in ports]


class ExcludedPact(_Strict):
    """Pacts left out of verification, with the reason. Selects by pact file name (a glob, e.g. `legacy-*.json`), or
    by consumer and/or provider (names as the pacts write them, or the service they map to)."""

    pact: str | None = None
    consumer: str | None = None
    provider: str | None = None
    reason: str = Field(min_length=10, description="why these pacts are not verified: a written reason is required")

    @model_validator(mode="after")
    def _selects_something(self) -> ExcludedPact:
        if self.pact is None and self.consumer is None and self.provider is None:
            raise ValueError("needs 'pact' (a file name or glob) or 'consumer' and/or 'provider'")
        return self


class ContractsSpec(_Strict):
    """Where the pacts are and which modules serve their provider states (paths relative to the topology file).

    `names` maps names used in pacts to services (also `pact_name:` on a service); `state_url` maps a provider to
    the path of its own state-change endpoint (called by the Pact verifier at the service's URL instead of the
    harness's handlers); `exclude` leaves pacts out with a written reason."""

    pacts: str = "contracts"
    states: list[str] = Field(default_factory=list)
    names: dict[str, str] = Field(default_factory=dict)
    state_url: dict[str, str] = Field(default_factory=dict)
    exclude: list[ExcludedPact] = Field(default_factory=list)

    @field_validator("state_url")
    @classmethod
    def _paths(cls, value: dict[str, str]) -> dict[str, str]:
        for provider, path in value.items():
            if not path.startswith("/"):
                raise ValueError(f"state_url of {provider!r} must be a path on the service starting with '/', "
                                 f"e.g. /_pact/provider_states (got {path!r})")
        return value


class TopologySpec(_Strict):
    name: str | None = None
    services: dict[str, ServiceSpec] = Field(min_length=1)
    contracts: ContractsSpec = Field(default_factory=ContractsSpec)
    # Where the file lives: relative paths (build contexts, mounts) are resolved against it. Set by the loader.
    _file: Path = PrivateAttr(default=Path("topology.yaml"))

    @field_validator("services", mode="before")
    @classmethod
    def _names_are_dns_labels(cls, value: Any) -> Any:
        for name in value if isinstance(value, dict) else ():
            if problem := service_name_problem(name):
                raise ValueError(problem)
        return value

    @classmethod
    def from_file_data(cls, data: Any, file: Path) -> TopologySpec:
        spec = cls.model_validate(data)
        spec._file = file.resolve()
        return spec

    @property
    def file(self) -> Path:
        return self._file

    @property
    def base_dir(self) -> Path:
        return self._file.parent

    @property
    def project(self) -> str:
        """The topology's name: `name:` or else the name of the folder holding the file."""
        return self.name or self.base_dir.resolve().name or "topology"
