"""Connecting to the Docker engine, with one clear error within seconds when none answers; where its published
ports are reached."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import docker
import docker.errors
import requests.exceptions

from harness.errors import DockerUnavailable

# Ryuk cannot be pulled on machines without a registry, and the harness removes what it creates itself
# (labels + owner process), so testcontainers' reaper is never needed.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

CHECK_SECONDS = 5  # an engine that accepts connections but never answers is reported after this long
CALL_SECONDS = 120  # every later call (builds stream; a busy engine may take a while to create a container)


LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def remote_engine() -> str | None:
    """The host of a remote engine (`DOCKER_HOST=tcp://HOST:PORT`, `ssh://USER@HOST`, http(s)://), None for a local
    one (a unix socket, or a TCP address on loopback)."""
    address = urlsplit(engine_address())
    if address.scheme not in ("tcp", "ssh", "http", "https") or not address.hostname:
        return None
    return None if address.hostname in LOOPBACK else address.hostname


def service_host() -> str:
    """Where the client reaches published ports: TOPOLOGY_HOST when set (an address of the engine's machine that this
    one can reach, like testcontainers' TESTCONTAINERS_HOST_OVERRIDE), else a remote engine's host, else 127.0.0.1."""
    return os.environ.get("TOPOLOGY_HOST") or remote_engine() or "127.0.0.1"


def publish_address() -> str:
    """The address of the engine's machine that ports are published on: TOPOLOGY_PUBLISH_ADDRESS when set (e.g. its
    address on a private network), else loopback for a local engine (nothing else can reach the services), else
    every interface of a remote engine's machine (0.0.0.0: reachable by anyone who can reach that machine)."""
    if os.environ.get("TOPOLOGY_PUBLISH_ADDRESS"):
        return os.environ["TOPOLOGY_PUBLISH_ADDRESS"]
    return "127.0.0.1" if remote_engine() is None else "0.0.0.0"  # noqa: S104 - remote: see the docstring


def connect() -> docker.DockerClient:
    """A client whose engine answered a ping within CHECK_SECONDS, or DockerUnavailable saying what to do."""
    try:
        client = docker.from_env(timeout=CHECK_SECONDS)  # asks the engine's API version: bounded too
        client.ping()
    except (docker.errors.DockerException, OSError, requests.exceptions.RequestException) as exc:
        where = (f"DOCKER_HOST={os.environ['DOCKER_HOST']}" if os.environ.get("DOCKER_HOST")
                 else "the socket /var/run/docker.sock (DOCKER_HOST is not set)")
        silent = _timed_out(exc)
        problem = (f"the Docker engine at {where} accepted the connection but did not answer within {CHECK_SECONDS} s"
                   if silent else f"no Docker engine answers at {where}: {_reason(exc)}")
        raise DockerUnavailable(f"{problem}.\n{start_hint(silent)}", address=engine_address()) from None
    client.api.timeout = CALL_SECONDS
    return client


def start_hint(silent: bool = False) -> str:
    """What to do, for someone who installed pytest-topology with pip (and this project's script inside it)."""
    if silent:
        first = "The engine is hung or overloaded: restart it (`sudo systemctl restart docker`, or Docker Desktop)"
    else:
        first = ("Start Docker (`sudo systemctl start docker`, or open Docker Desktop); not installed yet: see "
                 "https://docs.docker.com/engine/install/ (Debian/Ubuntu: `sudo apt-get install docker.io`)")
    script = project_script("ensure-engine.sh")
    inside = f"; in this repository, `bash {script}` does it" if script else ""
    return f"{first}{inside}; or point DOCKER_HOST at a running engine."


def project_script(name: str) -> str | None:
    """`fixtures/images/NAME` of pytest-topology's own repository when the current folder is inside it, else None
    (a pip user does not have these scripts)."""
    for folder in [Path.cwd(), *Path.cwd().parents]:
        script = folder / "fixtures" / "images" / name
        if script.is_file() and (folder / "harness" / "runtime").is_dir():
            return os.path.relpath(script)
    return None


def _timed_out(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (requests.exceptions.Timeout, TimeoutError)) or "timed out" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# The words that say why, inside docker-py's and urllib3's long wrapped messages.
_WHY = re.compile(r"Connection refused|No such file or directory|Permission denied|Name or service not known|"
                  r"Temporary failure in name resolution|Network is unreachable|Connection reset by peer")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    why = _WHY.search(text)
    if why:
        extra = (" (add your user to the `docker` group, then log in again)" if why.group(0) == "Permission denied"
                 else "")
        return why.group(0) + extra
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
