"""What a topology's keys need of the Docker engine: the keys that Docker Compose v2.40 (or the engine's BuildKit,
for a build) refuses on an engine older than some API version. They are recorded as data when the file is read, each
at its `file:line`, so that a start checks all of them against its engine before it creates anything and says every
unmet one in one message (harness.runtime.engine_check). The model knows no engine: it only says what each key needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from harness.model.source import Path_, dotted_path


class _Where(Protocol):
    def where(self, path: Path_) -> str: ...


@dataclass(frozen=True)
class EngineNeed:
    """A key of service `service` (at `where`, `file:line`; `key` its dotted path in the service) that an engine
    before API version `api` refuses; `refusal` is Docker Compose's words then (`{api}` stands for the engine's API
    version), `engine` the Docker Engine release of that API version, for the hint. `otherwise`: Compose's words on
    an engine that does have API `api`, when it refuses the key there too for another reason (empty: it takes it).
    `ignored`: an older engine does not refuse the key but drops it, and Compose passes it all the same (a volume's
    `subpath`): the start goes on, with a note (harness.runtime.engine_check.ignored_notes)."""

    where: str
    service: str
    key: str
    api: str
    engine: str
    refusal: str
    otherwise: str = ""
    ignored: bool = False

    def met_by(self, api_version: str) -> bool:
        """Whether an engine of `api_version` (e.g. "1.41") takes the key (or drops it without a word: `ignored`)."""
        return not self.otherwise and (self.ignored or not self.too_old(api_version))

    def too_old(self, api_version: str) -> bool:
        """Whether an engine of `api_version` is older than the key needs."""
        return api_tuple(api_version) < api_tuple(self.api)

    def said(self, api_version: str) -> str:
        """One line for a person: where, the service, the key, Compose's words (and what it needs)."""
        if not self.too_old(api_version):
            return f"{self.where}: service '{self.service}': {self.key}: {self.otherwise}"
        return (f"{self.where}: service '{self.service}': {self.key}: {self.refusal.format(api=api_version)} "
                f"(needs API {self.api}, {self.engine})")


def api_tuple(api_version: str) -> tuple[int, ...]:
    """"1.41" -> (1, 41), for comparing API versions."""
    return tuple(int(part) for part in api_version.split(".") if part.isdigit())


START_INTERVAL = ("1.44", "Docker Engine 25",
                  "can't set healthcheck.start_interval as feature require Docker Engine v25 or later")
# Compose's own rule once the engine takes start_interval (moby/moby#48874)
WITHOUT_START_PERIOD = ("healthcheck.start_interval requires healthcheck.start_period to be set (Docker Compose "
                        "refuses it on every engine)")
INTERFACE_NAME = ("1.49", "Docker Engine 28.1", "interface_name requires Docker Engine v28.1 or later")
MAC_ON_FIRST = ("1.44", "Docker Engine 25",
                "\"specify mac-address per network\" requires API version 1.44, but the Docker daemon API version is "
                "{api}")
MACS = ("1.44", "Docker Engine 25",
        "a MAC address is specified for multiple networks ({networks}), but this feature requires Docker Engine v25 or "
        "later")
# BuildKit 0.10 (Docker Engine 23) is the first the engine carries with named contexts; Compose relays its words
NAMED_CONTEXTS = ("1.42", "Docker Engine 23, BuildKit 0.10",
                  "failed to solve with frontend dockerfile.v0: unsupported frontend capability "
                  "moby.buildkit.frontend.contexts (the engine's BuildKit, through Docker Compose)")


IMAGE_VOLUME = ("1.48", "Docker Engine 28", "volume with type=image require Docker Engine v28 or later")
# the engine's mount API reads VolumeOptions.Subpath from API 1.45 on; before, it mounts the whole volume, and
# Compose v2.40 passes the key all the same (measured on Docker 20.10: no error, the volume's root at the target)
SUBPATH = ("1.45", "Docker Engine 26",
           "'{subpath}' ignored: this Docker engine (API {api}) mounts the whole volume {volume} there, as under "
           "Docker Compose (it passes the key all the same), so the service sees other files than the file says")


