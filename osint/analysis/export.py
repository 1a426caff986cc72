"""Exports of a case's analysis: findings (JSON lines), co-share pairs (CSV), networks.

Ids are the ones the investigator knows: account and post ids as imported or collected, object
keys as shared; never the store's internal row ids. Networks open in Gephi (GraphML, GEXF) with
each account's handle, community (coordinated group), creation date and timeline signals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import networkx as nx
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from osint.analysis.coordination import (
    CoordinationOptions,
    CoordinationResult,
    compute_coordination,
)
from osint.analysis.timeline import account_signal_summary
from osint.cases import get_case
from osint.errors import InputError
from osint.graphfiles import write_network
from osint.storage.db import Store
from osint.storage.models import Account, Finding, FindingEvidence, Media, Post, SharedObject
from osint.writers import jsonl_line, utc_iso, write_rows

NETWORK_FORMATS = ("graphml", "gexf", "csv")
PAIR_COLUMNS = (
    "object_id",
    "account_id",
    "account_id_y",
    "content_id",
    "content_id_y",
    "time_delta",
    "modality",
)
EDGE_COLUMNS = (
    "account_id", "account_id_y", "handle", "handle_y", "weight", "avg_time_delta", "n_content_id",
    "n_content_id_y", "edge_symmetry_score", "weight_threshold", "modality",
)  # fmt: skip
_CHUNK = 5_000


def _lookup(
    session: Session, column_id: Any, columns: tuple[Any, ...], ids: Iterable[int]
) -> dict[int, tuple[Any, ...]]:
    wanted = sorted({int(i) for i in ids})
    found: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = session.execute(
            select(column_id, *columns).where(column_id.in_(wanted[start : start + _CHUNK]))
        )
        found.update({row[0]: tuple(row[1:]) for row in rows})
    return found


def export_findings(store: Store, case_name: str, out: TextIO) -> int:
    """One JSON object a line per finding of the case, strongest first; returns the count."""
    with store.reader() as session:
        case = get_case(session, case_name)
        query = (
            select(Finding)
            .where(Finding.case_id == case.id)
            .order_by(Finding.score.desc(), Finding.id)
        )
        findings = list(session.execute(query).scalars())
        evidence = session.execute(
            select(FindingEvidence).where(FindingEvidence.finding_id.in_([f.id for f in findings]))
        ).scalars()
        by_finding: dict[int, list[FindingEvidence]] = defaultdict(list)
        for item in evidence:
            by_finding[item.finding_id].append(item)
        items = [e for f in findings for e in by_finding[f.id]]
        accounts = _lookup(session, Account.id, (Account.platform, Account.platform_id, Account.handle),
                           (e.account_id for e in items if e.account_id))  # fmt: skip
        posts = _lookup(session, Post.id, (Post.platform, Post.platform_id, Post.url),
                        (e.post_id for e in items if e.post_id))  # fmt: skip
        media = _lookup(
            session, Media.id, (Media.sha256,), (e.media_id for e in items if e.media_id)
        )
        for finding in findings:
            rows = by_finding[finding.id]
            record = {
                "kind": finding.kind,
                "analysis": finding.analysis,
                "score": finding.score,
                "title": finding.title,
                "explanation": finding.explanation,
                "accounts": [
                    {"platform": p, "account_id": pid, "handle": h}
                    for p, pid, h in (
                        accounts[e.account_id] for e in rows if e.account_id in accounts
                    )
                ],
                "posts": [
                    {"platform": p, "post_id": pid, "url": u}
                    for p, pid, u in (posts[e.post_id] for e in rows if e.post_id in posts)
                ],
                "media": [{"sha256": media[e.media_id][0]} for e in rows if e.media_id in media],
                "details": finding.details,
                "created_at": utc_iso(finding.created_at),
            }
            out.write(jsonl_line(record))
    return len(findings)


class _Names:
    """Store ids -> the ids as imported, for the rows of one result."""

    def __init__(self, session: Session, result: CoordinationResult) -> None:
        table = result.pairs.shares
        pairs = result.pairs
        account_ids = table.account_labels_of(result.network.accounts())
        self.accounts = _lookup(
            session,
            Account.id,
            (Account.platform_id, Account.handle),
            np.asarray(account_ids).tolist(),
        )
        self.objects = _lookup(session, SharedObject.id, (SharedObject.key,),
                               np.asarray(table.object_labels_of(np.unique(pairs.object_code))).tolist() if len(pairs) else [])  # fmt: skip
        self.table = table

    def object(self, label: int) -> str:
        found = self.objects.get(int(label))
        return str(found[0]) if found else self.table.object_names.get(int(label), str(label))

    def account(self, code: int) -> str:
        return str(
            self.accounts.get(int(self.table.account_labels_of(np.array([code]))[0]), ("?",))[0]
        )

    def handle(self, code: int) -> str:
        found = self.accounts.get(int(self.table.account_labels_of(np.array([code]))[0]))
        return str(found[1] or found[0]) if found else "?"


def iter_pair_rows(session: Session, result: CoordinationResult) -> Iterator[list[object]]:
    """CooRTweet's detect_groups table with the ids as imported, plus the modality."""
    pairs = result.pairs
    table = pairs.shares
    names = _Names(session, result)
    for start in range(0, len(pairs), 50_000):
        stop = min(start + 50_000, len(pairs))
        rows_x, rows_y = pairs.row_x[start:stop], pairs.row_y[start:stop]
        post_ids = np.concatenate([table.content_labels_of(table.content_code[rows_x]),
                                   table.content_labels_of(table.content_code[rows_y])])  # fmt: skip
        posts = _lookup(session, Post.id, (Post.platform_id,), post_ids.tolist())
        object_ids = table.object_labels_of(table.object_code[rows_x]).tolist()
        for i in range(stop - start):
            row_x, row_y = rows_x[i], rows_y[i]
            yield [
                names.object(object_ids[i]),
                names.account(table.account_code[row_x]),
                names.account(table.account_code[row_y]),
                posts[int(post_ids[i])][0],
                posts[int(post_ids[i + stop - start])][0],
                int(pairs.time_delta[start + i]),
                table.modality_names[int(pairs.modality[start + i])],
            ]


