"""The column order of the rows :class:`storage.ingest.CaseWriter` sends through the fast lane.

Rows are plain tuples (see :mod:`storage.bulk`); these tuples name their columns, one per table.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import orjson

from osint.storage.records import MediaRef, PostRecord, text_sha256

_ENCODED = "_osint_encoded"  # where a record carries its encoded values (its __dict__)


def encode_post(rec: PostRecord) -> PostRecord:
    """Encode the record's values as the store keeps them, once, where it is read.

    An importer's reader (a child process, for a big file) does this beside the writer, which
    then only assigns ids: the post's UTC time as SQLite's DATETIME text, its epoch seconds,
    links, hashtags, mentions, metrics and raw fields as JSON text, and its text's SHA-256. The
    record must be final (checked, keyed) and its encoded fields not changed afterwards.
    """
    created = rec.created_at
    if created.tzinfo is not UTC:
        created = created.astimezone(UTC)
    rec.__dict__[_ENCODED] = (
        created.replace(tzinfo=None).isoformat(" ", "microseconds"),
        int(created.timestamp()),  # as the writer computes it for records not encoded
        _json(rec.links),
        _json(rec.hashtags),
        _json(rec.mentions),
        _json(rec.metrics),
        _json(rec.extra),
        text_sha256(rec.text, rec.text_html),
    )
    return rec


def attach_encoded(rec: PostRecord, values: tuple[Any, ...] | None) -> PostRecord:
    """Give ``rec`` the values :func:`encode_post` made for it elsewhere (in a reader child)."""
    if values is not None:
        rec.__dict__[_ENCODED] = values
    return rec


def encoded_post(rec: PostRecord) -> tuple[Any, ...] | None:
    """What :func:`encode_post` attached: (time text, epoch seconds, links, hashtags, mentions,
    metrics, extra, text digest); None for a record nobody encoded."""
    return rec.__dict__.get(_ENCODED)


def _json(value: Any) -> str:
    if not value and isinstance(value, list | dict):
        return "[]" if isinstance(value, list) else "{}"
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        import json

        return json.dumps(value)  # what orjson refuses (integers past 64 bits, ...)


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
    "content",
    "seen_via",
    "time_precision",
    "client",
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
