"""How each pact file was written, so that `harness publish` can tell the commit's pacts from others (issue #25,
trial t25e). The harness's pytest plugin records every pact it writes: the hash of its bytes, the checkout and its
commit, the files that differed from the commit (checkout.changes, the pact folder and the session's reports left
out), whether the session ran every consumer test and passed. `harness publish` then takes a pact as the commit's
only when it is the commit's own file (tracked, as HEAD has it), or a session wrote these very bytes from a clean
checkout of the commit, ran every consumer test and passed.

Records are JSON files under `<cache folder>/pacts-written` (harness.runtime.buildcontext.cache_dir), one per
content hash, each the last writings of those bytes (a pact written twice the same is one file). They stay on the
machine that ran the session: a pact copied from another machine (a CI artifact) has none.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.contracts.broker_config import git_commit, git_top
from harness.contracts.cacheprune import prune
from harness.contracts.checkout import changes
from harness.contracts.gittree import GitFailed, differing, head_tree

KEPT = 20  # writings kept per content: the latest count


@dataclass(frozen=True)
class Writing:
    """One writing of a pact's bytes by a pytest session: the checkout's top (None: not in a git checkout) and
    commit; `changed`: the checkout's files that differed from the commit (None: git could not tell); `partial`: why
    the session did not run every consumer test ("": it did); `exit_status`: the session's; `at`: epoch seconds."""

    top: str | None
    commit: str | None
    changed: list[str] | None
    partial: str
    exit_status: int
    at: float

    def unlike(self, top: Path, commit: str) -> str:
        """Why this writing is not one of the commit's pacts ("": it is)."""
        if self.top is None or self.commit is None:
            return "written outside a git checkout"
        if Path(self.top) != top:
            return f"written in another checkout ({self.top})"
        if self.commit != commit:
            return f"written at commit {self.commit[:12]}, not at the checkout's commit {commit[:12]}"
        if self.changed is None:
            return "written from a checkout git could not list the changes of"
        if self.changed:
            more = f" and {len(self.changed) - 3} more" if len(self.changed) > 3 else ""
            shown = ", ".join(self.changed[:3]) + more
            return f"written from a checkout with uncommitted changes ({shown})"
        if self.partial:
            return f"written by a session that did not run every consumer test ({self.partial})"
        if self.exit_status != 0:
            return f"written by a session that failed (exit status {self.exit_status})"
        return ""


def records_folder() -> Path:
    from harness.runtime.buildcontext import cache_dir

    return cache_dir() / "pacts-written"


def content_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record_writing(paths: Sequence[Path], folder: Path, outputs: Sequence[Path], partial: str,
                   exit_status: int) -> None:
    """Record that a pytest session wrote `paths` into the pact `folder` (see the module). `outputs`: the session's
    report files, which do not make the checkout differ. A folder that cannot be written costs only the record:
    `harness publish` then takes those pacts as written by another tool."""
    if not paths:
        return
    top, commit = git_top(folder), git_commit(folder)
    changed = None
    if top is not None:
        found = changes(top, [folder, *outputs])
        changed = None if found is None else [str(change) for change in found]
    writing = Writing(str(top.resolve()) if top else None, commit, changed, partial, int(exit_status), time.time())
    store = records_folder()
    try:
        store.mkdir(parents=True, exist_ok=True)
        for path in paths:
            _add(store / f"{content_hash(path)}.json", writing)
        prune(store)
    except OSError:
        pass


def _add(entry: Path, writing: Writing) -> None:
    writings = [*_read(entry), asdict(writing)][-KEPT:]
    handle, name = tempfile.mkstemp(dir=entry.parent, prefix=".", suffix=".tmp")  # pruned when left
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(writings, file)
    os.replace(name, entry)


def _read(entry: Path) -> list[dict[str, object]]:
    try:
        found = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [item for item in found if isinstance(item, dict)] if isinstance(found, list) else []


def writings(path: Path) -> list[Writing]:
    """The recorded writings of `path`'s bytes, oldest first (none: not written by the plugin on this machine)."""
    try:
        entry = records_folder() / f"{content_hash(path)}.json"
    except OSError:
        return []
    found = []
    for item in _read(entry):
        try:
            found.append(Writing(**item))  # type: ignore[arg-type]
        except TypeError:
            continue  # a record of another form: not a writing this harness can vouch for
    return found


@dataclass(frozen=True)
class NotTheCommits:
    """A pact file that is not known to be the commit's: `path` (relative to the checkout when inside it) and why;
    `recorded`: a recorded writing says why (False: nothing records how these bytes were written)."""

    path: str
    reason: str
    recorded: bool
    file: Path

    def __str__(self) -> str:
        return f"{self.path} {self.reason}"


def not_the_commits(pacts: Iterable[Path], top: Path, commit: str) -> list[NotTheCommits]:
    """The pact files of `pacts` that `harness publish` cannot take as the commit's pacts (see the module)."""
    top = top.resolve()
    pacts = [path.resolve() for path in pacts]
    inside = [path.relative_to(top).as_posix() for path in pacts if path.is_relative_to(top)]
    try:
        tree = head_tree(top)
        unchanged = {rel for rel in inside if rel in tree} - set(differing(top, tree, [r for r in inside if r in tree]))
    except GitFailed:
        unchanged = set()
    found = []
    for path in pacts:
        named = path.relative_to(top).as_posix() if path.is_relative_to(top) else str(path)
        if named in unchanged:
            continue  # the commit's own file
        written = writings(path)
        if any(not writing.unlike(top, commit) for writing in written):
            continue
        if written:
            found.append(NotTheCommits(named, written[-1].unlike(top, commit), True, path))
        else:
            found.append(NotTheCommits(named, "has no record of being written by the harness's pytest plugin as it is "
                                              "(another tool wrote it, or it was edited or copied here since)",
                                       False, path))
    return found
