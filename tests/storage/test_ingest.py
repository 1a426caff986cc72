from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from osint.cases import create_case
from storage.db import Store
from storage.ingest import CaseWriter
from storage.models import (
    Account,
    AccountSnapshot,
    Post,
    PostMedia,
    PostObject,
    PostVersion,
    SharedObject,
)
from tests.factories import make_account, make_media_ref, make_post, make_profile


def count(store: Store, model: type) -> int:
    with store.reader() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def case_id(store: Store) -> int:
    return create_case(store, "c1").id


def write_posts(store: Store, case_id: int, posts: list) -> object:
    with store.session() as s:
        return CaseWriter(s, case_id, source="test").posts(posts)


def test_posts_are_idempotent(store: Store, case_id: int) -> None:
    acc = make_account()
    posts = [make_post(acc, hashtags=["Mali"], objects=[("hashtag", "mali")]) for _ in range(5)]
    first = write_posts(store, case_id, posts)
    second = write_posts(store, case_id, posts)
    assert len(first.new) == 5 and not first.unchanged
    assert not second.new and sorted(second.unchanged) == sorted(first.new)
    assert count(store, Post) == 5
    assert count(store, Account) == 1
    assert count(store, PostVersion) == 5
    assert count(store, SharedObject) == 1
    assert count(store, PostObject) == 5


def test_edit_creates_a_version_and_keeps_old_text(store: Store, case_id: int) -> None:
    post = make_post(text="original claim")
    write_posts(store, case_id, [post])
    post.text = "edited claim"
    result = write_posts(store, case_id, [post])
    assert len(result.edited) == 1
    edit = result.edited[0]
    assert (edit.old_text, edit.new_text) == ("original claim", "edited claim")
    with store.reader() as s:
        texts = s.execute(select(PostVersion.text).order_by(PostVersion.id)).scalars().all()
        current = s.execute(select(Post.text)).scalar_one()
    assert texts == ["original claim", "edited claim"]
    assert current == "edited claim"


def test_same_post_twice_in_one_batch_merges_objects(store: Store, case_id: int) -> None:
    acc = make_account()
    a = make_post(acc, platform_id="dup", objects=[("url", "a")])
    b = make_post(acc, platform_id="dup", objects=[("url", "b")], created_at=a.created_at)
    write_posts(store, case_id, [a, b])
    assert count(store, Post) == 1
    assert count(store, PostObject) == 2


def test_media_links_filled_in_when_bytes_arrive_later(store: Store, case_id: int) -> None:
    ref = make_media_ref()
    post = make_post(media=[ref])
    write_posts(store, case_id, [post])
    with store.session() as s:
        media_id = CaseWriter(s, case_id, source="t").media(sha256="a" * 64, size=3)
    ref.sha256 = "a" * 64
    write_posts(store, case_id, [post])
    with store.reader() as s:
        links = s.execute(select(PostMedia.media_id)).scalars().all()
    assert links == [media_id]


def test_snapshot_only_when_profile_changes(store: Store, case_id: int) -> None:
    acc = make_account(handle="dia_diarra")
    t = datetime(2022, 4, 20, tzinfo=UTC)
    with store.session() as s:
        w = CaseWriter(s, case_id, source="t")
        first = w.snapshot(make_profile(acc, bio="Malian patriot"), captured_at=t, capture_id=None)
        same = w.snapshot(
            make_profile(acc, bio="Malian patriot"),
            captured_at=t + timedelta(hours=1),
            capture_id=None,
        )
        acc.handle = "dia_diarra2"
        changed = w.snapshot(
            make_profile(acc, bio="Malian patriot"),
            captured_at=t + timedelta(hours=2),
            capture_id=None,
        )
    assert first.created and not same.created and changed.created
    assert changed.previous_id == first.snapshot_id
    assert count(store, AccountSnapshot) == 2
    with store.reader() as s:
        assert s.execute(select(Account.handle)).scalar_one() == "dia_diarra2"


def test_times_round_trip_as_aware_utc(store: Store, case_id: int) -> None:
    created = datetime(2022, 4, 21, 12, 30, 5, tzinfo=UTC)
    write_posts(store, case_id, [make_post(created_at=created)])
    with store.reader() as s:
        value = s.execute(select(Post.created_at)).scalar_one()
    assert value == created and value.tzinfo is not None


def test_naive_datetimes_are_refused(store: Store, case_id: int) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        write_posts(store, case_id, [make_post(created_at=datetime(2022, 4, 21))])


def test_accounts_are_scoped_per_case(store: Store) -> None:
    a = create_case(store, "a").id
    b = create_case(store, "b").id
    post = make_post(platform_id="same")
    write_posts(store, a, [post])
    write_posts(store, b, [post])
    assert count(store, Post) == 2
    assert count(store, Account) == 2
