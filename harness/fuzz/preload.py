"""Imported once by the fork server of concurrent fuzzing runs (session.start_runs): every module of schemathesis and
Hypothesis that a run may import lazily, so that each forked run starts warm instead of importing them again; and the
script that launched the parent process (pytest's or harness's console script), as multiprocessing's spawn imports it
in every run's process (`__mp_main__`) when the main module is a script: 0.1-0.6 s per run, spent once here instead.
(Python 3.11's fork server means to do this for a `__main__` preload, but is never given the script's path.)"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import hypothesis
import schemathesis

from harness.fuzz.session import MAIN_SCRIPT


def _import_all() -> None:
    for package, skip in ((schemathesis, (".cli", ".pytest")), (hypothesis, (".extra", "._hypothesis"))):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}.", onerror=lambda name: None):
            if any(part in module.name for part in skip) or module.name in sys.modules:
                continue
            try:
                importlib.import_module(module.name)
            except Exception:  # noqa: BLE001, S112 - optional extras (allure, ...) that are not installed
                continue


def _import_main_script() -> None:
    """As multiprocessing's fork server does for a `__main__` preload (a run's process then finds its `__main__`
    imported from that path and does not import it again); a script that fails to import here is left to each run,
    as before."""
    from multiprocessing import process, spawn

    path = os.environ.pop(MAIN_SCRIPT, None)
    if not path:
        return
    process.current_process()._inheriting = True  # type: ignore[attr-defined]  # as spawn.import_main_path expects
    try:
        spawn.import_main_path(path)
    except Exception:  # noqa: BLE001, S110 - each run's process imports it then, and says what is wrong
        pass
    finally:
        del process.current_process()._inheriting  # type: ignore[attr-defined]


_import_all()
_import_main_script()
