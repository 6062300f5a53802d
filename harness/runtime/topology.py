"""A running topology: one private network, a container per service, started in dependency order.

Services whose dependencies are ready start concurrently; `build:` images are built concurrently from the start.
Any failure (or Ctrl-C) removes everything the run created, found by its run label.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import docker
import docker.errors
from docker.models.containers import Container
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from harness.errors import HarnessError, ServiceExited, ServiceNotReady
from harness.spec.model import ServiceSpec, TopologySpec
from harness.spec.plan import StartPlan
from harness.runtime import labels as L
from harness.runtime.engine import connect
from harness.runtime.images import build_image, ensure_image
from harness.runtime.probes import probe_once

LOG_TAIL = 50
EventKind = Literal["building", "built", "cached", "starting", "waiting", "ready", "failed"]


@dataclass(frozen=True)
class StartEvent:
    service: str
    kind: EventKind
    seconds: float = 0.0
    detail: str = ""


Progress = Callable[[StartEvent], None]


class _Cancelled(Exception):
    """A service did not start because another one failed or the start was interrupted."""


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


class Service:
    """One running service: where to reach it, its logs, and control for fault tests."""

    host = "127.0.0.1"

    def __init__(self, name: str, spec: ServiceSpec, container: Container, ports: dict[int, int],
                 network: str | None) -> None:
        self.name = name
        self.spec = spec
        self.container = container
        self.ports = ports  # container port -> host port on 127.0.0.1, fixed for the run (survives restarts)
        self._network = network

    def __repr__(self) -> str:
        return f"<Service {self.name} {self.url if self.ports else '(no ports)'}>"

    @property
    def url(self) -> str:
        """Base URL of the first published port."""
        if not self.ports:
            raise HarnessError(f"service '{self.name}' publishes no ports; add `ports:` to it in the topology file")
        return f"http://{self.host}:{next(iter(self.ports.values()))}"

    def port(self, container_port: int) -> int:
        """The host port (on 127.0.0.1) that `container_port` is published on."""
        try:
            return self.ports[container_port]
        except KeyError:
            raise HarnessError(f"service '{self.name}' does not publish port {container_port} "
                               f"(published: {', '.join(map(str, self.ports)) or 'none'})") from None

    @property
    def status(self) -> str:
        self.container.reload()
        return str(self.container.status)

    def logs(self, since: float | None = None, tail: int | None = None) -> str:
        """The service's stdout and stderr, optionally only since a time.time() value, or the last `tail` lines."""
        options: dict = {"stdout": True, "stderr": True}
        if since is not None:
            options["since"] = since
        if tail is not None:
            options["tail"] = tail
        return self.container.logs(**options).decode("utf-8", "replace")

    def exec(self, command: str | list[str]) -> ExecResult:
        result = self.container.exec_run(command)
        return ExecResult(result.exit_code, result.output.decode("utf-8", "replace"))

    def stop(self, timeout: int = 0) -> None:
        """Stop the container (SIGTERM, then SIGKILL after `timeout` seconds)."""
        self.container.stop(timeout=timeout)

    def kill(self, signal: str = "SIGKILL") -> None:
        self.container.kill(signal=signal)

    def start(self, wait: bool = True) -> None:
        """Start it again (same ports, same network name) and, by default, wait for its readiness probe."""
        restarted_at = time.time()
        self.container.start()
        if wait:
            self.wait_ready(time.monotonic(), log_since=restarted_at)

    def restart(self, wait: bool = True) -> None:
        self.stop()
        self.start(wait=wait)

    def pause(self) -> None:
        self.container.pause()

    def unpause(self) -> None:
        self.container.unpause()

    def disconnect(self) -> None:
        """Take the service off the topology's network (peers can no longer reach it)."""
        self.container.client.networks.get(self._network).disconnect(self.container)

    def connect(self) -> None:
        self.container.client.networks.get(self._network).connect(self.container, aliases=[self.name,
                                                                                          *self.spec.aliases])

    def wait_ready(self, started: float, cancelled: threading.Event | None = None,
                   log_since: float | None = None) -> None:
        """Wait until the probe passes, at most the service's `timeout` seconds counted from `started`."""
        deadline = started + self.spec.timeout
        probe = self.spec.ready
        seen = "the container never reported running"
        pause = 0.02  # poll fast at first (most services are ready within a second), then at the probe's interval
        status_read = 0.0
        while True:
            if cancelled is not None and cancelled.is_set():
                raise _Cancelled()
            if probe is None or time.monotonic() - status_read > 0.5:  # an API call: not on every poll
                self.container.reload()
                status_read = time.monotonic()
                if self.container.status in ("exited", "dead"):
                    code = self.container.attrs["State"]["ExitCode"]
                    raise ServiceExited(
                        f"service '{self.name}' exited with code {code} during startup. "
                        f"Last {LOG_TAIL} lines of its log:\n{self._log_tail()}\n"
                        "Fix the service's command or configuration (its log above says why it stopped).")
            if self.container.status == "running":
                seen = probe_once(probe, self.container, self.ports, log_since) if probe else None
                if seen is None:
                    return
            if time.monotonic() > deadline:
                waited = time.monotonic() - started
                raise ServiceNotReady(
                    f"service '{self.name}' was not ready after {waited:.1f} s: probe {probe.describe() if probe else ''}"
                    f" never passed (last: {seen}). Last {LOG_TAIL} lines of its log:\n{self._log_tail()}\n"
                    "Check the log, fix the probe in the topology file, or raise the service's `timeout:`.")
            time.sleep(pause)
            pause = min(pause * 2, probe.interval if probe else 0.1)

    def _log_tail(self) -> str:
        lines = self.logs(tail=LOG_TAIL).splitlines() or ["(the log is empty)"]
        return "\n".join(f"  | {line}" for line in lines)


