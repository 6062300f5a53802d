"""The contract matrix as people read it: a table in the terminal (each pact's verdict, and under it its drift
against the provider's OpenAPI document), the reasons of errors, exclusions and drifts under it, and JSON and HTML
files (the HTML adds a table of pacts with a drift column)."""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from harness.contracts.matrix import Edge, edge_matrix
from harness.report.folders import report_folder

if TYPE_CHECKING:
    from harness.contracts.drift.results import PactDrift
    from harness.contracts.results import PactResult
    from harness.model.topology import TopologySpec
    from harness.observe import EdgeCoverage

STYLE = {"verified": "green", "failed": "red", "error": "red", "excluded": "cyan", "no pact": "yellow",
         "not verified": "dim"}
COLOUR = {"verified": "#c8f7c5", "failed": "#f7c5c5", "error": "#f7a8a8", "excluded": "#c5e8f7", "no pact": "#f7efc5",
          "not verified": "#eeeeee"}
OUTSIDE = " (outside)"  # a consumer that is not a service of the topology
DRIFT_STYLE = {"clean": "green", "drift": "red", "error": "red", "not applicable": "yellow"}
DRIFT_COLOUR = {"clean": "#c8f7c5", "drift": "#f7c5c5", "error": "#f7a8a8", "not applicable": "#f7efc5"}
NOT_CHECKED = "drift: not checked"
NAMED = 3  # the uncovered operations of an edge named in the console (every one in the JSON, folded on the pages)
DRIFT_NOTE = ("drift is shown beside each pact's verification verdict and never changes it; `harness drift` "
              "(exit 1) and the drift items of `pytest --pact-drift` judge drift")


def matrix_text(edges: list[Edge], title: str, width: int = 120, terminal: bool = True) -> str:
    """The matrix as text without colour codes, then one line per error or exclusion with its reason: for a
    `terminal`, boxed and `width` columns wide at most; otherwise (a CI log) as every table is there
    (harness.report.console.plain_table: no box, never wrapped)."""
    from harness.report.console import plain_table

    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    if terminal:
        console.print(_as_table(edges, title))
    else:
        console.print(plain_table(_as_table(edges, title)), markup=False, highlight=False, soft_wrap=True, end="")
    for line in matrix_notes(edges):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return console.export_text()


def matrix_markdown(edges: list[Edge], title: str) -> str:
    """The matrix as a Markdown table (GitHub's: a step summary renders it; a cell's lines joined by `<br>`), under
    its title in bold, then matrix_notes as a list. No line ends in spaces."""
    consumers, providers, cells = _cells(edges)

    def plain(markup: str) -> str:
        return "<br>".join(_markdown_cell(line) for line in Text.from_markup(markup).plain.splitlines())

    rows = [[_markdown_cell("consumer \\ provider"), *map(_markdown_cell, providers)], ["---"] * (len(providers) + 1)]
    for consumer in consumers:
        row = [_markdown_cell(consumer)]
        for provider in providers:
            pair = cells.get((consumer, provider), [])
            row.append("<br>".join(plain(_cell(e, named=len(pair) > 1)) for e in pair))
        rows.append(row)
    lines = [f"**{_markdown_cell(title)}**", "", *("| " + " | ".join(row) + " |" for row in rows)]
    notes = matrix_notes(edges)
    if notes:
        lines += ["", *(f"- {_markdown_cell(note)}" for note in notes)]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _markdown_cell(text: str) -> str:
    """`text` shown as it is in a Markdown table cell (its special characters and `|` escaped)."""
    return "".join(f"\\{c}" if c in "\\`*_[]<>|" else c for c in " ".join(text.split()))


def matrix_notes(edges: list[Edge]) -> list[str]:
    """The lines under the matrix: each error, exclusion or failure with its reason, each outside consumer's note
    once, each drift, the drift note, what the observed traffic says."""
    lines = [f"{edge.consumer}->{edge.provider} {edge.status}: {edge.reason}" for edge in edges if edge.reason]
    lines += consumer_notes(edges)
    lines += [line for edge in edges if (line := _drift_line(edge))]
    if any(edge.drift is not None and edge.drift.verdict in ("drift", "error") for edge in edges):
        lines.append(DRIFT_NOTE)
    return lines + [line for edge in edges for line in observed_lines(edge)]


