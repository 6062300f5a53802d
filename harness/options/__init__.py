"""One table of every option (table.OPTIONS) and the options a front-end was given, resolved once (resolve).

Both front-ends are generated from the table: the CLI's argparse parser (harness.cli.parser) and pytest's options
and ini keys (harness.pytest.options). Inner layers never name a front-end's flag: they are handed the flags
(`ResolvedOptions.flags("fuzz")`) for their messages and rerun hints.

    from harness.options import options
    for option in options():   # every option: name, feature, kind, default, help, cli, commands, pytest, ini
        ...

May import: the standard library, harness.errors; harness.model and harness.fuzz lazily (to build their inputs).
"""

from harness.options.resolve import ResolvedOptions, TopologyOptions, resolve
from harness.options.table import CLI, COMMANDS, OPTIONS, PYTEST, Option, flags, option, options

__all__ = ["CLI", "COMMANDS", "OPTIONS", "PYTEST", "Option", "ResolvedOptions", "TopologyOptions", "flags", "option",
           "options", "resolve"]
