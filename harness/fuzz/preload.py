"""Imported once by the fork server of concurrent fuzzing runs (session.start_runs): every module of schemathesis and
Hypothesis that a run may import lazily, so that each forked run starts warm instead of importing them again."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import hypothesis
import schemathesis


def _import_all() -> None:
    for package, skip in ((schemathesis, (".cli", ".pytest")), (hypothesis, (".extra", "._hypothesis"))):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}.", onerror=lambda name: None):
            if any(part in module.name for part in skip) or module.name in sys.modules:
                continue
            try:
                importlib.import_module(module.name)
            except Exception:  # noqa: BLE001, S112 - optional extras (allure, ...) that are not installed
                continue


_import_all()
