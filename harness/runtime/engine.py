"""Connecting to the Docker engine, with one clear error when none answers."""

from __future__ import annotations

import os

import docker
import docker.errors

from harness.errors import DockerUnavailable

# Ryuk cannot be pulled on machines without a registry, and the harness removes what it creates itself
# (labels + owner process), so testcontainers' reaper is never needed.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect() -> docker.DockerClient:
    """A client whose engine answered a ping, or DockerUnavailable saying what to do."""
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except (docker.errors.DockerException, OSError) as exc:
        where = (f"DOCKER_HOST={os.environ['DOCKER_HOST']}" if os.environ.get("DOCKER_HOST")
                 else "the socket /var/run/docker.sock (DOCKER_HOST is not set)")
        raise DockerUnavailable(
            f"no Docker engine answers at {where}: {_reason(exc)}.\n"
            "Start one (on this project's machines: `bash fixtures/images/ensure-engine.sh`, or `sudo dockerd &`; "
            "elsewhere: start Docker Desktop or `sudo systemctl start docker`), or point DOCKER_HOST at a running "
            "engine."
        ) from None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
