"""The report page as HTML: one file, inline CSS and SVG, no script, nothing fetched from anywhere (it opens from
file:// and as a CI artefact). Every text goes through the page's Scrubber, then html.escape."""

from __future__ import annotations

import datetime
import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.contracts.results import WORDS as PACT_WORDS
from harness.fuzz.results import Finding, ServiceResult
from harness.report.graph import COLOUR, GraphEdge, GraphNode, draw, slug, worst
from harness.report.page import PageData, Scrubber, clip
from harness.report.text import strip_ansi
from harness.verdict import counts

if TYPE_CHECKING:
    from harness.report.fuzz import Rerun

CSS = """
:root{--ok:#2e7d32;--bad:#c62828;--err:#8e0000;--warn:#b26a00;--info:#1565c0;--mute:#607d8b;--line:#d0d7de}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;
margin:0;color:#1f2328;background:#f6f8fa}header{background:#24292f;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#c9d1d9}main{padding:8px 24px 40px;max-width:1500px}
section{background:#fff;border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:14px 0}
h2{font-size:17px;margin:2px 0 10px}h3{font-size:15px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid var(--line);padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}td.num{text-align:right;white-space:nowrap}
pre{background:#f6f8fa;border:1px solid var(--line);padding:8px;overflow:auto;max-height:420px;font-size:12px;
white-space:pre-wrap;word-break:break-word;margin:6px 0}code{font-size:12px}
details{margin:4px 0}summary{cursor:pointer}details>div{padding:2px 0 4px 18px}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff;
background:var(--mute);white-space:nowrap}.v-verified,.v-passed,.v-clean,.v-running,.v-ready{background:var(--ok)}
.v-failed,.v-drift{background:var(--bad)}.v-error,.v-gone{background:var(--err)}.v-excluded,.v-accepted{background:var(--info)}
.v-no_pact,.v-not_applicable{background:var(--warn)}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}.card{background:#fff;border:1px solid var(--line);
border-radius:6px;padding:8px 14px;min-width:150px;color:inherit;
text-decoration:none}.card b{font-size:20px;display:block}.card.bad b{color:var(--bad)}
.graph{overflow:auto;text-align:center}.graph svg{max-width:100%;height:auto}.legend span{margin-right:12px}
.legend i{display:inline-block;width:22px;height:3px;vertical-align:middle;margin-right:4px}
.matrix td{text-align:center}.matrix td a{color:#fff;text-decoration:none}.note{color:#57606a;font-size:12px}
tr.failed>td:first-child{border-left:4px solid var(--bad)}tr.error>td:first-child{border-left:4px solid var(--err)}
.finding{border-left:3px solid var(--bad);padding-left:8px;margin:6px 0}.finding.error{border-color:var(--err)}
.finding.accepted{border-color:var(--info)}details.curl>summary{color:#57606a;font-size:12px}
"""