class Topology:
    """A running topology. `topology["dataservice"].url`; use as a context manager or call `close()`."""

    def __init__(self, spec: TopologySpec, client: docker.DockerClient, run_id: str, network: str | None,
                 keep: bool) -> None:
        self.spec = spec
        self.client = client
        self.run_id = run_id
        self.network = network
        self.keep = keep
        self.services: dict[str, Service] = {}

    def __getitem__(self, name: str) -> Service:
        try:
            return self.services[name]
        except KeyError:
            raise KeyError(f"no service '{name}' in topology '{self.spec.project}' "
                           f"(services: {', '.join(self.services)})") from None

    def __iter__(self) -> Iterator[Service]:
        """The running services, in the order of the topology file."""
        return iter([self.services[name] for name in self.spec.services if name in self.services])

    def __contains__(self, name: object) -> bool:
        return name in self.services

    def __enter__(self) -> Topology:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def urls(self) -> dict[str, str]:
        return {s.name: s.url for s in self if s.ports}

    def close(self) -> None:
        """Remove every container and the network of this run."""
        L.remove_run(self.client, self.run_id)

    @classmethod
    def start(cls, spec: TopologySpec, progress: Progress | None = None, keep: bool = False) -> Topology:
        client = connect()
        L.remove_leftovers(client)
        run_id = uuid.uuid4().hex[:10]
        run_labels = L.run_labels(run_id, spec.project, spec.file, keep)
        network = Network(docker_network_kw={"labels": run_labels})
        network.name = f"harness-{spec.project}-{run_id}"
        topology = cls(spec, client, run_id, network.name, keep)
        starter = _Starter(topology, network, run_labels, progress or (lambda event: None))
        try:
            starter.run()
        except BaseException:
            starter.stop()
            topology.close()
            raise
        return topology

    @classmethod
    @contextmanager
    def reused_or_started(cls, spec: TopologySpec, progress: Progress | None = None,
                          say: Callable[[str], None] = lambda text: None) -> Iterator[Topology]:
        """The topology of `spec` if one is running (`harness up --detach`), else one started for this block and
        removed at its end."""
        topology = cls.attach(spec)
        if topology is not None:
            say(f"using the running topology {spec.project} (run {topology.run_id})")
            yield topology
            return
        say(f"starting topology {spec.project} from {spec.file} (`harness up --detach` first to reuse one)")
        with cls.start(spec, progress=progress) as topology:
            yield topology

    @classmethod
    def attach(cls, spec: TopologySpec) -> Topology | None:
        """The topology of `spec` already running (started by `harness up` or `--topology-keep`), if any."""
        client = connect()
        found = L.find_runs(client, spec.project)
        if not found:
            return None
        run_id, containers = found[0]
        topology = cls(spec, client, run_id, None, keep=True)
        for container in containers:
            name = container.labels[L.SERVICE]
            if name in spec.services:
                network = next(iter(container.attrs["NetworkSettings"]["Networks"]), None)
                topology.network = network
                topology.services[name] = Service(name, spec.services[name], container,
                                                  L.published_ports(container), network)
        return topology


