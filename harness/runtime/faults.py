"""Faults per edge: delay, packet loss and cuts on the calls one service makes to another, while everything else
keeps working, with no change to the services or their images.

    with topology.edge("gateway", "dataservice").delay(ms=1500, jitter_ms=100): ...
    with topology.edge("worker", "strava").loss(percent=30): ...
    with topology.edge("gateway", "redis").cut(): ...             # refused at once; cut(mode="drop"): calls hang
    with topology["gateway"].faults.delay(ms=200): ...            # everything gateway calls

How (the Pumba approach): one helper container per consumer joins the consumer's network namespace
(`network_mode: container:<id>`, NET_ADMIN) and runs `fault_agent.py`, which puts netfilter rules on the packets of
connections the consumer opens to the provider's address (see fault_agent.py for why netfilter queueing rather than
tc netem). The helper image is built once from python:3.11-slim, tagged by the hash of its Dockerfile and agent
(fault_helper.py: the helper container and its image; here: what a fault is, and the faults of a topology).

Cleanup: the helper carries the run's labels, so teardown and leftover removal find it with the run. Removing a
fault (end of the block, also when the test fails or is interrupted) deletes its rules from the consumer's
namespace; the last fault of a consumer removes its helper. After a crash the consumer itself is removed by the
leftover cleanup, and its namespace (with the rules) with it.

Following restarts: the agent looks providers up by name (on the networks the consumer shares with them) every
0.5 s, and the running Topology re-applies at once when a service is started again (`Service.start`, `restart`,
`connect`); a consumer that restarts gets a new helper in its new namespace.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import FaultError, InvalidFault
from harness.runtime.fault_helper import HELPER_OF, FaultHelper, helper_containers, helper_image, remove_container

if TYPE_CHECKING:
    from docker.models.containers import Container

    from harness.runtime.service import Service
    from harness.runtime.topology import Topology

CutMode = Literal["reject", "drop"]


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
        self._helpers: dict[str, FaultHelper] = {}  # consumer -> its helper, for those this process has used
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
            self._refuse_outside(consumer, provider)
            consumer_on = {a.network for a in self._topology[consumer].networks}
            if not consumer_on & {a.network for a in self._topology[provider].networks}:
                raise InvalidFault(f"fault on {consumer} -> {provider}: they share no network, so {consumer} cannot "
                                   f"call {provider} at all (networks of the topology file)",
                                   consumer=consumer, provider=provider)
        return Edge(self, consumer, provider)

    def add(self, fault: Fault) -> ActiveFault:
        """Put `fault` in place; it is active when this returns.

        Raises:
            InvalidFault: the consumer's or the provider's network is not the run's own (`network_mode: host`,
                `container:NAME`): no rule is ever put on the machine's network or another container's.
            FaultError: the helper image did not build, the consumer is not running, or the rules were refused.
            InvalidCall: under pytest-xdist, the topology is shared by the workers and the test does not hold it
                alone (`topology_exclusive`): the fault would reach the other workers' tests.
        """
        self._refuse_outside(fault.consumer, fault.provider)
        self._topology.disturbing(f"fault {fault.describe()}")
        with self._lock:
            helper = self._helper(fault.consumer, create=True)
            assert helper is not None
            try:  # with --observe, the agent has the calls marked from before the rules to after them (fault_agent.py)
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
                remove_container(container)
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

    def _refuse_outside(self, consumer: str, provider: str | None) -> None:
        """Faults are rules in the consumer's network namespace on the provider's address on the run's networks: a
        namespace the run did not make (the machine's own, with `network_mode: host`; a container's outside the
        run) is refused, never touched."""
        spec = self._topology.spec
        for name, role in ((consumer, "its consumer"), (provider, "its provider")):
            why = spec.namespace_outside_run(name) if name is not None else None
            if why is not None:
                edge = f"{consumer} -> {provider or '(everything it calls)'}"
                raise InvalidFault(f"fault on {edge}: {role} '{name}' has {why}; faults are rules put in the "
                                   "network namespaces the run made, and the harness never puts them on the "
                                   "machine's network or another container's (use a service on the run's networks)",
                                   consumer=consumer, provider=provider)
            replicas = spec.services[name].replicas if name is not None else 1
            if replicas > 1:  # one helper in one namespace, one address of the provider: a fault on part of them
                edge = f"{consumer} -> {provider or '(everything it calls)'}"
                raise InvalidFault(f"fault on {edge}: {role} '{name}' runs {replicas} replicas; a fault is put in one "
                                   "container's network namespace on one address of its provider, so the calls of "
                                   "(or to) the other replicas would go through unharmed and a test of the fault "
                                   "could pass wrongly; put the fault on an edge of services of one replica (or "
                                   "stop, pause or disconnect each replica: topology[NAME].replicas)",
                                   consumer=consumer, provider=provider)

    def _apply(self, helper: FaultHelper, faults: list[Fault]) -> None:
        """`helper.apply` with each provider's address as the engine has it now, so that the rules are in place when
        this returns even if the provider's name does not resolve in the consumer at this moment (the agent's own
        look-ups, every 0.5 s, then follow it to a new address)."""
        addresses = {}
        shared = {a.network for a in helper.consumer.networks}  # the provider's address the consumer calls
        for provider in {f.provider for f in faults if f.provider is not None}:
            address = self._topology[provider].address(on=shared)
            if address is not None:
                addresses[provider] = address
        helper.apply(faults, addresses)

    def _helper_containers(self) -> list[Container]:
        topology = self._topology  # across engines: a helper runs on its consumer's engine
        clients = [engine.client for engine in topology.engines.values()] or [topology.client]
        return [container for client in clients for container in helper_containers(client, topology.run_id)]

    def _helper(self, consumer: str, *, create: bool) -> FaultHelper | None:
        """This process's helper for `consumer`, else the one another process left (its faults read from its agent),
        else a new one when `create`. A helper whose consumer was restarted since is replaced."""
        known = self._helpers.get(consumer)
        if known is not None:
            return known
        service = self._topology[consumer]
        for container in self._helper_containers():
            if container.labels.get(HELPER_OF) != consumer:
                continue
            helper = FaultHelper(service, container)
            if container.status == "running" and helper.joined_current_namespace():
                helper.faults = [Fault.from_agent(consumer, data) for data in helper.read()]
                self._helpers[consumer] = helper
                return helper
            remove_container(container)  # stale: its consumer restarted (its faults were lost with the namespace)
        if not create:
            return None
        topology = self._topology
        where = topology.engines[str(topology.spec.engine_of(consumer))].where if topology.engines else "the engine"
        helper = FaultHelper.start(service, helper_image(topology.client_of(consumer), topology.builder, where))
        self._helpers[consumer] = helper
        return helper

    def _drop_helper(self, consumer: str, clear: bool = True) -> None:
        helper = self._helpers.pop(consumer, None)
        if helper is not None:
            helper.stop(clear=clear)


__all__ = ["ActiveFault", "Edge", "Fault", "FaultRecord", "TopologyFaults"]
