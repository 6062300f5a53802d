"""SIGTERM (CI cancelling a job, `kill`) becomes KeyboardInterrupt, so teardown runs as it does on Ctrl-C; and
removal, once begun, is not cut short by a second Ctrl-C: as Docker Compose, it forces it instead (the pre_stop
hooks are no longer waited for), and still removes everything the run made."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

SIGNALS = (signal.SIGINT, signal.SIGTERM)

_active: list[InterruptsDeferred] = []  # the outermost deferral of the main thread, if one is in force


def interrupt_on_sigterm() -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


class Interrupted(KeyboardInterrupt):
    """A KeyboardInterrupt that knows the signal it came from (`signum`): SIGTERM's, or Ctrl-C's noted while
    deferred."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """The exit code of a command ended by `interrupt`: 128 + its signal, as a shell gives a process a signal ended
    (130 for Ctrl-C, SIGINT; 143 for SIGTERM). Docker Compose's commands exit 130 for both (measured: v2.40.3)."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise Interrupted(signum)


class InterruptsDeferred:
    """`with InterruptsDeferred():` Ctrl-C and SIGTERM received inside are noted instead of raised; the first sets
    `forced` (what waits for a graceful end, a pre_stop hook, stops waiting) and one line on stderr says that removal
    goes on; one KeyboardInterrupt is raised at the end if nothing else is already propagating. Only in the main
    thread (signals are delivered there); elsewhere it only gives a `forced` that is never set. Nested in another,
    it is that one (the outer one raises at its end)."""

    def __init__(self, doing: str = "removing the topology") -> None:
        self.doing = doing
        self.waiting = ""  # what a signal stops waiting for, said in its line ("pre_stop hooks"); "" when nothing
        self.forced = threading.Event()
        self.received: list[int] = []
        self.previous: dict[int, object] = {}
        self.outer: InterruptsDeferred | None = None

    def __enter__(self) -> InterruptsDeferred:
        if threading.current_thread() is not threading.main_thread():
            return self
        if _active:
            self.outer = _active[0]
            self.forced = self.outer.forced
            return self
        for number in SIGNALS:
            if signal.getsignal(number) is signal.SIG_IGN:
                continue  # inherited ignored (a background job): it stays so
            self.previous[number] = signal.getsignal(number)
            signal.signal(number, self._note)
        _active.append(self)
        return self

    @contextmanager
    def waiting_for(self, what: str) -> Iterator[threading.Event]:
        """`with deferred.waiting_for("pre_stop hooks") as forced:` a signal's line says it stops waiting for
        `what`; the block waits for it only until `forced` is set."""
        noting = self.outer or self
        noting.waiting = what
        try:
            yield self.forced
        finally:
            noting.waiting = ""

    def _note(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        if len(self.received) == 1:  # one line, however often it is pressed
            skipping = f", no longer waiting for {self.waiting}" if self.waiting else ""
            os.write(2, f"\ninterrupted: still {self.doing}{skipping}; it finishes in a moment\n".encode())
        self.forced.set()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.outer is not None or self not in _active:
            return
        _active.remove(self)
        for number, handler in self.previous.items():
            # what getsignal gave: a handler, SIG_DFL or SIG_IGN (None only where C code set it before Python)
            signal.signal(number, handler)  # type: ignore[arg-type]
        if self.received and kind is None:
            raise Interrupted(self.received[0])
