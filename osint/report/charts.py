"""Charts as inline SVG, generated in Python: posting timelines and the coordination network.

Inline SVG needs no script and no network to display, and prints well. Every label is hostile
text: it is passed through :func:`~osint.report.safe.show_controls` and escaped before it goes
into the markup; every number is formatted by us.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import networkx as nx
from markupsafe import Markup, escape

from osint.report.safe import show_controls

# Colour-blind-safe palette (Okabe-Ito, then Tol's muted), one colour per community.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#882255",
    "#117733",
    "#999933",
    "#332288",
)
OTHER_COLOUR = "#9a9a9a"
_BUCKETS = (
    (3600, "hour"),
    (3 * 3600, "3 hours"),
    (6 * 3600, "6 hours"),
    (86400, "day"),
    (7 * 86400, "week"),
    (30 * 86400, "30 days"),
    (365 * 86400, "year"),
)
MAX_BUCKETS = 150


def _text(value: str) -> str:
    return str(escape(show_controls(value)))


@dataclass(frozen=True)
class TimelineRow:
    label: str
    kind: str  # "group" or "account"
    times: Sequence[float]  # epoch seconds of each post


def bucket_size(span_seconds: float) -> tuple[int, str]:
    """The smallest bucket (hour, day, week, ...) that keeps the chart under MAX_BUCKETS bars."""
    for seconds, name in _BUCKETS:
        if span_seconds / seconds <= MAX_BUCKETS:
            return seconds, name
    return _BUCKETS[-1]


def timeline_svg(rows: Sequence[TimelineRow], *, width: int = 960) -> Markup:
    """Posting activity per row (account or group) as bars per time bucket, one strip per row."""
    all_times = [t for row in rows for t in row.times]
    if not all_times:
        return Markup('<p class="muted">No posts to chart.</p>')
    start, end = min(all_times), max(all_times)
    size, size_name = bucket_size(end - start)
    start = start - start % size
    n_buckets = int((end - start) // size) + 1
    label_w, row_h, top = 210, 22, 34
    plot_w = width - label_w - 10
    bar_w = plot_w / n_buckets
    height = top + row_h * len(rows) + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>Posts per {size_name}, per group and account</title>",
    ]
    parts.extend(_time_axis(start, n_buckets, size, label_w, bar_w, top, height))
    for index, row in enumerate(rows):
        y = top + index * row_h
        counts: dict[int, int] = {}
        for t in row.times:
            slot = int((t - start) // size)
            counts[slot] = counts.get(slot, 0) + 1
        peak = max(counts.values(), default=1)
        colour = "#b2182b" if row.kind == "group" else "#2166ac"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + row_h - 7}" text-anchor="end" class="lbl">'
            f"{_text(_clip(row.label, 30))}</text>"
        )
        parts.append(
            f'<line x1="{label_w}" x2="{width - 10}" y1="{y + row_h - 2}" y2="{y + row_h - 2}" '
            'stroke="#ddd"/>'
        )
        for slot, count in sorted(counts.items()):
            bar_h = max(1.5, (row_h - 5) * count / peak)
            when = datetime.fromtimestamp(start + slot * size, UTC).strftime("%Y-%m-%d %H:%M")
            parts.append(
                f'<rect x="{label_w + slot * bar_w:.1f}" y="{y + row_h - 2 - bar_h:.1f}" '
                f'width="{max(bar_w - 0.5, 0.8):.1f}" height="{bar_h:.1f}" fill="{colour}">'
                f"<title>{_text(row.label)}: {count:,} posts, {size_name} from {when} UTC"
                "</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every label was escaped above)


def _time_axis(
    start: float, n_buckets: int, size: int, label_w: int, bar_w: float, top: int, height: int
) -> list[str]:
    fmt = "%Y-%m-%d %H:%M" if size < 86400 else "%Y-%m-%d"
    ticks = min(6, n_buckets)
    parts = []
    for i in range(ticks):
        slot = round(i * (n_buckets - 1) / max(ticks - 1, 1))
        x = label_w + slot * bar_w
        label = datetime.fromtimestamp(start + slot * size, UTC).strftime(fmt)
        # the first label starts at its tick, the last one ends there: none runs off the chart
        anchor = "start" if i == 0 else "end" if i == ticks - 1 else "middle"
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{height - 6}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{top - 10}" text-anchor="{anchor}" class="tick">{label}</text>'
        )
    return parts


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Community:
    colour: str
    members: list[str]  # node labels, sorted


@dataclass(frozen=True)
class NetworkPicture:
    svg: Markup
    communities: list[Community]  # largest first
    nodes: int
    edges: int
    nodes_dropped: int
    labels_hidden: int = 0


def network_svg(graph: nx.Graph, *, max_nodes: int = 300) -> NetworkPicture:
    """The graph drawn with a spring layout, nodes coloured by Louvain community.

    Nodes carry a ``label`` attribute; edges an optional ``weight``. Beyond ``max_nodes`` only the
    best-connected nodes are drawn (the caption says how many were left out).
    """
    dropped = 0
    if graph.number_of_nodes() > max_nodes:
        keep = sorted(graph.degree(weight="weight"), key=lambda nd: (-nd[1], str(nd[0])))
        kept = {node for node, _ in keep[:max_nodes]}
        dropped = graph.number_of_nodes() - len(kept)
        graph = graph.subgraph(kept).copy()
    if graph.number_of_nodes() == 0:
        return NetworkPicture(Markup(""), [], 0, 0, dropped)
    communities = sorted(
        nx.community.louvain_communities(graph, weight="weight", seed=7),
        key=lambda c: (-len(c), min(str(n) for n in c)),
    )
    colour_of = {
        node: PALETTE[i] if i < len(PALETTE) else OTHER_COLOUR
        for i, members in enumerate(communities)
        for node in members
    }
    placed_at, width, height = component_layout(graph)

    def xy(node: object) -> tuple[float, float]:
        return placed_at[node]

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        'font-family="sans-serif" font-size="11">'  # the size place_labels measures with
        "<title>Coordination network</title>"
    ]
    for a, b, attrs in graph.edges(data=True):
        (x1, y1), (x2, y2) = xy(a), xy(b)
        stroke = min(0.6 + float(attrs.get("weight", 1.0)) * 0.4, 4.0)
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#888" '
            f'stroke-opacity="0.5" stroke-width="{stroke:.1f}"/>'
        )
    for node, attrs in graph.nodes(data=True):
        x, y = xy(node)
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour_of[node]}" stroke="#fff">'
            f"<title>{_text(str(attrs.get('label', node)))}</title></circle>"
        )
    placed = place_labels(graph, xy, width, height) if graph.number_of_nodes() <= 150 else {}
    for node, (lx, ly, anchor) in placed.items():
        label = _clip(str(graph.nodes[node].get("label", node)), LABEL_CHARS)
        parts.append(
            f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" class="lbl">'
            f"{_text(label)}</text>"
        )
    parts.append("</svg>")
    labels = [
        Community(
            PALETTE[i] if i < len(PALETTE) else OTHER_COLOUR,
            sorted(str(graph.nodes[n].get("label", n)) for n in members),
        )
        for i, members in enumerate(communities)
    ]
    return NetworkPicture(
        Markup("".join(parts)),  # noqa: S704 (every label was escaped above)
        labels,
        graph.number_of_nodes(),
        graph.number_of_edges(),
        dropped,
        graph.number_of_nodes() - len(placed),
    )


LABEL_CHARS = 24
MAX_WIDTH = 1000  # px: the report's column
_LABEL_PAD = 95  # px beside each component for the labels of its outer nodes
_NODE_SPACE = 40  # px of radius per sqrt(node): room for a label beside every node


def component_layout(graph: nx.Graph) -> tuple[dict[object, tuple[float, float]], float, float]:
    """Each connected component laid out on its own (spring layout) and scaled to its size,
    then packed in rows, largest first: small groups are not lost in the space between
    large ones, and every component has room for its labels."""
    components = sorted(
        nx.connected_components(graph), key=lambda c: (-len(c), min(str(n) for n in c))
    )
    where: dict[object, tuple[float, float]] = {}
    x = y = row_height = width = 0.0
    for members in components:
        sub = graph.subgraph(members)
        radius = _NODE_SPACE * len(members) ** 0.5 if len(members) > 1 else 0.0
        cell_w, cell_h = 2 * radius + 2 * _LABEL_PAD, 2 * radius + 50
        if x > 0 and x + cell_w > MAX_WIDTH:
            x, y, row_height = 0.0, y + row_height, 0.0
        if len(members) > 1:
            positions = nx.rescale_layout_dict(
                # k above networkx's 1/sqrt(n): dense groups spread out, so labels fit
                nx.spring_layout(
                    sub, seed=7, weight=None, k=2.5 / len(members) ** 0.5, iterations=200
                ),
                scale=1.0,
            )
        else:
            positions = {next(iter(members)): (0.0, 0.0)}
        for node, (px, py) in positions.items():
            where[node] = (x + cell_w / 2 + float(px) * radius, y + cell_h / 2 + float(py) * radius)
        x += cell_w
        width, row_height = max(width, x), max(row_height, cell_h)
    return where, width, y + row_height


_CHAR_W, _LABEL_H, _NODE_R = 6.4, 12.0, 7.0  # 11px sans-serif, generously
Box = tuple[float, float, float, float]


def _overlaps(box: Box, others: list[Box]) -> bool:
    x1, y1, x2, y2 = box
    return any(x1 < b[2] and b[0] < x2 and y1 < b[3] and b[1] < y2 for b in others)


def place_labels(
    graph: nx.Graph, xy: Callable[[object], tuple[float, float]], width: float, height: float
) -> dict[object, tuple[float, float, str]]:
    """Where each node's label goes (x, baseline y, anchor) so that no two labels overlap and
    none covers a node; best-connected nodes first. A label with no free place is left out
    (its node keeps the name as a tooltip, and the legend lists every account)."""
    taken: list[Box] = []
    for node in graph.nodes:
        x, y = xy(node)
        taken.append((x - _NODE_R, y - _NODE_R, x + _NODE_R, y + _NODE_R))
    placed: dict[object, tuple[float, float, str]] = {}
    order = sorted(graph.degree(weight="weight"), key=lambda nd: (-nd[1], str(nd[0])))
    for node, _ in order:
        x, y = xy(node)
        text = _clip(str(graph.nodes[node].get("label", node)), LABEL_CHARS)
        w = len(text) * _CHAR_W
        candidates = (
            ((x + 9, y - 6, x + 9 + w, y + 6), (x + 9, y + 4, "start")),
            ((x - 9 - w, y - 6, x - 9, y + 6), (x - 9, y + 4, "end")),
            ((x - w / 2, y - 9 - _LABEL_H, x + w / 2, y - 9), (x, y - 11, "middle")),
            ((x - w / 2, y + 9, x + w / 2, y + 9 + _LABEL_H), (x, y + 19, "middle")),
        )
        for box, where in candidates:
            inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
            if inside and not _overlaps(box, taken):
                taken.append(box)
                placed[node] = where
                break
    return placed
