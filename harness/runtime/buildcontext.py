"""The content tag of a `build:` context: a hash of exactly what `docker build` is sent, so a cached image is reused
only when Docker would build the same thing.

What is sent is decided by docker-py itself (the library that sends it): its `.dockerignore` reader and
`docker.utils.build.exclude_paths`, and `process_dockerfile` for a Dockerfile outside the context (sent as an extra
file: hashed by content). Files are hashed in chunks (memory stays flat for big files) and their digests are cached
on disk by (path, size, mtime, inode, ctime), so an unchanged context costs one `stat` per file. The ctime catches an
edit that keeps the size and puts the old mtime back (`touch -r`, `cp -p`, `rsync -t`): the kernel sets it on every
change and nothing can set it back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from docker.api.build import process_dockerfile
from docker.utils.build import exclude_paths

from harness.model.parts import BuildSpec

CHUNK = 1 << 20  # bytes read at a time
# A file modified less than this many seconds before it was hashed may change again within the same mtime tick
# without its size changing ("racy" entries, as git calls them): such digests are not cached.
RACY_SECONDS = 2.0
CACHE_VERSION = 2
OUTSIDE = ".dockerfile.outside-the-context"  # docker-py names it randomly; only "not Dockerfile" matters


def cache_dir() -> Path:
    """Where file digests are cached: $PYTEST_TOPOLOGY_CACHE, else $XDG_CACHE_HOME/pytest-topology, else
    ~/.cache/pytest-topology."""
    if os.environ.get("PYTEST_TOPOLOGY_CACHE"):
        return Path(os.environ["PYTEST_TOPOLOGY_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pytest-topology"


def _dockerignore_patterns(context: Path) -> list[str]:
    """The patterns of `context/.dockerignore`, read as docker-py reads them (stripped; blank lines and `#` dropped)."""
    file = context / ".dockerignore"
    if not file.is_file():
        return []
    lines = [line.strip() for line in file.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def sent_paths(context: Path, dockerfile: str = "Dockerfile") -> list[str]:
    """Paths (relative, `/`-separated, sorted; files, folders and links) that `docker build` is sent for `context`."""
    name, _outside = _dockerfile(context, dockerfile)
    return sorted(exclude_paths(str(context), _dockerignore_patterns(context), dockerfile=name))


def build_tag(context: Path, build: BuildSpec, cache: Path | None = None, bases: Sequence[str] = ()) -> str:
    """`pytest-topology/<context folder>:<16 hex digits>`: a hash of every path docker is sent (name, kind, mode,
    content or link target), a Dockerfile outside the context or inline (by content), the Dockerfile's name, the
    build args, `bases`, and the build's other settings that change the image (labels, extra hosts, network, ...;
    the files of a folder given as an additional context).

    Args:
        cache: the folder for cached digests (default `cache_dir()`); an unwritable one only costs speed.
        bases: what the Dockerfile's FROM images are now (`images.base_identities`: read from the engine on every
            call, never cached here), so that a base tag moved to another image gives another tag.

    Raises:
        OSError: a file of the context cannot be read (docker build would fail on it too).
    """
    context = context.resolve()
    digest = hashlib.sha256()
    # an inline Dockerfile is sent as one outside the context is (docker-py adds it)
    name, outside = ((OUTSIDE, build.dockerfile_inline) if build.dockerfile_inline is not None
                     else _dockerfile(context, build.dockerfile))
    digests = _DigestCache(cache or cache_dir(), str(context))
    for relative in sorted(exclude_paths(str(context), _dockerignore_patterns(context), dockerfile=name)):
        digest.update(_entry(context, relative, digests))
    digests.save()
    if outside is not None:
        digest.update(b"dockerfile outside the context\0" + hashlib.sha256(outside.encode()).digest())
    digest.update(json.dumps([build.dockerfile, sorted(build.args.items()), list(bases)]).encode())
    # the other settings that change what is built (only when given: the tags of plain builds stay as they were);
    # not a secret's value (a tag is no place for it: as `docker compose up`, a changed secret does not rebuild)
    settings = build.model_dump(mode="json", exclude_defaults=True, exclude={
        "context", "dockerfile", "dockerfile_inline", "args", "target", "no_cache", "pull", "tags"})
    for named, source in sorted(build.additional_contexts.items()):  # a folder's files, as the context's
        if Path(source).is_dir():
            settings.setdefault("additional_context_files", {})[named] = copy_digest(Path(source), cache)
    if settings:
        digest.update(json.dumps(settings, sort_keys=True).encode())
    folder = "".join(c if c.isalnum() or c in "-_." else "-" for c in context.name.lower()) or "service"
    return f"pytest-topology/{folder}:{digest.hexdigest()[:16]}"


def url_tag(url: str, build: BuildSpec) -> str:
    """`pytest-topology/<repository or file name>:<16 hex digits>` for a build whose context is a URL: a hash of the
    URL and the build's settings, not of the content (the builder fetches it: nothing is read here). So a URL
    context is built once and kept by its URL, as `docker compose up` keeps the image it built; a new commit or
    tarball behind the same URL is not seen (`harness prune`, or a ref or file name of its own, builds it again)."""
    settings = build.model_dump(mode="json", exclude_defaults=True, exclude={"context", "no_cache", "pull", "tags"})
    digest = hashlib.sha256(json.dumps([url, settings], sort_keys=True).encode())
    path = url.split("#", 1)[0].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    for suffix in (".git", ".tar.gz", ".tgz", ".tar"):
        path = path.removesuffix(suffix)
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in path.lower()).strip(".-") or "remote"
    return f"pytest-topology/{name}:{digest.hexdigest()[:16]}"


def copy_digest(source: Path, cache: Path | None = None) -> str:
    """16 hex digits: a hash of what a `copy: true` mount puts into the container, every file and folder under
    `source` (or the file itself) by path, mode and content, so that a kept run is not reused with an old copy.

    Raises:
        OSError: `source` or a file under it cannot be read (the start would fail on it too).
    """
    root, names = _entries(source.resolve())
    digest = hashlib.sha256()
    digests = _DigestCache(cache or cache_dir(), f"copy {source.resolve()}")
    for relative in names:
        digest.update(_entry(root, relative, digests))
    digests.save()
    return digest.hexdigest()[:16]


def entry_digests(source: Path, keep: Callable[[str], bool] | None = None, cache: Path | None = None) -> dict[str, str]:
    """16 hex digits per file, folder and link under `source` (or of the file itself, by its name), as copy_digest
    hashes each (path, mode, content); only the entries `keep` (of their path relative to `source`) takes. For what a
    bind mount holds (harness.runtime.mounted), file by file: which files changed can be named.

    Raises:
        OSError: `source` or a file under it cannot be read.
    """
    root, names = _entries(source.resolve())
    digests = _DigestCache(cache or cache_dir(), f"mount {source.resolve()}")
    found = {name: hashlib.sha256(_entry(root, name, digests)).hexdigest()[:16] for name in names
             if keep is None or keep(name)}
    digests.save()
    return found


def _entries(source: Path) -> tuple[Path, list[str]]:
    """(the folder paths are relative to, every file, folder and link under `source` by its relative path, sorted),
    or (its folder, [its name]) for a file."""
    if not source.is_dir():
        return source.parent, [source.name]
    return source, sorted(Path(folder, name).relative_to(source).as_posix()
                          for folder, folders, files in os.walk(source) for name in [*folders, *files])


def _dockerfile(context: Path, dockerfile: str) -> tuple[str, str | None]:
    """docker-py's view: (name in the context, None) or (a generated name, the content of a Dockerfile outside)."""
    name, content = process_dockerfile(dockerfile, str(context))
    if content is not None:
        return OUTSIDE, content
    return name, None


