"""SIGTERM (CI cancelling a job, `kill`) becomes KeyboardInterrupt, so teardown runs as it does on Ctrl-C; and
removal, once begun, is not cut short by a second Ctrl-C."""

from __future__ import annotations

import os
import signal
import threading
from types import TracebackType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def interrupt_on_sigterm() -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class InterruptsDeferred:
    """`with InterruptsDeferred():` Ctrl-C and SIGTERM received inside are noted (and a line says removal goes on)
    instead of raised; one KeyboardInterrupt is raised at the end if nothing else is already propagating. Only in
    the main thread (signals are delivered there); elsewhere it does nothing."""

    def __init__(self, doing: str = "removing the topology") -> None:
        self.doing = doing
        self.received: list[int] = []
        self.previous: dict[int, object] = {}

    def __enter__(self) -> InterruptsDeferred:
        if threading.current_thread() is threading.main_thread():
            for number in SIGNALS:
                if signal.getsignal(number) is signal.SIG_IGN:
                    continue  # inherited ignored (a background job): it stays so
                self.previous[number] = signal.getsignal(number)
                signal.signal(number, self._note)
        return self

    def _note(self, signum: int, frame: object) -> None:
        self.received.append(signum)
        os.write(2, f"\nstill {self.doing}; it finishes in a moment\n".encode())

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        for number, handler in self.previous.items():
            # what getsignal gave: a handler, SIG_DFL or SIG_IGN (None only where C code set it before Python)
            signal.signal(number, handler)  # type: ignore[arg-type]
        if self.received and kind is None:
            raise KeyboardInterrupt(f"signal {self.received[0]}")
