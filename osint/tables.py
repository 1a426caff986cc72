"""A case's rows, table by table, as plain JSON-ready dicts: what bundles export as JSONL and CSV.

Rows stream from the database in batches (``yield_per``), so exporting 100,000 posts holds a few
thousand in memory at a time. Values become JSON types: times ISO 8601 UTC, JSON columns as they
are; in CSV, lists and dicts are written as JSON text and formula-like text is neutralised, by
the rules of :mod:`osint.writers` (the one writer of every export).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import JSON, Boolean, Select, String, Table, select, union
from sqlalchemy.orm import Session

from osint.storage.models import (
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
from osint.storage.types import UTCDateTime
from osint.writers import csv_cell, formula_safe, json_text, utc_iso
from osint.writers import jsonl_line as record_line

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
    return model.__table__


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


def _iso(value: datetime) -> str:
    return utc_iso(value) or ""


_json_text = json_text
_spreadsheet_safe = formula_safe


def _flag(value: bool) -> str:
    return str(csv_cell(bool(value)))


def _json_converters(table: ExportTable) -> list[Callable[[Any], Any] | None]:
    return [_iso if isinstance(c.type, UTCDateTime) else None for c in _table(table.model).columns]


def _csv_converters(table: ExportTable) -> list[Callable[[Any], Any] | None]:
    converters: list[Callable[[Any], Any] | None] = []
    for column in _table(table.model).columns:
        if isinstance(column.type, JSON):
            converters.append(lambda v: _spreadsheet_safe(_json_text(v)))
        elif isinstance(column.type, Boolean):
            converters.append(_flag)
        elif isinstance(column.type, String):
            converters.append(_spreadsheet_safe)
        else:
            converters.append(None)  # numbers; times arrive as ISO text already
    return converters


def iter_rows(session: Session, table: ExportTable, case_id: int) -> Iterator[dict[str, Any]]:
    """The case's rows of one table, as JSON-ready dicts, in primary-key order."""
    stmt = _scoped(table.model, case_id).order_by(*_table(table.model).primary_key.columns)
    columns = table.columns
    converters = _json_converters(table)
    for row in session.execute(stmt.execution_options(yield_per=BATCH)):
        yield {
            name: (convert(value) if convert and value is not None else value)
            for name, convert, value in zip(columns, converters, row, strict=True)
        }


def jsonl_line(row: dict[str, Any]) -> bytes:
    return record_line(row).encode("utf-8")


class CsvWriter:
    """Writes a table's rows (dicts from :func:`iter_rows`) as CSV to a binary file."""

    def __init__(self, out: IO[bytes], table: ExportTable) -> None:
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._columns = table.columns
        self._converters = list(zip(self._columns, _csv_converters(table), strict=True))
        self._writer.writerow(self._columns)

    def write(self, row: dict[str, Any]) -> None:
        cells = []
        for name, convert in self._converters:
            value = row[name]
            if value is None:
                cells.append("")
            else:
                cells.append(convert(value) if convert else value)
        self._writer.writerow(cells)

    def finish(self) -> None:
        """Flush everything to the underlying file, leaving it open."""
        self._text.flush()
        self._text.detach()
