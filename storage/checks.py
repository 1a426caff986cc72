"""What the store can hold of a record, checked before it is written: one behaviour everywhere.

SQLite stores what PostgreSQL refuses (a NUL byte in a text, an id longer than its column, a time
past year 9999 once turned to UTC), and a refused row there loses the whole batch it was sent in.
:func:`fit_post` makes every record fit both the same way, before it joins a batch:

- what cannot be stored faithfully refuses the record, with the reason: an id longer than the
  store keeps, a time outside years 1-9999 in UTC, raw data nested deeper than
  :data:`MAX_JSON_DEPTH` or not JSON at all;
- what can be repaired is, with a note: a NUL byte becomes U+FFFD, an over-long language code or
  handle is dropped, a link, hashtag or mention that is not a text is left out.

Records are changed in place; the notes say what was changed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import orjson

from osint.storage.records import PostRecord

ID_CHARS = 255  # platform ids, references, handles: String(255) columns
PLATFORM_CHARS = 40
LANG_CHARS = 20
MEDIA_KIND_CHARS = 20
MODALITY_CHARS = 20
MAX_JSON_DEPTH = 255  # orjson's own limit when it writes JSON
NUL = "\x00"
_REPLACEMENT = "\ufffd"
_EMPTY_FITS = (dict, list)  # an empty one of these is JSON as it is


def as_json_text(value: Any) -> str:
    """Any value as JSON text (what a text field holds when a file put something else there)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError):
        return str(value)


class Unfit(ValueError):
    """The record cannot be stored as it is; the message says why."""


def fit_post(rec: PostRecord) -> list[str]:
    """Make ``rec`` storable on every backend; the notes of what was repaired.

    Raises :class:`Unfit` when the record cannot be stored faithfully. A clean record (nearly
    all of them) costs a few comparisons and two JSON encodings.
    """
    notes: list[str] = []
    acc = rec.account
    pid, aid = rec.platform_id, acc.platform_id
    if not (
        type(pid) is str
        and type(aid) is str
        and 0 < len(pid) <= ID_CHARS
        and 0 < len(aid) <= ID_CHARS
        and len(rec.platform) <= PLATFORM_CHARS
        and len(acc.platform) <= PLATFORM_CHARS
        and NUL not in pid
        and NUL not in aid
    ):
        _fit_identity(rec)
    created = rec.created_at
    if type(created) is not datetime or created.tzinfo is not UTC:
        rec.created_at = _utc(created, "the post's time")
    joined = acc.created_at
    if joined is not None and (type(joined) is not datetime or joined.tzinfo is not UTC):
        try:
            acc.created_at = _utc(acc.created_at, "the account's creation time")
        except Unfit as exc:
            acc.created_at = None
            notes.append(f"{exc}: left out")
    if acc.handle is not None and (not isinstance(acc.handle, str) or len(acc.handle) > ID_CHARS):
        acc.handle = None
        notes.append(f"the account's handle is not a text of up to {ID_CHARS} characters: left out")
    if acc.display_name is not None and not isinstance(acc.display_name, str):
        acc.display_name = as_json_text(acc.display_name)
    if rec.repost_of is not None or rec.reply_to is not None or rec.quote_of is not None:
        _fit_references(rec, notes)
    if rec.lang is not None and (not isinstance(rec.lang, str) or len(rec.lang) > LANG_CHARS):
        rec.lang = None
        notes.append(f"the language code is longer than {LANG_CHARS} characters: left out")
    if not _clean_texts(rec):
        _fit_texts(rec, notes)
    links, hashtags, mentions = rec.links, rec.hashtags, rec.mentions
    if not (
        type(links) is list
        and type(hashtags) is list
        and type(mentions) is list
        and not (links or hashtags or mentions)  # nearly all: nothing to look into
    ) and not _clean_lists(rec):
        _fit_lists(rec, notes)
    if rec.objects:
        _fit_objects(rec)
    for ref in rec.media:
        if ref.platform_key is not None and len(str(ref.platform_key)) > ID_CHARS:
            ref.platform_key = None
            notes.append(f"a media key longer than {ID_CHARS} characters: left out")
        if len(ref.kind) > MEDIA_KIND_CHARS:
            ref.kind = "other"
    if rec.metrics or type(rec.metrics) not in _EMPTY_FITS:  # an empty one needs no call
        rec.metrics = _fit_json(rec.metrics, "its metrics", notes)
    if rec.extra or type(rec.extra) not in _EMPTY_FITS:
        rec.extra = _fit_json(rec.extra, "its raw fields", notes)
    content = getattr(rec, "content", None)  # structured content, where records carry it
    if content:
        setattr(rec, "content", _fit_json(content, "its structured content", notes))  # noqa: B010
    return notes


