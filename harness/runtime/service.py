"""One running service: where to reach it, its logs, and control for fault tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import docker.errors
from docker.models.containers import Container

from harness.errors import DockerError, HarnessError, InvalidCall, PortNotPublished, TopologyNotRunning
from harness.hints import with_engine
from harness.model.parts import Healthcheck, ReadyProbe
from harness.model.service import ServiceSpec
from harness.runtime import control, readiness, restarts
from harness.runtime.labels import replica_name
from harness.runtime.probes import url_host

if TYPE_CHECKING:
    from harness.runtime.faults import Edge
    from harness.runtime.networks import Attachment
    from harness.runtime.topology import Topology

class ExecResult(NamedTuple):
    """A command run inside a service's container: its exit code and its stdout and stderr, interleaved
    (`code, output = service.exec(...)`, as docker-py's exec_run)."""

    exit_code: int
    output: str


class Service:
    """One running service: where to reach it, its logs, and control for fault tests.

    Docker's refusals of the control methods (a container removed under the test, a paused one, ...) are raised as
    `harness.DockerError` with a hint saying what to do; a value a method does not take as `harness.InvalidCall`."""

    def __init__(self, name: str, spec: ServiceSpec, container: Container, ports: dict[int, int],
                 networks: list[Attachment], host: str = "127.0.0.1", no_ports: str | None = None,
                 number: int = 1) -> None:
        self.name = name
        self.spec = spec
        self.container = container
        self.number = number  # its replica number (1..`replicas`), as Compose numbers a service's containers
        self.shown = replica_name(name, number, spec.replicas)  # as people read it: NAME, or NAME-N of several
        self.others: list[Service] = []  # of replica 1 (`topology[NAME]`): replicas 2..N
        self.host = host  # where the published ports are reached: 127.0.0.1, or a remote engine's host
        self.ports = ports  # container port -> host port on `host`, fixed for the run (survives restarts)
        self.udp_ports: dict[int, int] = {}  # the same for UDP ports
        self.sctp_ports: dict[int, int] = {}  # and SCTP ports
        self.networks = networks  # the networks it is on as started (engine names, aliases, fixed addresses)
        self.no_ports = no_ports  # where it is when Docker publishes none of its ports (TopologySpec.no_ports_reason)
        self._faults: Edge | None = None  # set by the Topology the service belongs to
        self.topology: Topology | None = None  # the running Topology it belongs to (set by it)
        # called after start() and connect() (faults, --observe follow); what one returns is called once it is ready
        self.on_start: list[Callable[[Service], Callable[[], None] | None]] = []
        # what the last control call left undone ("stopped", "paused", ...), so that a test that fails before putting
        # it back can be named; None when the service should be running as started
        self.left: str | None = None
        self.disconnected = False  # taken off the network by disconnect(): its published ports are unreachable
        self.unanswered: list[int] = []  # its published TCP ports nothing accepted on when it was called ready
        self._probe: ReadyProbe | None | Literal[False] = False  # `probe`, once known

    def __repr__(self) -> str:
        return f"<Service {self.shown} {self.url if self.ports else '(no ports)'}>"

    @property
    def replicas(self) -> list[Service]:
        """Every replica, this one (replica 1, `topology[NAME]`) first; each a Service of its own (URL, logs, stop)."""
        return [self, *self.others]

    @property
    def url(self) -> str:
        """Base URL of the first published port, `http://HOST:PORT` (HOST: `host`, 127.0.0.1 for a local engine).

        Raises:
            PortNotPublished: the service publishes no port.
        """
        if not self.ports:
            raise _no_url(self)
        return f"http://{url_host(self.host)}:{next(iter(self.ports.values()))}"

    def port(self, container_port: int, protocol: Literal["tcp", "udp", "sctp"] = "tcp") -> int:
        """The host port (on `host`) that `container_port` (TCP, or "udp", "sctp") is published on (`container_port`
        itself for a service with `network_mode: host`: its ports are the engine machine's).

        Raises:
            PortNotPublished: that port is not published (the message lists the published ones, with protocols).
            InvalidCall: a port that is not a number, or a protocol other than "tcp", "udp" and "sctp".
        """
        return _port(self, container_port, protocol)

    @property
    def faults(self) -> Edge:
        """Faults on everything this service calls: `.delay(ms=200)`, `.loss(percent=5)`, `.cut()`; each returns a
        fault in place, undone at the end of a `with` block or by `.remove()` (see `Topology.edge`).

        Raises:
            TopologyNotRunning: the service is not part of a running Topology.
        """
        if self._faults is None:
            raise TopologyNotRunning(f"service '{self.name}' is not part of a running Topology: faults need one")
        return self._faults

    @property
    def probe(self) -> ReadyProbe | None:
        """How the harness tells it is ready (`ServiceSpec.probe`); without `ready:`, the image's HEALTHCHECK test as
        Docker merges it (described only: Docker's healthy decides, `readiness.wait_ready`); None if the image has
        none: Docker checks nothing then, as under Compose."""
        if self._probe is False:
            self._probe = _probe_of(self)
        return self._probe

    @property
    def status(self) -> str:
        """Docker's state of the container now: created, running, paused, restarting, exited or dead; "removed" when
        it is gone."""
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return "removed"
        return str(self.container.status)

    def logs(self, since: float | None = None, tail: int | None = None, timestamps: bool = False,
             stream: str | None = None) -> str:
        """The service's stdout and stderr as text (undecodable bytes replaced).

        Args:
            since: only lines Docker received at or after this wall-clock time (a `time.time()` value, seconds).
            tail: only the last `tail` lines.
            timestamps: each line starts with the time Docker received it (RFC 3339, nanoseconds) and a space.
            stream: "stdout" or "stderr": only that one (a `tty: true` service's log is all stdout, as Docker keeps it).

        Raises:
            InvalidCall: another `stream`, or a negative `tail`.
        """
        if stream not in (None, "stdout", "stderr"):
            raise InvalidCall(f"service '{self.name}': logs(stream={stream!r}): stream is 'stdout' or 'stderr' (or "
                              "None: both)", argument="stream")
        if tail is not None and (isinstance(tail, bool) or not isinstance(tail, int) or tail < 0):
            raise InvalidCall(f"service '{self.name}': logs(tail={tail!r}): tail is a number of lines, 0 or more "
                              "(or None: all)", argument="tail")
        options: dict[str, Any] = {"stdout": stream in (None, "stdout"), "stderr": stream in (None, "stderr"),
                         "timestamps": timestamps}
        if since is not None:
            options["since"] = since
        if tail is not None:
            options["tail"] = tail
        return str(self.container.logs(**options).decode("utf-8", "replace"))

    def exec(self, command: str | list[str]) -> ExecResult:
        """Run `command` inside the container (as `docker exec`) and wait for it to end: its exit code and output.

        Raises:
            DockerError: the container is paused, not running, or gone (the message says what to do).
        """
        try:
            result = self.container.exec_run(command)
        except docker.errors.NotFound:
            raise DockerError(f"service '{self.name}': cannot run {command!r} in it: its container is gone",
                              service=self.name, operation="exec",
                              hint="Its topology was removed (harness down, or the session ended).") from None
        except docker.errors.APIError as error:
            text = str(getattr(error, "explanation", None) or error)
            if "paused" in text:
                hint = f"It is paused: call topology[{self.name!r}].unpause() first."
            elif "not running" in text:
                hint = f"It is not running: call topology[{self.name!r}].start() first."
            else:
                hint = f"Check the command and the container's state (`{with_engine('harness ps')}`)."
            raise DockerError(f"service '{self.name}': cannot run {command!r} in it: {text.strip()[:200]}",
                              service=self.name, operation="exec", hint=hint) from None
        return ExecResult(result.exit_code, result.output.decode("utf-8", "replace"))

    def stop(self, timeout: int = 0) -> None:
        """Stop the container: its stop signal, then SIGKILL after `timeout` whole seconds (default 0: at once;
        Docker's API takes whole seconds). A paused container is stopped too.

        Raises:
            DockerError: Docker refused, or it is gone. InvalidCall: see `Topology.disturbing` (also for the others).
        """
        __tracebackhide__ = True
        control.stop(self, timeout)

    def kill(self, signal: str | int = "SIGKILL") -> None:
        """Send `signal` to the container's main process (a crash, for fault tests).

        Raises:
            InvalidCall: `signal` is no signal name (SIGTERM, TERM) or number.
            DockerError: it is not running, or gone.
        """
        __tracebackhide__ = True
        control.kill(self, signal)

    def start(self, wait: bool = True) -> None:
        """Start it again (same ports, same network name), by default waiting for its readiness probe; then restart
        the running services in its network or IPC namespace (`network_mode`/`ipc: service:NAME`: gone with its
        stop; a `pid: service:NAME` one ended with the stop and stays so, as under `docker compose start`).

        Raises:
            ServiceNotReady, ServiceExited: as at topology start, within the service's `timeout` (seconds).
            DockerError: Docker refused, e.g. its host port was taken by another process while it was stopped.
            InvalidCall: it is disconnected (`disconnect()`) and its probe goes through a published port, which no
                longer reaches it: started, not waited for (call `connect()` first).
        """
        __tracebackhide__ = True
        restarts.start(self, wait)

    def restart(self, wait: bool = True) -> None:
        """As `docker compose restart NAME`: `stop()`, `start(wait)`, then (transitively, in dependency order) each
        replica of the services whose `depends_on` names it with `restart: true` or in one of its namespaces
        (`network_mode`/`ipc`/`pid: service:NAME`) stopped and started. Raises as `stop()` and `start()`, for each."""
        __tracebackhide__ = True
        restarts.restart(self, wait)

    def pause(self) -> None:
        """Freeze every process of the container (connections hang instead of being refused).

        Raises:
            DockerError: it is not running, or already paused, or gone.
        """
        __tracebackhide__ = True
        control.pause(self)

    def unpause(self) -> None:
        """Undo `pause()`.

        Raises:
            DockerError: it is not paused, or gone.
        """
        __tracebackhide__ = True
        control.unpause(self)

    def address(self, on: Collection[str] | None = None) -> str | None:
        """Its IPv4 address as the engine has it now, on its first network (or the first of its networks named in
        `on`, engine names); None when it is not running or not on such a network (stopped, disconnected)."""
        return _address(self, on)

    def disconnect(self) -> None:
        """Take the service off every network it is on (peers can no longer reach it).

        Raises:
            DockerError: it is not on its networks, or gone.
        """
        __tracebackhide__ = True
        control.disconnect(self)

    def connect(self) -> None:
        """Put the service back on its networks, under its name and aliases (and fixed addresses).

        Raises:
            DockerError: it is on its networks already, or gone.
        """
        __tracebackhide__ = True
        control.connect(self)

    def wait_ready(self, started: float, cancelled: threading.Event | None = None,
                   log_since: float | None = None) -> str:
        """Wait until the service is ready, at most `model.service.ready_limit` seconds from `started` (a
        `time.monotonic()` value); a log probe counts only lines since `log_since` (a `time.time()` value).

        Ready means: its probe passes (`ready:`, else its healthcheck's test within its timeout, or Docker calls it
        healthy), and, for a `ready:` probe of a container Docker checks the health of, Docker calls it healthy
        too; with no probe, its container has stayed running for SETTLE seconds (one that dies at once is never
        ready). A job (`job: true`, a compose `service_completed_successfully`'s) is done when it exits 0; another
        service that exits fails, with code 0 too (as under `docker compose up --wait`).

        Returns: "ready", or "completed" for a job that exited 0.

        Raises:
            ServiceExited: it exited (a job: non-zero; any other service: at all), also while a probe ran: the code,
                an OOM kill, and its log.
            ServiceNotReady: not ready (a job: not finished) within its limit, or Docker marked it unhealthy.
            DockerError: its container was removed meanwhile (by something else).
        """
        return readiness.wait_ready(self, started, cancelled, log_since)

    def ended(self) -> HarnessError | None:
        """What stopped the service if its container is no longer running: ServiceExited (its exit code, OOM kill,
        last log lines) or a DockerError (it was removed); None while it runs (or is paused, restarting, ...)."""
        return readiness.ended(self)


def _port(service: Service, container_port: int, protocol: str) -> int:
    """`Service.port`."""
    by_protocol = {"tcp": service.ports, "udp": service.udp_ports, "sctp": service.sctp_ports}
    if protocol not in by_protocol:
        raise InvalidCall(f"service '{service.name}': port({container_port!r}, {protocol!r}): the protocol is 'tcp', "
                          "'udp' or 'sctp' (the ones a topology publishes)", argument="protocol")
    if isinstance(container_port, bool) or not isinstance(container_port, int):
        raise InvalidCall(f"service '{service.name}': port({container_port!r}): a container port is a number, "
                          "e.g. port(6379) or port(53, 'udp')", argument="container_port")
    if service.spec.network_mode == "host":  # the container's ports are the engine machine's own
        return container_port
    try:
        return by_protocol[protocol][container_port]
    except KeyError:
        published = [f"{port}/{kind}" for kind, ports in by_protocol.items() for port in ports]
        raise PortNotPublished(f"service '{service.name}' does not publish port {container_port}/{protocol} "
                               f"(published: {', '.join(published) or 'none'})", service=service.name,
                               port=container_port) from None


def _probe_of(service: Service) -> ReadyProbe | None:
    """`Service.probe`: the spec's, or the image's HEALTHCHECK test for a healthcheck of timings only or none (Docker
    runs it, and `docker compose up --wait` waits for it)."""
    check = service.spec.healthcheck
    if service.spec.ready is None and (check is None or check.test is None):
        test = ((service.container.attrs.get("Config") or {}).get("Healthcheck") or {}).get("Test")
        return Healthcheck(test=test).as_probe() if test else None
    return service.spec.probe


def _address(service: Service, on: Collection[str] | None) -> str | None:
    """`Service.address`: its IPv4 address now on the first of its networks (named in `on`)."""
    wanted = [a.network for a in service.networks if on is None or a.network in on]
    if not wanted:
        return None
    try:
        service.container.reload()
    except docker.errors.NotFound:
        return None
    networks = (service.container.attrs.get("NetworkSettings") or {}).get("Networks") or {}
    return next((address for name in wanted if (address := (networks.get(name) or {}).get("IPAddress"))), None)


def _no_url(service: Service) -> PortNotPublished:
    """Why `service`, which publishes no ports, has no URL, and what to do."""
    spec, name = service.spec, service.name
    if service.no_ports:
        return PortNotPublished(f"service '{name}' publishes no ports: it is only on {service.no_ports}, and Docker "
                                "publishes no port there (as under `docker compose up`); call it from a service on its "
                                "network, or put it on a bridge network that is not internal too", service=name)
    if spec.shares_namespace:
        return PortNotPublished(f"service '{name}' has no URL of its own: network_mode {spec.network_mode} (as under "
                                "`docker compose up`, it publishes no ports); call it through the ports of the "
                                "container whose network it shares", service=name)
    if spec.network_mode == "host":
        return PortNotPublished(f"service '{name}' uses the engine machine's network (network_mode host): its ports "
                                "are the machine's own; list the one its URL is on in `ports:` (or call port(N): N "
                                "itself)", service=name)
    return PortNotPublished(f"service '{name}' publishes no ports; add `ports:` to it in the topology file",
                            service=name)
