"""Connecting to the Docker engine (the one `harness.engine_source` finds), with one clear error within seconds when
none answers; where its published ports are reached."""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import docker
import docker.errors
import requests.exceptions

from harness.engine_source import PROPERTIES, Engine, engine_address, resolve_engine
from harness.errors import DockerUnavailable

__all__ = ["Engine", "connect", "engine_address", "explain", "publish_address", "publish_note", "remote_engine",
           "resolve_engine", "service_host"]

# Ryuk cannot be pulled on machines without a registry, and the harness removes what it creates itself
# (labels + owner process), so testcontainers' reaper is never needed.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

CHECK_SECONDS = 5  # an engine that accepts connections but never answers is reported after this long
CALL_SECONDS = 120  # every later call (builds stream; a busy engine may take a while to create a container)

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def remote_engine() -> str | None:
    """The host of a remote engine (an address `tcp://HOST:PORT`, `ssh://USER@HOST`, http(s)://, from whichever
    source decided), None for a local one (a unix socket, or a TCP address on loopback)."""
    address = urlsplit(engine_address())
    if address.scheme not in ("tcp", "ssh", "http", "https") or not address.hostname:
        return None
    return None if address.hostname in LOOPBACK else address.hostname


def service_host() -> str:
    """Where the client reaches published ports: TOPOLOGY_HOST, else Testcontainers' TC_HOST or
    TESTCONTAINERS_HOST_OVERRIDE (an address of the engine's machine that this one can reach), else a remote engine's
    host, else 127.0.0.1."""
    override = _host_override()
    return override[1] if override else remote_engine() or "127.0.0.1"


def _host_override() -> tuple[str, str] | None:
    """(variable, value) of the first of TOPOLOGY_HOST, TC_HOST, TESTCONTAINERS_HOST_OVERRIDE that is set."""
    for name in ("TOPOLOGY_HOST", "TC_HOST", "TESTCONTAINERS_HOST_OVERRIDE"):
        if os.environ.get(name):
            return name, os.environ[name]
    return None


def publish_address() -> str:
    """The address of the engine's machine that ports are published on: TOPOLOGY_PUBLISH_ADDRESS when set (e.g. its
    address on a private network), else every interface (0.0.0.0: reachable by anyone who can reach that machine) of
    a remote engine's machine, or of a local one when URLs use another host than loopback (TC_HOST and the like, see
    `publish_note`), else loopback (nothing else can reach the services)."""
    if os.environ.get("TOPOLOGY_PUBLISH_ADDRESS"):
        return os.environ["TOPOLOGY_PUBLISH_ADDRESS"]
    if remote_engine() is None and (_host_override() or ("", "127.0.0.1"))[1] in LOOPBACK:
        return "127.0.0.1"
    return "0.0.0.0"  # noqa: S104 - see the docstring


def publish_note() -> str | None:
    """The line said once at the start when a local engine publishes on every interface because URLs use another
    host (TC_HOST=10.0.0.5: a container running the tests that reaches the engine's machine there): that is what
    testcontainers does (it always publishes on 0.0.0.0), and with loopback only those URLs would reach nothing.
    None otherwise."""
    override = _host_override()
    if override is None or override[1] in LOOPBACK or remote_engine() or os.environ.get("TOPOLOGY_PUBLISH_ADDRESS"):
        return None
    return (f"{override[0]}={override[1]} with a local engine: ports are published on every interface (0.0.0.0, as "
            f"testcontainers publishes them) so that URLs at {override[1]} reach them; set TOPOLOGY_PUBLISH_ADDRESS to "
            "publish on one address only")


def explain(error: docker.errors.APIError) -> str:
    """Docker's own explanation, without docker-py's request line."""
    return str(getattr(error, "explanation", None) or error).strip()[:300]


def connect() -> docker.DockerClient:
    """A client of `resolve_engine()`'s engine that answered a ping within CHECK_SECONDS, or DockerUnavailable saying
    what was wrong, which sources were looked at, which one was used, and what to do."""
    engine = resolve_engine()
    try:  # an `environment` with DOCKER_HOST: docker-py does not look at the context again
        client = docker.from_env(timeout=CHECK_SECONDS, environment=engine.docker_environment())
        client.ping()  # the line above asks the engine's API version: bounded too
    except (docker.errors.DockerException, OSError, requests.exceptions.RequestException) as exc:
        silent = _timed_out(exc) and not _connect_timed_out(exc)
        why = f"no connection within {CHECK_SECONDS} s (timed out)" if _connect_timed_out(exc) else _reason(exc)
        problem = (f"the Docker engine at {engine.where} accepted the connection but did not answer within "
                   f"{CHECK_SECONDS} s" if silent else f"no Docker engine answers at {engine.where}: {why}")
        looked = "; ".join([*engine.tried, f"{engine.source}: used"])
        raise DockerUnavailable(f"{problem}.\n{start_hint(silent, engine)}\nLooked for an engine in Testcontainers' "
                                f"order: {looked}.", address=engine.address) from None
    client.api.timeout = CALL_SECONDS
    return client


def start_hint(silent: bool = False, engine: Engine | None = None) -> str:
    """What to do, for someone who installed pytest-topology with pip (and this project's script inside it)."""
    if engine is not None and engine.source.endswith(PROPERTIES):
        key = engine.source.split()[0]
        return (f"{key} in ~/{PROPERTIES} decides (as in Testcontainers{', over DOCKER_HOST' * (key == 'tc.host')}): "
                f"start what it points at (e.g. Testcontainers Desktop), or remove that line.")
    if engine is not None and engine.context is not None and not silent:
        return (f"Start the engine of the Docker context '{engine.context}' (e.g. `colima start`, Docker Desktop), or "
                "choose another one: `docker context use NAME` (`docker context ls` lists them), or set DOCKER_HOST.")
    if silent:
        first = "The engine is hung or overloaded: restart it (`sudo systemctl restart docker`, or Docker Desktop)"
    else:
        first = ("Start Docker (`sudo systemctl start docker`, or open Docker Desktop); not installed yet: see "
                 "https://docs.docker.com/engine/install/ (Debian/Ubuntu: `sudo apt-get install docker.io`)")
    script = project_script("ensure-engine.sh")
    inside = f"; in this repository, `bash {script}` does it" if script else ""
    return f"{first}{inside}; or point DOCKER_HOST at a running engine (or `docker context use NAME`)."


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
                  r"Temporary failure in name resolution|Network is unreachable|Connection reset by peer|"
                  r"No route to host|Host is unreachable|Connection timed out")
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")  # the system's words inside urllib3's wrapped reprs
_WRAPPED = re.compile(r"\s*\(Caused by .*|^.*?Max retries exceeded with url: \S+\s*")  # urllib3's wrapping


def _connect_timed_out(exc: BaseException) -> bool:
    """Whether `exc` (or what it wraps) is a connection that was never made in time (no answer to its SYN: a host
    that is down or filtered), as opposed to one made and then not answered."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.exceptions.ConnectTimeout) or "ConnectTimeoutError" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    why = _WHY.search(text)
    if why:
        extra = (" (add your user to the `docker` group, then log in again)" if why.group(0) == "Permission denied"
                 else "")
        return why.group(0) + extra
    if errno := _ERRNO.search(text):
        return errno.group(1).strip()
    first = _WRAPPED.sub("", text.splitlines()[0]).strip() if text else ""
    return first[:200] or type(exc).__name__
