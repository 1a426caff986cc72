"""Content keys: the domain read off a normalised URL is the one urlsplit gives."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from osint.analyzers.contentkeys import REPOST_KIND, add_content_keys, url_domain
from osint.analyzers.text import normalize_url
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, PostRecord
from tests.analyzers.test_text import TRICKY_URLS


@pytest.mark.parametrize("url", TRICKY_URLS)
def test_url_domain_is_the_hostname_of_the_normalised_url(url: str) -> None:
    try:
        normalized = normalize_url(url)
    except ValueError:
        return
    assert url_domain(normalized) == urlsplit(normalized).hostname


def test_a_post_keys_its_links_domains_hashtags_and_text() -> None:
    post = PostRecord(
        "x",
        "1",
        AccountRecord("x", "9"),
        datetime(2022, 4, 21, tzinfo=UTC),
        text="Vote NOW at https://t.co/x #Mali",
        links=["https://www.Example.com/a/?utm_source=x", "https://[::1]:8443/b", "https:///c"],
        hashtags=["Mali"],
    )
    assert add_content_keys(post).objects == [
        ("url", "https://example.com/a"),
        ("domain", "example.com"),
        ("url", "https://::1:8443/b"),
        ("hashtag", "mali"),
        ("text", "vote now at #mali"),
    ]


def test_a_repost_brings_no_text_key_and_the_analyzer_names_the_stored_kind() -> None:
    assert REPOST_KIND == PostKind.REPOST
    post = PostRecord(
        "x",
        "2",
        AccountRecord("x", "9"),
        datetime(2022, 4, 21, tzinfo=UTC),
        kind=PostKind.REPOST,
        text="RT @someone: a long enough copied text to be a key",
        repost_of="1",
    )
    assert add_content_keys(post).objects == [("repost", "x:1")]
