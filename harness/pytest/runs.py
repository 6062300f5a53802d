"""The runs of the session's features (--pact-verify, --fuzz, --pact-drift), made from the session's resolved options
(harness.pytest.options): the same run objects `harness verify`, `fuzz` and `drift` use."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from harness.contracts.drift import DriftRun
    from harness.contracts.run import VerifyRun
    from harness.fuzz.session import FuzzRun
    from harness.model.topology import TopologySpec
    from harness.options import ResolvedOptions


def make_runs(options: ResolvedOptions, config: pytest.Config, spec: TopologySpec
              ) -> tuple[VerifyRun | None, FuzzRun | None, DriftRun | None]:
    """The runs the options ask for (None: not asked for). Raises HarnessError for what would make a run check
    nothing or the wrong thing, before anything starts: a topology with nothing to fuzz, a misspelt check, every
    problem of the pact files, an empty pact folder."""
    verify = fuzz = drift = None
    if options.fuzz:
        from harness.fuzz.session import FuzzRun

        cache = getattr(config, "cache", None)  # Hypothesis' folder: in pytest's cache folder
        fuzz = FuzzRun(spec, options.fuzz_options(cache_dir=cache.mkdir("hypothesis") if cache else None),
                       options.fuzz_service, options.flags("fuzz"))
    if options.pact_verify:
        from harness.contracts.broker_config import broker_config
        from harness.contracts.cache import cache_folder
        from harness.contracts.run import VerifyOptions, VerifyRun
        from harness.pytest.xdist import SHARE_KEY

        share = getattr(config, "workerinput", {}).get(SHARE_KEY)  # xdist workers: one folder, the same files
        verify = VerifyRun(spec, VerifyOptions(pacts=pact_folder(options), broker=broker_config(spec, options.values),
                                               broker_folder=Path(share) / "broker-pacts" if share else None,
                                               cache=None if options.pact_no_cache else cache_folder(),
                                               outputs=_outputs(config), marked=bool(options.observe)))
    if options.pact_drift:
        from harness.contracts.drift import DriftOptions, DriftRun

        drift = DriftRun(spec, DriftOptions(pacts=pact_folder(options)))
        drift.files()
    return verify, fuzz, drift


def pact_folder(options: ResolvedOptions) -> Path | None:
    """The pact folder of --pact-verify and --pact-drift alike (one rule, as `harness verify/drift --pacts`): --pacts,
    else --pact-dir when given (where the consumer tests wrote them); None: the topology's contracts.pacts."""
    folder: Path | None = options.pacts or (options.pact_dir if "pact_dir" in options.given else None)
    return folder


def _outputs(config: pytest.Config) -> tuple[Path, ...]:
    """What the session writes that the states code's folders may hold (the report page, the matrix's folder,
    --junitxml): not the states' data (harness.contracts.statestree)."""
    from harness.pytest.page import report_file
    from harness.report.matrix import matrix_folder

    page = report_file(config)
    junit = config.getoption("xmlpath", None)
    return (matrix_folder(page), *([page] if page else []), *([Path(junit)] if junit else []))
