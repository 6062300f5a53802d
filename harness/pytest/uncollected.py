"""Which test files under the paths a pytest session was asked to collect it did not collect, whatever left them out:
a conftest's `collect_ignore` or `collect_ignore_glob`, a `pytest_ignore_collect` or `pytest_collect_file` hook of a
conftest or a plugin, an option a conftest changed. Such code may decide by the environment (a variable, an installed
package), so the pacts of a session that left tests out this way are a snapshot (harness.pytest.pact).

What the files hold is listed by the rules a configuration file or the command line sets, which do not depend on the
environment, as pytest applies them (_pytest/main.py pytest_ignore_collect, python.py pytest_collect_file): the files
that match `python_files` (or are named as arguments), in folders not left out by `norecursedirs`, `__pycache__`,
virtualenvs (unless --collect-in-virtualenv), and the `--ignore`/`--ignore-glob` of the ini file's `addopts`, the
command line and PYTEST_ADDOPTS (those of the command line are said by harness.pytest.narrowing)."""

from __future__ import annotations

import fnmatch
import os
import shlex
import subprocess
from collections.abc import Collection, Iterable
from pathlib import Path

import pytest


def uncollected(config: pytest.Config, collected: Collection[Path]) -> list[Path]:
    """The test files under the session's paths (its arguments, or `testpaths`) that no collector was made for
    (`collected`: the paths of the File collectors made), sorted; [] when pytest's python plugin is blocked (said as
    an option) or the rules cannot be read."""
    here = config.invocation_params.dir
    found = tests_under(config, [(here / arg.split("::")[0]).resolve() for arg in config.args])
    seen = {path.resolve() for path in collected}
    return sorted(path for path in found or () if path.resolve() not in seen)


def tests_under(config: pytest.Config, starts: Iterable[Path]) -> set[Path] | None:
    """The test files pytest's rules find under `starts` (folders, or files: a `.py` file is one), as the module
    docstring says; None when the rules cannot be read."""
    from _pytest.main import _in_venv
    from _pytest.pathlib import fnmatch_ex

    ignored = _ignored_by_options(config)
    if ignored is None:
        return None
    paths, globs = ignored
    norecurse = config.getini("norecursedirs")
    patterns = config.getini("python_files")
    in_venv = bool(config.getoption("collect_in_virtualenv", False))

    def left_out(path: Path) -> bool:
        return (path.name == "__pycache__" or path in paths or any(fnmatch.fnmatch(str(path), g) for g in globs)
                or (not in_venv and path.is_dir() and _in_venv(path)))

    found: set[Path] = set()
    for start in starts:
        if left_out(start):
            continue
        if start.is_file():
            if start.suffix == ".py":
                found.add(start)
            continue
        for folder, dirs, files in os.walk(start):
            base = Path(folder)
            dirs[:] = [name for name in sorted(dirs) if not left_out(base / name)
                       and not any(fnmatch_ex(pattern, base / name) for pattern in norecurse)]
            found.update(base / name for name in files if not left_out(base / name)
                         and any(fnmatch_ex(pattern, base / name) for pattern in patterns))
    return found


def _ignored_by_options(config: pytest.Config) -> tuple[set[Path], list[str]] | None:
    """The paths and globs the ini file's `addopts`, PYTEST_ADDOPTS and the command line ignore (--ignore,
    --ignore-glob), as pytest resolves them (against the folder it runs in); None when they cannot be read."""
    words = [*shlex.split(" ".join(config.getini("addopts"))), *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
             *(str(arg) for arg in config.invocation_params.args)]
    try:
        given = vars(config._parser.parse_known_args(words))
    except (pytest.UsageError, SystemExit, ValueError):
        return None
    here = config.invocation_params.dir
    return ({(here / p).resolve() for p in given.get("ignore") or []},
            [str((here / g).absolute()) for g in given.get("ignore_glob") or []])


def ini_deselected(config: pytest.Config) -> tuple[str, ...]:
    """The node id prefixes the configuration file's `addopts` deselect (--deselect), when git tracks that file: a
    deselection every session of the commit makes, so its pacts are the commit's (a changed configuration file makes
    the checkout differ, harness.contracts.checkout.changed_files); () when there is none, the file is not tracked
    (ignored or outside a checkout: no commit holds it) or the options cannot be read. PYTEST_ADDOPTS and the command
    line are a session's own."""
    ini = config.inipath
    words = shlex.split(" ".join(config.getini("addopts")))
    if ini is None or "--deselect" not in " ".join(words):
        return ()
    try:
        given = vars(config._parser.parse_known_args(words))
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "--", ini.name], cwd=ini.parent,
                                 capture_output=True, timeout=60).returncode == 0
    except (pytest.UsageError, SystemExit, ValueError, OSError, subprocess.SubprocessError):
        return ()
    return tuple(given.get("deselect") or []) if tracked else ()