def _fit_references(rec: PostRecord, notes: list[str]) -> None:
    for name in ("repost_of", "reply_to", "quote_of"):
        value = getattr(rec, name)
        if value is not None and (not isinstance(value, str) or len(value) > ID_CHARS):
            setattr(rec, name, None)
            notes.append(f"{name} is not an id of up to {ID_CHARS} characters: left out")


def _clean_texts(rec: PostRecord) -> bool:
    for value in (rec.text, rec.text_html, rec.url, rec.account.display_name):
        if value is not None and (type(value) is not str or NUL in value):
            return False
    return True


def _clean_lists(rec: PostRecord) -> bool:
    try:
        return NUL not in "\x1f".join([*rec.links, *rec.hashtags, *rec.mentions]) and all(
            type(v) is list for v in (rec.links, rec.hashtags, rec.mentions)
        )
    except TypeError:  # something in them is not a text
        return False


def _fit_identity(rec: PostRecord) -> None:
    acc = rec.account
    for what, value, limit in (
        ("post id", rec.platform_id, ID_CHARS),
        ("platform", rec.platform, PLATFORM_CHARS),
        ("account id", acc.platform_id, ID_CHARS),
        ("account platform", acc.platform, PLATFORM_CHARS),
    ):
        if not isinstance(value, str) or not value:
            raise Unfit(f"the {what} is empty or not a text")
        if len(value) > limit:
            raise Unfit(f"the {what} is {len(value):,} characters long; the store keeps {limit}")
        if NUL in value:
            raise Unfit(f"the {what} holds a NUL byte")


def _utc(value: Any, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise Unfit(f"{what} is missing or has no time zone")
    try:
        return value if value.tzinfo is UTC else value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise Unfit(f"{what} {value.isoformat()} is outside years 1-9999 in UTC") from exc


def _fit_texts(rec: PostRecord, notes: list[str]) -> None:
    for name in ("text", "text_html", "url"):
        value = getattr(rec, name)
        if value is None:
            continue
        if not isinstance(value, str):
            setattr(rec, name, value := as_json_text(value))
            notes.append(f"its {name} is not a text: kept as its JSON")
        if NUL in value:
            setattr(rec, name, value.replace(NUL, _REPLACEMENT))
            notes.append(f"NUL bytes in its {name} replaced by U+FFFD")
    shown = rec.account.display_name
    if shown is not None and NUL in shown:
        rec.account.display_name = shown.replace(NUL, _REPLACEMENT)
        notes.append("NUL bytes in the account's name replaced by U+FFFD")


def _fit_lists(rec: PostRecord, notes: list[str]) -> None:
    for name in ("links", "hashtags", "mentions"):
        values = getattr(rec, name)
        if not isinstance(values, list):
            setattr(rec, name, [])
            notes.append(f"its {name} are not a list: left out")
            continue
        if all(type(v) is str and NUL not in v for v in values):
            continue
        kept = [v.replace(NUL, _REPLACEMENT) for v in values if isinstance(v, str) and v]
        if len(kept) < len(values):
            notes.append(f"{len(values) - len(kept)} of its {name} are not texts: left out")
        else:
            notes.append(f"NUL bytes in its {name} replaced by U+FFFD")
        setattr(rec, name, kept)


def _fit_objects(rec: PostRecord) -> None:
    objects = []
    for modality, key in rec.objects:
        if len(modality) > MODALITY_CHARS:
            raise Unfit(f"a content key of modality {modality[:40]!r}: too long a name")
        objects.append((modality, key.replace(NUL, _REPLACEMENT) if NUL in key else key))
    rec.objects = objects


def _fit_json(value: Any, what: str, notes: list[str]) -> Any:
    """``value`` as JSON both stores take; raises :class:`Unfit` when it cannot be."""
    if not value and type(value) in _EMPTY_FITS:  # most metrics and raw fields of a file
        return value
    try:
        encoded = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:
        if "recursion" in str(exc).lower():
            raise Unfit(f"{what} are nested more than {MAX_JSON_DEPTH} levels deep") from exc
        try:  # what orjson refuses and json takes (integers past 64 bits)
            encoded = json.dumps(value).encode()
        except (ValueError, TypeError, RecursionError) as inner:
            raise Unfit(f"{what} cannot be stored as JSON ({inner})") from inner
    if b"\\u0000" not in encoded:
        return value
    cleaned = _without_nul(value)
    if cleaned != value:
        notes.append(f"NUL bytes in {what} replaced by U+FFFD")
    return cleaned


def _without_nul(value: Any) -> Any:
    # Depth is bounded: orjson has just written this value (at most MAX_JSON_DEPTH levels).
    if isinstance(value, str):
        return value.replace(NUL, _REPLACEMENT)
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(v) for v in value]
    return value
