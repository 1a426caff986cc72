"""The records the store accepts: what collectors and importers produce, platform-neutral.

A platform module's normaliser turns raw responses into these; the ingest writer
(:mod:`storage.ingest`) stores them idempotently. Times are timezone-aware UTC.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any

from osint.storage.kinds import PostKind


@dataclass
class CaptureRecord:
    """One HTTP response (or imported file) as kept in the chain of custody."""

    url: str
    fetched_at: datetime
    sha256: str
    size: int
    status_code: int | None = None
    content_type: str | None = None
    method: str = "GET"
    warc_file: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None
    warc_record_id: str | None = None
    error: str | None = None


@dataclass
class AccountRecord:
    platform: str
    platform_id: str
    handle: str | None = None
    display_name: str | None = None
    created_at: datetime | None = None
    status: str = "active"


@dataclass
class ProfileRecord:
    """The profile as the platform showed it at capture time."""

    account: AccountRecord
    bio: str | None = None
    location: str | None = None
    url: str | None = None
    avatar_url: str | None = None
    banner_url: str | None = None
    followers_count: int | None = None
    following_count: int | None = None
    posts_count: int | None = None
    listed_count: int | None = None
    verified: bool | None = None
    protected: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    avatar_sha256: str | None = None  # set once the avatar bytes are stored

    def fingerprint(self) -> str:
        """SHA-256 over everything that makes this profile differ from another capture of it."""
        data = asdict(self)
        data["account"].pop("status", None)
        data.pop("extra", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class MediaRef:
    """A post's attachment as referenced by the platform; ``sha256`` set once the bytes are stored."""

    source_url: str | None
    position: int = 0
    kind: str = "photo"
    preview_url: str | None = None
    alt_text: str | None = None
    platform_key: str | None = None
    sha256: str | None = None
    error: str | None = None
    # A file on this machine holding the bytes (importers): the service stores it, sets sha256.
    local_path: Path | None = None


@dataclass
class PostRecord:
    platform: str
    platform_id: str
    account: AccountRecord
    created_at: datetime
    kind: PostKind = PostKind.POST
    text: str | None = None
    text_html: str | None = None
    url: str | None = None
    lang: str | None = None
    repost_of: str | None = None
    reply_to: str | None = None
    quote_of: str | None = None
    links: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    media: list[MediaRef] = field(default_factory=list)
    # Content keys (modality, key) for coordination analysis; filled by the service layer from
    # the fields above, or given directly by the shares importer.
    objects: list[tuple[str, str]] = field(default_factory=list)
    capture_id: int | None = None
    # What the post holds besides text and media bytes, one dict per item with a "type": a poll
    # (question, options with votes or percent), a place (name, lat/lon), a document, audio or
    # voice note (file name, size, duration), a sticker (emoji), a round video, X's withheld
    # notice or context annotations. Platform-neutral keys, see the collectors' normalisers.
    content: list[dict[str, Any]] = field(default_factory=list)
    # None: collected from its own account (or imported); "reference": seen only as what another
    # post reposted, quoted or replied to; its account was not collected (see Post.seen_via)
    seen_via: str | None = None
    time_precision: str | None = None  # "minute" when the source rounds created_at to it
    client: str | None = None  # the app it was posted with, when the source says


SEEN_VIA_REFERENCE = "reference"


def text_sha256(text: str | None, html: str | None = None) -> str:
    """SHA-256 of ``json.dumps([text or "", html or ""], ensure_ascii=False)``, built directly."""
    if not text and not html:
        return _EMPTY_TEXT_SHA256
    return _text_digest(text or "", html or "")


@functools.lru_cache(maxsize=16_384)  # pure; reposts and copied texts repeat across an import
def _text_digest(text: str, html: str) -> str:
    payload = f"[{_json_string(text)}, {_json_string(html)}]"
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


_json_string = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) uses
_EMPTY_TEXT_SHA256 = hashlib.sha256(b'["", ""]').hexdigest()


# -- compact form: records as plain tuples, cheap to pickle between processes ----------------
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _time_to_wire(value: datetime | None) -> datetime | int | None:
    # A UTC time travels as whole microseconds since the epoch (exact, and far cheaper to pickle
    # than a datetime); any other time travels as itself.
    if value is not None and value.tzinfo is UTC:
        return (value - _EPOCH) // _MICROSECOND
    return value


def _time_from_wire(value: datetime | int | None) -> datetime | None:
    return _EPOCH + timedelta(microseconds=value) if isinstance(value, int) else value


