"""The networks of a run: one Docker network per network of the topology (bridge, labelled with the run, removed with
it), or the one private network of a topology that declares none; an external network is used as it is. Each
service is attached to its networks as Docker Compose attaches it: under its service name, its aliases and that
network's aliases, at its fixed addresses when given.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace

import docker
import docker.errors
from docker.models.containers import Container
from docker.types import EndpointConfig, IPAMConfig, IPAMPool

from harness.errors import DockerError
from harness.model.service import run_network
from harness.model.topology import NetworkSpec, TopologySpec
from harness.runtime import labels as L
from harness.runtime.engine import explain


@dataclass(frozen=True)
class Attachment:
    """A service on one network: the network's name on the engine, the names it answers to there, its fixed
    addresses (None: the engine's choice)."""

    network: str
    aliases: list[str] = field(default_factory=list)
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    mac_address: str | None = None
    link_local_ips: list[str] = field(default_factory=list)
    driver_opts: dict[str, str] = field(default_factory=dict)
    gw_priority: int = 0

    def endpoint(self, api_version: str, links: list[tuple[str, str]] | None = None) -> EndpointConfig:
        """docker-py's endpoint settings of this attachment (to create or connect a container), as Docker Compose
        writes them; `links`: (container name, alias) that this container alone resolves on this network (Compose's
        `links`)."""
        endpoint = EndpointConfig(api_version, aliases=self.aliases, ipv4_address=self.ipv4_address,
                                  ipv6_address=self.ipv6_address, links=links or None, mac_address=self.mac_address,
                                  link_local_ips=self.link_local_ips or None, driver_opt=self.driver_opts or None)
        if self.gw_priority:  # no docker-py argument; Compose sends it to every engine (older ones ignore it)
            endpoint["GwPriority"] = self.gw_priority
        return endpoint


def connect(client: docker.DockerClient, container_id: str, attachment: Attachment,
            links: list[tuple[str, str]] | None = None) -> None:
    """Connect a container to `attachment`'s network with all its endpoint settings and `links` (Attachment.endpoint;
    docker-py's connect_container_to_network has no gw_priority)."""
    api = client.api
    api._raise_for_status(api._post_json(  # noqa: SLF001 - docker-py's own request helpers
        api._url("/networks/{0}/connect", attachment.network),  # noqa: SLF001
        data={"Container": container_id, "EndpointConfig": attachment.endpoint(api.api_version, links)}))


def engine_names(spec: TopologySpec, run_id: str, base: str) -> dict[str, str]:
    """Network of the topology -> its name on the engine for run `run_id`: `base` (the run's private network, as
    before networks were declared) for `default`, `base` with the network's name inserted for the others, the name
    given for an external one."""
    declared = spec.networks or {"default": NetworkSpec()}
    prefix, _, run = base.rpartition("-")
    return {name: (network.name or name) if network.external else base if name == "default"
            else f"{prefix}-{name}-{run}" for name, network in declared.items()}


def attachments(spec: TopologySpec, service: str, names: dict[str, str]) -> list[Attachment]:
    """Service `service`'s networks in the order Compose connects them (the first is the one it is created on),
    each with its service name, its aliases (container_name is one) and that network's aliases; none for a service
    with `network_mode` `none`, `host`, `service:X` or `container:X` (it joins no network of its own, as under
    Compose); a network named by `network_mode`: that network alone, without aliases (Compose gives Docker no
    endpoint settings then), the run's for a network of the topology (ServiceSpec.run_network), else the engine's
    of that name."""
    own = spec.services[service]
    if own.network_of_its_own:
        network = run_network(own, names)
        return [Attachment(names[network] if network else own.network_of_its_own)]
    if own.network_mode:
        return []
    return [Attachment(names[network], list(dict.fromkeys([service, *own.aliases, *attached.aliases])),
                       attached.ipv4_address, attached.ipv6_address, attached.mac_address, attached.link_local_ips,
                       {**attached.driver_opts, **({IFNAME: attached.interface_name} if attached.interface_name
                                                   else {})}, attached.gw_priority)
            for network, attached in spec.service_networks(service).items()]


IFNAME = "com.docker.network.endpoint.ifname"  # interface_name, as Compose gives it to the engine


PER_NETWORK_MAC_API = (1, 44)  # Docker 25: a MAC address per endpoint (before: the container's one, on its first)


def mac_addresses(spec: TopologySpec, service: str, attached: list[Attachment],
                  api_version: str) -> tuple[list[Attachment], str | None]:
    """Service `service`'s MAC addresses as Docker Compose gives them to an engine of `api_version`: the
    attachments (`attachments`' order) and the container's MacAddress. From API 1.44, each network's own, the
    service-level one on its first network, none for the container. Before, the service-level one for the
    container; one on another network is passed on as Compose passes it (such an engine does not apply it). What
    Compose refuses on such an engine (a MAC address on the first network, or on several) was refused before the
    start created anything (TopologySpec.engine_needs, engine_check.refuse_unmet)."""
    own = spec.services[service]
    if _version(api_version) >= PER_NETWORK_MAC_API:
        if attached and own.mac_address and not attached[0].mac_address:
            attached = [replace(attached[0], mac_address=own.mac_address), *attached[1:]]
        return attached, None
    return attached, own.mac_address


def _version(api_version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in api_version.split(".") if part.isdigit())


def definition_hash(network: NetworkSpec) -> str:
    """What a network is created from (a label on it): a kept run whose file now says otherwise makes it again."""
    definition = network.model_dump(mode="json")
    # fields added later count only when set: a kept run's networks made before them stay as they are
    for added in ("attachable", "ipam_driver"):
        if not definition[added]:
            del definition[added]
    for pool in definition["subnets"]:
        if not pool["aux_addresses"]:
            del pool["aux_addresses"]
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:12]


