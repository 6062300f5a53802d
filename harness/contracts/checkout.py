"""Whether a git checkout's commit names what the providers of a topology run (issue #25): then the Pact Broker's
verification results for that commit count as this run's own, and a result published under the commit is one that
every clean checkout of it may take as its own.

It does when no file that reaches a provider differs from the commit. Those files are one list: every host file the
topology reads (harness.model.inputs: its files and what Docker Compose reads with them, `.env`, env_file, extends,
include, configs and secrets; each service's build context, Dockerfile, build secrets, mounted files and folders) and
the code of its provider states (harness.contracts.cache.states_files: the states modules and the project modules
they import, as the verdict cache counts them) with every file of their folders and below, which a handler may read
(harness.contracts.statestree: tracked, or untracked and not ignored; not what runs write, nor the pact folder).
Among them: no change, no untracked file, no file outside the
checkout, no build context given as a URL, and no file ignored by git that is read as it is (an env_file, `.env`,
a mounted file) or that docker sends in a build context (`.dockerignore` as docker-py reads it:
runtime.buildcontext.sent_paths). Files outside those (reports/, a regenerated contracts/ folder) do not count.
Nor does it when the topology departs from what its files give by default (TopologySpec.departures: compose files
beyond the first, an env file, profiles, image substitutes, values taken from the process environment).
What git can be told to look away from does not hide a change (harness.contracts.gittree): each tracked input is
compared by content with HEAD's blob (assume-unchanged, skip-worktree), submodules are looked into whatever
`.gitmodules` says (`ignore = all`), and an input in a submodule is judged by the same rules inside it (its ignored
files, its changes) with its HEAD at the commit the superproject records.

For pacts published under the commit (changes), every changed tracked file counts, and every untracked one the
consumer tests may read (consumer_may_read): not what a run writes where no test reads it (a `junit.xml` or
`.coverage` at the top of the checkout, a `reports/` folder git tracks nothing in).
"""

from __future__ import annotations

import importlib.machinery
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.contracts.gittree import GITLINK, Entry, GitFailed, differing, flags, git, head_tree, submodule_head
from harness.contracts.statestree import KIND, is_output, states_folders
from harness.model.inputs import HostInput, host_inputs
from harness.model.topology import TopologySpec
from harness.runtime.buildcontext import sent_paths

COMMIT = "commit or stash the changes"


@dataclass(frozen=True)
class Unclean:
    """Why a checkout's commit does not name what the providers run: `reason` (one file, relative to the checkout,
    and what is wrong with it) and `remedy`, what to do about that file (what fits it: `.dockerignore` only for a
    file docker is sent in a build context). `tree`: a file of the checkout differs from the commit (False: the
    topology reads what no commit names, a URL, a file outside, a value from the environment)."""

    reason: str
    remedy: str
    tree: bool = True

    def __str__(self) -> str:
        return self.reason


def unclean(spec: TopologySpec, services: Iterable[str], top: Path, code: Iterable[Path] = (),
            tree_only: bool = False, outputs: Sequence[Path] = ()) -> Unclean | None:
    """Why the commit of the checkout at `top` does not name what `services` of `spec` run (one file), or None when it
    does. `code`: the provider states' code (harness.contracts.cache.states_files). Services not built from files (an
    `image:` only) add only their env_files and mounts. `tree_only`: only whether the files inside the checkout are
    the commit's (a URL, a file outside, a departure from the defaults pass). `outputs`: folders of what runs write
    that do not count, tracked or not (can-i-deploy: the pact folder, as `pytest --pact-publish` leaves it out)."""
    code, services = list(code), list(services)
    top = top.resolve()
    inputs = [*host_inputs(spec, services), *(HostInput(Path(file).resolve(), "states code") for file in code)]
    if tree_only:
        inputs = [i for i in inputs if not i.remote and (i.path == top or i.path.is_relative_to(top))]
    if remote := next((i for i in inputs if i.remote), None):
        return Unclean(f"the build context of {remote.service} is a URL ({remote.remote}): no commit of the checkout "
                       "names what the builder fetches", "build it from a folder of the checkout", tree=False)
    if (departed := spec.departures_for(services)) and not tree_only:
        # a value from the shell: no version holds it; another file, profile or substitute: a version given vouches
        return Unclean(f"the providers are not what the commit gives by default: {', '.join(departed)}",
                       "leave that out", tree=not spec.departures_for(services, shell=True))
    outside = next((i.path for i in inputs if i.path != top and not i.path.is_relative_to(top)), None)
    if outside is not None:
        return Unclean(f"{outside} is outside the git checkout", "move it into the checkout", tree=False)
    try:
        inputs += [HostInput(folder, KIND) for folder in states_folders(code)]
        return _unclean_in(spec, top, top, list(dict.fromkeys(i.path for i in inputs)), inputs, {},
                           [Path(out).resolve() for out in outputs])
    except GitFailed as error:
        return Unclean(str(error), "check the checkout")


