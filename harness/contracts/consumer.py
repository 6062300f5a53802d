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
    def __init__(self, pact_dir: Path) -> None:
        self.pact_dir = pact_dir
        self._scratch = tempfile.TemporaryDirectory(prefix="harness-pacts-")
        self._pending: list[Pact] = []

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
                pact.write_file(self._scratch.name, overwrite=False)

    def write(self) -> list[Path]:
        """The session's pacts, each replacing the file of its pair in the pact folder."""
        written = [write_deterministic(path, self.pact_dir) for path in sorted(Path(self._scratch.name).glob("*.json"))]
        self._scratch.cleanup()
        return written