def declared_hashes(spec: TopologySpec) -> dict[str, str]:
    """Network -> definition_hash, for the networks a run of `spec` creates (none for a topology that declares no
    networks: its one network carries no such label)."""
    return {name: definition_hash(network) for name, network in spec.networks.items() if not network.external}


def running_hashes(run: L.Run) -> dict[str, str]:
    """Network -> definition_hash, of the networks a run created."""
    return {labels[L.NETWORK]: labels.get(L.NETWORK_DEFINITION, "")
            for labels in map(L.labels_of, run.networks) if L.NETWORK in labels}


def create(client: docker.DockerClient, spec: TopologySpec, names: dict[str, str], run_labels: dict[str, str],
           existing: set[str] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """Create the run's networks that are not in `existing` (engine names); check that each external one exists.

    Returns:
        The engine names created.

    Raises:
        DockerError: an external network is missing, or the engine refused one (an overlapping subnet, ...).
    """
    declared = spec.networks or {"default": NetworkSpec()}
    for name, network in declared.items():
        if network.external:
            try:
                client.networks.get(names[name])
            except docker.errors.NotFound:
                raise DockerError(f"network {names[name]} declared as external, but could not be found "
                                  f"(networks.{name} of topology {spec.name})", operation="create network",
                                  hint=f"Create it first (`docker network create {names[name]}`), or remove "
                                       "`external: true` so that each run creates its own.") from None
    created = []
    for name, network in declared.items():
        if network.external or names[name] in existing:
            continue
        labels = {**network.labels, **run_labels}
        if spec.networks:
            labels.update({L.NETWORK: name, L.NETWORK_DEFINITION: definition_hash(network)})
        ipam = IPAMConfig(driver=network.ipam_driver or "default",
                          pool_configs=[IPAMPool(subnet=s.subnet, gateway=s.gateway, iprange=s.ip_range,
                                                 aux_addresses=s.aux_addresses or None)
                                        for s in network.subnets]) if network.subnets or network.ipam_driver else None
        try:  # the driver and its options as Compose gives them: the engine has the driver or says why not
            client.networks.create(names[name], driver=network.driver, labels=labels, check_duplicate=True,
                                   internal=network.internal, enable_ipv6=network.enable_ipv6,
                                   options=network.options or None, ipam=ipam, attachable=network.attachable or None)
        except docker.errors.APIError as error:
            raise DockerError(f"could not create the network {names[name]} (networks.{name} of topology "
                              f"{spec.name}, driver {network.driver}): {explain(error)}", operation="create network",
                              hint=_hint(explain(error), network)) from None
        created.append(names[name])
    return created


def _hint(text: str, network: NetworkSpec) -> str:
    driver = network.driver
    if "overlaps" in text:
        return ("Its subnet is taken by another network on the engine (another run of this file, or another "
                "project): stop that run (`harness down`), or change the subnet.")
    if driver != "bridge":  # Docker Compose fails the same way on this engine ("failed to create network ...")
        return (f"The engine cannot make a {driver} network here (Docker Compose fails on it too): use an engine "
                f"that has the driver{' on a swarm manager' if driver == 'overlay' else ''} (its kernel modules, "
                "a `parent` interface, ...), or leave `driver:` out for a bridge network.")
    if network.ipam_driver not in (None, "default"):  # Docker Compose fails the same way on this engine
        return (f"The engine has no IPAM driver {network.ipam_driver} (Docker Compose fails on it too): install "
                "that IPAM plugin on the engine, or leave `ipam.driver` out for Docker's default.")
    return "Check the network's options in the topology file."


def reconnect(client: docker.DockerClient, container: Container, attached: list[Attachment]) -> None:
    """Connect a kept (stopped) container to those of its networks it is not on: made again by an update (as
    Compose, which starts it on the new network), with its aliases and addresses."""
    container.reload()
    on = set((container.attrs.get("NetworkSettings") or {}).get("Networks") or {})
    for attachment in attached:
        if attachment.network not in on:
            connect(client, container.id, attachment)
