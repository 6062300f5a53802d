"""The verdict cache's bound (harness.contracts.cache): an entry no run used for MAX_AGE_DAYS (neither a hit nor a
write: its modification time) is removed, and beyond MAX_ENTRIES the least recently used ones, as ccache bounds its
cache by least recent use. Checked at most once a day (the time of a marker file), by a run that writes an entry, so
a run that only reads costs nothing. A run that reads an entry another run removes meanwhile takes it as a miss: the
pact is verified again, never passed unverified. `--no-cache` neither reads nor writes it; deleting the folder
forgets every verdict."""

from __future__ import annotations

import os
import time
from pathlib import Path

MAX_AGE_DAYS = 30
MAX_ENTRIES = 5000  # a few kB each: some 10-20 MB at most
EVERY = 86400.0  # seconds between two prunings of a folder
LEFTOVER = 3600.0  # seconds after which a temporary file is what a run that ended mid-write left
MARKER = ".pruned"


def used(entry: Path) -> None:
    """Mark `entry` used now (its modification time is what pruning goes by); a read-only folder is left as it is."""
    try:
        os.utime(entry)
    except OSError:
        pass


def prune(folder: Path, now: float | None = None, every: float = EVERY) -> list[Path]:
    """Remove the entries of `folder` unused for MAX_AGE_DAYS, the least recently used beyond MAX_ENTRIES, and
    temporary files older than LEFTOVER seconds, unless the folder was pruned less than `every` seconds before `now`
    (time.time(): seconds since the epoch). Returns what was removed; a folder that cannot be read or written is left
    as it is (it only costs room)."""
    now = time.time() if now is None else now
    marker = folder / MARKER
    try:
        if now - marker.stat().st_mtime < every:
            return []
    except FileNotFoundError:
        pass
    except OSError:
        return []
    try:
        marker.touch()
        os.utime(marker, (now, now))
        names = [path for path in folder.iterdir() if path.name != MARKER]
    except OSError:
        return []
    entries: list[tuple[float, Path]] = []
    gone = []
    for path in names:
        try:
            changed = path.stat().st_mtime
        except OSError:  # removed meanwhile by another run
            continue
        if path.suffix == ".tmp":
            gone += [path] if now - changed > LEFTOVER else []
        elif path.suffix == ".json":
            entries.append((changed, path))
    entries.sort(key=lambda entry: entry[0], reverse=True)  # the most recently used first
    gone += [path for rank, (changed, path) in enumerate(entries)
             if rank >= MAX_ENTRIES or now - changed > MAX_AGE_DAYS * 86400]
    removed = []
    for path in gone:
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed
