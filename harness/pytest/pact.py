"""The `pact` fixture: consumer tests record pacts; interactions of passing tests are written at session end."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pact import Pact

    from harness.contracts.consumer import PactRecorder  # noqa: F401 - named in a StashKey annotation

_recorder_key = pytest.StashKey["PactRecorder"]()
call_passed_key = pytest.StashKey[bool]()


def pact_folder(config: pytest.Config) -> Path:
    """--pact-dir, else the ini key `pact_dir` (relative to the ini file), else contracts/."""
    from harness.pytest.options import resolved

    folder: Path = resolved(config).pact_dir
    return folder


@pytest.fixture
def pact(request: pytest.FixtureRequest) -> Iterator[Callable[[str, str], Pact]]:
    """`pact("gateway", "dataservice")` -> a pact-python V4 `Pact`. Interactions of passing tests are merged per
    consumer->provider pair and written to the pact folder (--pact-dir) at the end of the session."""
    config = request.config
    if _recorder_key not in config.stash:
        from harness.errors import ExtraMissing
        from harness.extras import CONTRACTS_PACT, require

        try:
            require("the `pact` fixture", CONTRACTS_PACT)
        except ExtraMissing as error:
            pytest.fail(str(error), pytrace=False)
        from harness.contracts.consumer import PactRecorder

        config.stash[_recorder_key] = PactRecorder(pact_folder(config))
    recorder = config.stash[_recorder_key]

    def new_pact(consumer: str, provider: str) -> Pact:
        return recorder.new(consumer, provider)

    yield new_pact
    recorder.test_finished(request.node.stash.get(call_passed_key, False))


def write_recorded_pacts(session: pytest.Session) -> None:
    if _recorder_key in session.config.stash:
        written = session.config.stash[_recorder_key].write()
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter and written:
            reporter.ensure_newline()
            reporter.write_line(f"pacts written: {', '.join(str(p) for p in written)}")
