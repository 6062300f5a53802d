"""The optional parts of pytest-topology (`pip install 'pytest-topology[contracts]'`, `[fuzz]`, `[all]`): which
module each needs, and one clear error when it is missing. Used by the front-ends (cli/, pytest/) before
they import a stage that needs an extra; nothing is imported here, only looked up.
"""

from __future__ import annotations

import importlib.util

from harness.errors import ExtraMissing

# extra -> (importable module, the distribution that provides it)
CONTRACTS_PACT = ("contracts", "pact", "pact-python")
CONTRACTS_DRIFT = ("contracts", "openapi_core", "openapi-core")
FUZZ = ("fuzz", "schemathesis", "schemathesis")


def installed(module: str) -> bool:
    """Whether `module` can be imported (found on the path), without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a finder that refuses it, or a half-removed package
        return False


def require(feature: str, *needs: tuple[str, str, str]) -> None:
    """Raise ExtraMissing (exit 2) naming `feature` (an option or command, e.g. "--pact-verify") and the first
    missing package of `needs` (CONTRACTS_PACT, CONTRACTS_DRIFT, FUZZ)."""
    for extra, module, package in needs:
        if not installed(module):
            raise ExtraMissing(feature, package, extra)