class _Starter:
    """Builds images and starts services, each in its own thread, as soon as what it needs is ready."""

    def __init__(self, topology: Topology, network: Network, run_labels: dict[str, str], progress: Progress) -> None:
        self.topology = topology
        self.spec = topology.spec
        self.network = network
        self.run_labels = run_labels
        self.progress = progress
        self.cancelled = threading.Event()
        self.lock = threading.Lock()
        self.images: dict[str, Future[str]] = {}
        self.ready: dict[str, Future[Service]] = {}
        self.network_created: Future[object] = Future()
        self.failures: list[BaseException] = []  # in the order they happened; the first is reported

    def run(self) -> None:
        # Everything that does not depend on readiness starts at once: the network, every build, every image check.
        self.network_created = self._spawn(lambda _: self.network.create(), "network")
        images: dict[object, Future[str]] = {}
        for name, service in self.spec.services.items():
            if service.build:
                key: object = (service.build.context, service.build.dockerfile,
                               tuple(sorted(service.build.args.items())))
                if key not in images:
                    images[key] = self._spawn(self._build, name)
            else:
                key = service.image
                if key not in images:
                    images[key] = self._spawn(
                        lambda n: ensure_image(self.topology.client, self.spec.services[n].image or "", service=n),
                        name)
            self.images[name] = images[key]
        for level in StartPlan.from_spec(self.spec).levels:
            for name in level:
                self.ready[name] = self._spawn(self._start, name)
        try:
            wait(self.ready.values(), return_when=FIRST_EXCEPTION)
            if self.failures:
                raise self.failures[0]
        except BaseException:
            self.cancelled.set()
            raise

    def stop(self) -> None:
        """Cancel, and give the threads that are creating containers a moment to finish (so teardown sees them)."""
        self.cancelled.set()
        wait(self.ready.values(), timeout=10)

    def _await(self, future: Future) -> object:
        """The future's result, or _Cancelled as soon as the start is cancelled."""
        while not future.done():
            if self.cancelled.is_set():
                raise _Cancelled()
            wait([future], timeout=0.05)
        if future.exception() is not None:
            raise _Cancelled()  # the failure itself is reported by the thread that had it
        return future.result()

    def _spawn(self, work: Callable[[str], object], name: str) -> Future:
        future: Future = Future()

        def body() -> None:
            try:
                future.set_result(work(name))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                if not isinstance(exc, _Cancelled):
                    with self.lock:
                        self.failures.append(exc)
                    self.cancelled.set()
                    self.progress(StartEvent(name, "failed", detail=str(exc).splitlines()[0]))
                future.set_exception(exc)

        threading.Thread(target=body, name=f"harness-{name}", daemon=True).start()
        return future

    def _build(self, name: str) -> str:
        build = self.spec.services[name].build
        assert build is not None
        started = time.monotonic()
        tag, built = build_image(self.topology.client, self.spec.base_dir / build.context, build, service=name,
                                 on_start=lambda: self.progress(StartEvent(name, "building")),
                                 on_line=lambda line: self.progress(StartEvent(name, "building", detail=line)))
        self.progress(StartEvent(name, "built" if built else "cached", time.monotonic() - started, tag))
        return tag

    def _start(self, name: str) -> Service:
        spec = self.spec.services[name]
        image = str(self._await(self.images[name]))
        self._await(self.network_created)
        for dependency in spec.depends_on:
            self._await(self.ready[dependency])
        started = time.monotonic()
        self.progress(StartEvent(name, "starting"))
        ports = {port: _free_port() for port in spec.published_ports()}
        container = self._container(name, spec, image, ports)
        container.start()
        if self.cancelled.is_set():  # the start was abandoned while this container was being created
            container.stop()
            raise _Cancelled()
        service = Service(name, spec, container.get_wrapped_container(), ports, self.network.name)
        with self.lock:
            self.topology.services[name] = service
        if spec.ready:
            self.progress(StartEvent(name, "waiting", detail=spec.ready.describe()))
        service.wait_ready(started, self.cancelled)
        self.progress(StartEvent(name, "ready", time.monotonic() - started, service.url if ports else ""))
        return service

    def _container(self, name: str, spec: ServiceSpec, image: str, ports: dict[int, int]) -> DockerContainer:
        container = DockerContainer(image, name=f"harness-{self.spec.project}-{name}-{self.topology.run_id}")
        container.with_network(self.network).with_network_aliases(name, *spec.aliases)
        container.with_envs(**spec.environment)
        if spec.command is not None:
            container.with_command(spec.command)
        for port, host_port in ports.items():
            container.ports[f"{port}/tcp"] = ("127.0.0.1", host_port)  # type: ignore[assignment] - docker-py form
        for mount in spec.mounts:
            container.with_volume_mapping(str((self.spec.base_dir / mount.source).resolve()), mount.target, "ro")
        container.with_kwargs(labels={**self.run_labels, L.SERVICE: name})
        return container


def _free_port() -> int:
    """A free port on 127.0.0.1, chosen once per run so that a service keeps its URL across stop/start."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