def reached_by(spec: TopologySpec, service: str) -> list[str]:
    """`service` and every service it depends on or calls (`depends_on`, `consumes`, `links`, `volumes_from`, a
    `network_mode: service:NAME`), transitively, in the topology's order: what a provider's verification result
    depends on."""
    seen: set[str] = set()
    todo = [service]
    while todo:
        name = todo.pop()
        if name in seen or name not in spec.services:
            continue
        seen.add(name)
        found = spec.services[name]
        todo += [*found.depends_on, *found.consumes, *(link.split(":")[0] for link in found.links),
                 *(source.split(":")[0] for source in found.volumes_from)]
        if (found.network_mode or "").startswith("service:"):
            todo.append((found.network_mode or "").removeprefix("service:"))
    return [name for name in spec.services if name in seen]


def _unclean_in(spec: TopologySpec, root: Path, top: Path, paths: list[Path], inputs: list[HostInput],
                sent: dict[Path, list[str]], outputs: Sequence[Path] = ()) -> Unclean | None:
    """Why the checkout at `top` (`root` or a submodule of it) does not hold its commit's content for `paths`
    (resolved, inside `top`): git status with nothing ignored, then each tracked file's content against HEAD's blob
    (flags such as skip-worktree hide changes from git status), then each submodule as a checkout of its own that
    must be at the commit `top` records. Raises GitFailed."""
    tree = head_tree(top)
    subs = {(top / rel).resolve(): entry.oid for rel, entry in tree.items() if entry.mode == GITLINK}
    own: list[Path] = []
    nested: dict[Path, list[Path]] = {}
    for path in paths:
        inside = next((sub for sub in subs if path == sub or path.is_relative_to(sub)), None)
        if inside is not None:
            nested.setdefault(inside, []).append(path)
            continue
        own.append(path)
        for sub in subs:
            if path == top or sub.is_relative_to(path):
                nested.setdefault(sub, []).append(sub)
    if own:
        done = git(top, "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=all",
                   "--ignore-submodules=none", "--", *(str(p) for p in own))
        fields = iter(done.split("\0"))
        for entry in fields:
            status, name = entry[:2], entry[3:]
            if status[:1] in ("R", "C"):
                next(fields, None)  # a rename's or copy's source path follows as a field of its own
            full = (top / name).resolve()
            if not name or full in subs:
                continue  # a submodule: looked into below
            named = full.relative_to(root).as_posix()
            if _not_data(spec, full, inputs, ignored=status == "!!") or any(_under(full, out) for out in outputs):
                continue
            if status != "!!":
                return Unclean(f"{named} {'is untracked' if status == '??' else 'has uncommitted changes'}",
                               COMMIT + _dockerignore_hint(spec, full, inputs, sent))
            read = [i for i in inputs if i.kind not in ("build context", KIND) and _under(full, i.path)]
            if read:
                return Unclean(f"{named} is ignored by git but read for the topology ({_what(read[0])}): a clean "
                               "checkout of the commit does not have it", "track it in git, or delete it")
            if builder := _sent(spec, full, [i for i in inputs if i.kind == "build context"], sent):
                return Unclean(f"{named} is ignored by git but sent to docker in the build context of service "
                               f"{builder}", "add it to .dockerignore or delete it")
        prefixes = tuple("" if p == top else p.relative_to(top).as_posix() + "/" for p in own)
        written = tuple(out.relative_to(top).as_posix() + "/" for out in outputs if out.is_relative_to(top))
        named_files = {p.relative_to(top).as_posix() for p in own if p != top}
        tracked = [rel for rel in tree if (rel in named_files or rel.startswith(prefixes))  # string tests: fast
                   and not _not_data(spec, top / rel, inputs) and not (written and rel.startswith(written))]
        if changed := differing(top, tree, tracked):
            flagged = flags(top, changed)
            named = (top / changed[0]).relative_to(root).as_posix()
            if changed[0] in flagged:
                flag = flagged[changed[0]]
                return Unclean(f"{named} differs from the commit (flagged {flag}: git status does not show it)",
                               f"git update-index --no-{flag} {named}, then commit or stash the changes")
            return Unclean(f"{named} differs from the commit", COMMIT)
    for sub, inner in nested.items():
        head = submodule_head(sub)
        if head is None:
            continue
        named = sub.relative_to(root).as_posix()
        if head != subs[sub]:
            return Unclean(f"the submodule {named} is at commit {head[:12]}, not at {subs[sub][:12]} that the "
                           "commit records", "commit the submodule's commit, or check out the recorded one "
                           "(git submodule update)")
        if found := _unclean_in(spec, root, sub, inner, inputs, sent, outputs):
            return found
    return None


