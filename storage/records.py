"""The records the store accepts: what collectors and importers produce, platform-neutral.

A platform module's normaliser turns raw responses into these; the ingest writer
(:mod:`storage.ingest`) stores them idempotently. Times are timezone-aware UTC.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
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
    payload = f"[{_json_string(text or '')}, {_json_string(html or '')}]"
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
    """The record as a tuple of plain values; :func:`post_from_tuple` gives it back, equal.

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
    media = [
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


def post_from_tuple(
    row: tuple[Any, ...], accounts: dict[int, AccountRecord] | None = None
) -> PostRecord:
    """The record of :func:`post_to_tuple`; ``accounts`` (by ``id()`` of the account tuple, for
    tuples kept alive meanwhile) gives the posts of one account tuple one account record."""
    (platform, platform_id, acc, created_at, kind, text, text_html, url, lang) = row[:9]
    account = None if accounts is None else accounts.get(id(acc))
    if account is None:
        account = AccountRecord(acc[0], acc[1], acc[2], acc[3], _time_from_wire(acc[4]), acc[5])
        if accounts is not None:
            accounts[id(acc)] = account
    (repost_of, reply_to, quote_of, links, hashtags, mentions, metrics, extra) = row[9:17]
    media, objects, capture_id = row[17:20]
    content, seen_via, time_precision, client = row[20:24]
    return PostRecord(
        platform,
        platform_id,
        account,
        _time_from_wire(created_at),  # type: ignore[arg-type]
        kind,
        text,
        text_html,
        url,
        lang,
        repost_of,
        reply_to,
        quote_of,
        links,
        hashtags,
        mentions,
        metrics,
        extra,
        [
            MediaRef(*m[:8], local_path=None if m[8] is None else Path(m[8]))  # type: ignore[misc]
            for m in media
        ]
        if media
        else [],
        objects,
        capture_id,
        content or [],
        seen_via,
        time_precision,
        client,
    )
