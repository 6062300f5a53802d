"""Plain-text helpers shared by every report: ANSI codes out, a service's log (or why it is unavailable)."""

from __future__ import annotations

import re
from typing import Protocol

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_ansi(text: str) -> str:
    """`text` without terminal colour and cursor codes (Flask, uvicorn and the Pact core write them)."""
    return _ANSI.sub("", text)


class HasLogs(Protocol):
    name: str

    def logs(self, since: float | None = None, tail: int | None = None, timestamps: bool = False) -> str: ...


def service_log(service: HasLogs, since: float | None = None, tail: int | None = None,
                timestamps: bool = False) -> str:
    """The service's log lines (without ANSI codes), or one line saying why they cannot be read. Never raises: a
    report must not fail because a container is gone."""
    try:
        return strip_ansi(service.logs(since=since, tail=tail, timestamps=timestamps))
    except Exception as error:  # noqa: BLE001 - any reason to be unreadable is reported the same way
        if type(error).__name__ == "NotFound":  # docker.errors.NotFound: removed from outside
            return f"(log of {service.name} unavailable: its container is gone)"
        from harness.runtime.engine import _reason  # the system's words, not urllib3's wrapped text

        return f"(log of {service.name} unavailable: {type(error).__name__}: {_reason(error)})"


def interleaved(names: list[str], texts: list[str]) -> str:
    """The logs of a service's replicas (`names[i]`'s log is `texts[i]`, each line with Docker's timestamp first) as
    one, in time order, each line after its replica's name and a bar (`web-2  | ...`), as `docker compose logs`
    writes them."""
    width = max(map(len, names))
    lines = sorted((stamp, index, f"{names[index].ljust(width)}  | {rest}")
                   for index, text in enumerate(texts) for stamp, _, rest in
                   (line.partition(" ") for line in text.splitlines()))
    return "".join(line + "\n" for _, _, line in lines)


def aligned(rows: list[tuple[str, ...]]) -> str:
    """`rows` as lines of columns padded to their widths, three spaces apart, after a one-space margin (as in the
    table: `grep " NAME "` finds a row by any cell). A cell's own runs of spaces and its line breaks become one
    space, so `re.split(" {3,}", line.strip())` gives the cells back."""
    cells = [[" ".join(str(cell).split()) or "-" for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(cells[0]))]
    return "".join(" " + "   ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
                   + "\n" for row in cells)
