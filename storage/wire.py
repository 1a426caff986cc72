"""Posts between processes: an import's reader child sends each post once, encoded.

A big file is read, checked (:func:`storage.checks.fit_post`), keyed and encoded
(:func:`storage.columns.encode_post`) in a child process (:mod:`osint.import_reader`) while this
one writes, and the writer only assigns ids. The encoded values hold every field of a post but
its account, attachments, content keys and capture: only those cross beside them
(:func:`post_to_wire`), and the writer's record (:class:`WirePost`) reads the other fields from
the encoded values, decoding a JSON field or parsing the time when it is first read, which for
a new post is never. Sending the fields themselves beside their encoded values, as before,
cost the child half as much again to pickle and the writer twice as much to unpickle (twarc2
posts: 6.4 and 6.8 s per million, against 4.1 and 3.5).

A post from the wire equals the record it was made from. Its fields cross only as their encoded
text when that text gives them back (:func:`storage.columns.post_encoding`: JSON values, a UTC
time); otherwise (a number key, a subclass, a time in another zone) they cross as themselves.
Only a tuple, read back as a list, and NaN, as None, come back as the store keeps them.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

import orjson

from osint.storage.columns import (
    POST_RECORD_COLUMNS,
    attach_encoded,
    encoded_post,
    encoding_is_exact,
)
from osint.storage.records import AccountRecord, MediaRef, PostRecord

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_FIELDS = tuple(f.name for f in fields(PostRecord))
# The fields an encoded post holds as JSON text, and the time: decoded from it when first read.
_DECODED = ("links", "hashtags", "mentions", "metrics", "extra", "content")
_own_values = attrgetter("created_at", *_DECODED)
# Fields the writer reads of every post: plain attributes of a WirePost, set when it is made
# (from the encoded values, and what crosses beside them). The others are read from the encoded
# values when first asked for.
_PLAIN = ("platform", "platform_id", "text", "text_html", "seen_via", "time_precision")
_PLAIN_AT = tuple((name, POST_RECORD_COLUMNS.index(name)) for name in _PLAIN)
_SET_FIELDS = frozenset((*_PLAIN, "account", "media", "objects", "capture_id"))
_OWN = ("created_at", *_DECODED)  # what crosses as itself when its encoding would not do
_UNSET: Any = object()  # a field not yet decoded


def _time_to_wire(value: datetime | None) -> datetime | int | None:
    # A UTC time travels as whole microseconds since the epoch (exact, and far cheaper to pickle
    # than a datetime); any other time travels as itself.
    if value is not None and value.tzinfo is UTC:
        return (value - _EPOCH) // _MICROSECOND
    return value


def _time_from_wire(value: datetime | int | None) -> datetime | None:
    return _EPOCH + timedelta(microseconds=value) if isinstance(value, int) else value


def post_to_wire(
    rec: PostRecord, accounts: dict[int, tuple[AccountRecord, tuple[Any, ...]]] | None = None
) -> tuple[Any, ...]:
    """The encoded record (:func:`storage.columns.encode_post`) as plain values to pickle;
    :func:`post_from_wire` gives it back, equal.

    ``accounts`` (a memo by ``id()`` of the account record, which it keeps alive) gives the posts
    that share one account record one account tuple: pickled once, rebuilt once.
    """
    encoded = encoded_post(rec)
    if encoded is None:
        raise ValueError(f"post {rec.platform_id!r} is not encoded: encode_post() it first")
    acc = rec.account
    known = None if accounts is None else accounts.get(id(acc))
    if known is not None and known[0] is acc:
        account = known[1]
    else:
        account = (
            acc.platform,
            acc.platform_id,
            acc.handle,
            acc.display_name,
            _time_to_wire(acc.created_at),
            acc.status,
        )
        if accounts is not None:
            accounts[id(acc)] = (acc, account)
    media = (
        [
            (
                m.source_url,
                m.position,
                m.kind,
                m.preview_url,
                m.alt_text,
                m.platform_key,
                m.sha256,
                m.error,
                None if m.local_path is None else str(m.local_path),
            )
            for m in rec.media
        ]
        if rec.media
        else None
    )
    own = None if encoding_is_exact(encoded) else _own_values(rec)  # (created_at, links, ...)
    return account, media, rec.objects, rec.capture_id, own, encoded


def post_from_wire(
    item: tuple[Any, ...], accounts: dict[int, AccountRecord] | None = None
) -> WirePost:
    """The record of :func:`post_to_wire`'s ``item``, encoded; ``accounts`` (by ``id()`` of the
    account tuple, for tuples kept alive meanwhile) gives the posts of one account tuple one
    account record."""
    acc = item[0]
    account = None if accounts is None else accounts.get(id(acc))
    if account is None:
        account = AccountRecord(acc[0], acc[1], acc[2], acc[3], _time_from_wire(acc[4]), acc[5])
        if accounts is not None:
            accounts[id(acc)] = account
    return WirePost(item, account)


class WirePost(PostRecord):
    """A :class:`PostRecord` over its encoded values (:func:`post_to_wire`).

    It is a PostRecord in every way: its fields read and set as the record's do, it equals the
    record it was made from, and it carries that record's encoding
    (:func:`storage.columns.encoded_post`). A field the writer does not read of a new post is
    read from the encoded values (decoded, for JSON and the time) when first asked for.
    """

    def __init__(self, item: tuple[Any, ...], account: AccountRecord) -> None:
        _, media, objects, capture_id, own, encoded = item
        values = encoded[0]
        d = self.__dict__
        for name, index in _PLAIN_AT:
            d[name] = values[index]
        d["account"], d["objects"], d["capture_id"] = account, objects, capture_id
        d["media"] = (
            [
                MediaRef(*m[:8], local_path=None if m[8] is None else Path(m[8]))  # type: ignore[misc]
                for m in media
            ]
            if media
            else []
        )
        if own is not None:
            d.update(zip(_OWN, own, strict=True))
        attach_encoded(self, encoded)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PostRecord):
            return NotImplemented
        return _post_fields(self) == _post_fields(other)

    __hash__ = None  # type: ignore[assignment]  # as a dataclass with eq: records are mutable


def _decode(text: str | None) -> Any:
    return [] if text is None else orjson.loads(text)  # None: an empty content


def _encoded_field(name: str, index: int) -> property:
    """A field read from the encoded values (plain ones as they are), until it is set."""

    def get(self: WirePost) -> Any:
        d = self.__dict__
        value = d.get(name, _UNSET)
        if value is _UNSET:
            raw = _encoding(self)[0][index]
            if name == "created_at":
                value = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            elif name in _DECODED:
                value = _decode(raw)
            else:
                return raw
            d[name] = value
        return value

    def put(self: WirePost, value: Any) -> None:
        self.__dict__[name] = value

    return property(get, put)


def _encoding(rec: WirePost) -> tuple[Any, ...]:
    encoded = encoded_post(rec)
    assert encoded is not None  # attached when it was made
    return encoded


for _name in _FIELDS:
    if _name not in _SET_FIELDS:
        setattr(WirePost, _name, _encoded_field(_name, POST_RECORD_COLUMNS.index(_name)))

_post_fields = attrgetter(*_FIELDS)