def render(data: PageData) -> str:
    """The whole page for `data`, as one HTML document."""
    esc = _escaper(Scrubber(data.spec))
    svg, how = draw(*_graph_of(data))
    started = datetime.datetime.fromtimestamp(data.facts.started, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    body = [f"<header><h1>{esc(data.title)}</h1><p>{esc(data.facts.command)} · {started} · "
            f"{data.facts.seconds:.1f} s{' · ' + esc(data.facts.outcome) if data.facts.outcome else ''}</p></header>",
            "<main>", _cards(data),
            f'<section id="graph"><h2>Topology</h2><div class="graph">{svg}</div>{_legend()}'
            f'<p class="note">{esc(how)}. Solid arrows: calls (consumes, pacts), coloured by the contract verdict; '
            "dashed grey: start order only (depends_on); ⚡ a fault in place during the run.</p></section>",
            _services(data, esc), _faults(data, esc), _contracts(data, esc), _drift(data, esc), _fuzz(data, esc),
            _failed_tests(data, esc), _facts(data, esc), "</main>"]
    return ("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width,initial-scale=1'>"
            f"<title>{esc(data.title)} · pytest-topology report</title><style>{CSS}</style></head><body>"
            + "\n".join(part for part in body if part) + "</body></html>\n")


def _escaper(scrub: Scrubber) -> Callable[[Any], str]:
    return lambda value: html.escape(scrub(str(value)))


def _badge(verdict: str) -> str:
    return f'<span class="badge v-{slug(verdict)}">{html.escape(verdict)}</span>'


def _graph_of(data: PageData) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Nodes: every service (file order), then outside consumers; edges: every consumer->provider pair that has a
    depends_on, a consumes or a pact, one arrow each, with the worst verdict of its pacts."""
    status = {s.name: s.status for s in data.services}
    nodes = {name: GraphNode(name, status.get(name, "")) for name in data.spec.services}
    pairs: dict[tuple[str, str], GraphEdge] = {}
    verdicts: dict[tuple[str, str], list[str]] = {}
    for edge in data.matrix:
        if edge.consumer not in nodes:
            nodes[edge.consumer] = GraphNode(edge.consumer, "", outside=edge.outside)
        if edge.provider not in nodes:
            nodes[edge.provider] = GraphNode(edge.provider, "not a service")
        status_ = edge.status if data.contracts_run or edge.status == "no pact" else "not verified"
        verdicts.setdefault((edge.consumer, edge.provider), []).append(status_)
        pair = pairs.setdefault((edge.consumer, edge.provider), GraphEdge(edge.consumer, edge.provider, "",
                                                                          target=f"#{_pact_id(edge.pact, edge)}"))
        if edge.observed is not None:
            pair.coverage = edge.observed.label
    for name, service in data.spec.services.items():
        for provider in service.consumes:
            pairs.setdefault((name, provider), GraphEdge(name, provider, "", target="#contracts"))
            verdicts.setdefault((name, provider), ["not verified"])  # the matrix has a verdict when pacts ran
        for dep in service.depends_on:
            edge_ = pairs.setdefault((name, dep), GraphEdge(name, dep, "", target=f"#row-svc-{slug(dep)}"))
            edge_.depends_on = True
    for key, edge_ in pairs.items():
        edge_.verdict = worst(verdicts[key]) if key in verdicts else "depends on"
    for record in data.faults:
        fault = record.fault
        text = fault.describe().split(": ", 1)[-1]
        if fault.provider is None:
            if fault.consumer in nodes:
                nodes[fault.consumer].notes.append(f"all calls: {text}")
            continue
        edge_ = pairs.setdefault((fault.consumer, fault.provider),
                                 GraphEdge(fault.consumer, fault.provider, "no contract", target="#faults"))
        if text not in edge_.faults:
            edge_.faults.append(text)
    return list(nodes.values()), list(pairs.values())


def _pact_id(pact: str | None, edge: Any) -> str:
    from pathlib import Path

    if pact and "://" in pact:  # a broker pact's URL (its file was fetched for the run only)
        import hashlib

        return f"pact-url-{hashlib.sha1(pact.encode()).hexdigest()[:12]}"
    return f"pact-{slug(Path(pact).stem)}" if pact else f"nopact-{slug(edge.consumer)}--{slug(edge.provider)}"


def _legend() -> str:
    shown = ["verified", "failed", "error", "excluded", "no pact", "not verified", "depends on"]
    return '<p class="legend note">' + "".join(f'<span><i style="background:{COLOUR[v]}"></i>{v}</span>'
                                               for v in shown) + "</p>"


def _cards(data: PageData) -> str:
    def card(title: str, value: str, bad: bool, anchor: str) -> str:
        return f'<a class="card{" bad" if bad else ""}" href="#{anchor}"><b>{value}</b>{html.escape(title)}</a>'

    pacts_bad = sum(not p.ok for p in data.pacts)
    ops_bad = sum(1 for r in data.fuzz for op in _fuzz_rows(r) if op[2] not in ("passed", "accepted"))
    drift_bad = sum(d.outcome in ("failed", "error") for d in data.drift)
    cards = [card("services", str(len(data.services)), any(s.status in ("failed", "gone") for s in data.services),
                  "services")]
    if data.contracts_run:
        cards.append(card(f"pacts not verified (of {len(data.pacts)})", str(pacts_bad), pacts_bad > 0, "contracts"))
    if data.drift:
        cards.append(card(f"pacts with drift or error (of {len(data.drift)})", str(drift_bad), drift_bad > 0, "drift"))
    if data.fuzz:
        total = sum(len(_fuzz_rows(r)) for r in data.fuzz)
        cards.append(card(f"fuzzed operations with findings (of {total})", str(ops_bad), ops_bad > 0, "fuzzing"))
    if data.failed_tests or data.facts.outcome:
        cards.append(card("failed tests", str(len(data.failed_tests)), bool(data.failed_tests), "failed-tests"))
    return '<div class="cards">' + "".join(cards) + "</div>"


def _services(data: PageData, esc: Callable[[Any], str]) -> str:
    rows = []
    for s in data.services:
        source = {"built": "built in this run", "cached": "built before (cached)", "image": "image",
                  "": "already running" if s.url else "–"}.get(s.source, s.source)
        build = f" ({s.build_seconds:.1f} s)" if s.build_seconds and s.source == "built" else ""
        ready = f"{s.ready_seconds:.1f} s" if s.ready_seconds is not None else "–"
        url = f"<code>{esc(s.url)}</code>" if s.url else "–"  # text, not a link: gone after the run
        rows.append(f'<tr id="row-svc-{slug(s.name)}"><td><b>{esc(s.name)}</b>{" (job)" if s.job else ""}</td>'
                    f"<td><code>{esc(s.image)}</code></td><td>{esc(source)}{build}</td><td class=num>{ready}</td>"
                    f"<td>{url}</td><td>{_badge(s.status)}</td>"
                    f"<td class=note>{esc(', '.join(s.env_keys)) or '–'}</td></tr>")
    return ('<section id="services"><h2>Services</h2><table><tr><th>service</th><th>image</th><th>image from</th>'
            "<th>time to ready</th><th>URL (during the run)</th><th>status at the end</th>"
            "<th>environment (keys only)</th></tr>" + "".join(rows) + "</table></section>")


def _faults(data: PageData, esc: Callable[[Any], str]) -> str:
    if not data.faults:
        return ""
    def when(t: float | None) -> str:
        if t is None:
            return "until the end"
        return datetime.datetime.fromtimestamp(t, datetime.UTC).strftime("%H:%M:%S.%f")[:-3]
    rows = "".join(f"<tr><td>{esc(r.fault.edge)}</td><td>{esc(r.fault.describe().split(': ', 1)[-1])}</td>"
                   f"<td>{when(r.started)}</td><td>{when(r.ended)}</td></tr>" for r in data.faults)
    return ('<section id="faults"><h2>Faults during the run</h2><table><tr><th>edge</th><th>fault</th>'
            f"<th>from (UTC)</th><th>to</th></tr>{rows}</table></section>")


def _contracts(data: PageData, esc: Callable[[Any], str]) -> str:
    from harness.report.matrix import observed_html

    observed = "".join(f"<li>{esc(e.consumer)} → {esc(e.provider)}: {esc(e.observed.label)}<ul>"
                       + observed_html(e, esc) + "</ul></li>" for e in data.matrix if e.observed is not None)
    observed = f"<h3>Observed traffic (--observe)</h3><ul>{observed}</ul>" if observed else ""
    if not data.contracts_run:
        return ('<section id="contracts"><h2>Contracts</h2><p class="note">Pacts were not verified in this run '
                f"(pytest --pact-verify, or harness verify).</p>{observed}</section>")
    consumers = sorted({e.consumer + (" (outside)" if e.outside else "") for e in data.matrix})
    providers = sorted({e.provider for e in data.matrix})
    cells: dict[tuple[str, str], list[Any]] = {}
    for e in data.matrix:
        cells.setdefault((e.consumer + (" (outside)" if e.outside else ""), e.provider), []).append(e)
    rows = []
    for consumer in consumers:
        tds = []
        for provider in providers:
            here = cells.get((consumer, provider), [])
            links = " ".join(f'<a href="#{_pact_id(e.pact, e)}" class="badge v-{slug(e.status)}" '
                             f'title="{esc(e.reason or e.status)}">{esc(e.status)}</a>' + _drift_badge(e, esc)
                             + _observed_badge(e, esc) for e in here)
            tds.append(f"<td>{links}</td>")
        rows.append(f"<tr><th>{esc(consumer)}</th>{''.join(tds)}</tr>")
    matrix = ("<table class=matrix><tr><th>consumer \\ provider</th>"
              + "".join(f"<th>{esc(p)}</th>" for p in providers) + "</tr>" + "".join(rows) + "</table>")
    pacts = [_pact(result, esc) for result in data.pacts]
    missing = [f'<li id="{_pact_id(None, e)}">{esc(e.consumer)} → {esc(e.provider)}: {_badge("no pact")} a declared '
               "<code>consumes</code> edge without a pact</li>" for e in data.matrix if e.status == "no pact"]
    word = {outcome: word for word, outcome in PACT_WORDS.items()}
    found = counts(p.outcome for p in data.pacts)
    return ('<section id="contracts"><h2>Contracts</h2><p>'
            + " ".join(f"{_badge(word[outcome])} {n}" for outcome, n in found.items())
            + f"</p>{matrix}<h3>Pacts</h3>" + "".join(pacts)
            + (f"<h3>Edges without a pact</h3><ul>{''.join(missing)}</ul>" if missing else "") + observed
            + "</section>")


def _observed_badge(edge: Any, esc: Callable[[Any], str]) -> str:
    """The traffic observed on the edge (--observe) under its verdict, its details in the tooltip."""
    if edge.observed is None:
        return ""
    from harness.report.matrix import observed_lines

    tip = "\n".join(observed_lines(edge, every=True)) or edge.observed.label
    return f'<br><span class="badge v-observed" title="{esc(tip)}">{esc(edge.observed.label)}</span>'


def _drift_badge(edge: Any, esc: Callable[[Any], str]) -> str:
    """The pact's drift under its verdict in a matrix cell (nothing when drift was not checked in this run)."""
    if edge.drift is None:
        return ""
    tip = edge.drift.first or edge.drift.reason or edge.drift.verdict
    return (f'<br><span class="badge v-{slug(edge.drift.verdict)}" title="{esc(tip)}">{esc(edge.drift.label)}'
            "</span>")


def _pact(result: Any, esc: Callable[[Any], str]) -> str:
    from harness.report.contracts import headline

    bad = not result.ok
    rows = "".join(f'<tr class="{"" if i.passed else "failed"}"><td>{esc(i.description)}</td>'
                   f"<td>{_badge('passed' if i.passed else 'failed')}</td><td class=num>{i.seconds:.2f} s</td>"
                   f"<td>{'<br>'.join(esc(p) for p in i.problems)}</td></tr>" for i in result.interactions)
    parts = [f"<p><b>{esc(result.verdict)}</b>: {esc(result.reason)}</p>" if result.reason else "",
             "<table><tr><th>interaction</th><th>verdict</th><th>time</th><th>mismatches</th></tr>"
             f"{rows}</table>" if rows else ""]
    if bad and result.report.strip():
        parts.append(f"<details><summary>verifier's report</summary><pre>{esc(clip(result.report))}</pre></details>")
    if bad and result.provider_log.strip():
        parts.append(f"<details><summary>log of {esc(result.provider_service or result.provider)} during this "
                     f"verification</summary><pre>{esc(clip(result.provider_log))}</pre></details>")
    edge = f"{result.consumer_service or result.consumer or '?'}--{result.provider_service or result.provider or '?'}"
    return (f'<details id="{_pact_id(result.url or str(result.path), None)}" class="pact {slug(result.verdict)}" '
            f'data-edge="{esc(edge)}"{" open" if bad else ""}><summary>{_badge(result.verdict)} '
            f"{esc(headline(result).split(' ', 1)[1])}</summary><div>{''.join(parts)}</div></details>")


def _drift(data: PageData, esc: Callable[[Any], str]) -> str:
    if not data.drift:
        return ""
    items = []
    for result in data.drift:
        bad = result.outcome in ("failed", "error")
        findings = []
        for interaction in result.interactions:
            rows = "".join(f"<tr><td><code>{esc(f.pointer)}</code></td><td>{esc(f.pact_says)}</td>"
                           f"<td>{esc(f.spec_says)} <code>{esc(f.spec_pointer)}</code></td></tr>"
                           for f in interaction.findings)
            head = (f"{_badge(interaction.verdict)} {esc(interaction.description)}"
                    + (f" <code>{esc(interaction.operation)}</code>" if interaction.operation else "")
                    + (f" <span class=note>{esc(interaction.reason)}</span>" if interaction.reason else ""))
            findings.append(f"<li>{head}" + ("<table><tr><th>at</th><th>the pact says</th><th>the spec says</th>"
                                              f"</tr>{rows}</table>" if rows else "") + "</li>")
        items.append(f'<details class="drift {slug(result.verdict)}"{" open" if bad else ""}><summary>'
                     f"{_badge(result.verdict)} {esc(result.consumer)} → {esc(result.provider)} "
                     f"<span class=note>({esc(result.path.name)})</span></summary><div>"
                     + (f"<p class=note>spec: {esc(result.source)}</p>" if result.source else "")
                     + (f"<p>{esc(result.reason)}</p>" if result.reason else "")
                     + f"<ul>{''.join(findings)}</ul></div></details>")
    return '<section id="drift"><h2>Drift (pacts against OpenAPI)</h2>' + "".join(items) + "</section>"


def _fuzz_rows(result: ServiceResult) -> list[tuple[str, list[Finding], str]]:
    """(operation, its findings, verdict) per operation of the spec, then any other label findings carry
    (stateful sequences, the whole service): failed when a check failed that no baseline entry accepts, error when
    it could not be tested, accepted when a baseline entry accepts each of its failures."""
    labels = list(dict.fromkeys([*result.operations, *(f.operation for f in result.findings)]))
    rows = []
    for label in labels:
        mine = [f for f in result.findings if f.operation == label]
        kinds = {f.kind for f in mine if not f.accepted}
        rows.append((label, mine, "failed" if "failure" in kinds else "error" if kinds else
                     "accepted" if mine else "passed"))
    return rows


def _fuzz(data: PageData, esc: Callable[[Any], str]) -> str:
    if not data.fuzz:
        return ""
    blocks = []
    for result in data.fuzz:
        rows = []
        for label, mine, verdict in _fuzz_rows(result):
            found = _findings(mine, result, esc)
            requests = str(result.requests_by_operation.get(label, "–"))
            rows.append(f'<tr class="op {verdict}" data-service="{esc(result.service)}" data-operation="{esc(label)}">'
                        f"<td><code>{esc(label)}</code></td><td class=num>{requests}</td><td>{_badge(verdict)}</td>"
                        f"<td>{found}</td></tr>")
        verdict = result.outcome
        log = strip_ansi(result.log)
        blocks.append(f'<details class="fuzz-service {verdict}" id="fuzz-{slug(result.service)}"'
                      f'{"" if result.passed else " open"}><summary>{_badge(verdict)} <b>{esc(result.service)}</b>: '
                      f"{len(result.operations)} operation(s), {result.requests} requests in {result.seconds:.1f} s, "
                      f"{esc(result.mode)} data, seed {result.seed}</summary><div><p class=note>at {esc(result.url)}"
                      f"{'; phases ' + esc(', '.join(result.phases)) if result.phases else ''}"
                      + (_rerun(data.facts.rerun, result, esc) if data.facts.rerun is not None else "") + "</p>"
                      "<table><tr><th>operation</th><th>requests</th><th>verdict</th><th>findings</th></tr>"
                      + "".join(rows) + "</table>"
                      + (f"<details><summary>log of {esc(result.service)} during the run</summary>"
                         f"<pre>{esc(clip(log))}</pre></details>" if log.strip() else "") + "</div></details>")
    return ('<section id="fuzzing"><h2>Fuzzing (schemathesis)</h2>' + "".join(blocks) + _baseline(data, esc)
            + "</section>")


def _rerun(rerun: Rerun, result: ServiceResult, esc: Callable[[Any], str]) -> str:
    """"; rerun with <code>COMMAND</code>", or after a run on a topology already running, what that command does not
    redo (Rerun.line)."""
    command = f"<code>{esc(rerun.for_result(result))}</code>"
    if not rerun.reused:
        return f"; rerun with {command}"
    return (f"; same seed and options: {command} (not a reproduction: this run used a topology that was already "
            f"running, whose state earlier runs left; <code>{esc(rerun.reused)}</code> first for a fresh one)")


def _baseline(data: PageData, esc: Callable[[Any], str]) -> str:
    """The run's baseline file: the entries that accepted a failure, those not reproduced (probably fixed), those
    not reached, the expired ones, and what was written."""
    from harness.report.fuzz import baseline_text

    if data.fuzz_baseline is None:
        return ""
    rerun = data.facts.rerun  # the front-end's flags: --baseline or --fuzz-baseline
    prune = (rerun.flags["baseline"] if rerun is not None and "baseline" in rerun.flags else "--baseline") + "-prune"
    return f'<div id="fuzz-baseline"><h3>Baseline</h3><pre>{esc(baseline_text(data.fuzz_baseline, prune))}</pre></div>'


def _findings(findings: list[Finding], result: ServiceResult, esc: Callable[[Any], str]) -> str:
    """The findings of an operation, one block per failing request as schemathesis' own report shows a failing test
    case (and `st run` its failure group): each finding named (check, code, title, phases, seed), then the details
    they do not share, the request's curl once (collapsed) and its log lines once. Every finding is listed."""
    from harness.report.fuzz import by_request, shown_by_another

    blocks = []
    for group in by_request(findings):
        lines = "".join(_finding_line(finding, result, esc) for finding in group)
        details = "".join(f"<pre>{esc(clip(f.detail, 4000))}</pre>" for f in group
                          if f.detail.strip() and not shown_by_another(f, group))
        curl = group[0].curl
        reproduce = (f'<details class="curl"><summary>reproduce (curl)</summary><pre class="curl">{esc(curl)}</pre>'
                     "</details>" if curl else "")
        logged_by = next((f for f in group if f.log or f.log_note), group[0])  # one request, one log
        logged = logged_by.log + ([f"({logged_by.log_note})"] if logged_by.log_note else [])
        kinds = {f.kind for f in group}
        blocks.append(f'<div class="finding {"error" if kinds == {"error"} else "failure"}'
                      f'{" accepted" if all(f.accepted for f in group) else ""}">{lines}{details}{reproduce}'
                      + (f'<pre class="log">{esc(chr(10).join(logged))}</pre>' if logged else "") + "</div>")
    return "".join(blocks)


def _finding_line(finding: Finding, result: ServiceResult, esc: Callable[[Any], str]) -> str:
    """A finding's line: error or not, its check and code, its title, and (baseline entry; phases; seed)."""
    phases = f"{', '.join(finding.phases)} phase{'s' if len(finding.phases) > 1 else ''}; " if finding.phases else ""
    accepted = f"accepted by baseline entry {finding.accepted}; " if finding.accepted else ""
    return (f'<div class="finding-line">{"<b>error</b> " if finding.kind == "error" else ""}'
            f"<b>{esc(finding.label)}</b>: {esc(finding.title)} <span class=note>({esc(accepted)}{phases}seed "
            f"{result.seed})</span></div>")


def _failed_tests(data: PageData, esc: Callable[[Any], str]) -> str:
    if not data.failed_tests and not data.facts.outcome:
        return ""
    items = []
    for test in data.failed_tests:
        sections = "".join(f"<details><summary>{esc(title)}</summary><pre>{esc(clip(text))}</pre></details>"
                           for title, text in test.sections)
        items.append(f'<details class="failed-test" open><summary>{_badge("failed")} <code>{esc(test.nodeid)}</code>'
                     f" <span class=note>({esc(test.when)})</span></summary><div><pre>{esc(clip(test.text))}</pre>"
                     f"{sections}</div></details>")
    return ('<section id="failed-tests"><h2>Failed tests</h2>'
            + ("".join(items) if items else "<p>none</p>") + "</section>")


def _facts(data: PageData, esc: Callable[[Any], str]) -> str:
    started = datetime.datetime.fromtimestamp(data.facts.started, datetime.UTC).isoformat(timespec="seconds")
    rows = [("command", data.facts.command), ("started", started), ("took", f"{data.facts.seconds:.1f} s"),
            ("topology file", " + ".join(map(str, data.spec.files)) or "(built in Python)"),
            *data.facts.versions.items()]
    if data.facts.outcome:
        rows.insert(3, ("outcome", data.facts.outcome))
    return ('<section id="facts"><h2>Run</h2><table>'
            + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) + "</table></section>")