def consumer_notes(edges: list[Edge]) -> list[str]:
    """Each note on an outside consumer (a name close to a service's: how to map it) once, not once per edge."""
    return list(dict.fromkeys(f"note: {edge.note}" for edge in edges if edge.note))


def observed_lines(edge: Edge, every: bool = False) -> list[str]:
    """What the observed traffic of an edge says beyond its cell: uncovered calls, calls breaking the provider's
    document and calls not judged (each: the NAMED most frequent operations, then `more_line`), interactions never
    exercised, connections not inspected, notes, which document judged the calls (one line each). A breaking
    operation says the first of its findings and how many (one short line in the console), or (`every`: the pages)
    every finding."""
    cell = edge.observed
    if cell is None:
        return []
    where = f"{edge.consumer}->{edge.provider}"
    lines = _named(where, "uncovered", cell.uncovered)
    lines += [f"{where} never exercised: {text}" for text in cell.never_exercised]
    lines += _named(where, BREAKS, cell.breaks if every else cell.breaks_first or cell.breaks)
    lines += _named(where, NOT_JUDGED, cell.unjudged)
    lines += [f"{where} not inspected: {text}" for text in cell.not_inspected]
    if cell.faulted:
        lines.append(f"{where} under a fault: {cell.faulted} of its {cell.calls} call(s) were made while a fault was "
                     "on this edge")
    if cell.refused:
        lines.append(f"{where} refused by cut(): {cell.refused} connection(s) refused by a cut on this edge: not "
                     "calls, neither covered nor uncovered")
    if cell.dropped:
        lines.append(f"{where} dropped by cut(): {cell.dropped} TCP packet(s) dropped by a cut on this edge (each "
                     "retry of a connection counts): not calls, neither covered nor uncovered")
    if cell.lost:
        lines.append(f"{where} dropped by loss(): {cell.lost} packet(s) dropped by a loss on this edge (TCP sends "
                     "them again: the calls that got through are counted, under a fault)")
    lines += [f"{where} note: {text}" for text in cell.notes]
    if cell.document and cell.calls:
        lines.append(f"{where} document: the calls were judged against {edge.provider}'s OpenAPI document "
                     f"{cell.document}")
    return lines


BREAKS, NOT_JUDGED = "breaks the document", "not judged against the document"


def _named(where: str, what: str, texts: tuple[str, ...]) -> list[str]:
    lines = [f"{where} {what}: {text}" for text in texts[:NAMED]]
    return lines + ([more_line(where, what, len(texts))] if len(texts) > NAMED else [])


def more_line(where: str, what: str, count: int) -> str:
    """`gateway->dataservice uncovered: and 4 more operation(s) ...`: those of `count` past the NAMED first."""
    return (f"{where} {what}: and {count - NAMED} more operation(s) (every one with its calls in "
            "contract-matrix.json)")


def observed_html(edge: Edge, escape: Callable[[str], str] = html.escape) -> str:
    """The edge's summary line (as the console's), then observed_lines as HTML list items (each text through
    `escape`), the operations past the NAMED first of each list folded under its `more_line`."""
    cell = edge.observed
    if cell is None:
        return ""
    where = f"{edge.consumer}->{edge.provider}"
    folded = {more_line(where, what, len(texts)): texts[NAMED:]
              for what, texts in (("uncovered", cell.uncovered), (BREAKS, cell.breaks), (NOT_JUDGED, cell.unjudged))
              if len(texts) > NAMED}
    items = [f"<li>{escape(cell.summary)}</li>"] if cell.summary else []
    for line in observed_lines(edge, every=True):
        if line in folded:
            rest = "".join(f"<li>{escape(text)}</li>" for text in folded[line])
            items.append(f"<li><details><summary>{escape(line)}</summary><ul>{rest}</ul></details></li>")
        else:
            items.append(f"<li>{escape(line)}</li>")
    return "".join(items)


def _drift_line(edge: Edge) -> str:
    """`web->catalog drift: 2 drift(s) in web-catalog.json, first: ...` for a drift or a drift error, else ""."""
    if edge.drift is None or edge.drift.verdict not in ("drift", "error"):
        return ""
    where = f"{edge.consumer}->{edge.provider}"
    name = pact_name(edge.pact) if edge.pact else ""
    if edge.drift.verdict == "error":
        return f"{where} drift error ({name}): {edge.drift.reason}"
    return f"{where} drift: {edge.drift.count} drift(s) in {name}, first: {edge.drift.first}"


