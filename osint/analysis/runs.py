"""Coordination runs in the store: what one analysis ran with and what it found.

A run keeps its parameters, a fingerprint of the data (rows, highest ids), the co-share pairs
and the network as compressed numpy archives (with the share rows they point into), and every
candidate group with its members' tests. Exports and the report read a run back; they never
recompute with defaults of their own. Results above ``MAX_STORED_PAIRS`` pairs keep only the
parameters and groups; their pairs are recomputed with the run's own parameters, after
checking that the data is still what the run analysed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

import osint
from osint.analyzers.coordination import CoSharePairs
from osint.analyzers.coordination_network import CoordinationNetwork
from osint.analyzers.share_table import ShareTable
from osint.errors import InputError
from osint.storage.kinds import AnalysisStatus
from osint.storage.models import AnalysisRun, AnalysisRunData, AnalysisRunGroup, PostObject

ANALYSIS = "coordination"
MAX_STORED_PAIRS = 5_000_000
PART_BYTES = 256 * 1024 * 1024
NETWORK_COLUMNS = (
    "account_a", "account_b", "weight", "avg_time_delta", "n_content_id", "n_content_id_y",
    "modalities",
)  # fmt: skip


@dataclass(frozen=True)
class StoredGroup:
    """A candidate group as a run stored it (account codes of the run's share table)."""

    rank: int
    flagged: bool
    account_codes: np.ndarray
    details: dict[str, Any]
    title: str
    explanation: str
    p_value: float

    @property
    def size(self) -> int:
        return int(self.account_codes.size)


@dataclass
class StoredRun:
    """A coordination run read back: its parameters, pairs, network and groups."""

    id: int
    case_id: int
    parameters: dict[str, Any]
    summary: dict[str, Any]
    started_at: datetime
    pairs: CoSharePairs | None = None
    network: CoordinationNetwork | None = None
    groups: list[StoredGroup] = field(default_factory=list)


def fingerprint(session: Session, case_id: int) -> dict[str, int]:
    """What the case's share index holds: rows and the highest ids (one scan of its rows)."""
    rows, post, obj, account = session.execute(
        select(
            func.count(),
            func.max(PostObject.post_id),
            func.max(PostObject.object_id),
            func.max(PostObject.account_id),
        ).where(PostObject.case_id == case_id)
    ).one()
    return {
        "shares": int(rows or 0),
        "posts": int(post or 0),
        "objects": int(obj or 0),
        "accounts": int(account or 0),
    }


def _pack(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _unpack(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _save_arrays(session: Session, run_id: int, name: str, arrays: dict[str, np.ndarray]) -> None:
    blob = _pack(arrays)
    for part, start in enumerate(range(0, max(len(blob), 1), PART_BYTES)):
        session.add(
            AnalysisRunData(
                run_id=run_id, name=name, part=part, data=blob[start : start + PART_BYTES]
            )
        )


def _load_arrays(session: Session, run_id: int, name: str) -> dict[str, np.ndarray] | None:
    parts = session.execute(
        select(AnalysisRunData.data)
        .where(AnalysisRunData.run_id == run_id, AnalysisRunData.name == name)
        .order_by(AnalysisRunData.part)
    ).scalars()
    blob = b"".join(parts)
    return _unpack(blob) if blob else None


def start_run(session: Session, case_id: int, parameters: dict[str, Any]) -> AnalysisRun:
    run = AnalysisRun(
        case_id=case_id,
        analysis=ANALYSIS,
        status=AnalysisStatus.RUNNING,
        parameters=parameters,
        summary={},
        fingerprint=fingerprint(session, case_id),
        osint_version=osint.__version__,
    )
    session.add(run)
    session.flush()
    return run


def save_results(
    session: Session,
    run: AnalysisRun,
    pairs: CoSharePairs,
    network: CoordinationNetwork,
    summary: dict[str, Any],
) -> bool:
    """The pairs (with the share rows they point into) and the network; False when there are
    more than ``MAX_STORED_PAIRS`` pairs (then only the parameters and groups are kept)."""
    stored = len(pairs) <= MAX_STORED_PAIRS
    if stored and len(pairs):
        table = pairs.shares
        rows = np.unique(np.concatenate([pairs.row_x, pairs.row_y]))
        position = np.searchsorted(rows, pairs.row_x), np.searchsorted(rows, pairs.row_y)
        modality = table.modality_code[rows] if table.modality_code is not None else None
        _save_arrays(
            session,
            run.id,
            "pairs",
            {
                "object": np.asarray(table.object_labels_of(table.object_code[rows]), np.int64),
                "account": np.asarray(table.account_labels_of(table.account_code[rows]), np.int64),
                "post": np.asarray(table.content_labels_of(table.content_code[rows]), np.int64),
                "time": table.timestamp[rows],
                "modality": np.zeros(rows.size, np.int8) if modality is None else modality,
                "x": position[0].astype(np.int64),
                "y": position[1].astype(np.int64),
            },
        )
        _save_arrays(
            session,
            run.id,
            "network",
            {
                **{c: np.asarray(getattr(network, c)) for c in NETWORK_COLUMNS},
                "account_a": np.asarray(table.account_labels_of(network.account_a), np.int64),
                "account_b": np.asarray(table.account_labels_of(network.account_b), np.int64),
            },
        )
    run.summary = {
        **summary,
        "pairs_stored": stored,
        "pair_bounds": list(pairs.pair_bounds),
        "modality_names": list(pairs.shares.modality_names),
        "object_names": {str(k): v for k, v in pairs.shares.object_names.items()},
        "edge_weight": network.edge_weight,
        "threshold": None if np.isnan(network.threshold) else float(network.threshold),
        "time_window": pairs.time_window,
        "min_participation": pairs.min_participation,
    }
    return stored


def save_groups(session: Session, run: AnalysisRun, groups: list[dict[str, Any]]) -> None:
    for group in groups:
        session.add(AnalysisRunGroup(run_id=run.id, **group))


def finish_run(
    session: Session, run: AnalysisRun, status: AnalysisStatus = AnalysisStatus.DONE
) -> None:
    run.status = status
    run.finished_at = datetime.now(UTC)


def forget_older_runs(session: Session, case_id: int, keep: int = 20) -> None:
    """Keep the case's last ``keep`` coordination runs (their arrays can be large)."""
    ids = session.execute(
        select(AnalysisRun.id)
        .where(AnalysisRun.case_id == case_id, AnalysisRun.analysis == ANALYSIS)
        .order_by(AnalysisRun.id.desc())
        .offset(keep)
    ).scalars()
    old = list(ids)
    if old:
        session.execute(delete(AnalysisRunData).where(AnalysisRunData.run_id.in_(old)))
        session.execute(delete(AnalysisRunGroup).where(AnalysisRunGroup.run_id.in_(old)))
        session.execute(delete(AnalysisRun).where(AnalysisRun.id.in_(old)))


def find_run(session: Session, case_id: int, run_id: int | None = None) -> AnalysisRun:
    """The case's latest finished coordination run, or run ``run_id`` of this case."""
    query = select(AnalysisRun).where(
        AnalysisRun.case_id == case_id,
        AnalysisRun.analysis == ANALYSIS,
        AnalysisRun.status == AnalysisStatus.DONE,
    )
    if run_id is not None:
        query = query.where(AnalysisRun.id == run_id)
    run = session.execute(query.order_by(AnalysisRun.id.desc()).limit(1)).scalar_one_or_none()
    if run is None:
        if run_id is not None:
            raise InputError(
                f"this case has no coordination run {run_id}",
                hint="see the run numbers 'osint analyze coordination' prints, or drop --run",
            )
        raise InputError(
            "this case has no coordination analysis yet",
            hint="run 'osint analyze coordination --case NAME' (or 'osint analyze') first",
        )
    return run


def _table_of(arrays: dict[str, np.ndarray], summary: dict[str, Any]) -> ShareTable:
    names = tuple(summary.get("modality_names") or ("shares",))
    table = ShareTable.from_codes(
        arrays["object"],
        arrays["account"],
        arrays["post"],
        arrays["time"],
        arrays["modality"],
        names,
    )
    object_names = {int(k): v for k, v in (summary.get("object_names") or {}).items()}
    import dataclasses

    return dataclasses.replace(table, object_names=object_names)


def _codes(table: ShareTable, ids: np.ndarray) -> np.ndarray:
    labels = table.account_labels
    return ids if labels is None else np.searchsorted(labels.astype(np.int64), ids)


def read_run(session: Session, run: AnalysisRun) -> StoredRun:
    """The run's arrays and groups, as the analyzers' own shapes."""
    stored = StoredRun(run.id, run.case_id, run.parameters, run.summary, run.started_at)
    pairs_arrays = _load_arrays(session, run.id, "pairs")
    table: ShareTable | None = None
    if pairs_arrays is not None:
        table = _table_of(pairs_arrays, run.summary)
        stored.pairs = CoSharePairs(
            table,
            np.arange(len(table), dtype=np.int64),
            pairs_arrays["x"],
            pairs_arrays["y"],
            tuple(int(b) for b in run.summary["pair_bounds"]),
            int(run.summary["time_window"]),
            int(run.summary["min_participation"]),
        )
        edges = _load_arrays(session, run.id, "network")
        if edges is not None:
            threshold = run.summary.get("threshold")
            stored.network = CoordinationNetwork(
                table,
                _codes(table, edges["account_a"]),
                _codes(table, edges["account_b"]),
                edges["weight"],
                edges["avg_time_delta"],
                edges["n_content_id"],
                edges["n_content_id_y"],
                float(run.summary["edge_weight"]),
                float("nan") if threshold is None else float(threshold),
                edges["modalities"],
            )
    groups = session.execute(
        select(AnalysisRunGroup)
        .where(AnalysisRunGroup.run_id == run.id)
        .order_by(AnalysisRunGroup.rank)
    ).scalars()
    for group in groups:
        members = np.array(
            [
                int(m["account"])
                for m in group.details.get("members", [])
                if isinstance(m["account"], int)
            ],
            dtype=np.int64,
        )
        codes = _codes(table, members) if table is not None else members
        stored.groups.append(
            StoredGroup(
                group.rank,
                group.flagged,
                codes,
                group.details,
                group.title,
                group.explanation,
                group.p_value,
            )
        )
    return stored


def check_unchanged(session: Session, run: AnalysisRun) -> None:
    """Refuse to recompute a run's pairs when the case's data changed since it ran."""
    now = fingerprint(session, run.case_id)
    if now != run.fingerprint:
        raise InputError(
            f"coordination run {run.id} kept no pairs (more than {MAX_STORED_PAIRS:,}) and the "
            "case's data changed since it ran",
            hint="run 'osint analyze coordination' again to analyse the current data",
        )
