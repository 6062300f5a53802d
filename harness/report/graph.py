"""The topology as an SVG picture for the report page: a box per service (and per outside consumer), an arrow per
`depends_on`, `consumes` and pact edge, coloured by its contract verdict, faults of the run marked.

Drawn by Graphviz (`dot -Tsvg`, through the `graphviz` package); on a machine without `dot`, by a simple layout of
our own (columns by the longest path of calls, as the start levels go), and the page says so. Either way every
node is `<g class="node service ..." id="svc-NAME">` and every edge `<g class="edge ..." id="edge-A--B">`, with
`failed` in the class of an edge whose pact failed or errored.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from types import ModuleType

COLOUR = {"verified": "#2e7d32", "failed": "#c62828", "error": "#8e0000", "excluded": "#1565c0",
          "no pact": "#b26a00", "not verified": "#607d8b", "depends on": "#9e9e9e"}
FILL = {"running": "#e8f5e9", "exited": "#eceff1", "failed": "#ffebee", "gone": "#ffebee"}
WORST = ["error", "failed", "no pact", "not verified", "excluded", "verified"]


@dataclass
class GraphNode:
    name: str
    status: str = ""
    outside: bool = False  # a consumer that is not a service (browser, mobile app)
    notes: list[str] = field(default_factory=list)  # faults on everything it calls

    @property
    def id(self) -> str:
        return f"svc-{slug(self.name)}"


@dataclass
class GraphEdge:
    consumer: str
    provider: str
    verdict: str  # a contract verdict, "no pact", "not verified" or "depends on" (a start order only)
    depends_on: bool = False
    faults: list[str] = field(default_factory=list)
    target: str = ""  # in-page anchor the edge links to
    coverage: str = ""  # the traffic observed on it (--observe): "observed: 7, covered 42.9%"

    @property
    def id(self) -> str:
        return f"edge-{slug(self.consumer)}--{slug(self.provider)}"

    @property
    def css(self) -> str:
        classes = ["contract" if self.verdict != "depends on" else "depends-on", f"verdict-{slug(self.verdict)}"]
        if self.verdict in ("failed", "error"):
            classes.append("failed")
        if self.depends_on:
            classes.append("starts-after")
        if self.faults:
            classes.append("fault")
        return " ".join(classes)


def slug(text: str) -> str:
    """A name fit for an HTML id: letters, digits, `-`, `_`, `.` kept, anything else `_`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", text)


def worst(verdicts: list[str]) -> str:
    return min(verdicts, key=lambda v: WORST.index(v) if v in WORST else len(WORST))


def draw(nodes: list[GraphNode], edges: list[GraphEdge]) -> tuple[str, str]:
    """(the SVG element, how it was drawn: "graphviz dot X" or why the built-in layout was used)."""
    try:
        import graphviz

        return _dot(graphviz, nodes, edges), f"drawn by Graphviz dot {'.'.join(map(str, graphviz.version()))}"
    except Exception as error:  # noqa: BLE001 - no `dot` (ExecutableNotFound), no package, a failing dot: same answer
        reason = "Graphviz's dot was not found" if type(error).__name__ == "ExecutableNotFound" else \
            f"Graphviz failed ({type(error).__name__})"
        return _simple_svg(nodes, edges), f"simple built-in layout ({reason}; install graphviz for a better picture)"


def _node_label(node: GraphNode) -> str:
    lines = [node.name + (" (outside)" if node.outside else ""), node.status] + [f"⚡ {n}" for n in node.notes]
    return "\n".join(line for line in lines if line)


LABELLED = ("failed", "error", "excluded", "no pact", "no contract")  # the colour alone says the others


def _edge_label(edge: GraphEdge) -> str:
    """The verdict when it needs attention, and the faults; nothing for verified, not verified and start order (their
    colour says it; the tooltip has it), so that 30 edges stay readable."""
    return "\n".join(([edge.verdict] if edge.verdict in LABELLED else []) + [f"⚡ {f}" for f in edge.faults]
                     + ([edge.coverage] if edge.coverage else []))


def _dot(graphviz: ModuleType, nodes: list[GraphNode], edges: list[GraphEdge]) -> str:
    graph = graphviz.Digraph(graph_attr={"rankdir": "LR", "bgcolor": "transparent", "nodesep": "0.25",
                                         "ranksep": "0.6", "fontname": "Helvetica"},
                             node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                        "fontsize": "12"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "10"})
    for node in nodes:
        graph.node(node.name, _node_label(node), id=node.id, URL=f"#row-{node.id}",
                   tooltip=node.name, fillcolor=FILL.get(node.status, "#ffffff"),
                   style="rounded,filled,dashed" if node.outside else "rounded,filled",
                   color="#e65100" if node.notes else "#37474f",
                   **{"class": f"service status-{slug(node.status)}" + (" outside" if node.outside else "")})
    for edge in edges:
        colour = COLOUR.get(edge.verdict, "#607d8b")
        graph.edge(edge.consumer, edge.provider, _edge_label(edge), id=edge.id, URL=edge.target or "#contracts",
                   tooltip=f"{edge.consumer} -> {edge.provider}: {edge.verdict}", color=colour, fontcolor=colour,
                   penwidth="2.2" if edge.verdict in ("failed", "error") or edge.faults else "1.4",
                   style="dashed" if edge.verdict == "depends on" else "solid", **{"class": edge.css})
    svg: str = graph.pipe(format="svg", encoding="utf-8")
    return svg[svg.index("<svg"):]  # no XML prolog, doctype or comments: the page inlines the element