def _drift_text(edge: Edge) -> str:
    return edge.drift.label if edge.drift is not None else NOT_CHECKED


def _consumer_label(edge: Edge) -> str:
    return edge.consumer + (OUTSIDE if edge.outside else "")


def _cells(edges: list[Edge]) -> tuple[list[str], list[str], dict[tuple[str, str], list[Edge]]]:
    consumers = sorted({_consumer_label(e) for e in edges})
    providers = sorted({e.provider for e in edges})
    cells: dict[tuple[str, str], list[Edge]] = {}
    for edge in edges:
        cells.setdefault((_consumer_label(edge), edge.provider), []).append(edge)
    return consumers, providers, cells


def _as_table(edges: list[Edge], title: str) -> Table:
    consumers, providers, cells = _cells(edges)
    table = Table(title=title, title_justify="left")
    table.add_column("consumer \\ provider")
    for provider in providers:
        table.add_column(provider)
    for consumer in consumers:
        row = []
        for provider in providers:
            pair = cells.get((consumer, provider), [])
            row.append("\n".join(_cell(e, named=len(pair) > 1) for e in pair))  # two pacts of a pair: by file
        table.add_row(consumer, *row)
    return table


def pact_name(pact: str) -> str:
    """How a pact is named in a matrix: its file's name, or for a broker pact (its URL at the broker) `broker pact
    SHA` (the first 12 digits of its pact version, or the URL when it has none)."""
    if "://" not in pact:
        return Path(pact).name
    version = pact.split("/pact-version/", 1)[1].split("/", 1)[0] if "/pact-version/" in pact else ""
    return f"broker pact {version[:12]}" if version else pact


def _pact_cell(pact: str) -> str:
    """The pact column of the HTML table: the file's name, or a link to a broker pact's URL."""
    if "://" not in pact:
        return html.escape(Path(pact).name)
    return f'<a href="{html.escape(pact)}">{html.escape(pact_name(pact))}</a>'


def _cell(edge: Edge, named: bool = False) -> str:
    """The verdict (with the pact file's name when `named`), and under it the drift, in the table's markup."""
    verdict = f"[{STYLE.get(edge.status, '')}]{edge.status}[/]" + (" (cached)" if edge.cached_from else "")
    if named and edge.pact:
        verdict += f" {escape(pact_name(edge.pact))}"
    observed = "" if edge.observed is None else f"\n[{_observed_style(edge)}]{escape(edge.observed.label)}[/]"
    if edge.status in ("no pact", "not verified"):
        return verdict + observed
    style = DRIFT_STYLE.get(edge.drift.verdict, "") if edge.drift is not None else "dim"
    return f"{verdict}\n[{style}]{_drift_text(edge)}[/]{observed}"


def _observed_style(edge: Edge) -> str:
    cell = edge.observed
    if cell is None or not cell.calls:
        return "dim"
    return "green" if cell.covered == cell.calls and not cell.breaking and not cell.not_judged else "yellow"


def write_reports(edges: list[Edge], folder: Path, title: str) -> tuple[Path, Path]:
    """`contract-matrix.json` ({"title", "edges": [...]}) and `contract-matrix.html` in `folder`."""
    report_folder(folder)
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
            shown = "<br>".join(html.escape(e.status) + ("" if e.status in ("no pact", "not verified") else
                                                         f" <small>({html.escape(_drift_text(e))})</small>")
                                + (f"<br><small>{html.escape(e.observed.label)}</small>" if e.observed else "")
                                for e in here)
            tds.append(f'<td style="background:{COLOUR.get(worst.status, "#fff")}" title="{html.escape(tip)}">'
                       f"{shown}</td>")
        rows.append(f"<tr><th>{html.escape(consumer)}</th>{''.join(tds)}</tr>")
    head = "".join(f"<th>{html.escape(p)}</th>" for p in providers)
    reasons = "".join(f"<li>{html.escape(e.consumer)} -&gt; {html.escape(e.provider)} {e.status}: "
                      f"{html.escape(e.reason)}</li>" for e in edges if e.reason)
    reasons += "".join(f"<li>{html.escape(note)}</li>" for note in consumer_notes(edges))
    reasons += "".join(observed_html(e) for e in edges)
    as_html = folder / "contract-matrix.html"
    as_html.write_text(
        f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}td,th{border:1px solid #999;padding:.4em .8em}"
        "table{border-collapse:collapse;margin-bottom:1em}</style>"
        f"<h1>{html.escape(title)}</h1><table><tr><th>consumer \\ provider</th>{head}</tr>{''.join(rows)}</table>"
        + (f"<ul>{reasons}</ul>" if reasons else "") + _pact_table(edges) + "\n")
    return as_json, as_html


