from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from osint.cases import create_case
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import (
    Account,
    AccountSnapshot,
    Post,
    PostMedia,
    PostObject,
    PostVersion,
    SharedObject,
)
from osint.storage.records import text_sha256
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
    good = make_post()
    naive = make_post(created_at=datetime(2022, 4, 21))
    result = write_posts(store, case_id, [naive, good])
    assert result.refused == [(naive.platform_id, "the post's time is missing or has no time zone")]
    assert result.new and count(store, Post) == 1


def test_accounts_are_scoped_per_case(store: Store) -> None:
    a = create_case(store, "a").id
    b = create_case(store, "b").id
    post = make_post(platform_id="same")
    write_posts(store, a, [post])
    write_posts(store, b, [post])
    assert count(store, Post) == 2
    assert count(store, Account) == 2


def test_rewriting_the_same_posts_only_moves_last_seen(store: Store, case_id: int) -> None:
    acc = make_account()
    posts = [
        make_post(acc, links=["https://a.example/x"], objects=[("url", "https://a.example/x")])
        for _ in range(3)
    ]
    t1 = datetime(2022, 4, 21, 10, tzinfo=UTC)
    with store.session() as s:
        CaseWriter(s, case_id, source="test").posts(posts, seen_at=t1)
    with store.reader() as s:
        before = [(p.first_seen, p.last_seen, p.text) for p in s.execute(select(Post)).scalars()]
    with store.session() as s:
        result = CaseWriter(s, case_id, source="test").posts(posts, seen_at=t1 + timedelta(days=1))
    assert not result.new and not result.edited and len(result.unchanged) == 3
    with store.reader() as s:
        after = [(p.first_seen, p.last_seen, p.text) for p in s.execute(select(Post)).scalars()]
    assert [b[0] for b in before] == [a[0] for a in after] == [t1] * 3
    assert [a[1] for a in after] == [t1 + timedelta(days=1)] * 3
    assert [b[2] for b in before] == [a[2] for a in after]
    assert count(store, PostVersion) == 3 and count(store, PostObject) == 3


def test_fast_lane_rows_read_back_through_the_orm(store: Store, case_id: int) -> None:
    from datetime import timezone

    paris = timezone(timedelta(hours=2))
    post = make_post(
        created_at=datetime(2022, 4, 21, 12, 30, 5, 123456, tzinfo=paris),
        links=["https://a.example/x"],
        hashtags=["Mali"],
        mentions=["dia"],
        metrics={"likes": 3, "views": None},
        extra={"chat": {"name": "Dia Diarra", "id": 1}},
        text='héllo "quoted" \n line',
        kind="reply",
        reply_to="p0",
    )
    write_posts(store, case_id, [post])
    with store.reader() as s:
        row = s.execute(select(Post)).scalar_one()
        version = s.execute(select(PostVersion)).scalar_one()
    assert row.created_at == datetime(2022, 4, 21, 10, 30, 5, 123456, tzinfo=UTC)
    assert (row.links, row.hashtags, row.mentions) == (["https://a.example/x"], ["Mali"], ["dia"])
    assert row.metrics == {"likes": 3, "views": None}
    assert row.extra == {"chat": {"name": "Dia Diarra", "id": 1}}
    assert (row.text, row.kind, row.reply_to, row.source) == (post.text, "reply", "p0", "test")
    assert version.text == post.text and version.text_sha256 == text_sha256(post.text)


def test_edit_back_to_an_earlier_text_reuses_its_version(store: Store, case_id: int) -> None:
    post = make_post(text="first")
    write_posts(store, case_id, [post])
    post.text = "second"
    write_posts(store, case_id, [post])
    post.text = "first"
    result = write_posts(store, case_id, [post])
    assert [(e.old_text, e.new_text) for e in result.edited] == [("second", "first")]
    with store.reader() as s:
        versions = s.execute(
            select(PostVersion.id, PostVersion.text).order_by(PostVersion.id)
        ).all()
        current = s.execute(select(Post.text)).scalar_one()
    assert [v.text for v in versions] == ["first", "second"]
    assert result.edited[0].version_id == versions[0].id and current == "first"


def test_new_objects_of_a_known_post_are_added(store: Store, case_id: int) -> None:
    post = make_post(objects=[("url", "a")])
    write_posts(store, case_id, [post])
    post.objects = [("url", "a"), ("url", "b")]
    write_posts(store, case_id, [post])
    assert count(store, PostObject) == 2 and count(store, SharedObject) == 2


def test_a_fresh_writer_finds_what_another_stored(store: Store, case_id: int) -> None:
    acc = make_account()
    first = [make_post(acc, objects=[("hashtag", "mali")]) for _ in range(3)]
    second = [make_post(acc, objects=[("hashtag", "mali")]) for _ in range(3)]
    write_posts(store, case_id, first)
    result = write_posts(store, case_id, second)  # a new CaseWriter: empty caches
    assert len(result.new) == 3
    assert count(store, Account) == 1 and count(store, SharedObject) == 1
    assert count(store, PostObject) == 6


def object_links(store: Store) -> dict[str, list[tuple[str, str]]]:
    """Each post's content keys, read through the ``post_objects`` rows."""
    with store.reader() as s:
        rows = s.execute(
            select(Post.platform_id, SharedObject.modality, SharedObject.key)
            .join(PostObject, PostObject.post_id == Post.id)
            .join(SharedObject, SharedObject.id == PostObject.object_id)
            .order_by(Post.platform_id, SharedObject.key)
        ).all()
    links: dict[str, list[tuple[str, str]]] = {}
    for pid, modality, key in rows:
        links.setdefault(pid, []).append((modality, key))
    return links


