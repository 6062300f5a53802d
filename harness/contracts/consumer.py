"""Consumer side: a pact-python `Pact` per test, recorded when the test passes, merged per consumer->provider pair
for the whole session, and written deterministically into the pact folder at the end of the session."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from harness.contracts.pactfiles import write_deterministic

if TYPE_CHECKING:
    from pact import Pact


def bearer_token(example: str = "example-token", *, state_key: str = "token") -> object:
    """An Authorization header value for a pact: any `Bearer ...` matches in consumer tests, and during provider
    verification the token a provider-state handler returned under `state_key` is sent instead of the example.

        .given("user 1 exists").with_header("Authorization", bearer_token())
        @provider_state("user 1 exists", provider="dataservice")
        def user_1(topology, params): ...; return {"token": a_real_token}
    """
    from pact import generate
    from pact.match.matcher import GenericMatcher

    return GenericMatcher("regex", f"Bearer {example}", generator=generate.provider_state(f"Bearer ${{{state_key}}}"),
                          extra_fields={"regex": r"^Bearer \S+$"})


class PactRecorder:
    """The pacts of a session's passing tests, merged per pair in a scratch folder: this process's own, or under
    pytest-xdist the one folder every worker writes into (`shared`, made and written out by the controller). Each test
    writes its pact with pact-python's `write_file(overwrite=False)`: the pact FFI merges it into the pair's file
    under its file lock, so that workers writing one file at once lose nothing, as a serial session does."""

    def __init__(self, pact_dir: Path, shared: Path | None = None) -> None:
        self.pact_dir = pact_dir
        self._own: tempfile.TemporaryDirectory[str] | None = None
        if shared is None:
            self._own = tempfile.TemporaryDirectory(prefix="harness-pacts-")
        self.scratch = shared if shared is not None else Path(self._own.name)  # type: ignore[union-attr]
        self._pending: list[Pact] = []
        self.recorded = 0  # the pacts this process merged into the scratch folder

    def new(self, consumer: str, provider: str) -> Pact:
        from pact import Pact

        pact = Pact(consumer, provider).with_specification("V4")
        self._pending.append(pact)
        return pact

    def test_finished(self, passed: bool) -> None:
        """Keep the interactions of a passing test (merged into the session's file for the pair); drop the rest."""
        pacts, self._pending = self._pending, []
        if passed:
            for pact in pacts:
                pact.write_file(self.scratch, overwrite=False)
            self.recorded += len(pacts)

    def write(self) -> list[Path]:
        """The session's pacts, each replacing the file of its pair in the pact folder (see write_pacts)."""
        written = write_pacts(self.scratch, self.pact_dir)
        if self._own is not None:
            self._own.cleanup()
        return written


def write_pacts(scratch: Path, pact_dir: Path) -> list[Path]:
    """Every pact merged in `scratch`, written into `pact_dir` byte-for-byte deterministically (replacing its file)."""
    return [write_deterministic(path, pact_dir) for path in sorted(scratch.glob("*.json"))]
