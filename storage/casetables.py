"""The tables a case bundle exports, and each one's rows of the case, in primary-key order.

Rows stream from the database in batches (``yield_per``), so exporting 100,000 posts holds a few
thousand in memory at a time. They come as the database gives them; ``osint.tables`` turns them
into JSON-ready dicts and CSV cells.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Row, Select, Table, select, union
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
from osint.storage.postrow import bundle_columns

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


def table_of(model: Any) -> Table:
    """The Core table behind an ORM model."""
    table: Table = model.__table__
    return table


def _scoped(model: Any, columns: list[Column[Any]], case_id: int) -> Select[Any]:
    table = table_of(model)
    stmt = select(*columns)
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
    only: tuple[str, ...] | None = None  # these columns (in the table's order); None: all

    @property
    def table_columns(self) -> list[Column[Any]]:
        every = table_of(self.model).columns
        return [c for c in every if self.only is None or c.name in self.only]

    @property
    def columns(self) -> list[str]:
        return [c.name for c in self.table_columns]


EXPORT_TABLES: tuple[ExportTable, ...] = (
    ExportTable("case", Case, "the case itself"),
    ExportTable("collection_runs", CollectionRun, "every collection, import and monitoring run"),
    ExportTable("captures", Capture, "every fetch: URL, time, status, SHA-256, WARC location"),
    ExportTable("accounts", Account, "accounts of the case"),
    ExportTable("account_snapshots", AccountSnapshot, "profile history, one row per change"),
    # the posts columns of the one post record (osint export posts reads the same record)
    ExportTable("posts", Post, "posts, with the capture each was read from", bundle_columns()),
    ExportTable("post_versions", PostVersion, "every distinct text of a post (edits)"),
    ExportTable("post_media", PostMedia, "attachments of posts"),
    ExportTable("media", Media, "media files by SHA-256 (the bytes are in media/)"),
    ExportTable("image_hashes", ImageHash, "perceptual hashes of the media"),
    ExportTable("image_cluster_members", ImageClusterMember, "clusters of copies of a picture"),
    ExportTable("findings", Finding, "findings of the analyses, with their explanation"),
    ExportTable("finding_evidence", FindingEvidence, "accounts, posts and media behind findings"),
    ExportTable("events", Event, "changes seen by monitoring"),
)


def table_rows(session: Session, table: ExportTable, case_id: int) -> Iterator[Row[Any]]:
    """The case's rows of one table, in primary-key order, ``BATCH`` at a time."""
    stmt = _scoped(table.model, table.table_columns, case_id).order_by(
        *table_of(table.model).primary_key.columns
    )
    yield from session.execute(stmt.execution_options(yield_per=BATCH))
