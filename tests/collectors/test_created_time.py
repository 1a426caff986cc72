"""One rule for a post's time in every collector: the platform's, else the one its id encodes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from osint.collectors.base import created_time
from osint.collectors.bluesky import post_from_view
from osint.collectors.mastodon import id_time

FROM_ID = datetime(2022, 4, 6, 12, 0, tzinfo=UTC)


def test_the_platforms_time_wins_and_the_id_is_not_read() -> None:
    extra: dict[str, Any] = {}
    calls: list[int] = []
    got = created_time("2022-04-21T08:30:00Z", lambda: calls.append(1) or FROM_ID, extra, "x")
    assert got == datetime(2022, 4, 21, 8, 30, tzinfo=UTC) and extra == {} and calls == []


def test_without_one_the_ids_time_is_used_and_marked() -> None:
    extra: dict[str, Any] = {"kept": 1}
    assert created_time(None, lambda: FROM_ID, extra, "x") == FROM_ID
    assert extra == {"kept": 1, "created_at_from_id": True}
    status_id = "108165454012345678"  # a Mastodon snowflake
    extra = {}
    assert created_time("not a time", lambda: id_time(status_id), extra, "s") == id_time(status_id)
    assert extra["created_at_from_id"] is True


def test_with_neither_the_post_is_refused_by_name() -> None:
    extra: dict[str, Any] = {}
    with pytest.raises(ValueError, match="status 42 has no creation time and none in its id"):
        created_time("", lambda: None, extra, "status 42")
    assert extra == {}
    with pytest.raises(
        ValueError, match=re.escape("post at://did:plc:abc/app.bsky.feed.post/x has no")
    ):
        post_from_view({"uri": "at://did:plc:abc/app.bsky.feed.post/x", "record": {}})
