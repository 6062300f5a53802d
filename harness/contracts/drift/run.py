"""The drift check of one topology's pacts, for both front-ends: which pact files, each checked once against its
provider's document (each document read once), the verdicts in the order reached."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.contracts.drift.adapter import Document
from harness.contracts.drift.pacts import check_pact, pact_files, provider_of
from harness.contracts.drift.results import PactDrift
from harness.errors import OpenAPIUnavailable, OptionError
from harness.model.placement import suggest
from harness.model.topology import TopologySpec

Fetch = Callable[[str, str], tuple[str, str]]  # (service, path) -> (document text, where it came from)


@dataclass(frozen=True)
class DriftOptions:
    """Which pacts a drift check takes: those of `pacts` (None: `contracts.pacts` of the topology file), only those of
    `provider` (the name the pact writes) when given."""

    pacts: Path | None = None
    provider: str | None = None


class DriftRun:
    """`harness drift` checks every pact file in order (`run`); pytest's items check one file each (`check`). `fetch`
    reads a document a service serves (None: only files next to the topology)."""

    def __init__(self, spec: TopologySpec, options: DriftOptions = DriftOptions(), fetch: Fetch | None = None) -> None:
        self.spec = spec
        self.options = options
        self.fetch = fetch
        self.documents: dict[str, Document | OpenAPIUnavailable] = {}  # provider -> its document, or why it has none
        self.results: list[PactDrift] = []  # in the order reached
        self._by_file: dict[Path, PactDrift] = {}
        self._ahead: dict[Path, PactDrift] = {}  # checked by `check_ahead`, not asked for yet
        self._lock = threading.Lock()  # one check at a time: `documents` is shared
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None

    @property
    def folder(self) -> Path:
        given = self.options.pacts
        return given if given is not None else (self.spec.base_dir / self.spec.contracts.pacts).resolve()

    def files(self) -> list[Path]:
        """The pact files to check, sorted.

        Raises:
            MalformedPact: no pact folder; OptionError: the folder holds no pact file (a drift gate pointed at the
                wrong folder must not pass), or no pact of it has the provider asked for.
        """
        folder = self.folder
        files = pact_files(folder)
        if not files:
            raise OptionError(f"no pact to check in {folder}: no *.json file there; pass the folder with --pacts or "
                              "set `contracts.pacts:` in the topology")
        provider = self.options.provider
        if provider is None:
            return files
        chosen = [file for file in files if provider_of(file) in (provider, None)]  # an unreadable one: its error
        if not any(provider_of(file) == provider for file in chosen):
            names = sorted({name for file in files if (name := provider_of(file))})
            raise OptionError(f"no pact in {folder} has provider '{provider}'"
                              f"{suggest(provider, set(names) - {provider})}; providers: {', '.join(names)}")
        return chosen

    def check(self, file: Path, fetch: Fetch | None = None) -> PactDrift:
        """The verdict of one pact file, checked the first time it is asked for (`fetch`: this call's, e.g. from a
        topology started since); the same verdict every later time."""
        with self._lock:  # waits for `check_ahead` checking this file
            if file not in self._by_file:
                ahead = self._ahead.pop(file, None)
                self.add(ahead or check_pact(self.spec, file, self.documents, fetch or self.fetch))
            return self._by_file[file]

    def checked(self, file: Path) -> bool:
        """Whether `file`'s verdict is made, here or ahead (`check` then answers without checking)."""
        return file in self._by_file or file in self._ahead

    def check_ahead(self, files: list[Path]) -> threading.Thread:
        """Check `files` in a thread, now, for `check` to answer from: the pytest plugin's drift items then wait for
        no check that could run while other items did. Only what files give is checked ahead: a file whose provider's
        document must be fetched from a service is left to `check` (a test running meanwhile may stop the service).
        A verdict counts (in `results`) only once `check` asks for it. Returns the thread (`stop_ahead` ends it)."""
        def no_fetch(service: str, path: str) -> tuple[str, str]:
            raise _NotAhead

        def run() -> None:
            for file in files:
                with self._lock:
                    if self._stop.is_set():
                        return
                    if file in self._by_file or file in self._ahead:
                        continue
                    try:
                        self._ahead[file] = check_pact(self.spec, file, self.documents, no_fetch)
                    except Exception:  # noqa: BLE001 - _NotAhead, or what `check` will raise for its item
                        continue

        self._worker = threading.Thread(target=run, name="drift-ahead", daemon=True)
        self._worker.start()
        return self._worker

    def stop_ahead(self) -> None:
        """End `check_ahead`'s thread after the file it is checking (no check outlives the session)."""
        self._stop.set()
        if self._worker is not None:
            self._worker.join()

    def add(self, result: PactDrift) -> None:
        """A verdict reached here, or by another pytest-xdist worker (the first verdict of a file counts)."""
        if result.path not in self._by_file:
            self._by_file[result.path] = result
            self.results.append(result)

    def run(self) -> Iterator[PactDrift]:
        """The verdict of every pact file, in file order (files() raises first)."""
        for file in self.files():
            yield self.check(file)


class _NotAhead(Exception):
    """A document a service serves: fetched when the check is asked for, not ahead."""
