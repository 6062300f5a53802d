"""Tables without a terminal (a CI log): one form for every table, the form of `docker ps` (plain_table)."""

from __future__ import annotations

import io
import re

from rich.console import Console
from rich.table import Table

from harness.report.console import plain_table, print_table

LONG_NAME = "payments-reconciliation-worker-for-the-eu-region-" * 2  # 100 characters
LONG_URL = "http://127.0.0.1:49153/" + "v1/" * 30


def _table() -> Table:
    table = Table(title="topology shop (run 1a2b)", title_justify="left")
    for header in ("service", "url", "status"):
        table.add_column(header)
    table.add_row(LONG_NAME, LONG_URL, "[green]running[/green]")
    table.add_row("stock", "", "verified\ndrift: clean")
    return table


def test_rows_stay_whole_unboxed_uncoloured_and_split_back_into_their_cells() -> None:
    lines = plain_table(_table()).splitlines()
    assert lines[0] == "topology shop (run 1a2b)"
    rows = [re.split(" {3,}", line.strip()) for line in lines[1:]]
    assert rows[:3] == [["service", "url", "status"], [LONG_NAME, LONG_URL, "running"],
                        ["stock", "-", "verified"]]  # an empty cell as "-"
    assert lines[4].strip() == "drift: clean"  # a cell's next line, under its column
    assert lines[4].index("drift") == lines[3].index("verified")
    assert len(lines[2]) > 200 and all(line.startswith(" ") for line in lines[1:])
    text = "\n".join(lines)
    assert "\x1b" not in text and not re.search("[\u2500-\u257f]", text)  # no ANSI code, no box drawing
    assert not any(line.endswith(" ") for line in lines)


def test_print_table_keeps_the_box_on_a_terminal_only() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    on_terminal, in_log = Terminal(), io.StringIO()
    print_table(Console(file=on_terminal, width=80, force_terminal=True), _table())
    print_table(Console(file=in_log, width=80, color_system=None), _table())
    assert re.search("[\u2500-\u257f]", on_terminal.getvalue())
    assert in_log.getvalue() == plain_table(_table())  # at 80 columns too: never wrapped
