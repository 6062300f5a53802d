"""`harness`: up / down / prune / ps / logs / graph / fault (topologies), verify / fuzz / drift (features), publish /
can-i-deploy / record-deployment (a Pact Broker).

Exit codes (a CI can tell them apart): 0 all passed, 1 failures found (pacts, fuzzing, a service that exits or never
gets ready), 2 bad input (topology file, pact file, options), 3 environment (Docker engine, image, build), 4 internal
error, 130 interrupted by Ctrl-C (SIGINT), 143 by SIGTERM (128 + the signal; Ctrl-C also while the CLI is still
importing: one line, never a traceback). Modules: parser (generated from harness.options, the topology-file
convention), topologies and features (one function per command). The front-end only wires and prints through
harness.report.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.errors import EXIT_INTERNAL, HarnessError

if TYPE_CHECKING:  # imported in `main`, under its handling of Ctrl-C: the console script imports this module first
    from rich.console import Console

    from harness.options import ResolvedOptions

Command = Callable[["ResolvedOptions", "Console", "Console"], int]
ANNOTATED = ("verify", "fuzz", "drift")  # the commands with --annotations
INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a process Ctrl-C ended


def main(argv: list[str] | None = None) -> int:
    """Run one command. Returns the exit code (see the module docstring); never raises (argparse exits 2 on an
    unknown option). Ctrl-C at any point, also while the modules a command needs are still being imported (seconds
    on a loaded machine), ends it with one line and 130."""
    try:
        return _command(argv)
    except KeyboardInterrupt:  # before the command's own handling is in place (importing rich, docker, ...)
        sys.stderr.write("interrupted\n")
        return INTERRUPTED


def _command(argv: list[str] | None) -> int:
    from rich.markup import escape

    from harness.cli.parser import parse
    from harness.report.console import make_console
    from harness.runtime.interrupts import exit_code, interrupt_on_sigterm

    out, err = make_console(), make_console(stderr=True)
    command, options = None, None
    try:
        command, options = parse(argv, say=lambda text: err.print(text, markup=False, highlight=False,
                                                                  soft_wrap=True))
        if command is None or options is None:
            return 2
        run = commands()[command]
        interrupt_on_sigterm()
        return int(run(options, out, err) or 0)
    except HarnessError as error:
        err.print(f"[red]error:[/red] {escape(str(error))}", markup=True, soft_wrap=True)
        if options is not None and command in ANNOTATED:
            from harness.report.annotations import annotate_error

            annotate_error(error, options.annotations, f"harness {command}", lambda line: print(line, flush=True))
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        err.print("interrupted")
        return exit_code(interrupt)
    except Exception as error:  # noqa: BLE001 - the last line of defence: a bug, said as one
        err.print(f"internal error of pytest-topology: {type(error).__name__}: {error}\n"
                  "This is a bug; please report it with the traceback below.", markup=False, soft_wrap=True)
        err.print("".join(traceback.format_exception(error)), markup=False, soft_wrap=True)
        return EXIT_INTERNAL


def commands() -> dict[str, Command]:
    """The function of each command of harness.options.COMMANDS."""
    from harness.cli import broker, down, features, logs, prune, topologies

    return {"up": topologies._up, "down": down._down, "prune": prune._prune, "ps": topologies._ps,
            "logs": logs._logs, "verify": features._verify, "fuzz": features._fuzz, "drift": features._drift,
            "fault": topologies._fault, "graph": topologies._graph, "publish": broker._publish,
            "can-i-deploy": broker._can_i_deploy, "record-deployment": broker._record_deployment}


__all__ = ["commands", "main"]