def export_pairs(store: Store, case_name: str, options: CoordinationOptions, out: TextIO) -> int:
    """The co-share pairs as CSV (CooRTweet's columns + modality); returns the row count."""
    with store.reader() as session:
        case = get_case(session, case_name)
        result = compute_coordination(session, case.id, options)
        count = write_rows(out, PAIR_COLUMNS, iter_pair_rows(session, result))
    return count


def network_graph(session: Session, case_id: int, result: CoordinationResult) -> nx.Graph:
    """The combined account network with Gephi-friendly node and edge attributes."""
    network, table = result.network, result.pairs.shares
    names = _Names(session, result)
    community = {
        int(code): rank + 1
        for rank, g in enumerate(result.groups)
        if g.score >= 0.5
        for code in g.account_codes
    }
    store_ids = [int(v) for v in table.account_labels_of(network.accounts())]
    created = _lookup(
        session, Account.id, (Account.created_at_platform, Account.platform), store_ids
    )
    signals = account_signal_summary(session, case_id)
    graph = nx.Graph()
    for code, store_id in zip(network.accounts().tolist(), store_ids, strict=True):
        when, platform = created.get(store_id, (None, ""))
        graph.add_node(
            names.account(code), label=names.handle(code), handle=names.handle(code), platform=platform,
            community=community.get(code, 0), created_at=when.isoformat() if when else "",
            signals=signals.get(store_id, ""),
        )  # fmt: skip
    symmetry, flags = network.edge_symmetry_score, network.weight_threshold
    for i in range(network.n_edges):
        a, b = int(network.account_a[i]), int(network.account_b[i])
        graph.add_edge(
            names.account(a), names.account(b), weight=int(network.weight[i]),
            avg_time_delta=float(network.avg_time_delta[i]), n_content_id=int(network.n_content_id[i]),
            n_content_id_y=int(network.n_content_id_y[i]), edge_symmetry_score=float(symmetry[i]),
            weight_threshold=int(flags[i]), modality=",".join(network.modality_names_of(int(network.modalities[i]))),
        )  # fmt: skip
    return graph


def export_network(
    store: Store, case_name: str, options: CoordinationOptions, fmt: str, out: TextIO
) -> tuple[int, int]:
    """Write the network as GraphML, GEXF or an edge CSV; returns (accounts, edges)."""
    if fmt not in NETWORK_FORMATS:
        raise InputError(
            f"unknown network format {fmt!r}", hint=f"use one of {', '.join(NETWORK_FORMATS)}"
        )
    with store.reader() as session:
        case = get_case(session, case_name)
        result = compute_coordination(session, case.id, options)
        graph = network_graph(session, case.id, result)
    write_network(graph, fmt, out, EDGE_COLUMNS)
    return graph.number_of_nodes(), graph.number_of_edges()
