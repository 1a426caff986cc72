"""The records the store accepts: what collectors and importers produce, platform-neutral.

A platform module's normaliser turns raw responses into these; the ingest writer
(:mod:`storage.ingest`) stores them idempotently. Times are timezone-aware UTC.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
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
