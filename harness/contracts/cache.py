"""The verdict cache: a pact verified against a provider is not verified again while nothing its verdict depends on
has changed. Only "verified" verdicts are kept; failed and error verdicts are always reached again.

A verdict's key (`verdict_key`) is a hash of:
- the pact's content (its JSON, normalised: key order and spacing do not count);
- the provider service's name, its own state-change path (`contracts.state_url`), and the options of the Verifier
  run that change verdicts (`PACT_*` variables of this process, hashed: a value is never written);
- the topology it was verified in (`TopologyIdentity`): every service's signature (harness.runtime.signature: the
  image's id, not its tag; environment; command and the other container settings; copied files) and every declared
  network. Not only the provider's: its verdict depends on its database and on the services it calls, and a
  service's calls need not be declared (`depends_on`);
- what the services' bind mounts hold (`mounted_digest`: code mounted from the host changes no image);
- the provider states and message producers (`states_digest`): the states modules and every module of the project
  their handlers reach (not the standard library, installed packages, or the harness), the files of their folders
  and below that a handler may read (harness.contracts.statestree), and the values of the environment variables
  their code reads by name;
- the versions of pact-python, its Pact core and the harness, the harness's verification code, and the cache's
  format.

A broker-sourced pact plugs in with its content: `verdict_key(content, provider, context)`.

Entries are JSON files under `cache_folder()/verdicts` (`$PYTEST_TOPOLOGY_CACHE`, else
`$XDG_CACHE_HOME/pytest-topology`, else `~/.cache/pytest-topology`), one per key, written atomically (a temporary
file renamed): two runs, or pytest-xdist workers, writing the same key leave one whole entry. An entry that cannot be
read is a miss; a folder that cannot be written only costs the next run its time. Entries unused for a month, and
the least recently used beyond 5,000, are removed (harness.contracts.cacheprune).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib.metadata
import inspect
import json
import os
import sys
import sysconfig
import tempfile
import types
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.contracts.cacheprune import prune, used
from harness.contracts.pactfiles import PactFile
from harness.contracts.results import InteractionResult, PactResult
from harness.contracts.states import Registry
from harness.contracts.statestree import folders_digest, states_folders
from harness.model.topology import TopologySpec
from harness.runtime.topology import Topology

CACHE_FORMAT = "1"
_TOOLS = ("pact-python", "pact-python-ffi", "pytest-topology")
_OWN = Path(__file__).resolve().parents[1]  # the harness package: its version stands for it


@dataclasses.dataclass(frozen=True)
class TopologyIdentity:
    """What the services of a topology are started from: service -> signature (harness.runtime.signature), network ->
    definition hash. Equal identities: the same images, environments, settings and networks."""

    services: Mapping[str, str]
    networks: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class VerdictContext:
    """Everything a verdict depends on besides the pact and its provider: the topology, the states code, the
    tools."""

    topology: TopologyIdentity
    states: str  # states_digest
    tools: str  # tools_digest
    mounted: str = ""  # mounted_digest: what the services' bind mounts hold

    @functools.cached_property
    def digest(self) -> str:
        return _hash([sorted(self.topology.services.items()), sorted(self.topology.networks.items()), self.states,
                      self.tools, self.mounted])


def cache_folder() -> Path:
    """The verdict cache's folder: `verdicts` in the harness's cache folder (harness.runtime.buildcontext.cache_dir)."""
    from harness.runtime.buildcontext import cache_dir

    return cache_dir() / "verdicts"


def pact_content(path: Path) -> Any:
    """The pact file's JSON (None: unreadable now; nothing is cached for it)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def verdict_key(content: Any, provider: str, context: VerdictContext, state_path: str | None = None) -> str:
    """The cache key of a verdict: a sha256 hex digest of the pact's content (any JSON value; normalised), the
    provider service's name, its own state-change path (None: the harness serves the states) and `context`."""
    options = sorted((name, _hash(value)) for name, value in os.environ.items()
                     if name.startswith("PACT_") and name != "PACT_DO_NOT_TRACK")
    return _hash([CACHE_FORMAT, content, provider, state_path, options, context.digest])


def tools_digest() -> str:
    """The versions of pact-python, its core and the harness, and the source of the harness's pact verification
    (harness.contracts: a checkout's version does not change with its code)."""
    versions: list[tuple[str, str]] = []
    for name in _TOOLS:
        try:
            versions.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    here = Path(__file__).parent
    versions += [(file.relative_to(here).as_posix(), hashlib.sha256(file.read_bytes()).hexdigest())
                 for file in sorted(here.rglob("*.py"))]
    return _hash(versions)