def _entry(context: Path, relative: str, digests: _DigestCache) -> bytes:
    path = context / relative
    info = path.lstat()
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        body = b"link\0" + os.readlink(path).encode()
    elif stat.S_ISREG(info.st_mode):
        body = b"file\0" + digests.of(relative, path, info)
    elif stat.S_ISDIR(info.st_mode):
        body = b"dir\0"
    else:  # sockets, fifos: docker-py sends no content for them
        body = b"other\0"
    return relative.encode() + b"\0" + f"{mode:o}".encode() + b"\0" + body + b"\0"


class _DigestCache:
    """File digests of one context (or one copied mount), kept on disk between runs, keyed by (size, mtime_ns,
    inode, ctime_ns)."""

    def __init__(self, folder: Path, key: str) -> None:
        self.file = folder / (hashlib.sha256(key.encode()).hexdigest()[:24] + ".json")
        # relative path -> [size, mtime_ns, inode, ctime_ns, sha256 hex]
        self.entries: dict[str, list[int | str]] = {}
        self.changed = False
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(self.file.read_text())
            if data.get("version") == CACHE_VERSION:
                self.entries = data["files"]
        self.seen: dict[str, list[int | str]] = {}

    def of(self, relative: str, path: Path, info: os.stat_result) -> bytes:
        key = [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]
        cached = self.entries.get(relative)
        if cached is not None and cached[:4] == key:
            self.seen[relative] = cached
            return bytes.fromhex(str(cached[4]))
        digest = hashlib.sha256()
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
        if time.time() - max(info.st_mtime, info.st_ctime) > RACY_SECONDS:
            self.seen[relative] = [*key, digest.hexdigest()]
            self.changed = True
        return digest.digest()

    def save(self) -> None:
        """Write the digests of the files seen this time (atomically: concurrent sessions may hash the same
        context); a cache that cannot be written is skipped."""
        if not self.changed and len(self.seen) == len(self.entries):
            return
        with contextlib.suppress(OSError):
            self.file.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=self.file.parent, delete=False, suffix=".tmp") as out:
                json.dump({"version": CACHE_VERSION, "files": self.seen}, out)
            os.replace(out.name, self.file)
