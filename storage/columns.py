"""The column order of the rows :class:`storage.ingest.CaseWriter` sends through the fast lane.

Rows are plain tuples (see :mod:`storage.bulk`); these tuples name their columns, one per table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import orjson

from osint.storage.records import MediaRef, PostRecord, text_sha256

_ENCODED = "_osint_encoded"  # where a record carries its encoded values (its __dict__)

# A post row is what the writer assigns (ids, the import's source and time, its capture) then
# what the record holds, encoded once (:func:`encode_post`, beside the writer for a big file).
POST_WRITER_COLUMNS = (
    "id", "case_id", "account_id", "source", "first_seen", "last_seen", "capture_id",
)  # fmt: skip
# PostRecord fields stored as they are, under their own names ...
POST_PLAIN_FIELDS = (
    "platform", "platform_id", "kind", "text", "text_html", "url", "lang", "repost_of",
    "reply_to", "quote_of", "seen_via", "time_precision", "client",
)  # fmt: skip
# ... those stored as JSON text (content as NULL when empty) ...
POST_JSON_FIELDS = ("links", "hashtags", "mentions", "metrics", "extra", "content")
# ... and the post's time, last: PostgreSQL's copy of the SQLite text gains its zone there.
POST_RECORD_COLUMNS = (*POST_PLAIN_FIELDS, *POST_JSON_FIELDS, "created_at")
POST_COLUMNS = (*POST_WRITER_COLUMNS, *POST_RECORD_COLUMNS)
_plain_values = attrgetter(*POST_PLAIN_FIELDS)  # one C call for the plain fields' tuple
_LINKS, _HASHTAGS, _MENTIONS = (POST_RECORD_COLUMNS.index(c) for c in POST_JSON_FIELDS[:3])
# after the row's values: epoch seconds, the text's SHA-256, whether they give the record back
_EPOCH, _DIGEST, _EXACT_AT = 1, 2, 3
_dumps, _NON_STR_KEYS = orjson.dumps, orjson.OPT_NON_STR_KEYS
# orjson raises instead of writing a time, a subclass (of str, int, dict, ...) or a dataclass as
# JSON that reads back as something else (it raises on number keys and 64-bit overflows anyway)
_EXACT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def post_encoding(rec: PostRecord) -> tuple[Any, ...]:
    """The record's encoded values: (its :data:`POST_RECORD_COLUMNS` values, its time in epoch
    seconds, its text's SHA-256, whether the values give the record back); the time as SQLite's
    DATETIME text of UTC.

    The values give the record back (:mod:`storage.wire` reads its fields from them) when its
    time is in UTC and its JSON fields hold only texts, numbers, lists and dicts with text keys,
    none of them subclasses: JSON reads back what orjson wrote of those. It writes a tuple as a
    list and NaN as null too, and those are read back as the store keeps them.
    """
    created = rec.created_at
    exact = type(created) is datetime and created.tzinfo is UTC
    if created.tzinfo is not UTC:
        created = created.astimezone(UTC)
    texts: list[str | None] = []
    for value in (rec.links, rec.hashtags, rec.mentions, rec.metrics, rec.extra):
        if not value and (empty := _EMPTY_JSON.get(type(value))) is not None:
            texts.append(empty)
            continue
        try:  # strict: what orjson cannot write exactly raises
            texts.append(_dumps(value, option=_EXACT).decode())
        except TypeError:  # orjson.JSONEncodeError too
            exact = False
            texts.append(_json(value))
    content = rec.content
    if content:
        try:
            texts.append(_dumps(content, option=_EXACT).decode())
        except TypeError:
            exact = False
            texts.append(_json(content))
    else:
        texts.append(None)
        exact = exact and type(content) is list  # NULL reads back as an empty list
    values = (
        *_plain_values(rec),
        *texts,
        created.isoformat(" ", "microseconds")[:-6],  # without its "+00:00"
    )
    return values, int(created.timestamp()), text_sha256(rec.text, rec.text_html), exact


def encode_post(rec: PostRecord) -> PostRecord:
    """Encode the record's values as the store keeps them, once, where it is read.

    An importer's reader (a child process, for a big file) does this beside the writer, which
    then only assigns ids (:func:`post_row`). The record must be final (checked, keyed) and its
    encoded fields not changed afterwards (:func:`forget_encoding` when they are).
    """
    rec.__dict__[_ENCODED] = post_encoding(rec)
    return rec


def attach_encoded(rec: PostRecord, values: tuple[Any, ...] | None) -> PostRecord:
    """Give ``rec`` the values :func:`encode_post` made for it elsewhere (in a reader child)."""
    if values is not None:
        rec.__dict__[_ENCODED] = values
    return rec


def encoded_post(rec: PostRecord) -> tuple[Any, ...] | None:
    """What :func:`encode_post` attached (see :func:`post_encoding`); None when nobody did."""
    return rec.__dict__.get(_ENCODED)


def forget_encoding(rec: PostRecord) -> None:
    """The record was changed after it was encoded: it is encoded again when written."""
    rec.__dict__.pop(_ENCODED, None)


def encoding_of(rec: PostRecord) -> tuple[Any, ...]:
    """The record's encoded values, made now if nobody made them before."""
    return rec.__dict__.get(_ENCODED) or post_encoding(rec)


def encoding_is_exact(encoding: tuple[Any, ...]) -> bool:
    """Whether the encoded values give the record back (see :func:`post_encoding`)."""
    return bool(encoding[_EXACT_AT])


def post_epoch(encoding: tuple[Any, ...]) -> int:
    return int(encoding[_EPOCH])


def version_values(encoding: tuple[Any, ...]) -> tuple[str, str, str, str]:
    """(text SHA-256, links, hashtags, mentions) of an encoded post, for its version row."""
    values = encoding[0]
    return encoding[_DIGEST], values[_LINKS], values[_HASHTAGS], values[_MENTIONS]


def post_row(head: tuple[Any, ...], encoding: tuple[Any, ...], zone: str = "") -> tuple[Any, ...]:
    """A :data:`POST_COLUMNS` row: the writer's ``head`` (:data:`POST_WRITER_COLUMNS`), then
    the record's values; ``zone`` is appended to the time (``+00:00`` for PostgreSQL)."""
    values: tuple[Any, ...] = encoding[0]
    if zone:
        return (*head, *values[:-1], values[-1] + zone)
    return head + values


_EMPTY_JSON: dict[type, str] = {
    list: "[]",
    dict: "{}",
}  # most lists and dicts of a record are empty


def _json(value: Any) -> str:
    if not value:
        if (empty := _EMPTY_JSON.get(type(value))) is not None:
            return empty
        if isinstance(value, list | dict):
            return "[]" if isinstance(value, list) else "{}"
    try:
        return _dumps(value, option=_NON_STR_KEYS).decode()
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