def _pact_table(edges: list[Edge]) -> str:
    """One row per pact: consumer, provider, pact file, verdict, and the drift column with what it found."""
    rows = []
    for e in edges:
        if e.pact is None:
            continue
        drift = e.drift
        detail = "" if drift is None else drift.first or drift.reason
        rows.append(f"<tr><td>{html.escape(_consumer_label(e))}</td><td>{html.escape(e.provider)}</td>"
                    f"<td>{_pact_cell(e.pact)}</td>"
                    f'<td style="background:{COLOUR.get(e.status, "#fff")}">{html.escape(e.status)}'
                    f"{html.escape(f' (cached, from {e.cached_from})' if e.cached_from else '')}</td>"
                    f'<td style="background:{DRIFT_COLOUR.get(drift.verdict, "#fff") if drift else "#fff"}" '
                    f'title="{html.escape(drift.source if drift else "")}">'
                    f"{html.escape(_drift_text(e).removeprefix('drift: '))}</td><td>{html.escape(detail)}</td></tr>")
    if not rows:
        return ""
    return ("<h2>Pacts</h2><table><tr><th>consumer</th><th>provider</th><th>pact</th><th>verdict</th><th>drift</th>"
            f"<th>first drift, or why not</th></tr>{''.join(rows)}</table><p>{html.escape(DRIFT_NOTE)}</p>")


def matrix_folder(page: Path | None = None, folder: Path | None = None) -> Path:
    """Where a verification writes contract-matrix.json and .html, one rule for `harness verify` and `pytest
    --pact-verify`: the folder given (`harness verify --report DIR`), else the report page's folder (`harness verify
    --report FILE.html`, pytest's `--topology-report FILE.html`), else `reports/` in the current folder."""
    if folder is not None:
        return folder
    return page.parent if page is not None else Path("reports")


def write_matrix(spec: TopologySpec, pacts: list[PactResult], drift: list[PactDrift], folder: Path,
                 width: int = 120, coverage: list[EdgeCoverage] | None = None, partial: str = "",
                 terminal: bool = True) -> tuple[str, str, Path | None]:
    """The contract matrix of a verification (and of the traffic observed, with `coverage`), for both front-ends:
    (its text, the line that says where its files were written, its HTML file when this run wrote it, else None:
    what a step summary may link). A run where every pact is excluded verified
    nothing, and a `partial` one (why: pytest's -k, --lf, -x, node ids left pacts or interactions out) would drop
    edges from a CI dashboard: unless traffic was observed, the files are left as the last run that verified
    (every pact) wrote them, and the line says so; a partial run writes them only where there are none yet."""
    edges = edge_matrix(spec, pacts, drift, coverage)
    title = f"contracts of topology {spec.name}"
    text = matrix_text(edges, title, width=width, terminal=terminal)  # (`terminal`: matrix_text)
    if coverage is None and all(result.outcome == "excluded" for result in pacts):
        return text, (f"nothing was verified (every pact is excluded): the contract matrix in {folder} is left as the "
                      "last run that verified wrote it"), None
    if left_as_is(folder, partial, coverage is not None):  # a dashboard keeps every edge
        return text, (f"a partial run ({partial}): the contract matrix in {folder} is left as the last whole run "
                      "wrote it"), None
    as_json, as_html = write_reports(edges, folder, title)
    return text, f"matrix written to {as_json} and {as_html}", as_html


def left_as_is(folder: Path, partial: str, observed: bool = False) -> bool:
    """Whether write_matrix leaves the files in `folder` as the last whole run wrote them: a `partial` run (why, ""
    for a whole one) without observed traffic, where there are files already. A step summary then links none."""
    return bool(partial) and not observed and (folder / "contract-matrix.json").is_file()
