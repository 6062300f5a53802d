"""SIGTERM (CI cancelling a job, `kill`) becomes KeyboardInterrupt, so teardown runs as it does on Ctrl-C."""

from __future__ import annotations

import signal


def interrupt_on_sigterm() -> None:
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