def mounted_digest(spec: TopologySpec) -> str:
    """What the host files and folders mounted into the services hold (bind mounts; `copy: true` ones are in the
    services' signatures): a provider whose code is mounted from the host changes without its image changing."""
    from harness.runtime.buildcontext import copy_digest

    parts = []
    for name, service in spec.services.items():
        for mount in service.mounts:
            if not mount.copied:
                try:
                    parts.append((name, mount.source, copy_digest(spec.base_dir / mount.source)))
                except OSError as error:
                    parts.append((name, mount.source, f"unreadable: {error.strerror}"))
    return _hash(sorted(parts))


def states_digest(files: Iterable[Path], registry: Registry, skipped: Iterable[Path] = ()) -> str:
    """A hash of the provider states and message producers: the bytes of every file `states_files` lists, every
    file of their folders and below that a handler may read (harness.contracts.statestree: tracked and untracked
    but not ignored in a git checkout; not `skipped`, the pact folder, nor what runs write), and the values of the
    environment variables their code reads by a literal name (`os.environ["X"]`, `os.environ.get("X")`,
    `os.getenv("X")`: hashed, never written). Raises statestree.TooManyFiles (nothing is cached then)."""
    code = states_files(files, registry)
    parts = []
    for file in code:
        try:
            parts.append((str(file), hashlib.sha256(file.read_bytes()).hexdigest()))
        except OSError as error:
            parts.append((str(file), f"unreadable: {error.strerror}"))
    data = folders_digest(states_folders(code), skipped)
    names = sorted({name for file in code for name in environment_reads(file)})
    return _hash([parts, data, [(name, _hash(os.environ.get(name))) for name in names]])


def environment_reads(file: Path) -> set[str]:
    """The environment variables `file` reads by a literal name: `os.environ["X"]`, `os.environ.get("X")`,
    `os.getenv("X")` (also `environ`/`getenv` imported from os); none when it cannot be parsed."""
    try:
        tree = ast.parse(file.read_bytes())
    except (OSError, SyntaxError, ValueError):
        return set()

    def is_environ(node: ast.expr) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "environ") or (
            isinstance(node, ast.Name) and node.id == "environ")

    names: set[str] = set()
    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Subscript) and is_environ(node.value):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "get" and is_environ(func.value)) or (
                    isinstance(func, ast.Attribute) and func.attr == "getenv") or (
                    isinstance(func, ast.Name) and func.id == "getenv"):
                key = node.args[0]
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def states_files(files: Iterable[Path], registry: Registry | None = None) -> list[Path]:
    """The code of the provider states and message producers (resolved, sorted): each states module, and every
    module file of the project that their handlers reach through the names they use (functions, classes and
    modules, and theirs in turn) or that any of these files imports (anywhere in it: an import inside a handler
    runs only when it does, and a constant's module is no name a handler uses). Modules of the standard library, of
    installed packages and of the harness are left out (their versions count, harness.contracts.cache.tools_digest).
    Data files a handler reads (harness.contracts.statestree counts the code's folders) and modules imported by a
    name computed at run time (importlib) are not in it. The verdict cache's key and the broker's rule for a clean
    checkout (harness.contracts.checkout) both take it."""
    found: set[Path] = {Path(file).resolve() for file in files}
    seen: set[int] = set()
    todo: list[Any] = [*registry.states.values(), *registry.messages.values()] if registry is not None else []
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        namespace, file = _namespace(value)
        if file is None or not _is_project(file):
            continue
        found.add(file)
        todo += [v for v in namespace.values() if isinstance(v, (types.FunctionType, types.ModuleType, type))]
    unread = list(found)
    while unread:  # what their import statements name: also a constant's module, or an import inside a handler
        for imported in _imports(unread.pop()):
            if imported not in found and _is_project(imported):
                found.add(imported)
                unread.append(imported)
    return sorted(found)


