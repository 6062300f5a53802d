"""How fuzzing authenticates to a service, from its `auth:` in the topology: an OAuth2 client_credentials token from
another service, fixed headers, or a hook `module:function(topology) -> headers`. The same headers open the service's
OpenAPI document and go with every request of the run."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import requests

from harness.errors import AuthHookError, AuthRefused
from harness.runtime.call_marks import FUZZ_AUTH

if TYPE_CHECKING:
    from harness.model.parts import ClientCredentials
    from harness.model.service import ServiceSpec
    from harness.model.topology import TopologySpec

Headers = Callable[[], dict[str, str]]


class ServiceAddress(Protocol):
    @property
    def url(self) -> str: ...


class RunningTopology(Protocol):
    """What fuzzing needs of a running topology: its spec and each service's URL. A Topology, or the TopologyView a
    fuzzing process gets."""

    @property
    def spec(self) -> TopologySpec: ...

    def __getitem__(self, name: str) -> ServiceAddress: ...


def resolve_hook(service: str, hook: str) -> Callable[..., object]:
    """The function named by `auth: {hook: module:function}` of `service`.

    Raises AuthHookError (exit 2) naming the service, the hook and why: the module does not import (with the import
    error), it has no such function, or that is not callable."""
    module_name, _, function = hook.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001 - any import failure (syntax error, missing dependency) is the same
        raise AuthHookError(f"service '{service}': auth hook {hook!r} cannot be imported: "
                            f"{type(error).__name__}: {error}",
                            hint="The module must be importable from the directory you run in (or PYTHONPATH).",
                            service=service, hook=hook) from None
    found = getattr(module, function, None)
    if not callable(found):
        what = "has no attribute" if found is None else f"has a non-callable {type(found).__name__}"
        raise AuthHookError(f"service '{service}': auth hook {hook!r}: module {module_name} {what} {function!r}",
                            hint="Name a function `def NAME(topology) -> dict[str, str]` of that module.",
                            service=service, hook=hook)
    resolved: Callable[..., object] = found
    return resolved


def check_auth(spec: ServiceSpec, service: str) -> None:
    """Fail early (before any container starts) on an auth hook that cannot be used. Raises AuthHookError."""
    if spec.auth and spec.auth.hook:
        resolve_hook(service, spec.auth.hook)


def auth_headers(topology: RunningTopology, name: str) -> Headers | None:
    """A function giving the current auth headers of service `name`, or None when it declares no `auth:`."""
    spec = topology.spec.services[name]
    if spec.auth is None:
        return None
    if spec.auth.client_credentials:
        return BearerToken(topology, spec.auth.client_credentials).headers
    if spec.auth.headers is not None:
        fixed = dict(spec.auth.headers)
        return lambda: dict(fixed)
    reference = spec.auth.hook or ""
    hook = resolve_hook(name, reference)

    def call_hook() -> dict[str, str]:
        headers = hook(topology)
        if not isinstance(headers, dict):
            raise AuthHookError(f"service '{name}': auth hook {reference!r} returned "
                                f"{type(headers).__name__}, not a dict of headers", service=name, hook=reference)
        return {str(k): str(v) for k, v in headers.items()}

    return call_hook


class BearerToken:
    """A client_credentials token from a service of the topology, fetched again 30 s before it expires (a
    fuzzing run takes it once, when it starts: harness.fuzz.engine.run_schema)."""

    def __init__(self, topology: RunningTopology, grant: ClientCredentials) -> None:
        self.topology = topology
        self.grant = grant
        self._token = ""
        self._expires = 0.0  # time.monotonic() seconds

    def headers(self) -> dict[str, str]:
        """{"Authorization": "Bearer ..."}. Raises AuthRefused when the token service refuses the client."""
        if time.monotonic() > self._expires - 30:
            form = {"grant_type": "client_credentials", "client_id": self.grant.client_id,
                    "client_secret": self.grant.client_secret}
            if self.grant.audience:
                form["audience"] = self.grant.audience
            url = self.topology[self.grant.token_service].url + self.grant.token_path
            # (marked: --observe counts it with the fuzzing's requests, not as a call of the tests)
            response = requests.post(url, data=form, timeout=10, headers=dict([FUZZ_AUTH]))
            if response.status_code != 200:
                raise AuthRefused(f"auth: {url} refused client {self.grant.client_id!r}: {response.status_code} "
                                  f"{response.text[:200]}", url=url, client_id=self.grant.client_id,
                                  status=response.status_code)
            body = response.json()
            self._token = body["access_token"]
            self._expires = time.monotonic() + float(body.get("expires_in", 300))
        return {"Authorization": f"Bearer {self._token}"}