def engine_needs(services: Any, source: _Where) -> list[EngineNeed]:  # noqa: ANN401 - data as read, or as mapped
    """What the keys of `services` (service name -> the service's data in the model's keys: as a file gives them,
    or as a compose file is mapped; a value of another shape needs nothing) need of the engine, in file order of the
    services; `source` locates each key.

    Returns:
        One EngineNeed per key (a healthcheck's `start_interval`, a network's `interface_name`, the MAC addresses
        of a service's networks, a build's `additional_contexts`, its image volumes, a volume's `subpath`).
    """
    needs: list[EngineNeed] = []
    for name, service in (services.items() if isinstance(services, Mapping) else []):
        if not isinstance(service, Mapping):
            continue
        here: Path_ = ("services", name)
        first = len(needs)

        def need(path: Path_, what: tuple[str, str, str], service: str = str(name), otherwise: str = "",
                 ignored: bool = False, key: str = "", **words: str) -> None:
            api, engine, refusal = what
            needs.append(EngineNeed(source.where(path), service, key or dotted_path(path[2:]), api, engine,
                                    refusal.replace("{api}", "{{api}}").format(**words) if words else refusal,
                                    otherwise, ignored))

        check = service.get("healthcheck")
        if isinstance(check, Mapping) and check.get("start_interval") is not None:
            need(here + ("healthcheck", "start_interval"), START_INTERVAL,
                 otherwise="" if check.get("start_period") is not None else WITHOUT_START_PERIOD)
        build = service.get("build")
        if isinstance(build, Mapping) and build.get("additional_contexts"):
            need(here + ("build", "additional_contexts"), NAMED_CONTEXTS)
        images = service.get("image_volumes")
        if isinstance(images, list) and images:
            need(here + ("image_volumes",), IMAGE_VOLUME)
        volumes = service.get("volumes")
        for index, volume in enumerate(volumes if isinstance(volumes, list) else []):
            if isinstance(volume, Mapping) and volume.get("subpath"):
                need(here + ("volumes", index, "subpath"), SUBPATH, ignored=True, subpath=str(volume["subpath"]),
                     key=f"subpath of the volume at {volume.get('target')}", volume=str(volume.get("source") or ""))
        networks = service.get("networks")
        if isinstance(networks, Mapping) and not service.get("network_mode"):
            attached = {str(network): options if isinstance(options, Mapping) else {}
                        for network, options in networks.items()}
            for network, options in attached.items():
                if options.get("interface_name"):
                    need(here + ("networks", network, "interface_name"), INTERFACE_NAME)
            with_mac = sorted(network for network, options in attached.items() if options.get("mac_address"))
            main = min(attached, key=lambda network: (-_priority(attached[network]), network), default=None)
            if len(with_mac) > 1:
                need(here + ("networks",), MACS, networks=", ".join(with_mac))
            elif main is not None and main in with_mac:
                need(here + ("networks", main, "mac_address"), MAC_ON_FIRST)
        needs[first:] = sorted(needs[first:], key=_line)  # a service's keys in file order
    return needs


def _line(need: EngineNeed) -> int:
    line = need.where.rpartition(":")[2]
    return int(line) if line.isdigit() else 0


def _priority(options: Mapping[str, Any]) -> int:
    try:
        return int(options.get("priority") or 0)
    except (TypeError, ValueError):
        return 0


# where a compose file (or this project's format) asks for devices of a driver (GPUs), in the service
DEVICE_KEYS = (("deploy", "resources", "reservations", "devices"), ("gpus",), ("device_requests",))


def device_request_keys(files: tuple[Path, ...], service: str, topology: str) -> list[tuple[str, str]]:
    """(where, key) of each key of service `service` in `files` (the topology's; none for one built in Python, then
    at `topology 'NAME'`) that asks the engine for devices of a driver (a GPU): `deploy.resources.reservations.
    devices`, `gpus`, `device_requests`; where `file:line`. A key not found in the files (given through `extends`,
    `include`) is at the service's own line."""
    from harness.errors import TopologyFileError
    from harness.model.source import load_yaml

    found: list[tuple[str, str]] = []
    service_at = ""
    for file in files:
        try:
            _, lines = load_yaml(file)
        except TopologyFileError:
            continue
        here: Path_ = ("services", service)
        if here in lines.lines and not service_at:
            service_at = lines.where(here)
        keys = sorted((key for key in DEVICE_KEYS if here + key in lines.lines), key=lambda k: lines.line(here + k))
        found += [(lines.where(here + key), dotted_path(key)) for key in keys]  # in the file's order
    if found:
        return found
    return [(service_at or f"topology {topology!r}", "device_requests" if not files else
             "deploy.resources.reservations.devices or gpus")]
