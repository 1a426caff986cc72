"""A case's rows, table by table, as plain JSON-ready dicts: what bundles export as JSONL and CSV.

Rows stream from the database in batches (``yield_per``), so exporting 100,000 posts holds a few
thousand in memory at a time. Values become JSON types: times ISO 8601 UTC, JSON columns as they
are; in CSV, lists and dicts are written as JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, select, union
from sqlalchemy.orm import Session

from storage.models import (
    Account,
    AccountSnapshot,
    Capture,
    Case,
    CollectionRun,
    Event,
    Finding,
    FindingEvidence,
    ImageClusterMember,
    ImageHash,
    Media,
    Post,
    PostMedia,
    PostVersion,
)

BATCH = 2000


def case_media_ids(case_id: int) -> Any:
    """Every media id the case refers to: attachments, avatars, evidence, image clusters."""
    return union(
        select(PostMedia.media_id)
        .join(Post, Post.id == PostMedia.post_id)
        .where(Post.case_id == case_id, PostMedia.media_id.is_not(None)),
        select(AccountSnapshot.avatar_media_id)
        .join(Account, Account.id == AccountSnapshot.account_id)
        .where(Account.case_id == case_id, AccountSnapshot.avatar_media_id.is_not(None)),
        select(FindingEvidence.media_id)
        .join(Finding, Finding.id == FindingEvidence.finding_id)
        .where(Finding.case_id == case_id, FindingEvidence.media_id.is_not(None)),
        select(ImageClusterMember.media_id).where(ImageClusterMember.case_id == case_id),
    )


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def _scoped(model: Any, case_id: int) -> Select[Any]:
    table = _table(model)
    stmt = select(table)
    if model is Case:
        return stmt.where(table.c.id == case_id)
    if model in (AccountSnapshot,):
        return stmt.join(Account, Account.id == table.c.account_id).where(
            Account.case_id == case_id
        )
    if model in (PostVersion, PostMedia):
        return stmt.join(Post, Post.id == table.c.post_id).where(Post.case_id == case_id)
    if model is FindingEvidence:
        return stmt.join(Finding, Finding.id == table.c.finding_id).where(
            Finding.case_id == case_id
        )
    if model is Media:
        return stmt.where(table.c.id.in_(case_media_ids(case_id)))
    if model is ImageHash:
        return stmt.where(table.c.media_id.in_(case_media_ids(case_id)))
    return stmt.where(table.c.case_id == case_id)


@dataclass(frozen=True)
class ExportTable:
    name: str  # file stem in the bundle: data/<name>.jsonl and .csv
    model: Any
    description: str

    @property
    def columns(self) -> list[str]:
        return [c.name for c in _table(self.model).columns]


EXPORT_TABLES: tuple[ExportTable, ...] = (
    ExportTable("case", Case, "the case itself"),
    ExportTable("collection_runs", CollectionRun, "every collection, import and monitoring run"),
    ExportTable("captures", Capture, "every fetch: URL, time, status, SHA-256, WARC location"),
    ExportTable("accounts", Account, "accounts of the case"),
    ExportTable("account_snapshots", AccountSnapshot, "profile history, one row per change"),
    ExportTable("posts", Post, "posts, with the capture each was read from"),
    ExportTable("post_versions", PostVersion, "every distinct text of a post (edits)"),
    ExportTable("post_media", PostMedia, "attachments of posts"),
    ExportTable("media", Media, "media files by SHA-256 (the bytes are in media/)"),
    ExportTable("image_hashes", ImageHash, "perceptual hashes of the media"),
    ExportTable("image_cluster_members", ImageClusterMember, "clusters of copies of a picture"),
    ExportTable("findings", Finding, "findings of the analyses, with their explanation"),
    ExportTable("finding_evidence", FindingEvidence, "accounts, posts and media behind findings"),
    ExportTable("events", Event, "changes seen by monitoring"),
)


def json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def iter_rows(session: Session, table: ExportTable, case_id: int) -> Iterator[dict[str, Any]]:
    """The case's rows of one table, as JSON-ready dicts, in primary-key order."""
    stmt = _scoped(table.model, case_id).order_by(*_table(table.model).primary_key.columns)
    result = session.execute(stmt.execution_options(yield_per=BATCH))
    for row in result.mappings():
        yield {key: json_value(value) for key, value in row.items()}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    """A CSV cell; text a spreadsheet would run as a formula gets a leading ``'`` (JSONL is exact)."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, bool):
        return "true" if value else "false"
    elif value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def jsonl_chunks(rows: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    for row in rows:
        yield (json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")


def csv_chunks(rows: Iterator[dict[str, Any]], columns: list[str]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
        if buffer.tell() > 256 * 1024:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
