"""Observed traffic: what the services of a running topology say to each other, seen passively, with no change to the
services or their images.

How: like the faults (faults.py), one helper container per service joins the service's network namespace
(`network_mode: container:<id>`, NET_ADMIN, NET_RAW) and runs `observe_agent.py`, which reads every packet of the
namespace with a raw socket and keeps HTTP/1.x calls and connection counts, aggregated. At the end `read()` asks each
agent for what it saw and names both ends by address: a connection a service opens is a call of that service (the
consumer) to the service owning the address (the provider); a connection to a service from its network's gateway, or
from an address in none of the run's networks (another engine; an overlay network has no gateway), is a call from
outside the topology (the test process and the harness, through a published port), named OUTSIDE; the agent names
the caller of such a request when a header marks it as the harness's, the Pact verifier's or schemathesis'
(call_marks.py), and keeps no body of it. Each
call between two services is seen in both namespaces and counted once: in the consumer's, plus those only the
provider's capture saw (the consumer's did not run yet), told apart by the identity both agents give a call.

A service started again has a new network namespace (`docker restart` too; the old helper stays in the old one, which
has only its loopback left): a new helper is started in the new one at once and waited for once the service is ready,
before the start returns (`service_started`). On a kept run the helpers stay at the session's end (`end`): the
next session reuses each one still in its service's namespace, what it saw forgotten (its agent's `reset`). Calls
under a fault are marked by the fault agent of the same namespace (fault_agent.py, one request on the capture's
socket): no `docker exec` per fault.

Limits (said in the results, never silent): connections opened before the capture started that are not HTTP/1.x are
not inspected (the packets are counted; an HTTP/1.x one is followed from its next request); a service started again
outside the harness loses its capture (its calls to other services are still seen by theirs; `Observation.lost`
names it); packets the kernel dropped are counted.
"""

from __future__ import annotations

import ipaddress
import itertools
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import docker.errors

from harness.errors import ObserveError
from harness.runtime import labels as L
from harness.runtime.engine import explain
from harness.runtime.fault_helper import remove_container
from harness.runtime.helper_image import BASE_IMAGE, HelperBuildFailed, build_failed_text, helper_image
from harness.runtime.observe_exec import AGENT_PATH, reset, snapshot, wait_ready
from harness.runtime.observe_records import (
    EARLY,
    OUTSIDE,
    CallsOnce,
    Observation,
    ObservedCall,
    ObservedFlow,
    OutsideAddresses,
    early_record,
    observed_call,
    record_ends,
)
from harness.runtime.transfer import copy_image

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from docker.models.containers import Container

    from harness.runtime.service import Service
    from harness.runtime.topology import Topology

OBSERVES = f"{L.PREFIX}.observes"  # on an observation helper: the service's name
OBSERVED_START = f"{L.PREFIX}.observes-started"  # ... and the service's StartedAt when the helper joined it
OBSERVED_ADDRESSES = f"{L.PREFIX}.observes-addresses"  # ... and its IPv4 addresses then (comma-separated)
OBSERVED_PEERS = f"{L.PREFIX}.observes-peers"  # ... and the other services' it was told (OBSERVE_PEERS)
AGENT_SOURCE = Path(__file__).with_name("observe_agent.py")
# the files of the helper image's build context: the agent and its modules, side by side
AGENT_FILES = {name: AGENT_SOURCE.with_name(name).read_bytes()
               for name in ("observe_agent.py", "observe_control.py", "observe_streams.py", "call_marks.py")}
DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN apt-get update -qq \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-dpkt python3-httptools \\
    && rm -rf /var/lib/apt/lists/*
COPY observe_agent.py observe_control.py observe_streams.py call_marks.py /usr/local/lib/pytest-topology/
CMD ["python3", "{AGENT_PATH}", "serve"]
"""
_STARTER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="harness-observe-start")  # see service_started
_PENDING: dict[str, list[tuple[str, Future[Container | None]]]] = {}  # run -> helpers being started (service_started)
_PENDING_LOCK = threading.Lock()
_OBSERVED: set[str] = set()  # the runs this process observes (TopologyObservation.start)
_START_AGAIN_LOCK = threading.Lock()  # one new helper at a time (a service started twice in a row: one helper)
Item = TypeVar("Item")
Done = TypeVar("Done")


class TopologyObservation:
    """The observation helpers of one running topology: `start()` one per service, `read()` what they saw, `stop()`.
    The helpers are found by their labels, so any process may read them (pytest-xdist's controller), and a service
    started again gets a new helper in its new namespace (`service_started`), read with the old one.
    """

    def __init__(self, topology: Topology) -> None:
        self._topology = topology

    def start(self) -> None:
        """A helper in each service's namespace, capturing when this returns.

        Raises:
            ObserveError: the helper image did not build, or a helper did not start (its log in the message).
        """
        scaled = [f"'{s.name}' ({s.spec.replicas})" for s in self._topology if s.spec.replicas > 1]
        if scaled:  # one capture per service, in replica 1's namespace: calls of and to the others go unseen
            raise ObserveError(f"--observe: topology {self._topology.spec.name} has services of several replicas: "
                               f"{', '.join(scaled)}; the capture runs in one container's network namespace per "
                               "service, so the calls of (and to) their other replicas would be missing from the "
                               "coverage; observe a topology whose services have one replica each (an override file "
                               "with `scale: 1`)")
        # the machine's own network or an outside container's is never captured: its calls are not seen
        observed = [s.name for s in self._topology if not self._topology.spec.namespace_outside_run(s.name)]
        image = _image(self._topology, observed)
        self._forget()
        _OBSERVED.add(self._topology.run_id)
        addresses = _addresses_now(self._topology)  # once for all (each helper is told the others')
        reused = self._reused(image, observed, addresses)
        new = [name for name in observed if name not in reused]
        helpers = _at_once(lambda name: _run_one(self._topology, name, image, addresses), new)
        _at_once(lambda pair: wait_ready(*pair), list(zip(new, helpers, strict=True)))

    def _reused(self, image: str, observed: list[str], addresses: dict[str, list[str]]) -> set[str]:
        """The services whose helper an earlier session left on this kept run still watches them as a new one would
        (running, same image, in the namespace of the service's container as started now, told the same peers):
        what it saw is forgotten (its agent's `reset`) and it goes on. Any other helper is removed."""
        every, kept = _helpers(self._topology), {}
        for helper in every:
            name = helper.labels[OBSERVES]
            target = self._topology[name].container  # (reloaded by _addresses_now)
            if name in observed and name not in kept and helper.status == "running" \
                    and helper.attrs.get("Image") == image \
                    and helper.labels.get(OBSERVED_START) == target.attrs["State"]["StartedAt"] \
                    and (helper.attrs.get("HostConfig") or {}).get("NetworkMode") == f"container:{target.id}" \
                    and helper.labels.get(OBSERVED_PEERS) == ",".join(_peers(name, addresses)):
                kept[name] = helper
        stale = [helper for helper in every if kept.get(helper.labels[OBSERVES]) is not helper]
        said = _at_once(reset, list(kept.values()))
        stale += [helper for helper, ok in zip(kept.values(), said, strict=True) if not ok]
        _at_once(remove_container, stale)
        return {name for (name, helper), ok in zip(kept.items(), said, strict=True) if ok}

    def attach(self) -> None:
        """The helpers another process started (pytest-xdist) are found by their labels: are there any?

        Raises:
            ObserveError: the run has none (its capture was not started, or was removed).
        """
        if not _helpers(self._topology):
            raise ObserveError(f"topology {self._topology.spec.name} (run {self._topology.run_id}) has no observation "
                               "helper: its capture was not started or was removed before it was read")

    def read(self) -> Observation:
        """What every helper saw until now, both ends named (see the module's docstring).

        Raises:
            ObserveError: the helper of a service started again did not start (see service_started).
        """
        _settle_started(self._topology)
        helpers = _helpers(self._topology)
        owners, outside_at, exposed = self._addresses(helpers)
        observation = Observation()
        early: dict[tuple[str, str, int], list[int]] = {}  # (consumer, provider, port) -> [connections, bytes]
        for service in self._topology:
            outside = self._topology.spec.namespace_outside_run(service.name)
            if outside:
                observation.lost[service.name] = f"not captured: {outside}, which the harness does not capture"
        calls = CallsOnce()
        names = sorted({helper.labels[OBSERVES] for helper in helpers})
        _at_once(lambda name: self._topology[name].container.reload(), names)
        said = dict(zip([helper.id for helper in helpers], _at_once(snapshot, helpers), strict=True))
        for name in names:
            container = self._topology[name].container
            mine = [helper for helper in helpers if helper.labels[OBSERVES] == name]
            if container.attrs["State"]["StartedAt"] not in {h.labels.get(OBSERVED_START) for h in mine}:
                observation.lost[name] = ("it was started again during the run and not observed since (its capture "
                                          "went with its old network namespace)")
            for helper in mine:
                self._read_one(name, said[helper.id], owners, outside_at, exposed, observation, early, calls)
        calls.settle(observation)
        observation.flows += [ObservedFlow(consumer, provider, port, EARLY, connections, size)
                              for (consumer, provider, port), (connections, size) in sorted(early.items())]
        return observation

    def _read_one(self, name: str, data: dict[str, Any], owners: dict[str, str], outside_at: OutsideAddresses,
                  exposed: dict[str, set[int]], observation: Observation,
                  early: dict[tuple[str, str, int], list[int]], calls: CallsOnce) -> None:
        if "error" in data:
            observation.lost[name] = f"its capture could not be read ({data['error']})"
            return
        observation.dropped_packets += int(data.get("dropped_packets", 0))
        observation.joined_packets += int(data.get("joined_packets", 0))
        observation.overflow += int(data.get("overflow", 0))
        for call in data.get("calls", []):
            ends = record_ends(name, call, owners, outside_at)
            if ends is not None:
                observation.calls.append(observed_call(ends, call))
                calls.seen(ends, call)
            elif call["client"] in owners:  # a call of another service to this one: also seen in its namespace
                calls.at_provider.append(((owners[call["client"]], name), call))
        for flow in data.get("flows", []):
            ends = record_ends(name, flow, owners, outside_at)
            if ends is not None:
                observation.flows.append(ObservedFlow(
                    ends[0], ends[1], int(flow["port"]), str(flow["protocol"]), int(flow["connections"]),
                    int(flow["bytes"]), int(flow.get("broken", 0)), int(flow.get("unanswered", 0))))
        for connection in data.get("early", []):
            record = early_record(connection, owners, exposed)
            ends = record_ends(name, record, owners, outside_at)
            if ends is not None:
                counts = early.setdefault((*ends, int(record["port"])), [0, 0])
                counts[0] += 1
                counts[1] += int(connection["bytes"])

    def _addresses(self, helpers: list[Container]) -> tuple[dict[str, str], OutsideAddresses, dict[str, set[int]]]:
        """IPv4 address -> service (now, and as each helper found it when it started: a service started again may
        have a new one), the addresses calls from outside come from, service -> the TCP ports it exposes."""
        owners: dict[str, str] = {}
        for helper in helpers:
            for address in filter(None, helper.labels.get(OBSERVED_ADDRESSES, "").split(",")):
                owners[address] = helper.labels[OBSERVES]
        gateways: set[str] = set()
        subnets: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
        exposed: dict[str, set[int]] = {}
        _at_once(lambda service: service.container.reload(), list(self._topology))
        for service in self._topology:
            exposed[service.name] = {int(key.split("/")[0]) for key in
                                     (service.container.attrs.get("Config") or {}).get("ExposedPorts") or {}
                                     if key.endswith("/tcp")} | set(service.ports)
            for network in ((service.container.attrs.get("NetworkSettings") or {}).get("Networks") or {}).values():
                if network.get("IPAddress"):
                    owners[network["IPAddress"]] = service.name
                if network.get("Gateway"):
                    gateways.add(network["Gateway"])
                if network.get("IPAddress") and network.get("IPPrefixLen"):
                    subnets.add(ipaddress.ip_network(f"{network['IPAddress']}/{network['IPPrefixLen']}",
                                                     strict=False))
        return owners, OutsideAddresses(frozenset(gateways), tuple(subnets)), exposed

    def stop(self) -> None:
        """Remove the helpers (what they saw is gone with them: `read()` first)."""
        self._forget()
        _at_once(remove_container, _helpers(self._topology))

    def end(self) -> None:
        """The session's end: on a kept run the helpers are left running, for the next observed session to reuse
        (`start`; `harness down` removes them with the run); on any other run they are removed (`stop`)."""
        if any(L.labels_of(service.container).get(L.KEEP) == "true" for service in self._topology):
            self._forget()
        else:
            self.stop()

    def _forget(self) -> None:
        """Not observed by this process any more; the helpers still starting have started (or failed)."""
        _OBSERVED.discard(self._topology.run_id)
        with _PENDING_LOCK:
            pending = _PENDING.pop(self._topology.run_id, [])
        for _, started in pending:  # (one still starting would be left running)
            started.exception()


def service_started(topology: Topology, service: Service) -> Callable[[], None]:
    """`service` was started again (its old network namespace is gone): when the topology is observed, a new helper
    in its new namespace (the old one is read too: it has the calls before). Nothing when it is not observed.

    Returns:
        What the caller runs once the service is ready, before it hands the service back. The helper is looked for
        and started meanwhile, in a thread of its own: the service's readiness wait goes on. With a fault in place
        it waits for the new helper to capture, so that the service's calls under the fault are marked as such from
        then on; else it does not: the calls the service makes to other services before its new capture runs are
        seen by theirs (each counted once, see CallsOnce), and `read()` and `stop()` wait for the helper.

    Raises:
        ObserveError: (the returned call) the new helper did not start, or did not become ready.
    """
    started = _STARTER.submit(_start_again, topology, service)
    observed_here = topology.run_id in _OBSERVED  # (else: not observed, or by another process: wait, as it costs)
    if observed_here:
        with _PENDING_LOCK:
            _PENDING.setdefault(topology.run_id, []).append((service.name, started))

    def finish() -> None:
        if observed_here and not topology.faults.active():
            return
        started.result()

    return finish


def _settle_started(topology: Topology) -> None:
    """The helpers started for services started again (service_started), started and capturing.

    Raises:
        ObserveError: one did not start, or did not become ready.
    """
    with _PENDING_LOCK:
        pending = _PENDING.pop(topology.run_id, [])
    for _, started in pending:
        started.result()


def _start_again(topology: Topology, service: Service) -> Container | None:
    """A new helper for `service`, capturing, when it is observed and none has joined its namespace yet."""
    with _START_AGAIN_LOCK:
        helper = _start_again_now(topology, service)
        if helper is not None:
            wait_ready(service.name, helper)
        return helper


def _start_again_now(topology: Topology, service: Service) -> Container | None:
    every = _helpers(topology)  # (under load each request to the engine counts: one look for all)
    helpers = [helper for helper in every if helper.labels[OBSERVES] == service.name]
    if not helpers:
        return None
    service.container.reload()
    if service.container.attrs["State"]["StartedAt"] in {h.labels.get(OBSERVED_START) for h in helpers}:
        return None
    # the others' addresses as their helpers found them (a service the harness started again has a new helper)
    addresses: dict[str, list[str]] = {}
    for helper in every:
        addresses.setdefault(helper.labels[OBSERVES], []).extend(
            filter(None, helper.labels.get(OBSERVED_ADDRESSES, "").split(",")))
    started_at = service.container.attrs["State"]["StartedAt"]
    try:
        image = _image(topology, [service.name])  # (across engines: copied to its engine, if not there yet)
        # a name no helper has (a kept run's helpers of earlier sessions: the one reused need not be the first)
        taken = {helper.name.lstrip("/") for helper in helpers}
        number = next(n for n in itertools.count(len(helpers) + 1)
                      if f"{service.container.name}-observe-{n}" not in taken)
        return _run_one(topology, service.name, image, addresses, suffix=f"-{number}")
    except ObserveError:
        service.container.reload()
        if service.container.status != "running" or service.container.attrs["State"]["StartedAt"] != started_at:
            return None  # stopped or started again meanwhile: that namespace is gone (its calls to other services
            # were seen by theirs); a start since has its own helper started after this one
        raise


def _helpers(topology: Topology, service: str | None = None) -> list[Container]:
    """The observation helpers of the run (of `service` only, when given), running or not."""
    wanted = [f"{OBSERVES}={service}" if service else OBSERVES, f"{L.RUN}={topology.run_id}"]
    # their labels from one listing per engine, no inspect of each (labels, ids and names are all that is used)
    clients = [engine.client for engine in topology.engines.values()] or [topology.client]  # each on its engine
    helpers = [client.containers.prepare_model({**entry, "Name": (entry.get("Names") or [""])[0],
                                                "Config": {"Labels": entry.get("Labels") or {}}})
               for client in clients for entry in client.api.containers(all=True, filters={"label": wanted})]
    return [helper for helper in helpers if helper.labels.get(OBSERVES) in topology.services]


def _image(topology: Topology, services: Iterable[str]) -> str:
    """The helper image's tag, in the engine of each of `services`: across engines built by the topology's builder
    (this machine's engine: the engines may have no route to the Debian mirror) and copied (transfer.py)."""
    builder = topology.builder
    try:
        tag = helper_image(builder or topology.client, "observe-helper", DOCKERFILE, AGENT_FILES)
    except HelperBuildFailed as failed:
        raise ObserveError(build_failed_text("the observation helper image", "python3-dpkt and python3-httptools",
                                             failed.log, "the engine")) from None
    if builder is not None:
        for engine in {str(topology.spec.engine_of(name)) for name in services}:
            try:
                copy_image(builder, topology.engines[engine].client, tag)
            except docker.errors.APIError as error:
                raise ObserveError(f"the observation helper image {tag} could not be copied to "
                                   f"{topology.engines[engine].where}: {explain(error)}") from None
    return tag


def _run_one(topology: Topology, name: str, image: str, addresses: dict[str, list[str]], suffix: str = "") -> Container:
    """The helper of service `name` started (not waited for); `addresses`: every other service's IPv4 addresses."""
    target = topology[name].container
    target.reload()
    labels = L.run_labels_of(target)  # every label of its run, its engines too: it is an object of the run
    labels[OBSERVES] = name
    labels[OBSERVED_START] = target.attrs["State"]["StartedAt"]
    labels[OBSERVED_ADDRESSES] = ",".join(
        network["IPAddress"] for network in ((target.attrs.get("NetworkSettings") or {}).get("Networks") or {}).values()
        if network.get("IPAddress"))
    peers = _peers(name, addresses)
    labels[OBSERVED_PEERS] = ",".join(peers)
    listens = sorted({int(key.split("/")[0]) for key in (target.attrs.get("Config") or {}).get("ExposedPorts") or {}
                      if key.endswith("/tcp")} | set(topology[name].ports))
    try:
        helper = target.client.containers.run(image, detach=True, name=f"{target.name}-observe{suffix}",
                                              labels=labels, network_mode=f"container:{target.id}",
                                              cap_add=["NET_ADMIN", "NET_RAW"],
                                              environment={"OBSERVE_PEERS": ",".join(peers),
                                                           "OBSERVE_LISTENS": ",".join(map(str, listens))})
    except docker.errors.APIError as error:
        try:  # created and not started: not left behind as a capture to read
            target.client.containers.get(f"{target.name}-observe{suffix}").remove(force=True)
        except docker.errors.APIError:
            pass
        raise ObserveError(f"service '{name}': the observation helper did not start: {explain(error)}") from None
    return helper


def _at_once(work: Callable[[Item], Done], items: list[Item]) -> list[Done]:
    """`work(item)` for each item, in threads: each is a request or a few to the engine, which answers them side by
    side (one after the other, a topology of 7 services paid 7 round trips per step, seconds under load). The results
    in the items' order; the first error is raised once every item ended (nothing is left half started)."""
    if len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(8, len(items)), thread_name_prefix="harness-observe") as pool:
        futures = [pool.submit(work, item) for item in items]
        wait(futures)
    return [future.result() for future in futures]


def _peers(name: str, addresses: dict[str, list[str]]) -> list[str]:
    """The addresses of every service but `name` (`addresses`: service -> its IPv4 addresses), sorted."""
    return sorted({address for service, found in addresses.items() if service != name for address in found})


def _addresses_now(topology: Topology) -> dict[str, list[str]]:
    """Each service's IPv4 addresses now."""
    found = {}
    _at_once(lambda service: service.container.reload(), list(topology))
    for service in topology:
        found[service.name] = [network["IPAddress"] for network in (
            (service.container.attrs.get("NetworkSettings") or {}).get("Networks") or {}).values()
            if network.get("IPAddress")]
    return found


__all__ = ["EARLY", "OUTSIDE", "Observation", "ObservedCall", "ObservedFlow", "TopologyObservation", "service_started"]