def object_ids(store: Store) -> dict[tuple[str, str], int]:
    with store.reader() as s:
        rows = s.execute(select(SharedObject.modality, SharedObject.key, SharedObject.id)).all()
    return {(m, k): i for m, k, i in rows}


def test_objects_already_in_the_case_keep_their_ids(store: Store, case_id: int) -> None:
    # One writer, batches whose keys are mostly stored, then mostly new, then mixed: the SQLite
    # writer switches between inserting first and looking up first; every key keeps one object.
    acc = make_account()
    write_posts(store, case_id, [make_post(acc, objects=[("url", f"u{i}")]) for i in range(10)])
    before = object_ids(store)
    batches = [
        [make_post(acc, objects=[("url", f"u{i}"), ("hashtag", "mali")]) for i in range(8)],
        [make_post(acc, objects=[("url", f"v{i}")]) for i in range(10)],
        [make_post(acc, objects=[("url", f"u{i}"), ("url", f"w{i}")]) for i in range(3, 12)],
        [make_post(acc, objects=[("url", f"w{i}"), ("url", f"v{i}")]) for i in range(8)],
    ]
    with store.session() as s:
        writer = CaseWriter(s, case_id, source="test")
        modes = []
        for batch in batches:
            writer.posts(batch)
            modes.append(writer._objects_mostly_new)
    if store.dialect == "sqlite":  # mostly stored: look up first; new: insert
        assert modes[:2] == [False, True]
    after = object_ids(store)
    assert {k: after[k] for k in before} == before  # the old objects, not new copies
    assert len(after) == 10 + 1 + 10 + 2 + 12  # u0-u11, mali, v0-v9, w3-w11 and w0-w2
    links = object_links(store)
    for batch in batches:
        for post in batch:
            assert links[post.platform_id] == sorted(set(post.objects), key=lambda o: o[1])


def test_a_second_import_of_partly_known_keys_reuses_their_objects(
    store: Store, case_id: int
) -> None:
    acc = make_account()
    first = [make_post(acc, objects=[("url", f"u{i}")]) for i in range(6)]
    write_posts(store, case_id, first)
    before = object_ids(store)
    second = [make_post(acc, objects=[("url", f"u{i}")]) for i in range(4, 10)]
    write_posts(store, case_id, second)  # a new writer: nothing cached, u4 and u5 are stored
    after = object_ids(store)
    assert len(after) == 10 and after[("url", "u4")] == before[("url", "u4")]
    assert after[("url", "u5")] == before[("url", "u5")]
    with store.reader() as s:
        linked = s.execute(
            select(PostObject.object_id).join(Post).where(Post.platform_id == second[0].platform_id)
        ).scalar_one()
    assert linked == before[("url", "u4")]
    write_posts(store, case_id, first + second)  # again: nothing changes
    assert object_ids(store) == after and count(store, PostObject) == 12


def test_objects_cache_past_its_limit_keeps_the_keys_in_use(
    store: Store, case_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from osint.storage import ingest

    monkeypatch.setattr(ingest, "_CACHE_LIMIT", 5)
    acc = make_account()
    hot = ("hashtag", "mali")
    with store.session() as s:
        writer = CaseWriter(s, case_id, source="test")
        for b in range(6):
            writer.posts([make_post(acc, objects=[hot, ("url", f"b{b}-{i}")]) for i in range(4)])
            # bounded: one generation past the limit by at most a batch, and the one before
            assert len(writer._objects) + len(writer._objects_old) <= 2 * (5 + 5)
            # the key of every batch survives each trim, in one generation or the other
            assert hot in writer._objects or hot in writer._objects_old
    ids = object_ids(store)
    assert len(ids) == 1 + 6 * 4
    links = object_links(store)
    assert len(links) == 24 and all(hot in keys and len(keys) == 2 for keys in links.values())
    with store.reader() as s:
        hot_links = s.execute(
            select(func.count()).select_from(PostObject).where(PostObject.object_id == ids[hot])
        ).scalar_one()
    assert hot_links == 24


@pytest.mark.postgres
def test_two_writers_racing_for_the_same_posts_on_postgres(pg_url: str, home) -> None:
    from osint.config import load_settings
    from osint.store import open_store

    store = open_store(load_settings(home=home, db=pg_url, environ={}))
    case = create_case(store, "race").id
    acc = make_account()
    with store.session() as s:  # the account exists already: the race is on the posts
        CaseWriter(s, case, source="seed").posts([make_post(acc)])
    posts = [make_post(acc, objects=[("url", f"u{i}")]) for i in range(20)]
    outcome: dict[str, object] = {}
    with store.session() as first:
        won = CaseWriter(first, case, source="a").posts(posts)

        def second() -> None:
            with store.session() as s:  # blocks on the unique index until the first commits
                outcome["result"] = CaseWriter(s, case, source="b").posts(posts)

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting for the first transaction
    thread.join(timeout=30)
    lost = outcome["result"]
    assert not lost.new and sorted(lost.unchanged) == sorted(won.new)
    assert lost.ids == won.ids
    assert count(store, Post) == 21 and count(store, PostVersion) == 21
    assert count(store, PostObject) == 20 and count(store, Account) == 1
    store.dispose()


def test_textless_posts_have_no_version_until_text_appears(store: Store, case_id: int) -> None:
    share = make_post(text=None, kind="share", objects=[("url", "a")])
    write_posts(store, case_id, [share])
    assert count(store, PostVersion) == 0
    share.text = "now with words"
    result = write_posts(store, case_id, [share])
    assert [(e.old_text, e.new_text) for e in result.edited] == [(None, "now with words")]
    assert count(store, PostVersion) == 1
