"""The scripts of fixtures/engines/ (netns_engines.py, runnerly_across.py), imported (fixtures/ is no package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

FOLDER = Path(__file__).parents[3] / "fixtures" / "engines"


def fixture_script(name: str) -> ModuleType:
    """fixtures/engines/NAME.py as module NAME."""
    spec = importlib.util.spec_from_file_location(name, FOLDER / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # a dataclass of it looks itself up there
    spec.loader.exec_module(module)
    return module


def netns_engines() -> ModuleType:
    return fixture_script("netns_engines")
