"""The edge matrix: consumer x provider, from the pacts, their results and the edges the topology declares."""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from rich.table import Table

from harness.contracts.pactfiles import PactFile
from harness.contracts.verify import PactResult
from harness.spec.model import TopologySpec

EdgeStatus = Literal["verified", "failed", "not verified", "no pact", "not in topology"]
STYLE = {"verified": "green", "failed": "red", "not verified": "yellow", "no pact": "yellow",
         "not in topology": "magenta"}


@dataclass(frozen=True)
class Edge:
    consumer: str
    provider: str
    status: EdgeStatus
    pact: str | None = None
    interactions: int = 0
    seconds: float = 0.0


def edge_matrix(spec: TopologySpec, pacts: list[PactFile], results: list[PactResult]) -> list[Edge]:
    """Every pact's edge with its result, and every `consumes` edge of the topology that has no pact."""
    by_path = {r.pact.path: r for r in results}
    edges: dict[tuple[str, str], Edge] = {}
    for pact in pacts:
        result = by_path.get(pact.path)
        if pact.consumer not in spec.services or pact.provider not in spec.services:
            status: EdgeStatus = "not in topology"
        else:
            status = result.status if result else "not verified"
        edges[(pact.consumer, pact.provider)] = Edge(pact.consumer, pact.provider, status, str(pact.path),
                                                     len(pact.interactions), result.seconds if result else 0.0)
    for name, service in spec.services.items():
        for provider in service.consumes:
            edges.setdefault((name, provider), Edge(name, provider, "no pact"))
    return sorted(edges.values(), key=lambda e: (e.consumer, e.provider))


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
