"""The options of the session's runs, read from pytest's options into the frozen option objects the runs take
(harness.contracts.run.VerifyOptions, harness.fuzz.options.FuzzOptions)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.contracts.run import VerifyOptions
    from harness.fuzz.options import FuzzOptions


def verify_options(config: pytest.Config) -> VerifyOptions:
    """--pacts, else --pact-dir (where the consumer tests wrote them), else the topology's `contracts.pacts`."""
    from harness.contracts.run import VerifyOptions

    folder = config.getoption("pacts") or config.getoption("pact_dir")
    return VerifyOptions(pacts=Path(folder) if folder else None)


def fuzz_options(config: pytest.Config) -> FuzzOptions:
    """The --fuzz-* options; Hypothesis' folder in pytest's cache folder (when the cache plugin runs)."""
    from harness.fuzz.options import FuzzOptions, split_names

    option = config.getoption
    cache = getattr(config, "cache", None)
    return FuzzOptions(max_examples=option("fuzz_max_examples"), seed=option("fuzz_seed"),
                       checks=split_names(option("fuzz_checks")), phases=split_names(option("fuzz_phases")),
                       mode=option("fuzz_mode"), workers=option("fuzz_workers") or 1,
                       cache_dir=cache.mkdir("hypothesis") if cache else None)
