"""What makes a loaded topology other than the one its files give by default: the options it was loaded with (compose
files beyond the first, an env file, profiles, image substitutes) and the values a compose file takes from the
process environment (interpolated `${VAR}`s set there rather than in `.env`, pass-through `environment: [NAME]` and
build args without a value, secrets and configs with an `environment:` source). A git commit names such a topology's
providers only when none is there (harness.contracts.checkout). Names only: never a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

# $NAME or ${NAME...}, not $$ (Compose's escape)
VARIABLE = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")


def departures(given: Sequence[Path], read: Sequence[Path], *, compose: bool, profiles: Sequence[str],
               env_file: Path | None, substitutes: Mapping[str, str], env: Mapping[str, str]) -> list[str]:
    """Each way the topology departs from its files' default, as a short phrase ("compose.staging.yaml given with
    -f", "ITEM_SUFFIX from the environment"), in a stable order. `given`: the files as the user named them;
    `read`: every file the loader read (compose files among them are scanned); `env`: the process environment."""
    found = [f"{file.name} given beyond {given[0].name}" for file in given[1:]]
    if env_file is not None:
        found.append(f"--topology-env-file {env_file.name}")
    if profiles:
        found.append(f"profiles {', '.join(profiles)} (--topology-profile)")
    if compose and env.get("COMPOSE_PROFILES"):
        found.append("COMPOSE_PROFILES from the environment")
    if substitutes:
        found.append(f"image substitutes {', '.join(sorted(substitutes))} (--image-substitute)")
    if compose:
        names: list[str] = []
        for file in read:
            if file.suffix in (".yml", ".yaml") and file.is_file():
                names += _environment_names(file)
        found += [f"{name} from the environment" for name in dict.fromkeys(names) if name in env]
    return found


def _environment_names(file: Path) -> list[str]:
    """The variables a compose file may take from the process environment: interpolated ones, pass-through
    `environment:` entries and build args without a value, `environment:` sources of secrets and configs."""
    try:
        text = file.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    names = [match[1] or match[2] for match in VARIABLE.finditer(text)]
    if not isinstance(data, dict):
        return names
    services = data.get("services")
    for service in services.values() if isinstance(services, dict) else ():
        if not isinstance(service, dict):
            continue
        build = service.get("build")
        for values in (service.get("environment"), build.get("args") if isinstance(build, dict) else None):
            names += _without_value(values)
    for section in ("secrets", "configs"):
        entries = data.get(section)
        for entry in entries.values() if isinstance(entries, dict) else ():
            if isinstance(entry, dict) and isinstance(entry.get("environment"), str):
                names.append(entry["environment"])
    return names


def _without_value(values: Any) -> list[str]:
    """The names of a Compose list (`[NAME, A=1]`) or mapping (`{NAME: null}`) given without a value."""
    if isinstance(values, list):
        return [item for item in values if isinstance(item, str) and "=" not in item]
    if isinstance(values, dict):
        return [str(key) for key, value in values.items() if value is None]
    return []
