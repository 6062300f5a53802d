"""Locks between the processes that build or start from the images of a build context and those that remove images
of it (`harness prune`, the tidy after a start): an image is never removed while a session builds it or is about to
create containers from it, and one content tag is built by one process at a time (two builds of one tag would make
two images, the tag ending on whichever finished last).

flock files in the temp folder, one per (engine, context) and per (engine, tag): released when the holder dies.
Sessions on other machines that share a remote engine do not see them.
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO

from harness.runtime.engine import engine_address


def _open(kind: str, key: str) -> IO[str]:
    folder = Path(tempfile.gettempdir()) / "pytest-topology"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(f"{engine_address()}\0{key}".encode()).hexdigest()[:16]
    return open(folder / f"{kind}-{digest}.lock", "a")  # noqa: SIM115 - closed by the caller


@contextmanager
def using_contexts(contexts: Iterable[str]) -> Iterator[None]:
    """Held while this process builds images of `contexts` (absolute paths, as their `CONTEXT` label) and creates
    containers from them: shared among such processes; waits while a prune of one of them runs."""
    with ExitStack() as stack:
        for context in sorted(set(contexts)):
            handle = stack.enter_context(_open("context", context))
            fcntl.flock(handle, fcntl.LOCK_SH)
        yield


@contextmanager
def building(tag: str, waiting: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Held while this process checks for the image `tag` and builds it: another process building the same tag
    waits (`waiting` is called first), then finds it built."""
    with _open("build", tag) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def pruning(context: str) -> Iterator[bool]:
    """Try to hold `context` alone, to remove images of it: True when no process builds or starts from it now (it then
    waits until this block ends), False when one does (remove nothing of it)."""
    with _open("context", context) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
