"""Which Docker engine to use, found as Docker and Testcontainers find it: from environment variables and small
files only (no `docker` subprocess, no connection), so that it costs nothing and both runtime/ (docker-py,
testcontainers) and spec/ (the Docker Compose binary) use the same engine.

Testcontainers' order: `tc.host` in ~/.testcontainers.properties, DOCKER_HOST, `docker.host` in
~/.testcontainers.properties, the current Docker context (DOCKER_CONTEXT, else `currentContext` in
$DOCKER_CONFIG/config.json; its endpoint and TLS material), Docker Desktop's socket in the home folder, the default
socket. The last two are guesses: as Java Testcontainers tries each candidate and moves on when it does not answer
(`DockerClientProviderStrategy`), a Desktop socket that nothing listens on (Desktop quit, its socket file left) is
passed over, with what it answered in `Engine.tried`. A source someone configured is used even when it does not
answer: `runtime.engine.connect` then says so.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import DockerUnavailable

DEFAULT_SOCKET = "/var/run/docker.sock"
DESKTOP_SOCKETS = (".docker/run/docker.sock", ".docker/desktop/docker.sock")  # under the home folder
PROPERTIES = ".testcontainers.properties"  # under the home folder
_ENGINE_VARIABLES = ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


@dataclass(frozen=True)
class Engine:
    """The engine to use. `address` is in DOCKER_HOST form (unix:///..., tcp://HOST:PORT, ssh://USER@HOST);
    `source` says where it came from (for messages); `tried` lists each source looked at before it, with why it was
    passed over; `context` is the Docker context's name when one decided, `tls_dir` its ca.pem/cert.pem/key.pem."""

    address: str
    source: str
    tried: tuple[str, ...] = field(default=(), compare=False)
    context: str | None = None
    tls_dir: str | None = None
    tls_verify: bool = False
    _inherited: dict[str, str] = field(default_factory=dict, compare=False)

    def docker_environment(self) -> dict[str, str]:
        """DOCKER_HOST (and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) saying this engine, for docker-py's `from_env`."""
        if self.source == "DOCKER_HOST":
            return dict(self._inherited)
        env = {"DOCKER_HOST": self.address}
        if self.tls_dir:
            env["DOCKER_CERT_PATH"] = self.tls_dir
            if self.tls_verify:
                env["DOCKER_TLS_VERIFY"] = "1"
        return env

    def cli_environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) with the engine variables of the docker CLI and Docker Compose
        set to this engine: the context by name when a context decided (the CLI reads its TLS material itself), else
        DOCKER_HOST."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _ENGINE_VARIABLES}
        if self.context is not None:
            env["DOCKER_CONTEXT"] = self.context
        else:
            env.update(self.docker_environment())
        return env

    @property
    def where(self) -> str:
        """The address and its source, as messages name them."""
        if self.source == "DOCKER_HOST":
            return f"DOCKER_HOST={self.address}"
        return f"{self.address} ({self.source})"


def resolve_engine() -> Engine:
    """The engine Docker and Testcontainers would use here (see the module docstring for the order). Reads a few small
    files; never connects.

    Raises:
        DockerUnavailable: DOCKER_CONTEXT or config.json names a context that does not exist (as the docker CLI
            refuses it), or a context's metadata cannot be read.
    """
    tried: list[str] = []
    home = Path.home()
    properties = _read_properties(home / PROPERTIES)
    shown = f"~/{PROPERTIES}"
    unset = "not set" if properties is not None else "no such file" if not (home / PROPERTIES).exists() else (
        "not readable")
    properties = properties or {}
    if properties.get("tc.host"):
        return Engine(_sanitised(properties["tc.host"]), f"tc.host in {shown}", tuple(tried))
    tried.append(f"tc.host in {shown} ({unset})")
    if os.environ.get("DOCKER_HOST"):
        inherited = {k: os.environ[k] for k in ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
                     if os.environ.get(k)}
        return Engine(os.environ["DOCKER_HOST"], "DOCKER_HOST", tuple(tried), _inherited=inherited)
    tried.append("DOCKER_HOST (not set)")
    if properties.get("docker.host"):
        return Engine(_sanitised(properties["docker.host"]), f"docker.host in {shown}", tuple(tried))
    tried.append(f"docker.host in {shown} ({unset})")
    context = _context(tried)
    if context is not None:
        return context
    answered: list[str] = []
    for name in DESKTOP_SOCKETS:
        if not (home / name).exists():
            answered.append(f"~/{name}: absent")
        elif (why := unix_socket_refusal(home / name)) is None:
            return Engine(f"unix://{home / name}", "Docker Desktop's socket", tuple(tried))
        else:
            answered.append(f"~/{name}: {why}, passed over")
    if all(line.endswith(": absent") for line in answered):
        answered = [f"{' and '.join(f'~/{name}' for name in DESKTOP_SOCKETS)}: absent"]
    tried.append(f"Docker Desktop's socket ({'; '.join(answered)})")
    return Engine(f"unix://{DEFAULT_SOCKET}", "the default socket", tuple(tried))


