"""Encoded posts as plain values (for another process) come back equal, field for field."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from osint.storage.checks import fit_post
from osint.storage.columns import POST_RECORD_COLUMNS, encode_post, encoded_post
from osint.storage.records import AccountRecord, MediaRef, PostRecord
from osint.storage.wire import WirePost, post_from_wire, post_to_wire


def post_to_tuple(post: PostRecord, sent: dict | None = None) -> tuple[object, ...]:
    return post_to_wire(encode_post(post), sent)


def full_post() -> PostRecord:
    """Every field set to something other than its default."""
    return PostRecord(
        platform="x",
        platform_id="15",
        account=AccountRecord(
            "x", "9", "dia", "Dia", datetime(2020, 1, 2, 3, 4, 5, 678901, UTC), "suspended"
        ),
        created_at=datetime(2022, 4, 21, 9, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        kind="quote",
        text="texte",
        text_html="<p>texte</p>",
        url="https://x.com/dia/status/15",
        lang="fr",
        repost_of="1",
        reply_to="2",
        quote_of="3",
        links=["https://example.com/a"],
        hashtags=["Mali"],
        mentions=["sahel"],
        metrics={"like_count": 3},
        extra={"twarc": {"version": "2.14.0"}, "n": [1, 2]},
        media=[
            MediaRef("https://pbs.twimg.com/a.jpg", 0, "photo", "p", "alt", "3_5", "ab" * 32, None),
            MediaRef(None, 1, "video", error="no URL", local_path=Path("/tmp/v.mp4")),
        ],
        objects=[("url", "https://example.com/a"), ("hashtag", "mali")],
        capture_id=7,
    )


def test_post_tuples_round_trip_every_field() -> None:
    post = full_post()
    back = post_from_wire(pickle.loads(pickle.dumps(post_to_tuple(post))))
    assert back == post
    assert [f.name for f in dataclasses.fields(back)] == [f.name for f in dataclasses.fields(post)]
    assert back.account.created_at is not None and back.account.created_at.tzinfo is UTC
    assert back.media[1].local_path == Path("/tmp/v.mp4")


def test_post_tuples_cover_every_field_of_the_records() -> None:
    # A field added to a record must be encoded or cross beside its encoding (this counts them).
    post = full_post()
    account, media, objects, capture_id, own, encoded = post_to_tuple(post)
    beside = {"account", "media", "objects", "capture_id"}
    assert {f.name for f in dataclasses.fields(PostRecord)} == {*POST_RECORD_COLUMNS, *beside}
    assert len(account) == len(dataclasses.fields(AccountRecord))
    assert len(media[0]) == len(dataclasses.fields(MediaRef))
    assert (objects, capture_id, encoded) == (post.objects, 7, encoded_post(post))
    assert own is not None  # its time is not in UTC: it crosses as itself


def test_a_checked_post_crosses_as_its_encoding_only() -> None:
    post = full_post()
    fit_post(post)  # its time in UTC, as every record from a reader child
    item = post_to_tuple(post)
    assert item[4] is None  # nothing but the encoded values and what they do not hold
    back = post_from_wire(pickle.loads(pickle.dumps(item)))
    assert "links" not in back.__dict__ and "created_at" not in back.__dict__  # not read yet
    assert back == post and back.created_at.tzinfo is UTC
    assert (back.extra, back.content, back.metrics) == (post.extra, [], {"like_count": 3})
    assert encoded_post(back) == encoded_post(post)


class _Tag(str):
    pass


@pytest.mark.parametrize(
    "change",
    [
        {"extra": {1: "a"}},  # a number key would come back a text
        {"metrics": {"big": 2**70}},  # past 64 bits: orjson would read a float
        {"hashtags": [_Tag("mali")]},  # a text subclass would come back a text
        {"extra": {"at": datetime(2022, 4, 21, tzinfo=UTC)}},  # a time would come back a text
        {"content": None},  # encoded as NULL, which reads back as []
    ],
)
def test_values_json_would_not_give_back_cross_as_themselves(change: dict[str, object]) -> None:
    post = dataclasses.replace(full_post(), **change)
    fit_post(post)
    post = dataclasses.replace(post, **change)  # as the reader made it, whatever fit_post did
    item = post_to_tuple(post)
    assert item[4] is not None
    back = post_from_wire(pickle.loads(pickle.dumps(item)))
    assert back == post
    for name, value in change.items():
        assert getattr(back, name) == value
    if "extra" in change and "at" in change["extra"]:  # type: ignore[operator]
        assert type(back.extra["at"]) is datetime
    if "hashtags" in change:
        assert type(back.hashtags[0]) is _Tag


def test_tuples_and_nan_come_back_as_the_store_keeps_them() -> None:
    post = dataclasses.replace(full_post(), extra={"pair": (1, 2)}, metrics={"x": float("nan")})
    fit_post(post)
    back = post_from_wire(pickle.loads(pickle.dumps(post_to_tuple(post))))
    assert back.extra == {"pair": [1, 2]} and back.metrics == {"x": None}
    assert (back.platform_id, back.text, back.created_at) == (
        post.platform_id,
        post.text,
        post.created_at,
    )


def test_posts_of_one_account_cross_as_one_account() -> None:
    first = full_post()
    second = dataclasses.replace(first, platform_id="16")  # the same account record
    other = dataclasses.replace(first, platform_id="17", account=AccountRecord("x", "10"))
    sent: dict[int, tuple[AccountRecord, tuple[object, ...]]] = {}
    rows = pickle.loads(pickle.dumps([post_to_tuple(p, sent) for p in (first, second, other)]))
    assert rows[0][0] is rows[1][0] and rows[2][0] is not rows[0][0]
    received: dict[int, AccountRecord] = {}
    back = [post_from_wire(row, received) for row in rows]
    assert back == [first, second, other]
    assert back[0].account is back[1].account and back[2].account is not back[0].account


def test_an_account_record_gone_from_the_memo_is_sent_as_itself() -> None:
    post = full_post()
    stale = AccountRecord("x", "other")
    sent = {id(post.account): (stale, ("x", "other", None, None, None, "active"))}
    assert post_from_wire(post_to_tuple(post, sent)) == post  # an id reused: not taken


def test_a_wire_post_is_the_record_it_was_made_from() -> None:
    post = full_post()
    sent: dict[int, tuple[AccountRecord, tuple[object, ...]]] = {}
    rows = pickle.loads(pickle.dumps([post_to_tuple(p, sent) for p in (post, post)]))
    received: dict[int, AccountRecord] = {}
    first, second = (post_from_wire(row, received) for row in rows)
    assert isinstance(first, PostRecord) and isinstance(first, WirePost)
    assert first == post and post == first and [first] == [post]
    assert first.account is second.account and first.account == post.account
    assert (
        first.created_at == post.created_at and first.account.created_at == post.account.created_at
    )
    assert first.media == post.media and first.media[1].local_path == Path("/tmp/v.mp4")
    assert dataclasses.asdict(first) == dataclasses.asdict(post)
    # fields set as a record's are: the next read sees them, and it no longer equals the original
    first.capture_id, first.objects = 9, []
    first.media[0].sha256 = "cd" * 32
    assert (first.capture_id, first.objects, first.media[0].sha256) == (9, [], "cd" * 32)
    assert first != post and second == post
    assert pickle.loads(pickle.dumps(first)) == first  # and it crosses processes as itself
