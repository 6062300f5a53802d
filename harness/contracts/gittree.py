"""What a git checkout's files are beside its commit, without trusting what git can be told to look away from:
`git status` does not show a file flagged assume-unchanged or skip-worktree (`git update-index`), nor a submodule
whose `.gitmodules` entry says `ignore = all`, nor the submodule's own ignored files. Here a tracked file is compared
by content with the blob of HEAD's tree, and a submodule is a checkout of its own (harness.contracts.checkout).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

GITLINK = "160000"  # a submodule's entry in a tree
SYMLINK = "120000"


class GitFailed(Exception):
    """A git command failed: str() says which and why."""


def git(top: Path, *args: str, stdin: str | None = None) -> str:
    """The output of `git ARGS` in `top`. Raises GitFailed."""
    try:
        done = subprocess.run(["git", *args], cwd=top, capture_output=True, text=True, timeout=120, input=stdin)
    except (OSError, subprocess.SubprocessError) as error:
        raise GitFailed(f"git {args[0]} failed ({error})") from error
    if done.returncode != 0:
        raise GitFailed(f"git {args[0]} failed ({done.stderr.strip()})")
    return done.stdout


@dataclass(frozen=True)
class Entry:
    """A path of HEAD's tree: `mode` ("100644", GITLINK, ...) and `oid` (a blob, or a submodule's commit)."""

    mode: str
    oid: str


def head_tree(top: Path) -> dict[str, Entry]:
    """Every path of HEAD's tree of the checkout at `top` (relative, posix), recursively. Raises GitFailed."""
    tree: dict[str, Entry] = {}
    for line in git(top, "ls-tree", "-r", "-z", "--full-tree", "HEAD").split("\0"):
        if line:
            meta, path = line.split("\t", 1)
            mode, _kind, oid = meta.split()
            tree[path] = Entry(mode, oid)
    return tree


def flags(top: Path, paths: Iterable[str] = ()) -> dict[str, str]:
    """The tracked files of `paths` (relative; none: all) flagged so that git status does not look at them:
    path -> "assume-unchanged" or "skip-worktree" (`git ls-files -v`: a lowercase tag, or `S`)."""
    found: dict[str, str] = {}
    for line in git(top, "ls-files", "-v", "-z", "--", *paths).split("\0"):
        if len(line) > 2:
            tag, path = line[0], line[2:]
            if tag == "S" or tag == "s":
                found[path] = "skip-worktree"
            elif tag.islower():
                found[path] = "assume-unchanged"
    return found


def differing(top: Path, tree: dict[str, Entry], paths: Iterable[str]) -> list[str]:
    """Those of the tracked files `paths` (relative; in `tree`, not submodules or symlinks) whose content differs
    from HEAD's blob (`git hash-object`, with the checkout's filters), or that are missing."""
    files = [p for p in paths if p in tree and tree[p].mode not in (GITLINK, SYMLINK)]
    present = [p for p in files if (top / p).is_file()]
    hashed = git(top, "hash-object", "--stdin-paths", stdin="".join(p + "\n" for p in present)).split()
    same = {p for p, oid in zip(present, hashed, strict=True) if tree[p].oid == oid}
    return [p for p in files if p not in same]


def submodule_head(folder: Path) -> str | None:
    """The commit checked out in the submodule at `folder`, or None when it is not checked out (an empty folder:
    docker is sent what a clean checkout without `git submodule update` has)."""
    if not (folder / ".git").exists():
        return None
    return git(folder, "rev-parse", "HEAD").strip()
