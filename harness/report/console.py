"""What people see: progress while images build and services start, and a table of service URLs."""

from __future__ import annotations

import io
import os
import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # the runtime (docker-py, ~seconds on a loaded machine) is not imported for `harness --help`
    from harness.runtime.topology import StartEvent, Topology


class _Console(Console):
    """A console whose reader may go away (`harness verify | head -3`): what it prints is then dropped, and the run
    goes on to its verdict, exit code and files (rich's own reaction, SystemExit(1), would look like "failures
    found" and stop the run)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.file.fileno())  # Python's own flush at exit then writes nowhere, without an error
        os.close(devnull)


def make_console(stderr: bool = False) -> Console:
    """A console for people and for CI alike: colours and wrapping on a terminal; on a pipe or a file (CI logs) no
    ANSI codes and no hard wrapping, so that long lines (interaction names, curl commands) stay whole. A character
    the stream's encoding lacks (PYTHONIOENCODING=ascii, a C locale) is escaped (as pytest does), not an error."""
    stream = sys.stderr if stderr else sys.stdout
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is not None and getattr(stream, "errors", "strict") == "strict":
        reconfigure(errors="backslashreplace")
    if stream.isatty():
        return _Console(stderr=stderr, highlight=False)
    return _Console(stderr=stderr, highlight=False, soft_wrap=True, width=200, color_system=None)


def on_terminal(console: Console) -> bool:
    """Whether `console` writes to a terminal (a TTY), the one test of every table's form (print_table)."""
    isatty = getattr(console.file, "isatty", None)
    return bool(isatty is not None and isatty())


def plain_table(table: Table) -> str:
    """`table` as a CI log shows it best, in the form of `docker ps` and `docker compose ps`: its title, then a line
    per row (a multi-line cell goes on under its column), columns padded to their widths and three spaces apart after
    a one-space margin, an empty cell as `-` (so `re.split(" {3,}", line.strip())` gives a row's cells back), no box
    characters, no colour, never wrapped however long a cell (a URL, a service name) is. No line ends in spaces."""
    plain = Table(title=table.title, title_justify="left", box=None, show_edge=False, padding=(0, 2, 0, 1))
    for column in table.columns:
        plain.add_column(column.header, justify=column.justify)
    for row in zip(*(list(column.cells) for column in table.columns), strict=True):
        plain.add_row(*(cell or "-" for cell in row))
    # wide enough for any row: rich then gives each column its widest cell, so nothing is wrapped
    console = Console(file=io.StringIO(), width=1_000_000, color_system=None, highlight=False)
    console.print(plain)
    return "".join(line.rstrip() + "\n" for line in console.file.getvalue().splitlines())  # type: ignore[attr-defined]


def print_table(console: Console, table: Table) -> None:
    """The one rule for every table (harness up, pytest's topology table, the contract matrix): on a terminal, rich's
    box drawing and colours, fitted to its width; otherwise (a pipe, a file, a CI log) plain_table."""
    if on_terminal(console):
        console.print(table)
    else:
        console.print(plain_table(table), markup=False, highlight=False, soft_wrap=True, end="")


ICONS = {"building": "build", "built": "built", "cached": "cached", "copying": "copy", "copied": "copied",
         "starting": "start", "waiting": "wait",
         "ready": "ready", "completed": "done", "failed": "FAILED", "note": "note"}


class ProgressPrinter:
    """One line per step, with times: readable live on a terminal and in a CI log alike."""

    def __init__(self, console: Console | None = None, verbose_build: bool = False, prefix: str = "") -> None:
        self.console = console or make_console(stderr=True)
        self.verbose_build = verbose_build
        self.prefix = prefix  # before every line, e.g. "[gw0] " for a pytest-xdist worker

    def __call__(self, event: StartEvent) -> None:
        if event.kind == "note":  # about the run: a swarm made, leftovers removed
            self.console.print(f"{self.prefix}note: {event.detail}", markup=False, soft_wrap=True)
            return
        if event.kind == "building" and event.detail:
            if self.verbose_build:
                self.console.print(f"{escape(self.prefix)}  [dim]{event.service} | {event.detail}[/dim]", markup=True)
            return
        style = {"ready": "green", "completed": "green", "failed": "red", "cached": "dim",
                 "built": "cyan", "copied": "cyan"}.get(event.kind, "")
        timing = f" {event.seconds:5.1f}s" if event.seconds else ""
        detail = f"  {escape(event.detail)}" if event.detail else ""  # "[hidden]" is text, not a style
        line = f"[{style}]{ICONS[event.kind]:>6}[/{style}]" if style else f"{ICONS[event.kind]:>6}"
        self.console.print(f"{escape(self.prefix)}{line} {escape(event.service)}{timing}{detail}", markup=True,
                           soft_wrap=True)


def services_table(topology: Topology) -> Table:
    from harness.runtime import labels as L

    table = Table(title=f"topology {topology.spec.name} (run {topology.run_id})", title_justify="left")
    table.add_column("service")
    across = bool(topology.engines)  # several engines: each service's, its ports on that engine's host (url)
    if across:
        table.add_column("engine")
    table.add_column("url")
    services = list(topology)
    table.add_column("ports (container -> engine host)" if across else
                     f"ports (container -> {services[0].host if services else '127.0.0.1'})")  # a remote engine's
    table.add_column("status")
    for service in (replica for each in services for replica in each.replicas):  # `NAME-N`: replica N of several
        status = service.status  # reloads the container: its state and bindings below are Docker's now
        status = L.shown_status(service.container) if status != "removed" else status
        ports = L.ports_text(service.ports, service.udp_ports, service.sctp_ports,
                             again=L.further_bindings(service.container) if status != "removed" else {})
        engine = [str(topology.spec.engine_of(service.name))] if across else []
        table.add_row(service.shown, *engine, service.url if service.ports else "-", ports or "-", status)
    return table
