"""The control calls of a running service for fault tests (stop, kill, start, pause, unpause, disconnect, connect):
the Docker calls behind `Service`'s methods, Docker's refusals as one DockerError with a hint saying what to do."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import docker.errors

from harness.errors import DockerError, InvalidCall
from harness.hints import with_engine
from harness.runtime import hooks, networks, outside
from harness.runtime.readiness import FULL_ID

if TYPE_CHECKING:
    from harness.runtime.service import Service


def run(service: Service, operation: str, call: Callable[[], object]) -> None:
    """A Docker call that changes the container's state; Docker's refusal becomes one DockerError saying why."""
    __tracebackhide__ = True  # pytest shows the test's line, not this one
    try:
        call()
    except docker.errors.NotFound:
        raise DockerError(f"service '{service.shown}': cannot {operation} it: its container is gone",
                          service=service.name, operation=operation,
                          hint="Its topology was removed (harness down, or the session ended).") from None
    except docker.errors.APIError as error:
        text = FULL_ID.sub(lambda match: match[0][:12], str(getattr(error, "explanation", None) or error).strip())
        raise DockerError(f"service '{service.shown}': cannot {operation} it: {text[:300]}", service=service.name,
                          operation=operation, hint=_control_hint(service.name, text)) from None


def disturbing(service: Service, operation: str) -> None:
    """Tell the service's topology what is about to be done to it (Topology.disturbing, which may refuse it: under
    pytest-xdist, a test that does not hold a shared topology alone)."""
    __tracebackhide__ = True
    if service.topology is not None:
        service.topology.disturbing(f"{operation} service '{service.shown}'")


def stop(service: Service, timeout: int, disturbs: bool = True) -> None:
    """`Service.stop`: its pre_stop hooks first (as `docker compose stop`; one that fails leaves it running).
    `disturbs` False: the harness puts the run back as started (Topology.restore), which disturbs nobody."""
    __tracebackhide__ = True
    if disturbs:
        disturbing(service, "stop")
    run(service, "stop", lambda: hooks.pre_stop(service.name, service.spec, service.container))
    run(service, "stop", lambda: service.container.stop(timeout=timeout))
    service.left = "stopped (.stop())"


def kill(service: Service, signal: str | int) -> None:
    """`Service.kill`."""
    __tracebackhide__ = True
    if not _is_signal(signal):
        raise InvalidCall(f"service '{service.shown}': kill({signal!r}): not a signal; give a name such as 'SIGTERM' "
                          "or 'SIGKILL', or a number", argument="signal")
    disturbing(service, "kill")
    run(service, "kill", lambda: service.container.kill(signal=signal))
    service.left = f"killed (.kill({signal!r}))"


def start(service: Service, wait: bool) -> None:
    """`Service.start`."""
    restarted_at = time.time()
    __tracebackhide__ = True
    run(service, "start", service.container.start)
    # as `docker compose start/restart`: its post_start hooks at each start, before readiness (one that fails
    # fails the start, the container left running)
    run(service, "start", lambda: hooks.post_start(service.name, service.spec, service.container))
    # each hook may leave something to finish once the service is ready (--observe: its new capture, started
    # meanwhile), done before start() returns
    pending = [finish for hook in service.on_start if (finish := hook(service)) is not None]
    service.left = "disconnected (.disconnect())" if service.disconnected else None
    probe = service.probe
    if wait and service.disconnected and probe is not None and probe.ports():
        raise InvalidCall(f"service '{service.shown}' was started but cannot be waited for: it is disconnected from "
                          f"the topology's network (.disconnect()), so its probe {probe.describe()} cannot reach "
                          "its published port", hint=f"Call topology[{service.name!r}].connect() before start(), or "
                          "start(wait=False) and connect() it later.")
    if wait:
        service.wait_ready(time.monotonic(), log_since=restarted_at)
    for finish in pending:
        finish()


def pause(service: Service) -> None:
    """`Service.pause`."""
    __tracebackhide__ = True
    disturbing(service, "pause")
    run(service, "pause", service.container.pause)
    service.left = "paused (.pause())"


def unpause(service: Service) -> None:
    """`Service.unpause`."""
    __tracebackhide__ = True
    run(service, "unpause", service.container.unpause)
    service.left = None


def disconnect(service: Service) -> None:
    """`Service.disconnect`."""
    __tracebackhide__ = True
    disturbing(service, "disconnect")
    run(service, "disconnect", lambda: _disconnect_all(service))
    service.left = "disconnected (.disconnect())"
    service.disconnected = True


def connect(service: Service) -> None:
    """`Service.connect`."""
    __tracebackhide__ = True
    run(service, "connect", lambda: _connect_all(service))
    for hook in service.on_start:
        finish = hook(service)
        if finish is not None:
            finish()
    service.left = None
    service.disconnected = False


def _disconnect_all(service: Service) -> None:
    attached = _attached(service)
    on = [a.network for a in service.networks if a.network in attached]
    if not on:
        raise docker.errors.APIError("container is not connected to its networks")
    for network in on:
        service.container.client.networks.get(network).disconnect(service.container)


def _connect_all(service: Service) -> None:
    attached = _attached(service)
    off = [a for a in service.networks if a.network not in attached]
    if not off:
        raise docker.errors.APIError("endpoint with name already exists in its networks")
    # its links live in each network's endpoint: given again, or `links: [db:database]` no longer resolves
    links = outside.links(service.topology, service.name) if service.topology is not None else []
    for a in off:
        networks.connect(service.container.client, service.container.id, a, links)


def _attached(service: Service) -> set[str]:
    """The engine names of the networks its container is on now."""
    try:
        service.container.reload()
    except docker.errors.APIError:
        return set()  # gone: the control call says so
    return set((service.container.attrs.get("NetworkSettings") or {}).get("Networks") or {})


def _is_signal(signal: object) -> bool:
    """A signal Docker's kill takes: a name (SIGTERM or TERM, any case) or a number of this system's signals."""
    import signal as signals

    if isinstance(signal, int) and not isinstance(signal, bool):
        return signal in {int(known) for known in signals.valid_signals()}
    if not isinstance(signal, str):
        return False
    name = signal.upper()
    if re.fullmatch(r"(SIG)?RTM(IN|AX)[+-]\d+", name):  # real-time signals, as Docker names them
        return True
    return (name if name.startswith("SIG") else f"SIG{name}") in signals.Signals.__members__ or signal.isdigit() and \
        _is_signal(int(signal))


def _control_hint(name: str, text: str) -> str:
    """What to do about Docker's refusal `text` of a state change of service `name`."""
    lowered = text.lower()
    if "address already in use" in lowered or "port is already allocated" in lowered:
        return ("A host port it publishes was taken by another process while it was stopped (Docker keeps a "
                "container's host ports). Free that port, or start the topology again: a new start chooses free "
                "ports.")
    if "is paused" in lowered:
        return f"It is paused: call topology[{name!r}].unpause() first."
    if "not paused" in lowered:
        return "It is not paused: nothing to undo."
    if "not running" in lowered:
        return f"It is not running: call topology[{name!r}].start() first."
    if "already exists" in lowered:
        return "It is on its networks already."
    if "is not connected" in lowered:
        return "It is not on its networks: nothing to disconnect."
    return f"Check its state with `{with_engine('harness ps')}`."
