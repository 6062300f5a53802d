"""Whether a git checkout's commit names what the providers of a topology run (issue #25): then the Pact Broker's
verification results for that commit count as this run's own, and a result published under the commit is one that
every clean checkout of it may take as its own.

It does when no file that reaches a provider differs from the commit: among the topology's files, the states modules,
and each provider's build context, Dockerfile and mounted folders, no change, no untracked file, and no file ignored by
git that docker sends in the build context (`.dockerignore` as docker-py reads it: runtime.buildcontext.sent_paths)
or that is in a mounted folder. Files outside those (reports/, a regenerated contracts/ folder) do not count.

For pacts published under the commit (changed_files), every changed or untracked file counts but the run's own
outputs: the consumer's code may be anywhere in the checkout.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from harness.model.parts import BuildSpec
from harness.model.topology import TopologySpec
from harness.runtime.buildcontext import sent_paths


def unclean(spec: TopologySpec, services: Iterable[str], top: Path) -> str | None:
    """Why the commit of the checkout at `top` does not name what `services` of `spec` run (one reason, a path
    relative to `top`), or None when it does. Services not built from files (an `image:` only) add no files."""
    contexts: list[tuple[Path, BuildSpec]] = []
    mounts: list[Path] = []
    paths: list[Path] = [*spec.files, *((spec.base_dir / module).resolve() for module in spec.contracts.states)]
    for name in services:
        provider = spec.services.get(name)
        if provider is None or provider.build is None:
            continue
        context = (spec.base_dir / provider.build.context).resolve()
        contexts.append((context, provider.build))
        paths.append(context)
        if provider.build.dockerfile_inline is None:
            paths.append((context / provider.build.dockerfile).resolve())
        mounts += [(spec.base_dir / mount.source).resolve() for mount in provider.mounts]
    paths += mounts
    top = top.resolve()
    outside = next((path for path in paths if path != top and not path.is_relative_to(top)), None)
    if outside is not None:
        return f"{outside} is outside the git checkout"
    try:
        done = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=all", "--",
                               *(str(path) for path in paths)], cwd=top, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        return f"git status failed ({error})"
    if done.returncode != 0:
        return f"git status failed ({done.stderr.strip()})"
    sent: dict[Path, list[str]] = {}
    for entry in done.stdout.split("\0"):
        code, path = entry[:2], entry[3:]
        if not path:
            continue
        if code != "!!":
            return f"{path} has uncommitted changes"
        full = (top / path).resolve()
        if any(full == mount or full.is_relative_to(mount) for mount in mounts):
            return f"{path} is ignored by git but in a folder mounted into a provider: delete it or move it out"
        for context, build in contexts:
            if full == context or not full.is_relative_to(context):
                continue
            relative = full.relative_to(context).as_posix()
            files = sent.setdefault(context, sent_paths(context, build.dockerfile))
            if any(name == relative or name.startswith(relative + "/") for name in files):
                return (f"{path} is ignored by git but sent to docker in a provider's build context: add it to "
                        ".dockerignore or delete it")
    return None


def changed_files(top: Path, outputs: Sequence[Path] = ()) -> list[str] | None:
    """The files of the git checkout at `top` that differ from its commit: changed (staged or not), deleted or
    untracked, as `git status` lists them (paths relative to `top`, in its order); ignored files do not count, as
    for `git describe --dirty`. Not counted either: what a run writes and nothing reads back, `outputs` (files or
    folders, e.g. the pact folder, a JUnit file) and Python's `__pycache__` folders (compiled from the sources
    beside them). None when `git status` fails: what differs is not known."""
    try:
        done = subprocess.run(["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"], cwd=top,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    top = top.resolve()
    skipped = [path.resolve() for path in outputs]
    changed: list[str] = []
    fields = iter(done.stdout.split("\0"))
    for entry in fields:
        code, path = entry[:2], entry[3:]
        if code[:1] in ("R", "C"):
            next(fields, None)  # a rename's or copy's source path follows as a field of its own
        if not path or "__pycache__" in Path(path).parts:
            continue
        full = (top / path).resolve()
        if not any(full == out or full.is_relative_to(out) for out in skipped):
            changed.append(path)
    return changed
