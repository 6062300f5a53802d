"""A container as a test inside it sees it, from `docker inspect`, normalised so that Docker Compose's container and
the harness's can be compared field by field; the documented differences between the two; the comparison.

Normalising only removes what names a run (container, network and volume names, ids, host port numbers): every
value of the file stays. What else may differ is in DOCUMENTED, each entry pointing at the sentence of the docs that
says so; anything else is a difference the comparison reports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import docker

from harness.model import compose_keys
from harness.runtime import labels as L
from harness.runtime.prune import BUILT

COMPOSE = "com.docker.compose."
ANONYMOUS = re.compile(r"[0-9a-f]{64}")
UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
# HostConfig fields compared as they are (the resource limits and host settings of the file)
HOST_FIELDS = ("Init", "Privileged", "ReadonlyRootfs", "ShmSize", "Sysctls", "SecurityOpt", "GroupAdd", "Dns",
               "DnsSearch", "DnsOptions", "IpcMode", "PidMode", "UTSMode", "NanoCpus", "CpuShares", "CpuQuota",
               "CpuPeriod", "CpusetCpus", "Memory", "MemoryReservation", "MemorySwap", "MemorySwappiness",
               "PidsLimit", "OomScoreAdj", "Devices", "DeviceRequests", "Runtime", "RestartPolicy", "LogConfig",
               "Links")


def view(client: docker.DockerClient, attrs: dict[str, Any]) -> dict[str, Any]:
    """Field -> value of one container (`attrs`: its `docker inspect`), without the names of its run."""
    config, host = attrs["Config"], attrs["HostConfig"]
    own_names = {attrs["Name"].lstrip("/"), attrs["Id"][:12]}
    # the ports Docker published (none for a container only on internal networks, whatever PortBindings asks)
    bindings = {port: bound for port, bound in (attrs["NetworkSettings"].get("Ports") or {}).items() if bound}
    mounts, tmpfs = _mounts(client, attrs)
    return {
        "_name": attrs["Name"].lstrip("/"),  # not compared: the run's (or container_name, under Compose)
        "image": config["Image"],
        "env": sorted(config.get("Env") or []),
        "entrypoint": config.get("Entrypoint"),
        "command": config.get("Cmd"),
        "user": config.get("User"),
        "working_dir": config.get("WorkingDir"),
        "labels": {k: v for k, v in (config.get("Labels") or {}).items() if not k.startswith(COMPOSE)},
        "healthcheck": config.get("Healthcheck"),
        "hostname": _hostname(attrs),
        "domainname": config.get("Domainname"),
        "stop_signal": config.get("StopSignal"),
        "stop_timeout": config.get("StopTimeout"),
        "tty": config.get("Tty"),
        "stdin_open": config.get("OpenStdin"),
        "exposed": sorted({p for key in config.get("ExposedPorts") or {} for p in _ports(key)}),
        "published": sorted({p for key in bindings for p in _ports(key)}),
        "published_on": sorted({b.get("HostIp") or "0.0.0.0" for bound in bindings.values() for b in bound or []}),
        # a port bound more than once (`8080:80` and `8081:80`): how many bindings, as asked (Docker lists an
        # address-less one twice in NetworkSettings, for IPv4 and IPv6)
        "bound_again": sorted(f"{port} x{len(bound)}" for key, bound in (host.get("PortBindings") or {}).items()
                              if key in bindings and len(bound) > 1 for port in _ports(key)),
        "mounts": mounts,
        "tmpfs": tmpfs,
        # Compose writes CAP_NET_ADMIN where the file says NET_ADMIN: the same capability to the engine
        "cap_add": sorted(c.removeprefix("CAP_") for c in host.get("CapAdd") or []),
        "cap_drop": sorted(c.removeprefix("CAP_") for c in host.get("CapDrop") or []),
        "ulimits": sorted((u["Name"], u["Soft"], u["Hard"]) for u in host.get("Ulimits") or []),
        "extra_hosts": sorted(h.replace("=", ":") for h in host.get("ExtraHosts") or []),
        "network_mode": _network_mode(client, attrs),
        "networks": _networks(client, attrs, own_names),
        **{f"host.{name}": _empty_as_none(host.get(name)) for name in HOST_FIELDS},
        "host.VolumesFrom": [_service_of(client, entry) for entry in host.get("VolumesFrom") or []] or None,
    }


def _service_of(client: docker.DockerClient, entry: str) -> str:
    """`ID[:mode]` of VolumesFrom as `service[:mode]` (the id is the run's); a container outside the runs as
    `container:NAME[:mode]` (its name is the same for both)."""
    container, colon, mode = entry.partition(":")
    found = client.containers.get(container)
    service = found.labels.get(COMPOSE + "service") or found.labels.get(L.SERVICE)
    return f"{service or 'container:' + found.name}{colon}{mode}"


def _hostname(attrs: dict[str, Any]) -> str:
    """A container's default hostname is its id, or the id of the container whose network it joins
    (`network_mode: service:X`): the same rule on both sides, with other ids."""
    hostname = str(attrs["Config"].get("Hostname"))
    mode = str(attrs["HostConfig"].get("NetworkMode") or "")
    if hostname == attrs["Id"][:12]:
        return "(its id)"
    if mode.startswith("container:") and mode.removeprefix("container:")[:12] == hostname:
        return "(the id of the container whose network it joins)"
    return hostname


def _ports(key: str) -> list[str]:
    """`8000/tcp` of a port key. Compose may write a port of `expose` without its protocol (`8000`: the engine reads
    it as tcp) and a range as one key (`9100-9101/tcp`): the same ports as one key each."""
    ports, _, protocol = key.partition("/")
    first, _, last = ports.partition("-")
    return [f"{port}/{protocol or 'tcp'}" for port in range(int(first), int(last or first) + 1)]


def _empty_as_none(value: Any) -> Any:  # noqa: ANN401 - a value of docker inspect
    """`[]`, `{}`, `""` and 0 are what Docker reports for an option not given, as null is."""
    return None if value in ([], {}, "", 0) else value


def _size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([bkmg]?)", text.lower()).groups()  # type: ignore[union-attr]
    return int(number) * UNITS[unit]


def _mounts(client: docker.DockerClient, attrs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Destination -> what is mounted there and how (bind source, volume of the file or anonymous, read-write,
    options, propagation); and destination -> tmpfs options (size in bytes, mode), from `tmpfs:` and from tmpfs
    mounts of the long syntax alike (Docker mounts both as tmpfs)."""
    host = attrs["HostConfig"]
    requested = {m["Target"]: m for m in host.get("Mounts") or []}
    mounts: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    for target, options in (host.get("Tmpfs") or {}).items():
        words = dict(w.split("=", 1) if "=" in w else (w, "") for w in options.split(",") if w)
        if "size" in words:
            words["size"] = str(_size(words["size"]))
        tmpfs[target] = sorted(words.items())
    for mount in attrs["Mounts"]:
        destination = mount["Destination"]
        asked = requested.get(destination, {})
        if mount["Type"] == "tmpfs":
            given = asked.get("TmpfsOptions") or {}
            words = {**({"size": str(given["SizeBytes"])} if given.get("SizeBytes") else {}),
                     **({"mode": f"{given['Mode']:o}"} if given.get("Mode") else {})}
            tmpfs[destination] = sorted(words.items())
            continue
        options = {w for w in mount.get("Mode", "").split(",") if w and w not in ("rw", "ro")}
        volume_options = asked.get("VolumeOptions") or {}
        options |= {"nocopy"} if volume_options.get("NoCopy") else set()
        options |= {f"subpath={volume_options['Subpath']}"} if volume_options.get("Subpath") else set()
        options |= {f"consistency={asked['Consistency']}"} if asked.get("Consistency") else set()
        mounts[destination] = {"type": mount["Type"], "source": _source(client, mount), "rw": mount["RW"],
                               "options": sorted(options), "propagation": mount.get("Propagation") or None}
    return mounts, tmpfs


def _source(client: docker.DockerClient, mount: dict[str, Any]) -> str:
    """A bind's host path; a volume's name in the file (Compose: `project_NAME`, labelled; the harness:
    `harness-TOPOLOGY-NAME-RUN`), or "(anonymous)"."""
    if mount["Type"] != "volume":
        return str(mount["Source"])
    name = str(mount["Name"])
    if ANONYMOUS.fullmatch(name):
        return "(anonymous)"
    labels = client.volumes.get(name).attrs.get("Labels") or {}
    if COMPOSE + "volume" in labels:
        return str(labels[COMPOSE + "volume"])
    if L.TOPOLOGY in labels and L.RUN in labels:
        key = name.removeprefix(f"harness-{labels[L.TOPOLOGY]}-").removesuffix(f"-{labels[L.RUN]}")
        # the harness names (and labels) its anonymous volumes `SERVICE-anonN`: cleanup finds them by the label
        return "(anonymous)" if re.fullmatch(r".+-anon\d+", key) else key
    return name  # a volume of neither (not the run's): its own name


def _network_key(client: docker.DockerClient, id_or_name: str) -> str:
    """A network's name in the file (Compose and the harness label theirs; the harness's one network of a file
    without `networks:` is `default`, as Compose's)."""
    labels = client.networks.get(id_or_name).attrs.get("Labels") or {}
    if COMPOSE + "network" in labels:
        return str(labels[COMPOSE + "network"])
    if L.RUN in labels:
        return str(labels.get(L.NETWORK, "default"))
    return id_or_name


def _network_mode(client: docker.DockerClient, attrs: dict[str, Any]) -> str:
    mode = str(attrs["HostConfig"].get("NetworkMode") or "")
    if mode.startswith("container:"):  # `service:X`: X's container, named by its service; else outside the runs
        other = client.containers.get(mode.removeprefix("container:"))
        service = other.labels.get(COMPOSE + "service") or other.labels.get(L.SERVICE)
        return f"service:{service}" if service else f"container:{other.name}"
    if mode in ("", "default", "bridge", "none", "host"):
        return mode
    return f"network:{_network_key(client, mode)}"


def _networks(client: docker.DockerClient, attrs: dict[str, Any], own_names: set[str]) -> dict[str, Any]:
    """Network of the file -> the container's aliases there (without its own name and id, which are the run's),
    fixed addresses and links."""
    networks = {}
    for name, endpoint in (attrs["NetworkSettings"].get("Networks") or {}).items():
        if name == "none":
            continue
        ipam = endpoint.get("IPAMConfig") or {}
        networks[_network_key(client, endpoint.get("NetworkID") or name)] = {
            "aliases": sorted(set(endpoint.get("Aliases") or []) - own_names),
            "ipv4_address": ipam.get("IPv4Address") or None,
            "ipv6_address": ipam.get("IPv6Address") or None,
            # "container:alias": the container's name is the run's
            "links": sorted(link.partition(":")[2] for link in endpoint.get("Links") or []) or None,
        }
    return networks


@dataclass(frozen=True)
class Documented:
    """A difference the docs state: `where` is the page and `says` its words; `holds(compose, harness)` tells,
    from the two views of one container, that the values differ only as stated."""

    where: str
    says: str
    holds: Callable[[dict[str, Any], dict[str, Any]], bool]


GUIDE = "docs/guides/compose.md"
KEYS = "harness/model/compose_keys.py (its tables are rendered in docs/guides/compose.md)"


def _published_too(compose: dict[str, Any], harness: dict[str, Any]) -> bool:
    return set(compose["published"]) <= set(harness["published"]) <= set(compose["published"]) | set(
        harness["exposed"])


# the labels the harness puts on its containers and built images (run, owner, signature, ...; prune.BUILT)
HARNESS_LABELS = {value for value in vars(L).values() if isinstance(value, str) and value.startswith(L.PREFIX + ".")
                  } | {BUILT}


def _harness_labels(compose: dict[str, Any], harness: dict[str, Any]) -> bool:
    """The harness's labels and testcontainers' beside the file's and the image's, which are all there."""
    return compose["labels"] == {k: v for k, v in harness["labels"].items()
                                 if k not in HARNESS_LABELS and not k.startswith("org.testcontainers")}


def _names_of_the_run(compose: dict[str, Any], harness: dict[str, Any]) -> bool:
    """Networks alike but for container names: `container_name` is an alias under the harness (Compose names the
    container so), and Compose's links also answer to the linked containers' names (`PROJECT-db-1`, `db-1`)."""
    if set(compose["networks"]) != set(harness["networks"]):
        return False
    for network, by_compose in compose["networks"].items():
        by_harness = harness["networks"][network]
        aliases = [a for a in by_harness["aliases"] if a != compose["_name"]]
        links, compose_links = set(by_harness["links"] or []), set(by_compose["links"] or [])
        if (aliases != by_compose["aliases"] or not links <= compose_links
                or not all(re.fullmatch(r".+-\d+", name) for name in compose_links - links)
                or {**by_harness, "aliases": 0, "links": 0} != {**by_compose, "aliases": 0, "links": 0}):
            return False
    return True


def _ignored(field: str, key: str) -> Documented:
    """A key of the file the harness does not give Docker (compose_keys.IGNORED): the field is Docker's default."""
    defaults: dict[str, Any] = {"host.LogConfig": {"Type": "json-file", "Config": {}},
                                # Docker's default, as 20.10 reports it (and as later engines do)
                                "host.RestartPolicy": ({"Name": "", "MaximumRetryCount": 0},
                                                       {"Name": "no", "MaximumRetryCount": 0})}
    default = defaults[field] if isinstance(defaults[field], tuple) else (defaults[field],)
    return Documented(KEYS, compose_keys.IGNORED["service"][key], lambda c, h: h[field] in (*default, None))


# field -> the documented difference it may show; each `says` is checked to be in its page by test_corpus.py
DOCUMENTED: dict[str, Documented] = {
    "published_on": Documented(GUIDE, "host ports are free ports on 127.0.0.1",
                               lambda c, h: h["published_on"] in ([], ["127.0.0.1"])),
    "published": Documented(GUIDE, "`expose` ports are published too", _published_too),
    "labels": Documented(GUIDE, "the harness's labels (`org.pytest-topology.*`) and testcontainers' are on its "
                         "containers, beside the file's and the image's", _harness_labels),
    "image": Documented(GUIDE, "a built image is tagged with the harness's own name",
                        lambda c, h: bool(c["built"]) and bool(h["built"])),
    "networks": Documented(GUIDE, "`container_name` is a network alias, and a link answers to its alias and "
                           "service name only", _names_of_the_run),
    # the keys the harness ignores for a test run
    "host.RestartPolicy": _ignored("host.RestartPolicy", "restart"),
    "host.LogConfig": _ignored("host.LogConfig", "logging"),
    # honoured for pre_stop hooks, not given to Docker as StopTimeout (the harness removes containers at once)
    "stop_timeout": Documented(KEYS, "its StopTimeout is left unset", lambda c, h: h["stop_timeout"] is None),
}


def compare(by_compose: dict[str, dict[str, Any]], by_harness: dict[str, dict[str, Any]]) -> list[Difference]:
    """Every difference not in DOCUMENTED."""
    differences: list[Difference] = []
    for service in sorted(set(by_compose) | set(by_harness)):
        if service not in by_compose or service not in by_harness:
            differences.append(Difference(service, "(container)", service in by_compose, service in by_harness))
            continue
        compose, harness = by_compose[service], by_harness[service]
        for field in sorted(set(compose) | set(harness)):
            if field.startswith("_") or compose.get(field) == harness.get(field):
                continue
            documented = DOCUMENTED.get(field)
            if documented and documented.holds(compose, harness):
                continue
            differences += [Difference(service, name, in_compose, in_harness)
                            for name, in_compose, in_harness in _parts(field, compose.get(field), harness.get(field))]
    return differences


@dataclass(frozen=True)
class Difference:
    """One field (a mount or a network: `mounts[/data]`) of one service's container that differs."""

    service: str
    field: str
    compose: Any
    harness: Any

    def __str__(self) -> str:
        return (f"{self.service}: {self.field}:\n    compose: {json.dumps(self.compose, sort_keys=True)}\n"
                f"    harness: {json.dumps(self.harness, sort_keys=True)}")


def _parts(field: str, compose: Any, harness: Any) -> list[tuple[str, Any, Any]]:  # noqa: ANN401 - inspect values
    """The differing entries of a field that maps names to settings (mounts, tmpfs, networks), else the field."""
    if isinstance(compose, dict) and isinstance(harness, dict) and field in ("mounts", "tmpfs", "networks", "files"):
        return [(f"{field}[{key}]", compose.get(key), harness.get(key)) for key in sorted(set(compose) | set(harness))
                if compose.get(key) != harness.get(key)]
    return [(field, compose, harness)]
