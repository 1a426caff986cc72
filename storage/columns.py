"""The column order of the rows :class:`storage.ingest.CaseWriter` sends through the fast lane.

Rows are plain tuples (see :mod:`storage.bulk`); these tuples name their columns, one per table.
"""

from __future__ import annotations

from typing import Any

from osint.storage.records import MediaRef


def media_link_row(
    post_id: int, ref: MediaRef, media_id: int | None, capture_id: int | None
) -> tuple[Any, ...]:
    return (
        post_id,
        ref.position,
        media_id,
        ref.kind,
        ref.source_url,
        ref.preview_url,
        ref.alt_text,
        ref.platform_key,
        ref.error,
        capture_id,
    )


POST_COLUMNS = (
    "id",
    "case_id",
    "account_id",
    "platform",
    "platform_id",
    "created_at",
    "kind",
    "text",
    "text_html",
    "url",
    "lang",
    "repost_of",
    "reply_to",
    "quote_of",
    "links",
    "hashtags",
    "mentions",
    "metrics",
    "extra",
    "source",
    "first_seen",
    "last_seen",
    "capture_id",
)
ACCOUNT_COLUMNS = (
    "id",
    "case_id",
    "platform",
    "platform_id",
    "handle",
    "display_name",
    "status",
    "created_at_platform",
    "first_seen",
    "last_seen",
)
VERSION_COLUMNS = (
    "post_id",
    "text",
    "text_html",
    "text_sha256",
    "captured_at",
    "capture_id",
    "links",
    "hashtags",
    "mentions",
    "media",
)
MEDIA_LINK_COLUMNS = (
    "post_id",
    "position",
    "media_id",
    "kind",
    "source_url",
    "preview_url",
    "alt_text",
    "platform_key",
    "error",
    "capture_id",
)
OBJECT_COLUMNS = ("id", "case_id", "modality", "key", "key_hash")
POST_OBJECT_COLUMNS = ("post_id", "object_id", "case_id", "account_id", "ts")