def _under(full: Path, path: Path) -> bool:
    return full == path or full.is_relative_to(path)


def _not_data(spec: TopologySpec, full: Path, inputs: list[HostInput], ignored: bool = False) -> bool:
    """Whether `full` (a file git lists) reaches the providers only as a file the states code may read
    (statestree.KIND) and is no data of the project there: ignored by git, or what a run writes (statestree.is_output;
    the pact folder). A file another input names (a build context, a mount) is judged by that input's rules."""
    reached = [i for i in inputs if _under(full, i.path)]
    if not reached or any(i.kind != KIND for i in reached):
        return False
    return ignored or is_output(full, [(spec.base_dir / spec.contracts.pacts).resolve()])


def _what(entry: HostInput) -> str:
    """What an input is, for a message: "env_file of ledger", "a mount of shop", "the states modules' code"."""
    if entry.kind == "topology":
        return "a file the topology file or Docker Compose reads"
    if entry.kind == "states code":
        return "the provider states' code"
    return f"{'an' if entry.kind[0] in 'aeiou' else 'a'} {entry.kind} of {entry.service}"


def _sent(spec: TopologySpec, full: Path, contexts: list[HostInput], sent: dict[Path, list[str]]) -> str:
    """The service in whose build context (of `contexts`) docker is sent `full` (as `.dockerignore` decides); ""
    when none."""
    for context in contexts:
        if full == context.path or not full.is_relative_to(context.path):
            continue
        build = spec.services[context.service].build
        assert build is not None
        relative = full.relative_to(context.path).as_posix()
        if context.path not in sent:
            sent[context.path] = sent_paths(context.path, build.dockerfile)
        if any(name == relative or name.startswith(relative + "/") for name in sent[context.path]):
            return context.service
    return ""


def _dockerignore_hint(spec: TopologySpec, full: Path, inputs: list[HostInput],
                       sent: dict[Path, list[str]]) -> str:
    """For a changed file docker is sent in a build context (not a Dockerfile or .dockerignore, which are always
    read), and read by nothing else: that `.dockerignore` may leave it out; "" for any other file (a states module,
    an env_file, a mounted file, a file in no build context)."""
    others = [i for i in inputs if i.kind != "build context" and (full == i.path or full.is_relative_to(i.path))]
    if others or full.name == ".dockerignore" or not full.is_file():
        return ""
    contexts = [i for i in inputs if i.kind == "build context"]
    return " (or add the file to .dockerignore if the image does not need it)" if _sent(spec, full, contexts, sent) \
        else ""


@dataclass(frozen=True)
class Change:
    """A file of a checkout that differs from its commit: `path` (relative to the checkout, posix) and whether git
    tracks nothing of it (`untracked`: a new file, not ignored)."""

    path: str
    untracked: bool = False

    def __str__(self) -> str:
        return f"untracked {self.path}" if self.untracked else self.path


