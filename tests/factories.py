"""Small factories for records and rows: ``make_post(**overrides)`` and friends."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from osint.storage.records import AccountRecord, MediaRef, PostRecord, ProfileRecord

_ids = itertools.count(1)
T0 = datetime(2022, 4, 21, 9, 0, tzinfo=UTC)


def make_account(**overrides: Any) -> AccountRecord:
    n = next(_ids)
    values: dict[str, Any] = {
        "platform": "x",
        "platform_id": f"u{n}",
        "handle": f"user{n}",
        "display_name": f"User {n}",
    }
    values.update(overrides)
    return AccountRecord(**values)


def make_profile(account: AccountRecord | None = None, **overrides: Any) -> ProfileRecord:
    values: dict[str, Any] = {
        "account": account or make_account(),
        "bio": "hello",
        "location": "Bamako",
        "followers_count": 10,
    }
    values.update(overrides)
    return ProfileRecord(**values)


def make_post(account: AccountRecord | None = None, **overrides: Any) -> PostRecord:
    n = next(_ids)
    values: dict[str, Any] = {
        "platform": "x",
        "platform_id": f"p{n}",
        "account": account or make_account(),
        "created_at": T0 + timedelta(minutes=n),
        "text": f"post number {n}",
    }
    values.update(overrides)
    return PostRecord(**values)


def make_media_ref(**overrides: Any) -> MediaRef:
    values: dict[str, Any] = {"source_url": f"https://pbs.example/media/{next(_ids)}.jpg"}
    values.update(overrides)
    return MediaRef(**values)
