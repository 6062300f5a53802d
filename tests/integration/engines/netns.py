"""fixtures/engines/netns_engines.py, imported (fixtures/ is no package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).parents[3] / "fixtures" / "engines" / "netns_engines.py"


def netns_engines() -> ModuleType:
    spec = importlib.util.spec_from_file_location("netns_engines", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["netns_engines"] = module  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module
