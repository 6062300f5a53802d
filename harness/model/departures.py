"""What makes a loaded topology other than the one its files give by default: the options it was loaded with (compose
files beyond the first, an env file, profiles, image substitutes) and the values it takes from the process
environment: a compose file's (interpolated `${VAR}`s set there rather than in `.env`, pass-through `environment:
[NAME]` and build args without a value, secrets and configs with an `environment:` source), and in a topology file of
this project's format or one built in Python, pass-through `environment:` names (`{NAME: null}`, `- NAME`). Each
departure says which services it touches (None: every service), so that a git commit still names the providers it
does not touch (harness.contracts.checkout). Names only: never a value.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# $NAME or ${NAME...}, not $$ (Compose's escape)
VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
# top-level keys of a compose file given beyond the first that change no service but those it names
_SERVICES_ONLY = frozenset({"services", "name", "version"})


@dataclass(frozen=True)
class Departure:
    """One way a topology departs from its files' default: `what` ("ITEM_SUFFIX from the environment") and the
    `services` it touches (None: every service, e.g. a profile or an env file of interpolation values)."""

    what: str
    services: frozenset[str] | None = None
    shell: bool = False  # a value of the process environment: no version of the files can hold it

    def touches(self, services: Iterable[str]) -> bool:
        return self.services is None or not self.services.isdisjoint(services)

    def __str__(self) -> str:
        return self.what


def departures(given: Sequence[Path], read: Sequence[Path], *, compose: bool, profiles: Sequence[str],
               env_file: Path | None, substitutes: Mapping[str, str], env: Mapping[str, str],
               services: Collection[str] = ()) -> list[Departure]:
    """Each way the topology departs from its files' default, in a stable order. `given`: the files as the user
    named them; `read`: every file the loader read (compose files among them are scanned); `env`: the process
    environment; `services`: the topology's (a compose file's service of another name, an `extends` base, touches
    every service)."""
    found = [Departure(f"{file.name} given beyond {given[0].name}", _named_services(file, services))
             for file in given[1:]]
    if env_file is not None:
        found.append(Departure(f"--topology-env-file {env_file.name}"))
    if profiles:
        found.append(Departure(f"profiles {', '.join(profiles)} (--topology-profile)"))
    if compose and env.get("COMPOSE_PROFILES"):
        found.append(Departure("COMPOSE_PROFILES from the environment", shell=True))
    if substitutes:
        found.append(Departure(f"image substitutes {', '.join(sorted(substitutes))} (--image-substitute)"))
    if compose:
        touched: dict[str, set[str] | None] = {}  # variable -> the services it reaches (None: every one)
        for file in read:
            if file.suffix in (".yml", ".yaml") and file.is_file():
                for name, reached in _environment_names(file, services):
                    before = touched.get(name, set())
                    touched[name] = None if before is None or reached is None else before | reached
        found += [Departure(f"{name} from the environment", None if reached is None else frozenset(reached), True)
                  for name, reached in touched.items() if name in env]
    return found


def passed_through(services: Any, env: Mapping[str, str]) -> list[Departure]:
    """The pass-through `environment:` names of a topology of this project's format (or built in Python) that the
    process environment sets, each touching its service (`services`: the raw `services:` mapping)."""
    found: dict[str, set[str]] = {}
    for service, data in services.items() if isinstance(services, Mapping) else ():
        if isinstance(data, Mapping):
            for name in _without_value(data.get("environment")):
                if name in env:
                    found.setdefault(name, set()).add(str(service))
    return [Departure(f"{name} from the environment", frozenset(reached), True) for name, reached in found.items()]


def _named_services(file: Path, services: Collection[str]) -> frozenset[str] | None:
    """The services a compose file given beyond the first changes: those it names when it changes nothing else (no
    networks, volumes, secrets, ...) and each is a service of the topology; else None (every service)."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        return None
    if set(data) - _SERVICES_ONLY or not set(data["services"]) <= set(services):
        return None
    return frozenset(str(name) for name in data["services"])


def _environment_names(file: Path, services: Collection[str]) -> list[tuple[str, set[str] | None]]:
    """The variables a compose file may take from the process environment, each with the services it reaches:
    interpolated ones (in a service's block: that service; in a secret's or config's: the services that use it;
    elsewhere: every service), pass-through `environment:` entries and build args without a value, `environment:`
    sources of secrets and configs. A block of a service that is not the topology's (an `extends` base) reaches every
    service."""
    try:
        text = file.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    if not isinstance(data, dict):
        return [(match[1] or match[2], None) for match in VARIABLE.finditer(text)]
    found: list[tuple[str, set[str] | None]] = []
    services_block = data.get("services")
    blocks: dict[Any, Any] = services_block if isinstance(services_block, dict) else {}
    for service, block in blocks.items():
        reached = {str(service)} if service in services else None
        found += [(name, reached) for name in _interpolated(block)]
        if isinstance(block, dict):
            build = block.get("build")
            for values in (block.get("environment"), build.get("args") if isinstance(build, dict) else None):
                found += [(name, reached) for name in _without_value(values)]
    for key, value in data.items():
        if key in ("secrets", "configs") and isinstance(value, dict):
            for entry, block in value.items():
                users = _users(blocks, key, str(entry), services)
                found += [(name, users) for name in _interpolated(block)]
                if isinstance(block, dict) and isinstance(block.get("environment"), str):
                    found.append((block["environment"], users))
        elif key != "services" and not (str(key).startswith("x-") and key != "x-topology"):  # x-: anchors only
            found += [(name, None) for name in _interpolated(value)]
    return found


def _users(blocks: dict[Any, Any], section: str, entry: str, services: Collection[str]) -> set[str] | None:
    """The services whose `secrets:` or `configs:` (`section`) name `entry`; None when one is no service of the
    topology (an `extends` base)."""
    users: set[str] = set()
    for service, block in blocks.items():
        used = block.get(section) if isinstance(block, dict) else None
        names = [item if isinstance(item, str) else item.get("source") for item in used or []
                 if isinstance(item, (str, dict))]
        if entry in names:
            if service not in services:
                return None
            users.add(str(service))
    return users


def _interpolated(value: Any) -> list[str]:
    """The variables interpolated anywhere in a YAML value (its keys and strings, recursively)."""
    if isinstance(value, str):
        return [match[1] or match[2] for match in VARIABLE.finditer(value)]
    if isinstance(value, dict):
        return [name for key, item in value.items() for name in [*_interpolated(str(key)), *_interpolated(item)]]
    if isinstance(value, list):
        return [name for item in value for name in _interpolated(item)]
    return []


def _without_value(values: Any) -> list[str]:
    """The names of a Compose list (`[NAME, A=1]`) or mapping (`{NAME: null}`) given without a value."""
    if isinstance(values, list):
        return [item for item in values if isinstance(item, str) and "=" not in item]
    if isinstance(values, Mapping):
        return [str(key) for key, value in values.items() if value is None]
    return []
