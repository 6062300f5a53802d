"""The contract matrix as people read it: a table in the terminal, JSON and HTML files."""

from __future__ import annotations

import html
import io
import json
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.contracts.matrix import Edge

STYLE = {"verified": "green", "failed": "red", "not verified": "yellow", "no pact": "yellow",
         "not in topology": "magenta"}


def matrix_text(edges: list[Edge], title: str, width: int = 120) -> str:
    """The matrix as plain text (no colour codes), `width` columns wide at most."""
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(as_table(edges, title))
    return console.export_text()


def _axes(edges: list[Edge]) -> tuple[list[str], list[str]]:
    return sorted({e.consumer for e in edges}), sorted({e.provider for e in edges})


def as_table(edges: list[Edge], title: str) -> Table:
    consumers, providers = _axes(edges)
    cell = {(e.consumer, e.provider): e for e in edges}
    table = Table(title=title, title_justify="left")
    table.add_column("consumer \\ provider")
    for provider in providers:
        table.add_column(provider)
    for consumer in consumers:
        row = []
        for provider in providers:
            edge = cell.get((consumer, provider))
            row.append(f"[{STYLE[edge.status]}]{edge.status}[/]" if edge else "")
        table.add_row(consumer, *row)
    return table


def write_reports(edges: list[Edge], folder: Path, title: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    as_json = folder / "contract-matrix.json"
    as_json.write_text(json.dumps({"title": title, "edges": [asdict(e) for e in edges]}, indent=2) + "\n")
    consumers, providers = _axes(edges)
    cell = {(e.consumer, e.provider): e for e in edges}
    colour = {"verified": "#c8f7c5", "failed": "#f7c5c5", "not verified": "#f7efc5", "no pact": "#f7efc5",
              "not in topology": "#e6d5f7"}
    rows = []
    for consumer in consumers:
        cells = []
        for provider in providers:
            edge = cell.get((consumer, provider))
            cells.append(f'<td style="background:{colour[edge.status]}" title="{html.escape(edge.pact or "")}">'
                         f"{edge.status}</td>" if edge else "<td></td>")
        rows.append(f"<tr><th>{html.escape(consumer)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(p)}</th>" for p in providers)
    as_html = folder / "contract-matrix.html"
    as_html.write_text(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:.4em .8em}"
        "table{border-collapse:collapse}</style>"
        f"<h1>{html.escape(title)}</h1><table><tr><th>consumer \\ provider</th>{head}</tr>{''.join(rows)}</table>\n")
    return as_json, as_html