def _layers(nodes: list[GraphNode], edges: list[GraphEdge]) -> dict[str, int]:
    """Column of each node: callers left of what they call (the longest path of calls and dependencies from it, a
    cycle cut where it closes), at most MAX_COLUMNS columns (deeper graphs fold: two layers share a column)."""
    out: dict[str, list[str]] = {n.name: [] for n in nodes}
    for edge in edges:
        out.setdefault(edge.consumer, []).append(edge.provider)
    depth: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> int:
        if name in depth:
            return depth[name]
        below = [visit(p, (*path, name)) for p in out.get(name, []) if p not in path and p != name]
        depth[name] = 1 + max(below, default=-1)
        return depth[name]

    for name in out:
        visit(name, ())
    top = max(depth.values(), default=0)
    return {name: (top - d) * MAX_COLUMNS // (top + 1) for name, d in depth.items()}


BOX_H, GAP_X, GAP_Y, CHAR_W, MAX_COLUMNS = 46, 110, 40, 7.2, 5


def _simple_svg(nodes: list[GraphNode], edges: list[GraphEdge]) -> str:
    """A layered picture without Graphviz: columns left to right, boxes in file order within a column, straight
    arrows (curved within a column), labels at the middle of each arrow."""
    column = _layers(nodes, edges)
    width = {n.name: max(90, CHAR_W * max(len(line) for line in _node_label(n).splitlines()) + 20) for n in nodes}
    columns: dict[int, list[GraphNode]] = {}
    for node in nodes:
        columns.setdefault(column[node.name], []).append(node)
    col_w = {c: max(width[n.name] for n in members) for c, members in columns.items()}
    x_of, pos = 10.0, {}
    for c in sorted(columns):
        for row, node in enumerate(columns[c]):
            h = BOX_H + 14 * len(node.notes)
            pos[node.name] = (x_of, 10 + row * (BOX_H + GAP_Y + 14 * len(node.notes)), width[node.name], h)
        x_of += col_w[c] + GAP_X
    total_w = int(x_of - GAP_X + 20)
    total_h = int(max((y + h for _, y, _, h in pos.values()), default=0) + 20)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{total_h}" '
             f'viewBox="0 0 {total_w} {total_h}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
             "<defs>" + "".join(f'<marker id="arrow-{slug(v)}" viewBox="0 0 10 10" refX="10" refY="5" '
                                f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                                f'<path d="M0,0L10,5L0,10z" fill="{c}"/></marker>'
                                for v, c in COLOUR.items()) + "</defs>"]
    for edge in edges:
        if edge.consumer not in pos or edge.provider not in pos:
            continue
        (x1, y1, w1, h1), (x2, y2, w2, h2) = pos[edge.consumer], pos[edge.provider]
        colour = COLOUR.get(edge.verdict, "#607d8b")
        if x2 > x1:
            sx, sy, ex, ey = x1 + w1, y1 + h1 / 2, x2, y2 + h2 / 2
            path = f"M{sx:.0f},{sy:.0f} L{ex:.0f},{ey:.0f}"
        else:  # same column or backwards: bow out to the right
            sx, sy, ex, ey = x1 + w1, y1 + h1 / 2, x2 + w2, y2 + h2 / 2
            bend = max(sx, ex) + 60
            path = f"M{sx:.0f},{sy:.0f} C{bend:.0f},{sy:.0f} {bend:.0f},{ey:.0f} {ex:.0f},{ey:.0f}"
        mx, my = (sx + ex) / 2 + (40 if x2 <= x1 else 0), (sy + ey) / 2
        dash = ' stroke-dasharray="5,4"' if edge.verdict == "depends on" else ""
        label = "".join(f'<tspan x="{mx:.0f}" dy="{0 if i == 0 else 12}">{html.escape(line)}</tspan>'
                        for i, line in enumerate(_edge_label(edge).splitlines()))
        parts.append(f'<g class="edge {edge.css}" id="{edge.id}"><title>{html.escape(edge.consumer)} -&gt; '
                     f'{html.escape(edge.provider)}: {html.escape(edge.verdict)}</title>'
                     f'<a href="{html.escape(edge.target or "#contracts")}"><path d="{path}" fill="none" '
                     f'stroke="{colour}" stroke-width="{2.2 if "failed" in edge.css else 1.4}"{dash} '
                     f'marker-end="url(#arrow-{slug(edge.verdict)})"/>'
                     f'<text x="{mx:.0f}" y="{my - 4:.0f}" text-anchor="middle" fill="{colour}" font-size="10">'
                     f"{label}</text></a></g>")
    for node in nodes:
        x, y, w, h = pos[node.name]
        lines = _node_label(node).splitlines()
        text = "".join(f'<tspan x="{x + w / 2:.0f}" dy="{0 if i == 0 else 14}">{html.escape(line)}</tspan>'
                       for i, line in enumerate(lines))
        css = f"node service status-{slug(node.status)}" + (" outside" if node.outside else "")
        dashed = ' stroke-dasharray="4,3"' if node.outside else ""
        parts.append(f'<g class="{css}" id="{node.id}"><title>{html.escape(node.name)}</title>'
                     f'<a href="#row-{node.id}"><rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" '
                     f'rx="6" fill="{FILL.get(node.status, "#ffffff")}" '
                     f'stroke="{"#e65100" if node.notes else "#37474f"}"'
                     f'{dashed}/>'
                     f'<text x="{x + w / 2:.0f}" y="{y + 19:.0f}" text-anchor="middle">{text}</text></a></g>')
    parts.append("</svg>")
    return "".join(parts)