def unix_socket_refusal(path: Path) -> str | None:
    """None when something accepts a connection on the unix socket `path` (within 1 s), else the system's words for
    why not (e.g. `Connection refused`: a socket file left behind by an engine that stopped). Sends nothing."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError as exc:
            return exc.strerror or str(exc) or type(exc).__name__
    return None


def _context(tried: list[str]) -> Engine | None:
    """The current Docker context's engine, None for the `default` context (appended to `tried`)."""
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    shown_config = "$DOCKER_CONFIG" if os.environ.get("DOCKER_CONFIG") else "~/.docker"
    if os.environ.get("DOCKER_CONTEXT"):
        name, origin = os.environ["DOCKER_CONTEXT"], "DOCKER_CONTEXT"
    else:
        origin = f"currentContext in {shown_config}/config.json"
        try:
            name = json.loads((config_dir / "config.json").read_text()).get("currentContext") or "default"
        except FileNotFoundError:
            name, origin = "default", f"no DOCKER_CONTEXT and no {shown_config}/config.json"
        except (OSError, ValueError, AttributeError):
            name = "default"
    if name == "default":
        tried.append(f"the Docker context (`default`, from {origin}: the sources after it)")
        return None
    return context_engine(name, origin, tuple(tried))


def context_engine(name: str, origin: str, tried: tuple[str, ...] = ()) -> Engine:
    """The engine of the Docker context `name` (`origin` says who named it, for messages).

    Raises:
        DockerUnavailable: no such context, or its metadata cannot be read.
    """
    config_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    context_id = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / context_id / "meta.json"
    try:
        endpoint = json.loads(meta.read_text())["Endpoints"]["docker"]
        host = endpoint["Host"]
    except FileNotFoundError:
        what = ("Create it (`docker context create NAME --docker host=...`) or fix `engines:` in the topology file"
                if origin.startswith("engine '") else
                "Choose an existing one (`docker context ls`, `docker context use NAME`)"
                + (" or unset DOCKER_CONTEXT" if origin == "DOCKER_CONTEXT" else ""))
        raise DockerUnavailable(f"the Docker context '{name}' ({origin}) does not exist: there is no {meta}.\n"
                                f"{what}.", address=name) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DockerUnavailable(f"the Docker context '{name}' ({origin}) cannot be read from {meta}: "
                                f"{type(exc).__name__}: {exc}.\nRecreate it with `docker context create`.",
                                address=name) from None
    tls = config_dir / "contexts" / "tls" / context_id / "docker"
    return Engine(str(host), f"Docker context '{name}' from {origin}", tried, context=name,
                  tls_dir=str(tls) if tls.is_dir() else None, tls_verify=not endpoint.get("SkipTLSVerify", False))


def _read_properties(file: Path) -> dict[str, str] | None:
    """A Java properties file's `key=value` / `key: value` lines (backslash escapes such as `tcp\\://` undone);
    None when it cannot be read."""
    try:
        lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    found: dict[str, str] = {}
    for line in lines:
        match = _PROPERTY.match(line)
        if match and not line.lstrip().startswith(("#", "!")):
            found[re.sub(r"\\(.)", r"\1", match["key"])] = re.sub(r"\\(.)", r"\1", match["value"]).strip()
    return found


_PROPERTY = re.compile(r"^\s*(?P<key>(?:[^\\:=\s]|\\.)+)\s*[:=\s]\s*(?P<value>.*)$")


def _sanitised(address: str) -> str:
    """`ssh://user@host/` -> `ssh://user@host` (docker-py refuses the path), as Testcontainers does."""
    return address.rstrip("/") if address.startswith("ssh://") else address


def engine_address() -> str:
    return resolve_engine().address


def hub_prefix_source() -> str:
    """Where hub_image_prefix() comes from, as messages name it: `TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX=VALUE` or
    `hub.image.name.prefix=VALUE in ~/.testcontainers.properties`."""
    if os.environ.get("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX"):
        return f"TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX={os.environ['TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX']}"
    return f"hub.image.name.prefix={hub_image_prefix()} in ~/{PROPERTIES}"


def hub_image_prefix() -> str:
    """Testcontainers' prefix for Docker Hub images (TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX, else
    `hub.image.name.prefix` in ~/.testcontainers.properties), '' when unset. `redis:7` becomes PREFIX + `redis:7`,
    and so does `docker.io/library/redis:7` (runtime.images.substitute)."""
    return (os.environ.get("TESTCONTAINERS_HUB_IMAGE_NAME_PREFIX")
            or (_read_properties(Path.home() / PROPERTIES) or {}).get("hub.image.name.prefix", ""))
