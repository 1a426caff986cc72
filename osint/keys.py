"""Content keys: what a post shares with others, indexed at ingest for coordination analysis.

Each key is (modality, key): the reposted or quoted post, each normalised URL and its domain,
each hashtag, and the normalised text of an authored post. Imported shares bring their own keys.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from storage.records import PostRecord

MIN_TEXT_KEY_CHARS = 16
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_cid$|mc_eid$|igshid$|ref_src$|s$|t$)")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@[\w.]+")
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=50_000)  # pure; links and copied texts repeat across an import
def normalize_url(url: str) -> str:
    """Same link, same key: scheme and host case, ``www.``, trailing slash, tracking parameters."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if not _TRACKING.match(k)])
    path = parts.path.rstrip("/")
    return urlunsplit(("https", host, path, query, ""))


@functools.lru_cache(maxsize=50_000)
def normalize_text(text: str) -> str:
    """Text with case, whitespace, mentions and URLs taken out."""
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = re.sub(r"^rt\s*:?", " ", text.strip(), flags=re.IGNORECASE)
    return _SPACE.sub(" ", text).strip().casefold()


def add_content_keys(rec: PostRecord) -> PostRecord:
    """Append the keys derived from the post's fields to ``rec.objects`` (kept unique)."""
    keys = list(rec.objects)
    given = {modality for modality, _ in keys} if keys else ()  # shares name their own objects
    if rec.repost_of and "repost" not in given:
        keys.append(("repost", f"{rec.platform}:{rec.repost_of}"))
    if rec.quote_of and "quote" not in given:
        keys.append(("quote", f"{rec.platform}:{rec.quote_of}"))
    for link in rec.links:
        url = normalize_url(link)
        keys.append(("url", url))
        domain = urlsplit(url).hostname
        if domain:
            keys.append(("domain", domain))
    if rec.hashtags:
        keys.extend(("hashtag", tag.lstrip("#").casefold()) for tag in rec.hashtags)
    if rec.text and rec.kind != "repost":
        normalized = normalize_text(rec.text)
        if len(normalized) >= MIN_TEXT_KEY_CHARS:
            keys.append(("text", normalized))
    rec.objects = list(dict.fromkeys(keys)) if len(keys) > 1 else keys
    return rec
