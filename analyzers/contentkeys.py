"""Content keys: what a post shares with others, indexed at ingest for coordination analysis.

Each key is (modality, key): the reposted or quoted post, each normalised URL and its domain,
each hashtag, and the normalised text of an authored post. Imported shares bring their own keys.

Pure: a post is anything with the fields of ``storage.records.PostRecord`` that keys are read
from (:class:`KeyedPost`); collection and imports call :func:`add_content_keys` on each record.
"""

from __future__ import annotations

import functools
import re
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from osint.analyzers import text as text_keys

MIN_TEXT_KEY_CHARS = 16
REPOST_KIND = "repost"  # storage.kinds.PostKind.REPOST: a repost's text is not its author's


class KeyedPost(Protocol):
    """The fields content keys are read from, and ``objects``, where they are appended."""

    objects: list[tuple[str, str]]

    @property
    def platform(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str | None: ...
    @property
    def repost_of(self) -> str | None: ...
    @property
    def quote_of(self) -> str | None: ...
    @property
    def links(self) -> list[str]: ...
    @property
    def hashtags(self) -> list[str]: ...


Post = TypeVar("Post", bound=KeyedPost)


@functools.lru_cache(maxsize=50_000)  # pure; links and copied texts repeat across an import
def normalize_url(url: str) -> str | None:
    """The link's key (:func:`analyzers.text.normalize_url`); None for a link without a host."""
    try:
        return text_keys.normalize_url(url)
    except text_keys.TextInputError:
        return None


def url_domain(url: str) -> str | None:
    """The host of a normalised URL (``urlsplit(url).hostname``, read directly when plain)."""
    plain = _PLAIN_HOST_RE.match(url)
    return plain.group(1) if plain is not None else urlsplit(url).hostname


_PLAIN_HOST_RE = re.compile(r"[a-z]+://([a-z0-9.-]+)(?=[/?#]|$)")


@functools.lru_cache(maxsize=50_000)
def normalize_text(text: str) -> str:
    """The text's key (:func:`analyzers.text.normalize_text`): case, spaces, links, mentions out."""
    return text_keys.normalize_text(text)


def add_content_keys(rec: Post) -> Post:
    """Append the keys derived from the post's fields to ``rec.objects`` (kept unique)."""
    keys = list(rec.objects)
    given = {modality for modality, _ in keys} if keys else ()  # shares name their own objects
    if rec.repost_of and "repost" not in given:
        keys.append(("repost", f"{rec.platform}:{rec.repost_of}"))
    if rec.quote_of and "quote" not in given:
        keys.append(("quote", f"{rec.platform}:{rec.quote_of}"))
    for link in rec.links:
        url = normalize_url(link)
        if url is None:
            continue
        keys.append(("url", url))
        domain = url_domain(url)
        if domain:
            keys.append(("domain", domain))
    if rec.hashtags:
        keys.extend(("hashtag", text_keys.normalize_hashtag(tag)) for tag in rec.hashtags)
    if rec.text and rec.kind != REPOST_KIND:
        normalized = normalize_text(rec.text)
        if len(normalized) >= MIN_TEXT_KEY_CHARS:
            keys.append(("text", normalized))
    rec.objects = list(dict.fromkeys(keys)) if len(keys) > 1 else keys
    return rec