def post_to_tuple(
    rec: PostRecord, accounts: dict[int, tuple[AccountRecord, tuple[Any, ...]]] | None = None
) -> tuple[Any, ...]:
    """The record as a tuple of plain values; :func:`post_from_wire` gives it back, equal.

    ``accounts`` (a memo by ``id()`` of the account record, which it keeps alive) gives the posts
    that share one account record one account tuple: pickled once, rebuilt once.
    """
    acc = rec.account
    known = None if accounts is None else accounts.get(id(acc))
    if known is not None and known[0] is acc:
        wire = known[1]
    else:
        wire = (
            acc.platform,
            acc.platform_id,
            acc.handle,
            acc.display_name,
            _time_to_wire(acc.created_at),
            acc.status,
        )
        if accounts is not None:
            accounts[id(acc)] = (acc, wire)
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
        else []
    )
    return (
        rec.platform,
        rec.platform_id,
        wire,
        _time_to_wire(rec.created_at),
        rec.kind,
        rec.text,
        rec.text_html,
        rec.url,
        rec.lang,
        rec.repost_of,
        rec.reply_to,
        rec.quote_of,
        rec.links,
        rec.hashtags,
        rec.mentions,
        rec.metrics,
        rec.extra,
        media,
        rec.objects,
        rec.capture_id,
        rec.content,
        rec.seen_via,
        rec.time_precision,
        rec.client,
    )


class WirePost(PostRecord):
    """A :class:`PostRecord` over its tuple (:func:`post_to_tuple`), each field read when asked.

    What a reader child sends: rebuilding a dataclass for every post cost the writing process
    a sixth of an import's time, and the writer reads only a few fields of a new post (its
    encoded values carry the rest). It is a PostRecord in every way: its fields read and set as
    the record's do, and it equals the record it was made from. The time and the attachments
    are converted on first access.
    """

    def __init__(self, wire: list[Any], account: AccountRecord) -> None:
        media = wire[17]
        if media:
            media = [
                MediaRef(*m[:8], local_path=None if m[8] is None else Path(m[8]))  # type: ignore[misc]
                for m in media
            ]
        if wire[20] is None:
            wire[20] = []
        # the fields the writer reads of every post are plain attributes; the rest read the wire
        d = self.__dict__
        d["_wire"] = wire
        d["platform"], d["platform_id"], d["account"] = wire[0], wire[1], account
        d["text"], d["text_html"], d["media"] = wire[5], wire[6], media
        d["objects"], d["capture_id"] = wire[18], wire[19]
        d["seen_via"], d["time_precision"] = wire[21], wire[22]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PostRecord):
            return NotImplemented
        return _post_fields(self) == _post_fields(other)

    __hash__ = None  # type: ignore[assignment]  # as a dataclass with eq: records are mutable


def _wire_field(index: int) -> property:
    def get(self: WirePost) -> Any:
        return self.__dict__["_wire"][index]

    def put(self: WirePost, value: Any) -> None:
        self.__dict__["_wire"][index] = value

    return property(get, put)


def _wire_time(index: int) -> property:
    def get(self: WirePost) -> Any:
        wire = self.__dict__["_wire"]
        value = wire[index]
        if type(value) is int:  # microseconds since the epoch, until first read
            value = wire[index] = _time_from_wire(value)
        return value

    def put(self: WirePost, value: Any) -> None:
        self.__dict__["_wire"][index] = value

    return property(get, put)


_POST_FIELDS = tuple(f.name for f in fields(PostRecord))
_post_fields = attrgetter(*_POST_FIELDS)
_PLAIN = (  # set by WirePost.__init__
    *("platform", "platform_id", "account", "text", "text_html", "media", "objects"),
    *("capture_id", "seen_via", "time_precision"),
)
for _index, _name in enumerate(_POST_FIELDS):
    if _name not in _PLAIN:
        _read = _wire_time(_index) if _name == "created_at" else _wire_field(_index)
        setattr(WirePost, _name, _read)


def post_from_wire(
    row: tuple[Any, ...], accounts: dict[int, AccountRecord] | None = None
) -> WirePost:
    """The record of :func:`post_to_tuple`'s ``row``, as a :class:`WirePost`; ``accounts`` (by
    ``id()`` of the account tuple, for tuples kept alive meanwhile) gives the posts of one
    account tuple one account record."""
    acc = row[2]
    account = None if accounts is None else accounts.get(id(acc))
    if account is None:
        account = AccountRecord(acc[0], acc[1], acc[2], acc[3], _time_from_wire(acc[4]), acc[5])
        if accounts is not None:
            accounts[id(acc)] = account
    return WirePost(list(row), account)
