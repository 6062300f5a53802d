"""Fuzzing: schemathesis against every service of a running topology that declares `openapi:`.

Each service's spec is loaded from the service (or a file next to the topology), pointed at its published URL,
authenticated as its `auth:` says, and run through schemathesis' engine: examples, coverage, fuzzing and the
stateful sequences the spec's `links` describe. Failures come back per operation and check, with a curl command.
"""

from __future__ import annotations

import importlib
import random
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from harness.errors import HarnessError, SpecUnavailable
from harness.runtime.topology import Topology
from harness.spec.model import ClientCredentials, ServiceSpec, TopologySpec

DEFAULT_CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
                  "response_schema_conformance"]
PHASES = ["examples", "coverage", "fuzzing", "stateful"]



@dataclass(frozen=True)
class Failure:
    operation: str  # "GET /api/users/{id}", or "stateful" for a sequence
    check: str
    title: str
    curl: str  # one command per request of the failing case or sequence
    phase: str


@dataclass
class ServiceResult:
    service: str
    url: str
    seed: int
    operations: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    log: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures


def fuzzable(topology: Topology) -> list[str]:
    return [name for name, spec in topology.spec.services.items() if spec.openapi]


def fuzz_targets(spec: TopologySpec, services: list[str] | None = None) -> list[str]:
    """The services to fuzz: those with `openapi:`, or the named ones. Raises HarnessError when a named service has
    no `openapi:` or nothing is left."""
    names = [n for n, s in spec.services.items() if s.openapi and (not services or n in services)]
    unknown = [n for n in services or [] if n not in spec.services or not spec.services[n].openapi]
    if unknown or not names:
        with_spec = ", ".join(n for n, s in spec.services.items() if s.openapi) or "none"
        raise HarnessError(f"nothing to fuzz: {', '.join(unknown) or 'no service'} of topology {spec.project} "
                           f"declares `openapi:` (services with one: {with_spec})")
    return names


def checks_for(spec: ServiceSpec, override: list[str] | None = None) -> list[str]:
    """The command line's checks, else the service's, else the defaults; less the service's written exclusions."""
    chosen = override or spec.fuzz.checks or DEFAULT_CHECKS
    excluded = {e.check for e in spec.fuzz.exclude}
    return [c for c in chosen if c not in excluded]


def fuzz_service(topology: Topology, name: str, *, max_examples: int | None = None, seed: int | None = None,
                 phases: list[str] | None = None, checks: list[str] | None = None) -> ServiceResult:
    from schemathesis.engine import events, from_schema
    from schemathesis.generation import GenerationMode

    service, spec = topology[name], topology.spec.services[name]
    schema = _load(topology, name)
    schema.config.update(base_url=service.url)
    seed = seed if seed is not None else random.randrange(2**31)  # always a seed to print, so runs can be redone
    schema.config.seed = seed
    # Positive data only (negative mode flags lax input coercion, which is not a bug), and no example database:
    # the seed alone decides a run.
    schema.config.generation.update(modes=[GenerationMode.POSITIVE], database="none")
    if max_examples is not None:
        schema.config.generation.update(max_examples=max_examples)
    schema.config.checks.update(included_check_names=checks_for(spec, checks))
    schema.config.phases.update(phases=phases or PHASES)
    if spec.auth:
        _authenticate(schema, topology, spec)
    result = ServiceResult(name, service.url, seed)
    started, log_since = time.monotonic(), time.time()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            result.requests += len(event.recorder.interactions)
            if event.label and event.label not in result.operations:
                result.operations.append(event.label)
            result.failures += _failures(event)
        elif isinstance(event, events.FatalError):
            raise SpecUnavailable(f"service '{name}': schemathesis stopped: {event.exception}")
    result.seconds = time.monotonic() - started
    result.failures = list(dict.fromkeys(result.failures))
    result.log = service.logs(since=log_since) if result.failures else ""
    return result


def operations(topology: Topology, name: str) -> list[str]:
    """The labels of the operations in a service's spec ("GET /api/users/{id}")."""
    return [result.ok().label for result in _load(topology, name).get_all_operations()]


def _load(topology: Topology, name: str) -> Any:
    import schemathesis

    spec = topology.spec.services[name]
    location = spec.openapi or ""
    file = topology.spec.base_dir / location
    try:
        if not location.startswith("/") and file.is_file():
            return schemathesis.openapi.from_path(str(file))
        return schemathesis.openapi.from_url(topology[name].url + location, timeout=10)
    except Exception as error:  # noqa: BLE001 - any loading failure means the same to the user
        where = file if not location.startswith("/") and file.is_file() else topology[name].url + location
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise SpecUnavailable(f"service '{name}': cannot load its OpenAPI document from {where}: {first}. Check "
                              "that the service is up and that `openapi:` in the topology file points at its "
                              "document (a path served by the service, or a file next to the topology).") from None


def _failures(event: Any) -> list[Failure]:
    recorder, found = event.recorder, []
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.status.name != "FAILURE" or check.failure_info is None:
                continue
            case = recorder.cases[case_id].value
            operation = event.label or f"stateful ({case.method} {case.path})"
            found.append(Failure(operation, check.name, check.failure_info.failure.title,
                                 check.failure_info.code_sample, str(event.phase.value)))
    return found


def _authenticate(schema: Any, topology: Topology, spec: ServiceSpec) -> None:
    assert spec.auth is not None
    if spec.auth.client_credentials:
        get_headers = BearerToken(topology, spec.auth.client_credentials).headers
    elif spec.auth.headers is not None:
        fixed = dict(spec.auth.headers)
        get_headers = lambda: fixed  # noqa: E731
    else:
        module, _, function = (spec.auth.hook or "").partition(":")
        hook = getattr(importlib.import_module(module), function)
        get_headers = lambda: hook(topology)  # noqa: E731

    @schema.auth(refresh_interval=30)
    class TopologyAuth:
        def get(self, case: Any, context: Any) -> dict[str, str]:
            return get_headers()

        def set(self, case: Any, data: dict[str, str], context: Any) -> None:
            case.headers = {**(case.headers or {}), **data}


class BearerToken:
    """A client_credentials token from a service of the topology, fetched again shortly before it expires."""

    def __init__(self, topology: Topology, grant: ClientCredentials) -> None:
        self.topology = topology
        self.grant = grant
        self._token = ""
        self._expires = 0.0

    def headers(self) -> dict[str, str]:
        if time.monotonic() > self._expires - 30:
            form = {"grant_type": "client_credentials", "client_id": self.grant.client_id,
                    "client_secret": self.grant.client_secret}
            if self.grant.audience:
                form["audience"] = self.grant.audience
            url = self.topology[self.grant.token_service].url + self.grant.token_path
            response = requests.post(url, data=form, timeout=10)
            if response.status_code != 200:
                raise HarnessError(f"auth: {url} refused client {self.grant.client_id!r}: {response.status_code} "
                                   f"{response.text[:200]}")
            body = response.json()
            self._token = body["access_token"]
            self._expires = time.monotonic() + float(body.get("expires_in", 300))
        return {"Authorization": f"Bearer {self._token}"}
