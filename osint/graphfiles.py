"""Networks as files other tools open: GraphML, GEXF (Gephi) and an edge-list CSV.

Account names are chosen by the accounts under study, so they may hold characters XML 1.0 cannot
carry (U+0000-U+001F except tab, LF and CR; U+FFFE, U+FFFF; lone surrogates): one such name
would make the whole file unreadable to networkx, igraph, lxml or Gephi. Every string (node ids,
labels, attribute values) is written with those characters shown as ``[U+XXXX]``, the report's
marker; node ids stay distinct. GEXF is GEXF 1.2draft as networkx writes it, minus the empty
``name`` attribute of ``<graph>`` that its schema does not allow; it validates against the
schema it declares.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any, TextIO

import networkx as nx
from networkx.readwrite.gexf import GEXFWriter

from osint.writers import write_rows

GEXF_VERSION = "1.2draft"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: str) -> str:
    """The text with every character XML 1.0 cannot hold shown as ``[U+XXXX]``."""
    return _NOT_XML.sub(lambda m: f"[U+{ord(m.group()):04X}]", value)


def _safe_value(value: Any) -> Any:
    return xml_safe(value) if isinstance(value, str) else value


def xml_safe_graph(graph: nx.Graph) -> nx.Graph:
    """A copy of the graph whose ids and string attributes all fit in XML 1.0."""
    names: dict[Any, Any] = {}
    taken: set[Any] = set()
    for node in graph.nodes:
        name = _safe_value(node)
        if name != node or name in taken:
            base, n = name, 1
            while name in taken or (name != node and name in graph):
                n += 1
                name = f"{base}#{n}"
        names[node] = name
        taken.add(name)
    safe = graph.__class__()
    safe.graph.update({k: _safe_value(v) for k, v in graph.graph.items()})
    for node, attrs in graph.nodes(data=True):
        safe.add_node(names[node], **{k: _safe_value(v) for k, v in attrs.items()})
    for a, b, attrs in graph.edges(data=True):
        safe.add_edge(names[a], names[b], **{k: _safe_value(v) for k, v in attrs.items()})
    return safe


def graphml_bytes(graph: nx.Graph) -> bytes:
    buffer = io.BytesIO()
    nx.write_graphml(xml_safe_graph(graph), buffer, encoding="utf-8")
    return buffer.getvalue()


def gexf_bytes(graph: nx.Graph) -> bytes:
    writer = GEXFWriter(encoding="utf-8", prettyprint=True, version=GEXF_VERSION)
    writer.add_graph(xml_safe_graph(graph))
    element = writer.xml.find("graph")
    if element is not None and not element.get("name"):
        element.attrib.pop("name", None)  # gexf.xsd has no such attribute
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write_edge_csv(
    graph: nx.Graph, out: TextIO, columns: Sequence[str], *, node_columns: Sequence[str] = ()
) -> int:
    """One row per edge: the two node ids, ``node_columns`` of each end, then edge attributes."""
    rows = (
        [a, b]
        + [graph.nodes[n].get(c) for c in node_columns for n in (a, b)]
        + [data.get(c) for c in columns[2 + 2 * len(node_columns) :]]
        for a, b, data in graph.edges(data=True)
    )
    return write_rows(out, columns, rows)


def write_network(graph: nx.Graph, fmt: str, out: TextIO, columns: Sequence[str] = ()) -> None:
    """The graph as ``graphml``, ``gexf`` or an edge ``csv`` (with these columns)."""
    if fmt == "csv":
        write_edge_csv(graph, out, columns, node_columns=("handle",))
        return
    data = graphml_bytes(graph) if fmt == "graphml" else gexf_bytes(graph)
    out.write(data.decode("utf-8"))
