"""The keys a topology needs of the engine (TopologySpec.engine_needs), checked against the engine at once: a start
refuses every one its engine is too old for in one message, before it creates anything, with Docker Compose's words
for each; and a file refused when it is read gets the refusals of a reachable engine in the same message."""

from __future__ import annotations

import docker

from harness.errors import DockerError, DockerUnavailable, HarnessError, TopologyFileError
from harness.model.engine_needs import EngineNeed, api_tuple
from harness.model.topology import TopologySpec
from harness.runtime.engine import connect


def refuse_unmet(spec: TopologySpec, api_version: str, services: set[str] | None = None) -> list[str]:
    """Refuse every key of `spec` that Docker Compose v2.40 refuses on an engine of `api_version`
    (spec.engine_needs: what an older engine cannot take, and a healthcheck's `start_interval` without
    `start_period`, which Compose refuses on a newer one); of the services in `services` only, when given (those
    an engine runs, with `engines:`).

    Returns:
        A line per key that engine drops without a word, as under Compose (a volume's `subpath` before API 1.45:
        the whole volume is mounted, so a test would run on other data): for a note of the start.

    Raises:
        DockerError: one message, a line per key (file:line, service, key, Compose's words, the API it needs).
    """
    needs = [need for need in spec.engine_needs if services is None or need.service in services]
    refused = unmet(needs, api_version)
    if not refused:
        return [need.said(api_version) for need in needs if need.ignored and need.too_old(api_version)]
    named = sorted({need.service for need in refused})
    raise DockerError(f"topology {spec.name}: {_count(len(refused))} of the file cannot be created on this Docker "
                      f"engine (API {api_version}); Docker Compose refuses them too:\n"
                      + "\n".join(need.said(api_version) for need in refused),
                      service=named[0] if len(named) == 1 else None, operation="create",
                      hint=_hint(refused, api_version))


def unmet(needs: list[EngineNeed] | tuple[EngineNeed, ...], api_version: str) -> list[EngineNeed]:
    """The needs an engine of `api_version` does not meet, in the file's order."""
    return [need for need in needs if not need.met_by(api_version)]


def with_engine_refusals(error: HarnessError, client: docker.DockerClient | None = None) -> HarnessError:
    """`error` (a file refused when it was read: a TopologyFileError) with, in the same message, the keys of the file
    its engine refuses too (`error.engine_needs`), when an engine answers (`client`, else the one
    harness.runtime.engine.connect finds); else `error` itself, unchanged (another error; no engine: nothing more
    can be said now)."""
    if not isinstance(error, TopologyFileError):
        return error
    needs = [need for need in error.engine_needs if isinstance(need, EngineNeed)]
    if not needs:
        return error
    if client is None:
        try:
            own = connect()
        except DockerUnavailable:
            return error
        try:
            return with_engine_refusals(error, own)
        finally:
            own.close()
    api_version = str(client.api.api_version)
    refused = unmet(needs, api_version)
    if not refused:
        return error
    message = error.message.removeprefix(f"{error.location}: ")
    hint = _hint(refused, api_version)
    more = TopologyFileError(error.location, f"{message}\nand on this Docker engine (API {api_version}), "
                                             f"{_count(len(refused))} that Docker Compose refuses on it too:\n"
                             + "\n".join(need.said(api_version) for need in refused),
                             hint=f"{error.hint}\n{hint}" if error.hint else hint)
    more.engine_needs, more.compose_reads = error.engine_needs, error.compose_reads
    return more


def _count(keys: int) -> str:
    return f"{keys} key{'s' * (keys != 1)}"


def _hint(needs: list[EngineNeed], api_version: str) -> str:
    """What to do: a newer engine for the keys this one is too old for; a start_period for a start_interval that no
    engine takes without one; or remove the keys."""
    fixes = []
    too_old = [need for need in needs if need.too_old(api_version)]
    if too_old:
        newest = max(too_old, key=lambda need: api_tuple(need.api))
        fixes.append(f"use {newest.engine} or later (API {newest.api})")
    if any(not need.too_old(api_version) for need in needs):
        fixes.append("give each such healthcheck a start_period")
    said = " or ".join(fixes)
    return (f"{said[0].upper()}{said[1:]}; or remove these keys (or move them to an override file that the test "
            "run does not use).")
