"""A service's environment as Docker Compose gives it to the container: its `env_file`s, then `environment`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.model.service import ServiceSpec


def full_environment(service: ServiceSpec, base_dir: Path) -> dict[str, str]:
    """The variables of each `env_file` of `service` (relative to `base_dir`, in order), then `environment` (which
    wins)."""
    from dotenv import dotenv_values  # the .env format as Compose reads it (quotes, comments, `export`)

    merged: dict[str, str] = {}
    for file in service.env_file:
        merged.update({k: v or "" for k, v in dotenv_values(base_dir / file, interpolate=False).items()})
    return {**merged, **service.environment}
