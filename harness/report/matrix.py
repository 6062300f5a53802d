"""The contract matrix as people read it: a table in the terminal, the reasons of errors and exclusions under it,
and JSON and HTML files."""

from __future__ import annotations

import html
import io
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.contracts.matrix import Edge

STYLE = {"verified": "green", "failed": "red", "error": "red", "excluded": "cyan", "no pact": "yellow"}
COLOUR = {"verified": "#c8f7c5", "failed": "#f7c5c5", "error": "#f7a8a8", "excluded": "#c5e8f7", "no pact": "#f7efc5"}
OUTSIDE = " (outside)"  # a consumer that is not a service of the topology


def matrix_text(edges: list[Edge], title: str, width: int = 120) -> str:
    """The matrix as plain text (no colour codes), `width` columns wide at most, then one line per error or
    exclusion with its reason."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(as_table(edges, title))
    for edge in edges:
        if edge.reason:
            console.print(f"{edge.consumer}->{edge.provider} {edge.status}: {edge.reason}", markup=False,
                          highlight=False, soft_wrap=True)
    return console.export_text()


def _consumer_label(edge: Edge) -> str:
    return edge.consumer + (OUTSIDE if edge.outside else "")


def _cells(edges: list[Edge]) -> tuple[list[str], list[str], dict[tuple[str, str], list[Edge]]]:
    consumers = sorted({_consumer_label(e) for e in edges})
    providers = sorted({e.provider for e in edges})
    cells: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        cells.setdefault((_consumer_label(edge), edge.provider), []).append(edge)
    return consumers, providers, cells


def as_table(edges: list[Edge], title: str) -> Table:
    consumers, providers, cells = _cells(edges)
    table = Table(title=title, title_justify="left")
    table.add_column("consumer \\ provider")
    for provider in providers:
        table.add_column(provider)
    for consumer in consumers:
        row = [", ".join(f"[{STYLE.get(e.status, '')}]{e.status}[/]" for e in cells.get((consumer, p), []))
               for p in providers]
        table.add_row(consumer, *row)
    return table


def write_reports(edges: list[Edge], folder: Path, title: str) -> tuple[Path, Path]:
    """`contract-matrix.json` ({"title", "edges": [...]}) and `contract-matrix.html` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / "contract-matrix.json"
    as_json.write_text(json.dumps({"title": title, "edges": [asdict(e) for e in edges]}, indent=2) + "\n")
    consumers, providers, cells = _cells(edges)
    rows = []
    for consumer in consumers:
        tds = []
        for provider in providers:
            here = cells.get((consumer, provider), [])
            if not here:
                tds.append("<td></td>")
                continue
            worst = next((e for e in here if e.status in ("error", "failed")), here[0])
            tip = "\n".join(f"{e.pact or ''} {e.reason}".strip() for e in here)
            tds.append(f'<td style="background:{COLOUR.get(worst.status, "#fff")}" title="{html.escape(tip)}">'
                       f"{html.escape(', '.join(e.status for e in here))}</td>")
        rows.append(f"<tr><th>{html.escape(consumer)}</th>{''.join(tds)}</tr>")
    head = "".join(f"<th>{html.escape(p)}</th>" for p in providers)
    reasons = "".join(f"<li>{html.escape(e.consumer)} -&gt; {html.escape(e.provider)} {e.status}: "
                      f"{html.escape(e.reason)}</li>" for e in edges if e.reason)
    as_html = folder / "contract-matrix.html"
    as_html.write_text(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:.4em .8em}"
        "table{border-collapse:collapse}</style>"
        f"<h1>{html.escape(title)}</h1><table><tr><th>consumer \\ provider</th>{head}</tr>{''.join(rows)}</table>"
        + (f"<ul>{reasons}</ul>" if reasons else "") + "\n")
    return as_json, as_html
