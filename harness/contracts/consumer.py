"""Consumer side: a pact-python `Pact` per test, recorded when the test passes, merged per consumer->provider pair
for the whole session, and written deterministically into the pact folder at the end of the session."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

    def write(self, merge: bool = False) -> list[WrittenPact]:
        """The session's pacts, each replacing (or, `merge`, merged into) the file of its pair (see write_pacts)."""
        written = write_pacts(self.scratch, self.pact_dir, merge)
        if self._own is not None:
            self._own.cleanup()
        return written


@dataclass(frozen=True)
class WrittenPact:
    path: Path
    merged: str = ""  # how a partial session's interactions met the file's ("": the file was replaced)
    refused: str = ""  # why a partial session's pact was not merged into the file, left as it was ("": written)


def write_pacts(scratch: Path, pact_dir: Path, merge: bool = False) -> list[WrittenPact]:
    """Every pact merged in `scratch`, written into `pact_dir` byte-for-byte deterministically. A whole session's
    pact replaces its file: an interaction whose test was removed goes. `merge` (a session that did not run every
    consumer test): as pact-python's `write_file(overwrite=False)`, the file's interactions stay unless the session
    wrote one of the same identity (interaction_identity), which replaces it; a file that is no pact of the pair to
    merge into is left as it is and not written (`refused`: why), as pact-python refuses to write over it."""
    written = []
    for path in sorted(scratch.glob("*.json")):
        try:
            kept, note = _kept_from(pact_dir / path.name, path) if merge else ([], "")
        except _NoPact as error:
            written.append(WrittenPact(pact_dir / path.name, refused=str(error)))
            continue
        written.append(WrittenPact(write_deterministic(path, pact_dir, kept), note))
    return written


class _NoPact(Exception):
    """The file a partial session would merge into is no pact of its pair (the reason)."""


def interaction_identity(interaction: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """What makes two interactions one when the pact FFI merges a pact into its file (pact_models' merge, as
    pact-python 4 writes them: no `key`): type, description and the provider states' names, not their parameters."""
    states = interaction.get("providerStates") or []
    return (str(interaction.get("type", "")), str(interaction.get("description", "")),
            tuple(str(state.get("name", "")) for state in states if isinstance(state, dict)))


def _kept_from(existing: Path, session: Path) -> tuple[list[dict[str, Any]], str]:
    """The interactions of the pair's `existing` file that the `session`'s pact does not replace, and how the merge
    went, said in the "pacts written" line. An empty file is none (pact-python writes over it).

    Raises:
        _NoPact: the file cannot be read, is not JSON, or is no pact of the session's pair.
    """
    new = json.loads(session.read_text(encoding="utf-8"))
    interactions = new.get("interactions", [])
    try:
        text = existing.read_text(encoding="utf-8") if existing.exists() else ""
    except (OSError, ValueError) as error:
        raise _NoPact(f"it cannot be read ({type(error).__name__}: {error})") from None
    if not text.strip():
        return [], f"new: {len(interactions)} interaction(s)"
    try:
        old = json.loads(text)
    except ValueError as error:
        raise _NoPact(f"it is not valid JSON ({error})") from None
    before = old.get("interactions", []) if isinstance(old, dict) else None
    if not isinstance(before, list) or not all(isinstance(i, dict) for i in before):
        raise _NoPact("it is no pact: " + ("its interactions are no list of objects" if isinstance(old, dict)
                                           else f"a JSON {type(old).__name__}, not an object"))
    if _pair(old) != _pair(new):
        raise _NoPact("it is a pact between {} and {}".format(*_pair(old)) + ", not {} and {}".format(*_pair(new)))
    version, wrote = _specification(old), _specification(new)
    if version != wrote:  # the FFI would upgrade the old interactions; their JSON cannot be copied as it is
        return [], f"replaced: the file was a pact of specification {version}, this session writes {wrote}"
    replaced = {interaction_identity(i) for i in interactions}
    kept = [i for i in before if interaction_identity(i) not in replaced]
    return kept, (f"merged: {len(interactions)} of {len(interactions) + len(kept)} interactions rewritten, "
                  f"{len(kept)} kept from the file")


def _pair(pact: dict[str, Any]) -> tuple[Any, Any]:
    """The consumer's and the provider's names a pact writes (None: none)."""
    consumer, provider = (pact[role].get("name") if isinstance(pact.get(role), dict) else None
                          for role in ("consumer", "provider"))
    return consumer, provider


def _specification(pact: dict[str, Any]) -> Any:
    metadata = pact.get("metadata")
    spec = metadata.get("pactSpecification") if isinstance(metadata, dict) else None
    return spec.get("version") if isinstance(spec, dict) else None
