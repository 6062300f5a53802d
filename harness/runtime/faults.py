"""Faults per edge: delay, packet loss and cuts on the calls one service makes to another, while everything else
keeps working, with no change to the services or their images.

    with topology.edge("gateway", "dataservice").delay(ms=1500, jitter_ms=100): ...
    with topology.edge("worker", "strava").loss(percent=30): ...
    with topology.edge("gateway", "redis").cut(): ...             # refused at once; cut(mode="drop"): calls hang
    with topology["gateway"].faults.delay(ms=200): ...            # everything gateway calls

How (the Pumba approach): one helper container per consumer joins the consumer's network namespace
(`network_mode: container:<id>`, NET_ADMIN) and runs `fault_agent.py`, which puts netfilter rules on the packets of
connections the consumer opens to the provider's address (see fault_agent.py for why netfilter queueing rather than
tc netem). The helper image is built once from python:3.11-slim, tagged by the hash of its Dockerfile and agent.

Cleanup: the helper carries the run's labels, so teardown and leftover removal find it with the run. Removing a
fault (end of the block, also when the test fails or is interrupted) deletes its rules from the consumer's
namespace; the last fault of a consumer removes its helper. After a crash the consumer itself is removed by the
leftover cleanup, and its namespace (with the rules) with it.

Following restarts: the agent looks providers up by name on the topology network every 0.5 s, and the running
Topology re-applies at once when a service is started again (`Service.start`, `restart`, `connect`); a consumer
that restarts gets a new helper in its new namespace.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn

import docker
import docker.errors
from docker.models.containers import Container

from harness.errors import FaultError, InvalidFault
from harness.runtime import labels as L

if TYPE_CHECKING:
    from harness.runtime.service import Service
    from harness.runtime.topology import Topology

CutMode = Literal["reject", "drop"]
HELPER_OF = f"{L.PREFIX}.faults-of"  # on a helper container: the consumer's service name
CONSUMER_STARTED = f"{L.PREFIX}.consumer-started"  # the consumer's StartedAt when the helper joined it
AGENT_SOURCE = Path(__file__).with_name("fault_agent.py")
AGENT_PATH = "/usr/local/lib/pytest-topology/fault_agent.py"
BASE_IMAGE = "python:3.11-slim"
HELPER_DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN apt-get update -qq \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
       iproute2 iptables libnetfilter-queue1 \\
    && rm -rf /var/lib/apt/lists/*
COPY fault_agent.py {AGENT_PATH}
CMD ["python3", "{AGENT_PATH}", "serve"]
"""
READY_LINE = "fault agent ready"
HELPER_START_TIMEOUT = 20.0  # seconds
_build_lock = threading.Lock()


@dataclass(frozen=True)
class Fault:
    """One fault on the calls `consumer` makes to `provider` (None: to every destination).

    Units: `delay_ms` and `jitter_ms` in milliseconds (each packet held delay +- uniform jitter), `loss_percent` in
    percent of packets dropped, `cut` "reject" (TCP reset: connection refused at once) or "drop" (calls hang until
    their own timeout).
    """

    consumer: str
    provider: str | None
    delay_ms: int = 0
    jitter_ms: int = 0
    loss_percent: float = 0.0
    cut: CutMode | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def edge(self) -> str:
        return f"{self.consumer} -> {self.provider or '(everything it calls)'}"

    def describe(self) -> str:
        """`gateway -> dataservice: delay 1500 ms ± 100 ms`."""
        parts = []
        if self.delay_ms:
            parts.append(f"delay {self.delay_ms} ms" + (f" ± {self.jitter_ms} ms" if self.jitter_ms else ""))
        if self.loss_percent:
            parts.append(f"loss {self.loss_percent:g}%")
        if self.cut:
            parts.append("cut (connections refused)" if self.cut == "reject" else "cut (packets dropped)")
        return f"{self.edge}: {', '.join(parts)}"

    def for_agent(self) -> dict[str, Any]:
        return {"id": self.id, "target": self.provider, "delay_ms": self.delay_ms, "jitter_ms": self.jitter_ms,
                "loss_percent": self.loss_percent, "cut": self.cut}

    @classmethod
    def from_agent(cls, consumer: str, data: dict[str, Any]) -> Fault:
        return cls(consumer, data.get("target"), int(data.get("delay_ms") or 0), int(data.get("jitter_ms") or 0),
                   float(data.get("loss_percent") or 0), data.get("cut"), str(data.get("id")))


