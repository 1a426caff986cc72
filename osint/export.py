"""``osint export posts``: every post of a case, one record each, with its media and provenance.

The same fields in both formats, written by :class:`osint.writers.RecordWriter` (in CSV, lists
such as links, hashtags and ``media`` are JSON text and formula-like cells are neutralised).
Times are ISO 8601 UTC with a ``Z``. Each record carries the capture it was read
from: when, from which URL, the SHA-256 of that response and where its raw bytes are kept (WARC
file and record id, relative to OSINT_HOME). Posts are read in keyset pages, so a case of
millions of posts is streamed, never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from osint.cases import get_case
from osint.storage.db import Store
from osint.storage.models import Account, Capture, Media, Post, PostMedia
from osint.writers import FORMATS, RecordWriter, utc_iso

__all__ = ["FIELDS", "FORMATS", "export_posts", "iter_post_records"]
PAGE = 2000
FIELDS = [
    "platform",
    "account_id",
    "account_handle",
    "post_id",
    "created_at",
    "kind",
    "text",
    "url",
    "lang",
    "repost_of",
    "reply_to",
    "quote_of",
    "links",
    "hashtags",
    "mentions",
    "media",
    "source",
    "first_seen",
    "last_seen",
    "deleted_at",
    "capture_fetched_at",
    "capture_url",
    "capture_sha256",
    "capture_warc_file",
    "capture_warc_record_id",
    "seen_via",
    "content",
]


_iso = utc_iso


def _media_of(session: Session, post_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
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
    media: dict[int, list[dict[str, Any]]] = {}
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


def iter_post_records(store: Store, case: str) -> Iterator[dict[str, Any]]:
    """The case's posts, oldest first, as export records."""
    with store.reader() as session:
        case_id = get_case(session, case).id
        after: tuple[datetime, int] | None = None
        while True:
            stmt = (
                select(Post, Account.platform_id, Account.handle, Capture)
                .join(Account, Account.id == Post.account_id)
                .outerjoin(Capture, Capture.id == Post.capture_id)
                .where(Post.case_id == case_id)
                .order_by(Post.created_at, Post.id)
                .limit(PAGE)
            )
            if after is not None:
                stmt = stmt.where(
                    or_(
                        Post.created_at > after[0],
                        and_(Post.created_at == after[0], Post.id > after[1]),
                    )
                )
            rows = session.execute(stmt).all()
            if not rows:
                return
            media = _media_of(session, [row[0].id for row in rows])
            for post, account_id, handle, capture in rows:
                yield _record(post, account_id, handle, capture, media.get(post.id, []))
            after = (rows[-1][0].created_at, rows[-1][0].id)
            session.expunge_all()


def _record(
    post: Post, account_id: str, handle: str | None, capture: Capture | None, media: list[Any]
) -> dict[str, Any]:
    return {
        "platform": post.platform,
        "account_id": account_id,
        "account_handle": handle,
        "post_id": post.platform_id,
        "created_at": _iso(post.created_at),
        "kind": post.kind,
        "text": post.text,
        "url": post.url,
        "lang": post.lang,
        "repost_of": post.repost_of,
        "reply_to": post.reply_to,
        "quote_of": post.quote_of,
        "links": post.links or [],
        "hashtags": post.hashtags or [],
        "mentions": post.mentions or [],
        "media": media,
        "source": post.source,
        "first_seen": _iso(post.first_seen),
        "last_seen": _iso(post.last_seen),
        "deleted_at": _iso(post.deleted_at),
        "capture_fetched_at": _iso(capture.fetched_at) if capture else None,
        "capture_url": capture.url if capture else None,
        "capture_sha256": capture.sha256 if capture else None,
        "capture_warc_file": capture.warc_file if capture else None,
        "capture_warc_record_id": capture.warc_record_id if capture else None,
        "seen_via": post.seen_via,
        "content": post.content or [],
    }


def export_posts(store: Store, case: str, out: TextIO, *, fmt: str = "jsonl") -> int:
    """Write the case's posts to ``out`` as JSON lines or CSV; returns how many."""
    writer = RecordWriter(out, fmt, FIELDS)
    return writer.write_all(iter_post_records(store, case))
