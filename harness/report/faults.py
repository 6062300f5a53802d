"""Faults per edge as people read them (`harness fault`)."""

from __future__ import annotations

from rich.console import Console

from harness.runtime.faults import Fault


def print_faults(faults: list[Fault], console: Console, title: str) -> None:
    """`title`, then one line per fault (`gateway -> dataservice: delay 1500 ms`), or `(none)`."""
    console.print(title, markup=False, highlight=False)
    for fault in faults:
        console.print(f"  {fault.describe()}", markup=False, highlight=False, soft_wrap=True)
    if not faults:
        console.print("  (none)", markup=False, highlight=False)
