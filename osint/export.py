"""``osint export posts``: every post of a case, one record each, with its media and provenance.

The same fields in both formats, written by :class:`osint.writers.RecordWriter` (in CSV, lists
such as links, hashtags and ``media`` are JSON text and formula-like cells are neutralised).
Times are ISO 8601 UTC with a ``Z``. Each record carries the capture it was read
from: when, from which URL, the SHA-256 of that response and where its raw bytes are kept (WARC
file and record id, relative to OSINT_HOME). Posts are read in keyset pages, so a case of
millions of posts is streamed, never held in memory.

The fields are those of :class:`osint.storage.postrow.PostRow` named for this export (the one
post record the bundle's posts table and the report's post view come from too).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from osint.cases import get_case
from osint.storage.db import Store
from osint.storage.models import Media, Post, PostMedia
from osint.storage.postrow import (
    PostRow,
    export_fields,
    list_fields,
    select_posts,
    time_fields,
)
from osint.writers import FORMATS, RecordWriter, utc_iso

__all__ = ["FIELDS", "FORMATS", "export_posts", "iter_post_records"]
PAGE = 2000


def _empty_list(value: Any) -> Any:
    return value or []


_Formatter = tuple[str, str, Callable[[Any], Any] | None]


def record_formatters(record: type[PostRow] = PostRow) -> list[_Formatter]:
    """(export name, field, how its value is written) for every field of the export: times as
    ISO 8601 UTC, a missing list as an empty one, the rest as they are."""
    times, lists = time_fields(record), list_fields(record)
    return [
        (name, attr, utc_iso if attr in times else _empty_list if attr in lists else None)
        for name, attr in export_fields(record)
    ]


FIELDS = [name for name, _ in export_fields()]
_FORMATTERS = record_formatters()


Media_ = dict[int, list[dict[str, Any]]]  # a page's attachments, by post id


def _media_of(session: Session, post_ids: list[int]) -> Media_:
    rows = session.execute(
        select(
            PostMedia.post_id,
            PostMedia.kind,
            PostMedia.source_url,
            PostMedia.error,
            Media.sha256,
            Media.width,
            Media.height,
            Media.mime,
            Media.status,
        )
        .outerjoin(Media, Media.id == PostMedia.media_id)
        .where(PostMedia.post_id.in_(post_ids))
        .order_by(PostMedia.post_id, PostMedia.position)
    )
    media: Media_ = {}
    for row in rows:
        media.setdefault(row.post_id, []).append(
            {
                "sha256": row.sha256,
                "source_url": row.source_url,
                "width": row.width,
                "height": row.height,
                "kind": row.kind,
                "mime": row.mime,
                "status": row.status,
                "error": row.error,
            }
        )
    return media


def _pages(store: Store, case: str, stmt: Select[Any]) -> Iterator[tuple[list[Any], Media_]]:
    """The case's rows of ``stmt`` (a :func:`select_posts` with ``id`` and ``created_at``),
    oldest first, a keyset page at a time, with the page's media by post id."""
    with store.reader() as session:
        case_id = get_case(session, case).id
        stmt = stmt.where(Post.case_id == case_id).order_by(Post.created_at, Post.id).limit(PAGE)
        after: tuple[datetime, int] | None = None
        while True:
            page = stmt
            if after is not None:
                page = stmt.where(
                    or_(
                        Post.created_at > after[0],
                        and_(Post.created_at == after[0], Post.id > after[1]),
                    )
                )
            rows = list(session.execute(page).all())
            if not rows:
                return
            yield rows, _media_of(session, [row.id for row in rows])
            after = (rows[-1].created_at, rows[-1].id)


def iter_post_records(
    store: Store, case: str, record: type[PostRow] = PostRow
) -> Iterator[dict[str, Any]]:
    """The case's posts, oldest first, as export records (of the fields of ``record``): each
    field under its export name, written as JSON. Only the exported fields are read."""
    formatters = _FORMATTERS if record is PostRow else record_formatters(record)
    read = {attr for _, attr, _ in formatters} | {"id", "created_at"}
    for rows, media in _pages(store, case, select_posts(record, read)):
        for row in rows:
            values = row._asdict()
            values["media"] = media.get(row.id, [])
            yield {
                name: (value if write is None else write(value))
                for name, attr, write in formatters
                for value in (values[attr],)
            }


def export_posts(
    store: Store, case: str, out: TextIO, *, fmt: str = "jsonl", record: type[PostRow] = PostRow
) -> int:
    """Write the case's posts to ``out`` as JSON lines or CSV; returns how many."""
    writer = RecordWriter(out, fmt, [name for name, _ in export_fields(record)])
    return writer.write_all(iter_post_records(store, case, record))
