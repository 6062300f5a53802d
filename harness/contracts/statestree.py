"""What the provider states' code may read besides its modules: every file in the folders its modules are in, and in
the folders below (issue #25: a handler that reads `data/stock.json`, or an untracked `stock.local.json` when it is
there). Both the verdict cache's key (harness.contracts.cache.states_digest) and the rule that a git checkout's
commit names what runs (harness.contracts.checkout) take these files, so a change there re-verifies and keeps a
result from being published under, or taken from the broker for, a commit the checkout does not hold.

In a git checkout they are the files git tracks there and the untracked ones it does not ignore (`git status`, as
`git describe --dirty` counts them): an ignored file is no data of the project. Not counted, as no handler reads them
back: what runs write (`__pycache__`, JUnit XML, HTML pages, logs; the run's report folder, JUnit file and the
harness's cache folder, given as `skipped`) and the topology's pact folder (the pacts are in the key on their own).
Outside a git checkout: every file below the folders but those, at most MAX_FILES.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from harness.contracts.gittree import GitFailed, git

KIND = "states folder"  # a harness.model.inputs.HostInput kind: read by the states code, untracked files count
WRITTEN = (".xml", ".html", ".log")  # what runs write beside the states code
MAX_FILES = 20_000  # outside git: past this many files the folder tree is not hashed (every pact is verified)


class TooManyFiles(Exception):
    """The states code's folders outside a git checkout hold more than MAX_FILES files: no digest is taken."""


def states_folders(code: Iterable[Path]) -> list[Path]:
    """The folders of the states code's files (resolved, sorted), each once: one inside another listed is left out
    (its files are below that one)."""
    folders = sorted({Path(file).resolve().parent for file in code})
    return [f for f in folders if not any(f != other and f.is_relative_to(other) for other in folders)]


def is_output(path: Path, skipped: Iterable[Path] = ()) -> bool:
    """Whether `path` (resolved) is what a run writes and no handler reads back: in `__pycache__`, a JUnit XML, an
    HTML page or a log, or inside one of `skipped` (the pact folder)."""
    return ("__pycache__" in path.parts or path.suffix in WRITTEN
            or any(path == out or path.is_relative_to(out) for out in skipped))


def folders_digest(folders: Iterable[Path], skipped: Iterable[Path] = ()) -> list[tuple[str, str]]:
    """(file, content digest) for every file of `folders` and below that counts (see the module), sorted. In git:
    a tracked file's blob id from the index, and the sha256 of what git status lists as changed or untracked and of
    the files flagged assume-unchanged or skip-worktree (git status does not look at them): only those are read.
    Raises TooManyFiles (outside git, past MAX_FILES)."""
    skipped = [Path(p).resolve() for p in skipped]
    found: dict[str, str] = {}
    for folder in folders:
        top = _git_top(folder)
        if top is None:
            found.update(_walked(folder, skipped))
            continue
        try:
            found.update(_in_git(top, folder, skipped))
        except GitFailed:
            found[str(folder)] = "git failed"  # a key that no later run matches unless git fails alike
    return sorted(found.items())


def _in_git(top: Path, folder: Path, skipped: list[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    changed = []
    for line in git(top, "ls-files", "-s", "-v", "-z", "--full-name", "--", str(folder)).split("\0"):
        if line:
            meta, name = line.split("\t", 1)
            tag, _mode, oid, _stage = meta.split()
            if not is_output(top / name, skipped):
                found[str(top / name)] = oid
            if tag in "Ss" or tag.islower():  # skip-worktree, assume-unchanged: git status does not look at it
                changed.append(name)
    fields = iter(git(top, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=none",
                      "--", str(folder)).split("\0"))
    for entry in fields:
        if entry[:1] in ("R", "C"):
            next(fields, None)  # a rename's or copy's source path follows as a field of its own
        if entry[3:]:
            changed.append(entry[3:])
    for name in changed:
        full = top / name
        if not is_output(full.resolve(), skipped):
            found[str(full)] = _sha256(full)
    return found


def _walked(folder: Path, skipped: list[Path]) -> dict[str, str]:
    found: dict[str, str] = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git"))
        for name in files:
            full = Path(root) / name
            if not is_output(full, skipped):
                if len(found) >= MAX_FILES:
                    raise TooManyFiles(f"more than {MAX_FILES} files below {folder}")
                found[str(full)] = _sha256(full)
    return found


def _sha256(file: Path) -> str:
    if file.is_dir():
        return "a folder"  # a submodule: its commit is in the index entry
    try:
        return hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError as error:
        return f"unreadable: {error.strerror}"


def _git_top(folder: Path) -> Path | None:
    try:
        done = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(done.stdout.strip()).resolve() if done.returncode == 0 and done.stdout.strip() else None
