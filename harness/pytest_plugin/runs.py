"""The runs of the session's features (--pact-verify, --fuzz, --pact-drift): pytest's options read into the frozen
option objects the runs take (harness.contracts.run.VerifyOptions, harness.fuzz.options.FuzzOptions), and the runs
made from them, the same run objects `harness verify`, `fuzz` and `drift` use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.contracts.drift import DriftRun
    from harness.contracts.run import VerifyOptions, VerifyRun
    from harness.fuzz.options import FuzzOptions
    from harness.fuzz.session import FuzzRun
    from harness.spec.model import TopologySpec


def make_runs(config: pytest.Config, spec: TopologySpec) -> tuple[VerifyRun | None, FuzzRun | None, DriftRun | None]:
    """The runs the options ask for (None: not asked for). Raises HarnessError for what would make a run check
    nothing or the wrong thing, before anything starts: a topology with nothing to fuzz, a misspelt check, every
    problem of the pact files, an empty pact folder."""
    verify = fuzz = drift = None
    if config.getoption("fuzz"):
        from harness.fuzz.session import FuzzRun
        from harness.report.fuzz import PYTEST_FLAGS

        fuzz = FuzzRun(spec, fuzz_options(config), config.getoption("fuzz_service"), PYTEST_FLAGS)
    if config.getoption("pact_verify"):
        from harness.contracts.run import VerifyRun

        verify = VerifyRun(spec, verify_options(config))
    if config.getoption("pact_drift"):
        from harness.contracts.drift import DriftRun

        drift = DriftRun(spec)
        drift.files()
    return verify, fuzz, drift


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
