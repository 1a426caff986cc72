"""Charts as inline SVG, generated in Python: posting timelines and the coordination network.

Inline SVG needs no script and no network to display, and prints well. Every label is hostile
text: it is passed through :func:`~osint.report.safe.show_controls` and escaped before it goes
into the markup; every number is formatted by us.
"""

from __future__ import annotations

from collections.abc import Sequence
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
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 6}" y2="{height - 6}" stroke="#eee"/>'
            f'<text x="{x:.1f}" y="{top - 10}" class="tick">{label}</text>'
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
    positions = nx.spring_layout(graph, seed=7, weight="weight")
    nodes = graph.number_of_nodes()
    size = 360 if nodes <= 12 else 560 if nodes <= 80 else 760
    margin, label_room = 30, 170  # room on the right for the rightmost node's label
    scale = (size - 2 * margin) / 2
    width = size + label_room

    def xy(node: object) -> tuple[float, float]:
        px, py = positions[node]
        return margin + (px + 1) * scale, margin + (py + 1) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{width}" height="{size}" '
        f'viewBox="0 0 {width} {size}" role="img"><title>Coordination network</title>'
    ]
    for a, b, attrs in graph.edges(data=True):
        (x1, y1), (x2, y2) = xy(a), xy(b)
        stroke = min(0.6 + float(attrs.get("weight", 1.0)) * 0.4, 4.0)
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#888" '
            f'stroke-opacity="0.5" stroke-width="{stroke:.1f}"/>'
        )
    show_labels = graph.number_of_nodes() <= 60
    for node, attrs in graph.nodes(data=True):
        x, y = xy(node)
        label = str(attrs.get("label", node))
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" fill="{colour_of[node]}" stroke="#fff">'
            f"<title>{_text(label)}</title></circle>"
        )
        if show_labels:
            parts.append(
                f'<text x="{x + 8:.1f}" y="{y + 4:.1f}" class="lbl">{_text(_clip(label, 24))}</text>'
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
    )