@dataclass
class FaultRecord:
    """When a fault was in place: `started` and `ended` are wall-clock times (`time.time()`); `ended` None: still."""

    fault: Fault
    started: float
    ended: float | None = None


class ActiveFault:
    """A fault in place. Use it as a context manager (removed at the end of the block, also when it raises), or call
    `remove()`; faults still in place are removed with the topology."""

    def __init__(self, faults: TopologyFaults, fault: Fault) -> None:
        self.fault = fault
        self._faults = faults

    def __repr__(self) -> str:
        return f"<ActiveFault {self.fault.describe()}>"

    def __enter__(self) -> ActiveFault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Undo the fault (a no-op when it is already gone).

        Raises:
            FaultError: the helper died while the fault was in place (so the fault may not have held), or its rules
                could not be removed.
        """
        self._faults.remove(self.fault)


class Edge:
    """Faults on what `consumer` calls: the edge to `provider`, or everything it calls when `provider` is None."""

    def __init__(self, faults: TopologyFaults, consumer: str, provider: str | None) -> None:
        self._faults = faults
        self.consumer = consumer
        self.provider = provider

    def __repr__(self) -> str:
        return f"<Edge {self.consumer} -> {self.provider or '*'}>"

    def delay(self, ms: int, jitter_ms: int = 0) -> ActiveFault:
        """Hold every packet of the consumer's connections to the provider `ms` milliseconds (± uniform `jitter_ms`).
        A call on an open connection takes `ms` longer; on a new connection twice (connect, then the request).

        Raises:
            InvalidFault: `ms` not positive, `jitter_ms` negative. FaultError: see `TopologyFaults.add`.
        """
        if not isinstance(ms, int | float) or ms <= 0 or not isinstance(jitter_ms, int | float) or jitter_ms < 0:
            raise self._invalid(f"delay(ms={ms!r}, jitter_ms={jitter_ms!r}): ms must be a positive number of "
                                "milliseconds and jitter_ms zero or more")
        return self._faults.add(Fault(self.consumer, self.provider, delay_ms=round(ms), jitter_ms=round(jitter_ms)))

    def loss(self, percent: float) -> ActiveFault:
        """Drop `percent` % of the packets of the consumer's connections to the provider, at random.

        Raises:
            InvalidFault: `percent` not in (0, 100]. FaultError: see `TopologyFaults.add`.
        """
        if not isinstance(percent, int | float) or not 0 < percent <= 100:
            raise self._invalid(f"loss(percent={percent!r}): percent must be more than 0 and at most 100")
        return self._faults.add(Fault(self.consumer, self.provider, loss_percent=float(percent)))

    def cut(self, mode: CutMode = "reject") -> ActiveFault:
        """Cut the edge: "reject" answers every packet with a TCP reset (connections refused, open ones reset, at
        once); "drop" drops them (calls hang until the consumer's own timeout). Calls the provider makes to the
        consumer are not cut.

        Raises:
            InvalidFault: another mode. FaultError: see `TopologyFaults.add`.
        """
        if mode not in ("reject", "drop"):
            raise self._invalid(f"cut(mode={mode!r}): mode must be 'reject' (refused at once) or 'drop' (calls hang)")
        return self._faults.add(Fault(self.consumer, self.provider, cut=mode))

    def _invalid(self, message: str) -> InvalidFault:
        return InvalidFault(f"fault on {self.consumer} -> {self.provider or '*'}: {message}",
                            consumer=self.consumer, provider=self.provider)


class TopologyFaults:
    """The faults of one running topology (`topology.faults`): add, remove, list, and the history for reports."""

    def __init__(self, topology: Topology) -> None:
        self._topology = topology
        self._helpers: dict[str, _Helper] = {}  # consumer -> its helper, for those this process has used
        self._lock = threading.RLock()
        self.history: list[FaultRecord] = []  # every fault this process applied, in order

    def edge(self, consumer: str, provider: str | None) -> Edge:
        """Faults on the calls `consumer` makes to `provider` (any two services; None: everything it calls).

        Raises:
            UnknownService: a name that is not a running service of the topology (with the near miss).
            InvalidFault: an edge from a service to itself.
        """
        self._topology[consumer]
        if provider is not None:
            self._topology[provider]
            if provider == consumer:
                raise InvalidFault(f"fault on {consumer} -> {provider}: an edge needs two different services "
                                   f"(for everything {consumer} calls: topology['{consumer}'].faults)",
                                   consumer=consumer, provider=provider)
        return Edge(self, consumer, provider)

    def add(self, fault: Fault) -> ActiveFault:
        """Put `fault` in place; it is active when this returns.

        Raises:
            FaultError: the helper image did not build, the consumer is not running, or the rules were refused.
        """
        with self._lock:
            helper = self._helper(fault.consumer, create=True)
            assert helper is not None
            try:
                self._apply(helper, [*helper.faults, fault])
            except FaultError:
                if not helper.faults:
                    self._drop_helper(fault.consumer)
                raise
            self.history.append(FaultRecord(fault, time.time()))
        return ActiveFault(self, fault)

    def remove(self, fault: Fault) -> None:
        """Undo `fault`; the consumer's last fault removes its helper. See ActiveFault.remove."""
        with self._lock:
            for record in self.history:
                if record.fault.id == fault.id and record.ended is None:
                    record.ended = time.time()
            helper = self._helper(fault.consumer, create=False)
            if helper is None or all(f.id != fault.id for f in helper.faults):
                return
            rest = [f for f in helper.faults if f.id != fault.id]
            if rest:
                self._apply(helper, rest)
            else:
                self._drop_helper(fault.consumer)

    def active(self) -> list[Fault]:
        """Every fault in place on this topology, also those put by another process (`harness fault`)."""
        with self._lock:
            for container in self._helper_containers():
                self._helper(container.labels[HELPER_OF], create=False)
            return [fault for helper in self._helpers.values() for fault in helper.faults]

    def during(self, start: float, end: float) -> list[FaultRecord]:
        """The faults this process had in place at some time between `start` and `end` (`time.time()` values)."""
        return [r for r in self.history if r.started <= end and (r.ended is None or r.ended >= start)]

    def clear(self) -> list[Fault]:
        """Remove every fault of the topology (also those put by another process) and their helpers.

        Returns:
            The faults removed.
        """
        with self._lock:
            removed = self.active()
            for consumer in list(self._helpers):
                self._drop_helper(consumer)
            for container in self._helper_containers():  # helpers whose state could not be read
                _remove_container(container)
            now = time.time()
            for record in self.history:
                record.ended = record.ended or now
            return removed

    def service_started(self, service: Service) -> None:
        """Called when a service is started again or reconnected: a consumer gets a helper in its new network
        namespace; the consumers calling it look its address up now rather than within the next 0.5 s."""
        with self._lock:
            own = self._helpers.get(service.name)
            if own is not None and own.faults:
                faults = own.faults
                self._drop_helper(service.name, clear=False)  # its namespace is gone with the old container
                replacement = self._helper(service.name, create=True)
                assert replacement is not None
                self._apply(replacement, faults)
            for helper in self._helpers.values():
                if helper.consumer.name != service.name and any(f.provider == service.name for f in helper.faults):
                    self._apply(helper, helper.faults)

    # --- helpers -----------------------------------------------------------------------------------------------

    def _apply(self, helper: _Helper, faults: list[Fault]) -> None:
        """`helper.apply` with each provider's address as the engine has it now, so that the rules are in place when
        this returns even if the provider's name does not resolve in the consumer at this moment (the agent's own
        look-ups, every 0.5 s, then follow it to a new address)."""
        addresses = {}
        for provider in {f.provider for f in faults if f.provider is not None}:
            address = self._topology[provider].address()
            if address is not None:
                addresses[provider] = address
        helper.apply(faults, addresses)

    def _helper_containers(self) -> list[Container]:
        return L.inspected_containers(self._topology.client,
                                      {"label": [f"{L.RUN}={self._topology.run_id}", HELPER_OF]})

    def _helper(self, consumer: str, *, create: bool) -> _Helper | None:
        """This process's helper for `consumer`, else the one another process left (its faults read from its agent),
        else a new one when `create`. A helper whose consumer was restarted since is replaced."""
        known = self._helpers.get(consumer)
        if known is not None:
            return known
        service = self._topology[consumer]
        for container in self._helper_containers():
            if container.labels.get(HELPER_OF) != consumer:
                continue
            helper = _Helper(service, container)
            if container.status == "running" and helper.joined_current_namespace():
                helper.faults = helper.read()
                self._helpers[consumer] = helper
                return helper
            _remove_container(container)  # stale: its consumer restarted (its faults were lost with the namespace)
        if not create:
            return None
        helper = _Helper.start(service, helper_image(self._topology.client))
        self._helpers[consumer] = helper
        return helper

    def _drop_helper(self, consumer: str, clear: bool = True) -> None:
        helper = self._helpers.pop(consumer, None)
        if helper is not None:
            helper.stop(clear=clear)


class _Helper:
    """The helper container of one consumer and the faults its agent holds."""

    def __init__(self, consumer: Service, container: Container) -> None:
        self.consumer = consumer
        self.container = container
        self.faults: list[Fault] = []

    @classmethod
    def start(cls, consumer: Service, image: str) -> _Helper:
        target = consumer.container
        target.reload()
        if target.status != "running":
            raise FaultError(f"service '{consumer.name}' is {target.status}: a fault on the calls it makes needs it "
                             "running; start it first (topology[...].start())", consumer=consumer.name,
                             provider=None)
        labels = {key: value for key, value in target.labels.items()
                  if key in (L.RUN, L.OWNER, L.KEEP, L.TOPOLOGY, L.FILE)}
        labels.update({HELPER_OF: consumer.name, CONSUMER_STARTED: target.attrs["State"]["StartedAt"]})
        try:
            container = target.client.containers.run(
                image, detach=True, name=f"{target.name}-faults-{uuid.uuid4().hex[:4]}", labels=labels,
                network_mode=f"container:{target.id}", cap_add=["NET_ADMIN"])
        except docker.errors.APIError as error:
            raise FaultError(f"service '{consumer.name}': the fault helper container did not start: "
                             f"{_explain(error)}", consumer=consumer.name, provider=None) from None
        helper = cls(consumer, container)
        helper._wait_ready()
        return helper

    def joined_current_namespace(self) -> bool:
        self.consumer.container.reload()
        return bool(self.consumer.container.status == "running"
                    and self.container.labels.get(CONSUMER_STARTED)
                    == self.consumer.container.attrs["State"]["StartedAt"])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + HELPER_START_TIMEOUT
        while time.monotonic() < deadline:
            self.container.reload()
            logs = self.container.logs().decode("utf-8", "replace")
            if READY_LINE in logs:
                return
            if self.container.status in ("exited", "dead"):
                break
            time.sleep(0.05)
        logs = self.container.logs(tail=20).decode("utf-8", "replace").strip() or "(empty)"
        _remove_container(self.container)
        raise FaultError(f"service '{self.consumer.name}': the fault helper did not become ready in "
                         f"{HELPER_START_TIMEOUT:g} s (status {self.container.status}). Its log:\n{logs}",
                         consumer=self.consumer.name, provider=None)

    def apply(self, faults: list[Fault], addresses: dict[str, str] | None = None) -> None:
        """Make `faults` the consumer's faults (replacing the previous set at once); their rules are in place when
        this returns. `addresses`: provider name -> IPv4 address, used when the agent cannot look the name up."""
        payload = json.dumps({"faults": [f.for_agent() for f in faults], "addresses": addresses or {}})
        reply = self._agent(["apply", payload], faults)
        if not reply.get("ok"):
            described = "; ".join(f.describe() for f in faults) or "no faults"
            raise FaultError(f"service '{self.consumer.name}': the fault helper could not apply {described}: "
                             f"{reply.get('error')}", consumer=self.consumer.name,
                             provider=faults[-1].provider if faults else None)
        self.faults = list(faults)

    def read(self) -> list[Fault]:
        reply = self._agent(["show"], [])
        return [Fault.from_agent(self.consumer.name, data) for data in reply.get("faults", [])]

    def _agent(self, arguments: list[str], faults: list[Fault]) -> dict[str, Any]:
        try:
            result = self.container.exec_run(["python3", AGENT_PATH, *arguments])
        except docker.errors.APIError as error:
            self._raise_died(f"{_explain(error)}")
        output = result.output.decode("utf-8", "replace").strip()
        try:
            reply: dict[str, Any] = json.loads(output.splitlines()[-1])  # the agent prints one JSON object last
            return reply
        except (ValueError, IndexError):
            return {"ok": False, "error": output[-500:] or f"exit code {result.exit_code}"}

    def stop(self, clear: bool = True) -> None:
        """Remove the rules (when `clear`) and the helper. Raises FaultError if the helper had died meanwhile."""
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return  # removed with its topology: nothing left to undo
        died = self.container.status != "running"
        if clear and not died:
            self.apply([])
        _remove_container(self.container)
        if died and self.faults:
            self._raise_died(f"status {self.container.status}")

    def _raise_died(self, detail: str) -> NoReturn:
        described = "; ".join(f.describe() for f in self.faults)
        raise FaultError(f"service '{self.consumer.name}': the fault helper stopped while faults were in place "
                         f"({detail}), so they may not have held: {described}", consumer=self.consumer.name,
                         provider=None)


def helper_image(client: docker.DockerClient) -> str:
    """The helper image's tag, `pytest-topology/fault-helper:<hash of Dockerfile and agent>`, built when missing.

    Raises:
        FaultError: the build failed (the last lines of its log in the message).
    """
    agent = AGENT_SOURCE.read_bytes()
    digest = hashlib.sha256(HELPER_DOCKERFILE.encode() + b"\0" + agent).hexdigest()[:16]
    tag = f"pytest-topology/fault-helper:{digest}"
    with _build_lock:
        try:
            client.images.get(tag)
            return tag
        except docker.errors.ImageNotFound:
            pass
        context = io.BytesIO()
        with tarfile.open(fileobj=context, mode="w") as tar:
            for name, data in (("Dockerfile", HELPER_DOCKERFILE.encode()), ("fault_agent.py", agent)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        context.seek(0)
        log: list[str] = []
        try:
            for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                                          labels={f"{L.PREFIX}.context": "fault-helper"}, decode=True):
                if "error" in chunk:
                    log.append(str(chunk["error"]).rstrip())
                    raise FaultError(_build_failed(log), consumer=None, provider=None)
                line = str(chunk.get("stream") or "").rstrip()
                if line:
                    log.append(line)
        except docker.errors.APIError as error:
            log.append(_explain(error))
            raise FaultError(_build_failed(log), consumer=None, provider=None) from None
    return tag


def _build_failed(log: list[str]) -> str:
    tail = "\n".join(f"  | {line}" for line in log[-30:])
    return (f"the fault helper image (FROM {BASE_IMAGE}, with Debian's iptables and libnetfilter-queue1) did not "
            f"build. Last lines of the build log:\n{tail}\n"
            f"It needs {BASE_IMAGE} in the engine (`bash fixtures/images/ensure-base-images.sh`) and the Debian "
            "mirror reachable from containers.")


def _remove_container(container: Container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        if "already in progress" not in str(error):
            raise


def _explain(error: docker.errors.APIError) -> str:
    return str(getattr(error, "explanation", None) or error).strip()[:300]


__all__ = ["ActiveFault", "Edge", "Fault", "FaultRecord", "TopologyFaults", "helper_image"]