def _imports(file: Path) -> set[Path]:
    """The module files the import statements of `file` name, found as Python would find them from `file`'s folder
    or `sys.path` (a package's `__init__.py` too: it runs on import); none when it cannot be parsed."""
    try:
        tree = ast.parse(file.read_bytes(), str(file))
    except (OSError, SyntaxError, ValueError):
        return set()
    found: set[Path] = set()
    roots = [file.parent, *(Path(entry or ".") for entry in sys.path)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found |= _module_files(alias.name.split("."), roots)
        elif isinstance(node, ast.ImportFrom):
            parts = node.module.split(".") if node.module else []
            if node.level:  # relative: from the package `file` is in
                here = [file.parents[node.level - 1]] if node.level <= len(file.parents) else []
                found |= _module_files(parts, here, relative=True)
                found |= {f for alias in node.names for f in _module_files([*parts, alias.name], here, relative=True)}
            else:
                found |= _module_files(parts, roots)
                found |= {f for alias in node.names for f in _module_files([*parts, alias.name], roots)}
    return found


def _module_files(parts: list[str], roots: list[Path], relative: bool = False) -> set[Path]:
    """The files importing the dotted module `parts` runs (each package's `__init__.py`, then the module), from the
    first root that has its top-level name; relative: from the one root given, `parts` empty meaning the package."""
    for root in roots:
        files: set[Path] = set()
        if relative and (root / "__init__.py").is_file():
            files.add((root / "__init__.py").resolve())
        folder = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if (folder / part / "__init__.py").is_file():
                files.add((folder / part / "__init__.py").resolve())
            elif last and (folder / f"{part}.py").is_file():
                files.add((folder / f"{part}.py").resolve())
            elif not (folder / part).is_dir():  # a name from the module, or no module of this root
                if index == 0 and not relative:
                    files = set()
                break
            folder = folder / part
        if files or relative:
            return files
    return set()


def _namespace(value: Any) -> tuple[dict[str, Any], Path | None]:
    """The global names a function, class or module sees, and the file it is written in (None: none)."""
    value = inspect.unwrap(value) if callable(value) and not isinstance(value, type) else value
    if isinstance(value, types.ModuleType):
        file = getattr(value, "__file__", None)
        return vars(value), Path(file).resolve() if file else None
    if isinstance(value, types.FunctionType):
        return value.__globals__, Path(value.__code__.co_filename).resolve()
    module = sys.modules.get(getattr(value, "__module__", "") or "")
    if module is None:
        return {}, None
    return _namespace(module)


def _is_project(file: Path) -> bool:
    if not file.is_file() or file.is_relative_to(_OWN):
        return False
    paths = sysconfig.get_paths()
    return not any(file.is_relative_to(Path(paths[name]).resolve())
                   for name in ("stdlib", "platstdlib", "purelib", "platlib") if name in paths)


class VerdictCache:
    """The verified verdicts of earlier runs, by key. `get` gives the verdict of a pact as an earlier run reached
    it (with `cached_from`), `put` keeps a verified one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, key: str, pact: PactFile, spec: Any) -> PactResult | None:
        """The verified verdict kept under `key`, for `pact` as it is now (its path and names); None: none."""
        from harness.contracts.names import service_for

        try:
            entry = json.loads((self.folder / f"{key}.json").read_text())
            if entry.get("key") != key or entry.get("verdict") != "verified":
                return None
            used(self.folder / f"{key}.json")  # pruning removes what no run used for long
            interactions = [InteractionResult(i["description"], bool(i["passed"]), float(i["seconds"]),
                                              [str(p) for p in i["problems"]], str(i["label"]))
                            for i in entry["interactions"]]
            return PactResult(pact.path, "verified", pact.consumer, pact.provider, service_for(spec, pact.consumer),
                              service_for(spec, pact.provider), len(pact.interactions), interactions,
                              report=str(entry.get("report", "")), seconds=float(entry["seconds"]),
                              labels=[str(label) for label in entry["labels"]],
                              cached_from=str(entry["verified_at"]),
                              verified_as=str(entry.get("provider_version") or ""))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, result: PactResult, run: str = "", version: str = "") -> None:
        """Keep `result` under `key` when it is verified (else nothing), with the provider `version` it was verified
        as ("": none known; a hit is then never published as a version's result). Atomic; a folder that cannot be
        written is skipped."""
        if result.verdict != "verified" or result.cached_from:
            return
        pending = any(not i.passed for i in result.interactions)  # its report is shown again
        entry = {"format": CACHE_FORMAT, "key": key, "verdict": "verified", "run": run, "provider_version": version,
                 "verified_at": datetime.now(UTC).isoformat(timespec="seconds"), "seconds": result.seconds,
                 "labels": result.labels, "report": result.report if pending else "",
                 "interactions": [dataclasses.asdict(i) for i in result.interactions]}
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{key[:12]}-", suffix=".tmp")
        except OSError:
            return
        try:  # renamed into place whole: a reader never sees half an entry
            with os.fdopen(handle, "w") as out:
                json.dump(entry, out)
            os.replace(temporary, self.folder / f"{key}.json")
        except OSError:
            Path(temporary).unlink(missing_ok=True)
        prune(self.folder)


class RunCache:
    """The verdict cache as one verification run uses it (`outputs`: the pact folder, the cache's folder and what
    the run writes, left out of the states' data): `cached` looks a pact up under the topology that would be
    started now (images and specs, without starting anything); `keep` stores a verified verdict under the topology
    it was verified in (the signatures its containers carry). Each context is computed once per run."""

    def __init__(self, folder: Path, spec: TopologySpec, states: list[Path], registry: Registry,
                 outputs: Iterable[Path] = ()) -> None:
        self.cache = VerdictCache(folder)
        self._outputs = [Path(p).resolve() for p in outputs]  # not the states' data: the pacts, what the run writes
        self.spec = spec
        self._states, self._registry = states, registry
        self._planned: VerdictContext | None | bool = False  # False: not computed yet; None: cannot be known
        self._running: VerdictContext | None | bool = False
        self._found: dict[Path, PactResult | None] = {}
        self._code: tuple[str, str, str] | tuple[()] | None = None

    def cached(self, pact: PactFile) -> PactResult | None:
        """The verdict an earlier run reached for `pact` with everything it depends on as it is now; None: none.
        Looked up once per run."""
        if self._planned is False:
            self._planned = self._context(_planned_identity(self.spec))
        if pact.path not in self._found:
            self._found[pact.path] = self._look_up(pact, self._planned)
        return self._found[pact.path]

    def keep(self, pact: PactFile, content: Any, result: PactResult, topology: Topology, version: str = "") -> None:
        """Store `result` (when verified) of `pact`, whose content was `content` when its verification started (not
        kept if the file changed since), as verified for provider `version` ("": none known)."""
        if result.verdict != "verified" or content is None or pact_content(pact.path) != content:
            return
        if self._running is False:
            self._running = self._context(running_identity(topology))
        if isinstance(self._running, VerdictContext):
            self.cache.put(self._key(pact, content, self._running), result, run=topology.run_id, version=version)

    def _look_up(self, pact: PactFile, context: VerdictContext | None | bool) -> PactResult | None:
        content = pact_content(pact.path)
        if not isinstance(context, VerdictContext) or content is None:
            return None
        return self.cache.get(self._key(pact, content, context), pact, self.spec)

    def _key(self, pact: PactFile, content: Any, context: VerdictContext) -> str:
        from harness.contracts.names import service_for

        provider = service_for(self.spec, pact.provider) or pact.provider
        return verdict_key(content, provider, context, self.spec.contracts.state_url.get(provider))

    def _context(self, identity: TopologyIdentity | None) -> VerdictContext | None:
        if identity is None:
            return None
        if self._code is None:  # once per run, before the first verification: as it is verified
            try:
                pacts = self.spec.base_dir / self.spec.contracts.pacts
                states = states_digest(self._states, self._registry, [pacts, *self._outputs])
                self._code = (states, tools_digest(), mounted_digest(self.spec))
            except Exception:  # noqa: BLE001 - what cannot be hashed cannot be cached: every pact is verified
                self._code = ()
        return VerdictContext(identity, *self._code) if self._code else None


def _planned_identity(spec: TopologySpec) -> TopologyIdentity | None:
    """The identity of the topology a start would run now (its images' ids as the engine has them); None: no engine
    answers (the start says why)."""
    from harness.errors import HarnessError
    from harness.runtime import engine, networks
    from harness.runtime.signature import signatures

    try:
        client = engine.connect()
    except HarnessError:
        return None
    try:
        return TopologyIdentity(signatures(client, spec), networks.declared_hashes(spec))
    except Exception:  # noqa: BLE001 - e.g. a build context that cannot be read: a miss, and the start says why
        return None
    finally:
        client.close()


def running_identity(topology: Topology) -> TopologyIdentity | None:
    """The identity of a running topology: the signature each service's container carries (None: a service has no
    container of its own, or one without a signature)."""
    from harness.runtime import labels as L
    from harness.runtime import networks

    found = {}
    for name in topology.spec.services:
        signature = L.labels_of(topology[name].container).get(L.SIGNATURE) if name in topology else None
        if not signature:
            return None
        found[name] = signature
    return TopologyIdentity(found, networks.declared_hashes(topology.spec))


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()
