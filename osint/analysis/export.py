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

from osint.analysis import runs
from osint.analysis.coordination_pass import (
    CoordinationResult,
    compute_coordination,
    options_from_record,
)
from osint.analysis.timeline_pass import account_signal_summary
from osint.analyzers.coordination import CoSharePairs, generate_coordinated_network
from osint.analyzers.share_table import ShareTable
from osint.cases import get_case
from osint.errors import InputError
from osint.graphfiles import write_network
from osint.storage.db import Store
from osint.storage.kinds import FindingKind
from osint.storage.models import Account, Finding, FindingEvidence, Media, Post, SharedObject
from osint.storage.queries import select_in
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


def _lookup(
    session: Session, column_id: Any, columns: tuple[Any, ...], ids: Iterable[int]
) -> dict[int, tuple[Any, ...]]:
    wanted = sorted({int(i) for i in ids})
    found: dict[int, tuple[Any, ...]] = {}
    rows = select_in(
        session, lambda batch: select(column_id, *columns).where(column_id.in_(batch)), wanted
    )
    found.update({row[0]: tuple(row[1:]) for row in rows})
    return found


def export_findings(
    store: Store,
    case_name: str,
    out: TextIO,
    *,
    run: int | None = None,
    include_all: bool = False,
) -> int:
    """One JSON object a line per finding of the case, strongest first; returns the count.

    With ``run``, the coordination findings are those of that stored run (the others are
    the case's current ones); with ``include_all``, the run's candidate groups that were not
    flagged follow, each labelled ``"flagged": false``."""
    with store.reader() as session:
        case = get_case(session, case_name)
        query = (
            select(Finding)
            .where(Finding.case_id == case.id)
            .order_by(Finding.score.desc(), Finding.id)
        )
        findings = list(session.execute(query).scalars())
        stored = None
        if run is not None or include_all:
            stored = runs.read_run(session, runs.find_run(session, case.id, run))
            if run is not None:
                findings = [
                    f
                    for f in findings
                    if f.analysis != "coordination" or f.details.get("run") == run
                ]
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
            if finding.analysis == "coordination":
                record["flagged"] = True
            out.write(jsonl_line(record))
        count = len(findings)
        if stored is not None:
            count += _write_run_groups(session, stored, out, include_all=include_all, have=findings)
    return count


def _write_run_groups(
    session: Session, stored: runs.StoredRun, out: TextIO, *, include_all: bool, have: list[Finding]
) -> int:
    """A run's groups that are not among the case's findings: its flagged groups when their
    findings were replaced by a later run, and with ``include_all`` its unflagged candidates."""
    present = {f.details.get("run") for f in have if f.analysis == "coordination"}
    wanted = [
        g for g in stored.groups
        if (not g.flagged and include_all) or (g.flagged and stored.id not in present)
    ]  # fmt: skip
    ids = [
        int(m["account"])
        for g in wanted
        for m in g.details.get("members", [])
        if isinstance(m["account"], int)
    ]
    accounts = _lookup(
        session, Account.id, (Account.platform, Account.platform_id, Account.handle), ids
    )
    for group in wanted:
        members = [
            int(m["account"])
            for m in group.details.get("members", [])
            if isinstance(m["account"], int)
        ]
        record = {
            "kind": FindingKind.COORDINATED_GROUP
            if group.flagged
            else FindingKind.COORDINATED_GROUP_CANDIDATE,
            "analysis": "coordination",
            "flagged": group.flagged,
            "run": stored.id,
            "title": group.title,
            "explanation": group.explanation,
            "p_value": group.p_value,
            "accounts": [
                {"platform": p, "account_id": pid, "handle": h}
                for p, pid, h in (accounts[a] for a in members if a in accounts)
            ],
            "details": group.details,
        }
        out.write(jsonl_line(record))
    return len(wanted)


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


def stored_result(
    session: Session, case_id: int, run_id: int | None = None, expect: dict[str, Any] | None = None
) -> CoordinationResult:
    """The pairs, network and groups of a stored coordination run (the latest by default).

    ``expect`` (parameter -> value, e.g. ``{"window": 60}``) must match what the run used:
    an export never silently shows another analysis than the one asked for. A run too large
    to keep its pairs is recomputed with its own parameters, when the data is unchanged."""
    run = runs.find_run(session, case_id, run_id)
    for name, value in (expect or {}).items():
        used = run.parameters.get(name)
        if value is not None and used != value:
            raise InputError(
                f"coordination run {run.id} used {name.replace('_', '-')} {used}, not {value}",
                hint=f"run 'osint analyze coordination --{name.replace('_', '-')} {value}' "
                "first, or drop the option to export the run as it was",
            )
    stored = runs.read_run(session, run)
    if stored.pairs is not None and stored.network is not None:
        return CoordinationResult(stored.pairs, stored.network, {}, stored.groups, [], run.id)
    if not run.summary.get("pairs_stored", True):
        runs.check_unchanged(session, run)
        result = compute_coordination(session, case_id, options_from_record(run.parameters))
        result.groups, result.run_id = stored.groups, run.id
        return result
    nothing = np.empty(0, np.int64)
    table = ShareTable.from_codes(nothing, nothing, nothing, nothing)
    empty = CoSharePairs(table, nothing, nothing, nothing, (0, 0), 0, 0)
    return CoordinationResult(
        empty, generate_coordinated_network(empty), {}, stored.groups, [], run.id
    )


def export_pairs(
    store: Store,
    case_name: str,
    out: TextIO,
    *,
    run: int | None = None,
    expect: dict[str, Any] | None = None,
) -> int:
    """The co-share pairs of a stored run as CSV (CooRTweet's columns + modality); rows."""
    with store.reader() as session:
        case = get_case(session, case_name)
        result = stored_result(session, case.id, run, expect)
        count = write_rows(out, PAIR_COLUMNS, iter_pair_rows(session, result))
    return count


def network_graph(session: Session, case_id: int, result: CoordinationResult) -> nx.Graph:
    """The combined account network with Gephi-friendly node and edge attributes."""
    network, table = result.network, result.pairs.shares
    names = _Names(session, result)
    community = {
        int(code): rank + 1
        for rank, g in enumerate(g for g in result.groups if g.flagged)
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
    store: Store,
    case_name: str,
    fmt: str,
    out: TextIO,
    *,
    run: int | None = None,
    expect: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """Write the network as GraphML, GEXF or an edge CSV; returns (accounts, edges)."""
    if fmt not in NETWORK_FORMATS:
        raise InputError(
            f"unknown network format {fmt!r}", hint=f"use one of {', '.join(NETWORK_FORMATS)}"
        )
    with store.reader() as session:
        case = get_case(session, case_name)
        result = stored_result(session, case.id, run, expect)
        graph = network_graph(session, case.id, result)
    write_network(graph, fmt, out, EDGE_COLUMNS)
    return graph.number_of_nodes(), graph.number_of_edges()
