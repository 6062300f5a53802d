"""Locks per topology file between sessions (flock on a file in the temporary folder: released if the holder
dies): one session at a time decides what becomes of a file's kept run, and one at a time uses it."""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from harness.model.topology import TopologySpec


@contextmanager
def deciding(spec: TopologySpec, say: Callable[[str], None]) -> Iterator[None]:
    """One process at a time decides whether the kept run of a file is used, replaced or started, and starts it:
    two sessions at the same moment would otherwise take each other's run, still starting, for one of an older
    version and remove it. A lock file per topology file (flock: released if the holder dies)."""
    with _locked(spec, "kept", f"waiting for another session that is starting or checking topology {spec.name}",
                 say):
        yield  # closing the file releases the lock


def using_kept_run(spec: TopologySpec, say: Callable[[str], None]) -> IO[str]:
    """Hold the kept run of `spec`'s file for one session (pytest --topology-reuse) until the returned file is closed:
    another session reusing it waits. It would otherwise put back, under this session's test, a service that test
    stopped on purpose, or replace the run under its tests (flock: released if the holder dies)."""
    return _locked(spec, "using", f"waiting for another session that uses the kept topology {spec.name} (one "
                                  "session at a time reuses a kept run)", say)


@contextmanager
def closed_on_error(handle: IO[str]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        handle.close()
        raise


def _lock_file(spec: TopologySpec, kind: str) -> Path:
    folder = Path(tempfile.gettempdir()) / "pytest-topology"
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(f"{spec.identity}\0{spec.name}".encode()).hexdigest()[:16]
    return folder / f"{kind}-{key}.lock"


def _locked(spec: TopologySpec, kind: str, waiting: str, say: Callable[[str], None]) -> IO[str]:
    """An exclusive lock per topology file and `kind`: the open lock file (closing it releases the lock)."""
    handle = open(_lock_file(spec, kind), "a")  # noqa: SIM115 - the caller closes it
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(waiting)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:  # Ctrl-C while waiting
            handle.close()
            raise
    return handle