# what Python imports or pytest, Python and python-dotenv read as configuration, wherever it is in the checkout
CODE = tuple(importlib.machinery.all_suffixes()) + (".pth",)
CONFIGURATION = frozenset({"pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg", ".env"})


def consumer_may_read(path: str, project: set[str]) -> bool:
    """Whether the consumer tests may read the untracked file `path` (relative to the checkout's top, posix), so
    that it may change the pacts they write: Python code (CODE: a test module, a conftest, a module the code
    imports) or a configuration file (CONFIGURATION) anywhere; any file in one of the `project` folders (the
    top-level folders git tracks files in, or that hold Python code): test data beside the tests, package data.
    Not: another file at the top (what a CI job writes there: `junit.xml`, `.coverage`, `report.html`), nor in a
    top-level folder with no tracked file and no Python code (`reports/`, `htmlcov/`, `build/`): no test reads it
    as the project's."""
    name = PurePosixPath(path)
    if name.name.endswith(CODE) or name.name in CONFIGURATION:
        return True
    return len(name.parts) > 1 and name.parts[0] in project


def changes(top: Path, outputs: Sequence[Path] = (), read: Sequence[Path] = ()) -> list[Change] | None:
    """The files of the git checkout at `top` that differ from its commit in a way that may change the pacts its
    consumer tests write: every tracked file changed (staged or not) or deleted, as `git status` lists it (with
    submodules looked into, and files flagged so that git status does not look at them: _hidden_changes), and
    every untracked file the consumer tests may read (consumer_may_read, and any in `read`: files or folders, e.g.
    the pact folder `harness publish` sends). Ignored files do not count, as for `git describe --dirty`. Nor do what
    a run writes and nothing reads back: `outputs` (files or folders, e.g. the session's pacts, its JUnit file) and
    Python's `__pycache__` folders. In `git status`'s order; None when git fails: what differs is not known."""
    try:
        done = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all",
                               "--ignore-submodules=none"], cwd=top, capture_output=True, text=True, timeout=60)
        tree = head_tree(top)
        hidden = _hidden_changes(top, top.resolve(), tree)
    except (OSError, subprocess.SubprocessError, GitFailed):
        return None
    if done.returncode != 0:
        return None
    top = top.resolve()
    skipped = [path.resolve() for path in outputs]
    counted = [path.resolve() for path in read]

    def among(path: str, folders: list[Path]) -> bool:
        full = (top / path).resolve()
        return any(full == folder or full.is_relative_to(folder) for folder in folders)

    listed: list[Change] = []
    fields = iter(done.stdout.split("\0"))
    for entry in fields:
        code, path = entry[:2], entry[3:]
        if code[:1] in ("R", "C"):
            next(fields, None)  # a rename's or copy's source path follows as a field of its own
        if path and "__pycache__" not in PurePosixPath(path).parts and not among(path, skipped):
            listed.append(Change(path, untracked=code == "??"))
    project = {rel.split("/", 1)[0] for rel in tree if "/" in rel} | {
        c.path.split("/", 1)[0] for c in listed if "/" in c.path and (not c.untracked or c.path.endswith(CODE))}
    found = [c for c in listed if not c.untracked or consumer_may_read(c.path, project) or among(c.path, counted)]
    paths = {c.path for c in found}
    return found + [Change(path) for path in hidden if path not in paths and not among(path, skipped)]


def changed_files(top: Path, outputs: Sequence[Path] = (), read: Sequence[Path] = ()) -> list[str] | None:
    """The paths of `changes` (relative to `top`); None when git fails."""
    found = changes(top, outputs, read)
    return None if found is None else [c.path for c in found]


def _hidden_changes(top: Path, root: Path, tree: dict[str, Entry] | None = None) -> list[str]:
    """The files of the checkout at `top` (and its submodules', recursively) that differ from the commit but are
    flagged assume-unchanged or skip-worktree, so git status does not list them (relative to `root`). `tree`:
    HEAD's tree of `top` when read already. Raises GitFailed."""
    tree = head_tree(top) if tree is None else tree
    found = [(top / path).resolve().relative_to(root).as_posix() for path in differing(top, tree, flags(top))]
    for rel, entry in tree.items():
        if entry.mode == GITLINK and submodule_head(top / rel) is not None:
            found += _hidden_changes(top / rel, root)
    return found
