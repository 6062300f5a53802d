"""An engine of a running topology that stopped answering in the middle of a session, said in one line naming it
(and, for a test's own call to a service there, the service): the test that meets it fails with that line, the tests
after it error without running in one short line that refers to it (the plugin's hooks, `__init__.py`).

Costs nothing while engines answer: an engine is pinged only when a test failed on a connection error (to it, or to a
published port of a service of a running topology), or when putting a topology back between tests failed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import docker

    from harness.runtime.topology import Topology


def _engines(running: Topology) -> Iterator[tuple[str | None, str, docker.DockerClient]]:
    """(name, DOCKER_HOST-style address, client) of each engine `running` uses: each of `engines:`; the one engine of
    a run without them, which has no name."""
    if running.engines:
        for name, engine in running.engines.items():
            yield name, engine.address, engine.client
    else:
        from harness.runtime.engine import engine_address

        yield None, engine_address(), running.client


def silence(client: docker.DockerClient) -> BaseException | None:
    """What a ping of the engine on a new connection raised within CHECK_SECONDS; None when it answers. A new
    connection: one the client kept open to an engine whose machine went away only times out reading, which tells
    nothing of whether that engine still accepts connections."""
    from harness.runtime.engine import CHECK_SECONDS

    timeout, client.api.timeout = client.api.timeout, CHECK_SECONDS
    client.api.close()  # its pooled connections (a later call opens new ones)
    try:
        client.ping()
        return None
    except Exception as error:  # noqa: BLE001 - whatever the transport raises: it does not answer
        return error
    finally:
        client.api.timeout = timeout


def _said(topology: str, name: str | None, address: str, error: BaseException) -> str:
    """`topology T: engine 'e1' (tcp://...) stopped answering: WHY`; `the Docker engine (...)` for a run's one."""
    from harness.runtime.unanswered import why_unanswered

    named = "the Docker engine" if name is None else f"engine '{name}'"
    return f"topology {topology}: {named} ({address}) stopped answering: {why_unanswered(error)}"


def engine_call_failed(topologies: Iterable[Topology], error: BaseException) -> tuple[str, bool] | None:
    """When `error` is docker-py's failure to reach an engine of a running topology: the line naming it, and whether
    that engine is lost for the session (it does not answer a ping now, not a connection reset once); else None."""
    from harness.runtime.unanswered import calls_engine

    for running in topologies:
        for name, address, client in _engines(running):
            if not calls_engine(address, error):
                continue
            silent = silence(client)
            if name is not None:  # named: said from the call's own error, even when it answers again (a reset once)
                return _said(running.spec.name, name, address, error), silent is not None
            if silent is not None:  # the one engine: said only when lost (a socket's error names no engine)
                return _said(running.spec.name, name, address, silent), True
    return None


def service_call_failed(topologies: Iterable[Topology], error: BaseException) -> str | None:
    """When `error` is a failure to connect to a published port of a service of a running topology, and that
    service's engine does not answer a ping: the line naming the engine and the service; else None (it answers: the
    service itself refused, and the test's own failure says so)."""
    from harness.runtime.unanswered import unreached

    endpoints = unreached(error)
    for running in topologies if endpoints else []:
        for service in (replica for each in running for replica in each.replicas):
            called = [port for port in service.ports.values() if (service.host, port) in endpoints]
            if not called:
                continue
            engine = running.spec.engine_of(service.name)
            name, address, client = next(found for found in _engines(running) if found[0] == engine)
            if (silent := silence(client)) is None:
                return None
            return (f"{_said(running.spec.name, name, address, silent)}; it runs service {service.shown}, which "
                    f"the test called at {service.host}:{called[0]}")
    return None


def silent_engine(running: Topology) -> str | None:
    """The line naming the first engine of `running` that does not answer a ping now; None when every one does."""
    for name, address, client in _engines(running):
        if (silent := silence(client)) is not None:
            return _said(running.spec.name, name, address, silent)
    return None
