"""The collection engine against the replay server, over real sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from osint.collect import CollectSummary, collect_account, parse_date
from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.errors import (
    AccountNotFound,
    AccountUnavailable,
    AuthError,
    CollectError,
    InputError,
    RateLimited,
)
from osint.progress import NullProgress
from osint.storage.db import Store
from osint.storage.models import (
    Account,
    AccountSnapshot,
    Capture,
    CollectionRun,
    Media,
    Post,
    PostMedia,
    PostVersion,
)
from tests.conftest import CliRun
from tests.demo.replay.worlds import TRANSIENT_FAULTS, dia_world, fault_id, inject_fault


def collect(
    store: Store, settings: Settings, target: str = "dia_diarra", **kw: Any
) -> CollectSummary:
    kw.setdefault("case", "c")
    return collect_account(store, settings, platform="x", target=target, **kw)


@pytest.fixture
def case(store: Store) -> str:
    from osint.cases import create_case

    create_case(store, "c")
    return "c"


def count(store: Store, model: Any) -> int:
    with store.reader() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def collected(store: Store) -> int:
    """Posts collected from their account (referenced posts of other accounts left out)."""
    with store.reader() as s:
        return s.execute(select(func.count()).where(Post.seen_via.is_(None))).scalar_one()


def tweet_requests(replay: ReplayServer) -> list[Any]:
    return [r for r in replay.requests if r.path.endswith("/tweets")]


def test_full_collection_stores_posts_media_profile_and_provenance(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia_world(replay.world, posts=12)
    summary = collect(store, x_settings)
    assert summary.status == "completed" and summary.complete
    assert summary.posts_new == 16 and summary.snapshot_created
    # 3 post images + the video poster + the avatar, each downloaded once
    assert summary.media_downloaded == 5 and summary.media_failed == 0
    with store.reader() as s:
        posts = {p.text: p for p in s.execute(select(Post)).scalars()}
        kinds = sorted(p.kind for p in posts.values())
        snap = s.execute(select(AccountSnapshot)).scalar_one()
        account = s.execute(select(Account).where(Account.handle == "Dia_Diarra")).scalar_one()
        captures = {c.id: c for c in s.execute(select(Capture)).scalars()}
        media_rows = s.execute(select(Media)).scalars().all()
        links = s.execute(select(PostMedia)).scalars().all()
    assert kinds.count("repost") == 1 and kinds.count("reply") == 1 and kinds.count("quote") == 1
    post0 = next(p for t, p in posts.items() if t and t.startswith("Post 0:"))
    assert "& <ailleurs>" in post0.text  # X's HTML escaping undone
    assert post0.hashtags == ["Gossi"] and post0.links == [
        "https://news.example/story?id=7&utm_source=x"
    ]
    repost = next(p for p in posts.values() if p.kind == "repost")
    assert repost.repost_of and repost.text.startswith("RT @sahel_news:")
    reply = next(p for p in posts.values() if p.kind == "reply")
    assert reply.reply_to == repost.repost_of and reply.mentions == ["sahel_news"]
    assert snap.bio == "Malienne. Vérité pour Gossi" and snap.url == "https://example.org/dia"
    assert snap.avatar_media_id is not None and snap.followers_count == 12
    assert account.created_at_platform == datetime(2022, 4, 15, 10, 0, tzinfo=UTC)
    # every post points at the page capture it came from, which is in the WARC file
    assert all(p.capture_id in captures for p in posts.values())
    page_capture = captures[post0.capture_id]
    assert page_capture.status_code == 200 and "/tweets" in page_capture.url
    assert page_capture.warc_file and (x_settings.home / page_capture.warc_file).is_file()
    assert {m.status for m in media_rows} == {"ok"} and all(m.width for m in media_rows)
    video = next(link for link in links if link.kind == "video")
    assert video.media_id is not None and video.source_url.endswith(".jpg")  # the poster
    assert all(store.media.verify(m.sha256) for m in media_rows)


def test_incremental_run_fetches_only_new_posts(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia = dia_world(replay.world, posts=230)  # 234 posts: three pages
    first = collect(store, x_settings)
    assert first.pages == 3 and first.posts_new == 234
    assert count(store, AccountSnapshot) == 1
    before = len(replay.requests)
    replay.world.add_post(dia, "Un nouveau message", media=[replay.world.add_image()])
    second = collect(store, x_settings)
    asked = [r for r in replay.requests[before:] if r.path.endswith("/tweets")]
    assert len(asked) == 1 and asked[0].query["since_id"]
    assert second.posts_new == 1 and second.pages == 1 and second.media_downloaded == 1
    assert second.media_reused == 1  # the avatar, already held
    assert collected(store) == 235
    # tweet_count moved from 234 to 235: the profile changed, so one more snapshot
    assert second.snapshot_created and count(store, AccountSnapshot) == 2
    third = collect(store, x_settings)
    assert (
        third.posts_new == 0 and not third.snapshot_created and count(store, AccountSnapshot) == 2
    )


def test_edited_post_keeps_old_text_as_a_version(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia = dia_world(replay.world, posts=3)
    collect(store, x_settings)
    post = replay.world.timeline(dia)[-1]
    replay.world.edit_post(post, "Texte corrigé")
    unchanged = collect(store, x_settings)  # incremental: only newer posts are asked for
    assert unchanged.edited == [] and unchanged.posts_unchanged == 0
    summary = collect(store, x_settings, full=True)
    assert len(summary.edited) == 1 and summary.edited[0].new_text.startswith("Texte corrigé")
    assert summary.edited[0].old_text.startswith("Post 0:")  # X appends its t.co links
    with store.reader() as s:
        texts = (
            s.execute(select(PostVersion.text).join(Post).where(Post.platform_id == post.id))
            .scalars()
            .all()
        )
    assert sorted(t.split()[0] for t in texts) == ["Post", "Texte"]


def test_limit_since_and_until(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia = dia_world(replay.world, posts=20)
    times = sorted(p.created_at for p in replay.world.timeline(dia))
    summary = collect(store, x_settings, limit=7)
    assert summary.posts_new == 7 and not summary.complete
    assert tweet_requests(replay)[0].query["max_results"] == "7"
    window = collect(store, x_settings, since=times[3], until=times[8])
    with store.reader() as s:
        created = s.execute(select(Post.created_at)).scalars().all()
    assert window.posts_new + window.posts_unchanged == 5
    assert {t for t in created if times[3] <= t < times[8]} == set(times[3:8])
    last = tweet_requests(replay)[-1].query
    assert last["start_time"].startswith(times[3].strftime("%Y-%m-%dT%H:%M"))
    with pytest.raises(InputError):
        collect(store, x_settings, since=times[8], until=times[3])


def test_parse_date() -> None:
    assert parse_date("2022-04-21") == datetime(2022, 4, 21, tzinfo=UTC)
    assert parse_date("2022-04-21", end_of_day=True) == datetime(2022, 4, 22, tzinfo=UTC)
    assert parse_date("2022-04-21T10:00+02:00") == datetime(2022, 4, 21, 8, tzinfo=UTC)
    with pytest.raises(InputError):
        parse_date("21/04/2022")


def test_rate_limit_is_waited_out(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia_world(replay.world, posts=230, image_every=50)
    # two pages per 1 s window, and one 429 in the v1 body shape on top
    replay.app("x").set_rate_limit("user_tweets", limit=2, window=1.0)  # type: ignore[attr-defined]
    replay.world.faults.add("rate_limit", path="/tweets", shape="v1", reset_in=0.3)
    summary = collect(store, x_settings)
    assert summary.posts_new == 234 and summary.pages == 3
    with store.reader() as s:
        statuses = (
            s.execute(
                select(Capture.status_code)
                .where(Capture.url.contains("/tweets"))
                .order_by(Capture.id)
            )
            .scalars()
            .all()
        )
    # the injected 429 was waited out; after x-rate-limit-remaining: 0 the client waited for the
    # reset instead of running into the quota
    assert statuses == [429, 200, 200, 200]


def test_rate_limit_v2_shape_with_retry_after_only(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia_world(replay.world, posts=3)
    replay.world.faults.add("rate_limit", path="/users/by/", shape="v2", reset_in=0.2)
    summary = collect(store, x_settings)
    assert summary.status == "completed" and summary.posts_new == 7


def test_rate_limit_too_long_fails_resumably(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia_world(replay.world, posts=230, image_every=50)
    replay.world.faults.add("rate_limit", path="/tweets", reset_in=3600, times=1)
    with pytest.raises(RateLimited, match="resets only at"):
        collect(store, x_settings)
    with store.reader() as s:
        run = s.execute(select(CollectionRun)).scalar_one()
        assert run.status == "failed" and "resets only at" in run.errors[-1]
    # the 429 answer is kept as evidence too
    with store.reader() as s:
        assert s.execute(select(Capture).where(Capture.status_code == 429)).scalar_one()
    again = collect(store, x_settings)
    assert again.status == "completed" and again.posts_new == 234


@pytest.mark.parametrize(
    "fault", [*TRANSIENT_FAULTS, {"kind": "missing_fields", "times": 1}], ids=fault_id
)
def test_faults_are_retried_and_nothing_is_lost(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str, fault: dict[str, Any]
) -> None:
    dia_world(replay.world, posts=230, image_every=50)
    kind = fault["kind"]
    summary = collect(store, inject_fault(replay.world, fault, "/tweets", x_settings))
    assert summary.status == "completed"
    if kind == "missing_fields":  # one tweet without id is reported, the rest kept
        assert summary.posts_new == 233 and "a tweet without an id" in summary.problems[0]
        with store.reader() as s:
            extras = s.execute(select(Post.extra)).scalars().all()
        assert sum(1 for e in extras if e.get("created_at_from_id")) == 99
        return
    assert summary.posts_new == 234 and collected(store) == 234
    with store.reader() as s:
        failed = s.execute(select(Capture).where(Capture.url.contains("/tweets"))).scalars().all()
    assert len(failed) == 4  # the failed attempt is kept beside the three good pages


def test_persistent_failure_fails_then_resumes(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia_world(replay.world, posts=230, image_every=50)
    first_page_done = []

    def fail_after_first_page(request: Any) -> None:
        if "pagination_token" in request.query and not first_page_done:
            first_page_done.append(True)
            replay.world.faults.add("status", status=503, times=10)

    replay.on_request = fail_after_first_page
    with pytest.raises(CollectError, match="giving up"):
        collect(store, x_settings)
    assert collected(store) == 100
    replay.on_request = None
    replay.world.faults.clear()
    resumed = collect(store, x_settings)
    assert resumed.resumed and resumed.posts_new == 134 and collected(store) == 234
    first_query = [r for r in tweet_requests(replay)][-2].query
    assert "pagination_token" in first_query  # resumed from the stored cursor, not the top


def test_bad_media_is_flagged_never_fatal(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    world = replay.world
    dia = world.add_account("x", "dia_diarra")
    good = world.add_image()
    html = world.add_media(b"<!DOCTYPE html><html><body>login</body></html>", "text/html")
    endless = world.add_image(10, 10, (1, 2, 3))
    corrupt = world.add_media(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" + b"garbage" * 20, "image/png")
    truncated_bytes = world.add_image(300, 200).data
    truncated = world.add_media(truncated_bytes[: len(truncated_bytes) // 2], "image/jpeg")
    bomb = world.add_media(_png_header_only(30000, 30000), "image/png")
    missing = world.add_image()
    for media in (good, html, endless, corrupt, truncated, bomb, missing):
        world.add_post(dia, f"with {media.id}", media=[media])
    world.faults.add("endless", path=rf"^/{endless.id}\.jpg$", platform="media", length=None)
    world.faults.add("status", status=404, path=rf"^/{missing.id}\.jpg$", platform="media")
    settings = x_settings.with_overrides(max_media_bytes=200_000)
    progress = NullProgress()
    summary = collect(store, settings, progress=progress)
    assert summary.status == "completed" and summary.posts_new == 7
    with store.reader() as s:
        rows = s.execute(
            select(Post.text, PostMedia.error, Media.status)
            .join(PostMedia, PostMedia.post_id == Post.id)
            .outerjoin(Media, Media.id == PostMedia.media_id)
        ).all()
    by_post = {text.split()[1]: (error, status) for text, error, status in rows}
    assert by_post[good.id] == (None, "ok")
    assert by_post[html.id] == (None, "not_image")
    assert by_post[corrupt.id] == (None, "corrupt")
    assert by_post[truncated.id] == (None, "truncated")
    assert by_post[bomb.id] == (None, "bomb")
    assert "200,000-byte cap" in by_post[endless.id][0] and by_post[endless.id][1] is None
    assert by_post[missing.id] == ("HTTP 404", None)
    assert summary.media_flagged == 4 and summary.media_failed == 2
    assert any("flagged bomb" in m for m in progress.messages)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring a huge size: a decompression bomb as far as Pillow's limit is concerned."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = zlib.compress(b"\0" * (width // 8 + 1) * 4)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_unknown_account(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    with pytest.raises(AccountNotFound, match="X has no account @nobody_here"):
        collect(store, x_settings, target="nobody_here")
    with store.reader() as s:
        run = s.execute(select(CollectionRun)).scalar_one()
        capture = s.execute(select(Capture)).scalar_one()
    assert run.status == "unavailable" and capture.status_code == 200  # the answer is evidence


def test_suspended_account_is_marked(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia = dia_world(replay.world, posts=3)
    collect(store, x_settings)
    replay.world.update_account(dia, status="suspended")
    with pytest.raises(AccountUnavailable, match="suspended") as err:
        collect(store, x_settings)
    assert err.value.status == "suspended"
    with store.reader() as s:
        assert (
            s.execute(select(Account.status).where(Account.handle == "Dia_Diarra")).scalar_one()
            == "suspended"
        )
    assert collected(store) == 7  # nothing already collected is lost
    # resolved by its known id: X answers "User has been suspended: [id]."
    assert replay.requests[-1].path == f"/2/users/{dia.id}"


def test_a_renamed_account_is_followed_by_its_id(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    dia = dia_world(replay.world, posts=3)
    collect(store, x_settings)
    new_avatar = replay.world.add_image(40, 40, (250, 250, 0))
    replay.world.update_account(dia, handle="Awa_Traore", display_name="Awa", avatar=new_avatar.id)
    renamed_at = len(replay.requests)
    for _ in range(2):  # the old handle no longer exists on X; the run remembers the id
        summary = collect(store, x_settings)
        assert summary.status == "completed" and summary.handle == "Awa_Traore"
    profile_paths = [r.path for r in replay.requests[renamed_at:] if "/tweets" not in r.path]
    assert profile_paths.count(f"/2/users/{dia.id}") == 2
    assert not any("/by/username/" in p for p in profile_paths)
    with store.reader() as s:
        snaps = s.execute(
            select(AccountSnapshot.handle, Media.sha256)
            .join(Media, Media.id == AccountSnapshot.avatar_media_id)
            .order_by(AccountSnapshot.id)
        ).all()
    assert [h for h, _ in snaps] == ["Dia_Diarra", "Awa_Traore"]  # one new snapshot, not two
    assert snaps[0][1] != snaps[1][1]  # the new avatar, by hash
    with store.reader() as s:
        dias = s.execute(select(func.count()).where(Account.platform_id == dia.id)).scalar_one()
    assert dias == 1  # the same account, renamed: no duplicate


def test_protected_and_empty_accounts(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    replay.world.add_account("x", "locked", status="protected")
    replay.world.add_account("x", "quiet")
    with pytest.raises(AccountUnavailable, match="protected"):
        collect(store, x_settings, target="locked")
    with store.reader() as s:
        locked = s.execute(select(Account).where(Account.handle == "locked")).scalar_one()
        snap = s.execute(
            select(AccountSnapshot).where(AccountSnapshot.account_id == locked.id)
        ).scalar_one()
    assert locked.status == "protected" and snap.protected is True  # the profile is still kept
    summary = collect(store, x_settings, target="@Quiet")
    assert summary.status == "completed" and summary.posts_new == 0 and summary.complete


def test_missing_and_refused_token(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    from osint.config import Secret

    dia_world(replay.world, posts=2)
    with pytest.raises(AuthError, match="OSINT_X_BEARER_TOKEN"):
        collect(store, x_settings.with_overrides(x_bearer_token=None))
    assert count(store, CollectionRun) == 0 and not replay.requests
    with pytest.raises(AuthError, match="HTTP 401"):
        collect(store, x_settings.with_overrides(x_bearer_token=Secret("wrong")))


def test_bad_target(store: Store, x_settings: Settings, case: str) -> None:
    with pytest.raises(InputError, match="not a X username"):
        collect(store, x_settings, target="no spaces/allowed")


def test_authorization_arrives_and_user_agent_names_osint(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    from tests.conftest import X_TOKEN

    dia_world(replay.world, posts=2)
    collect(store, x_settings)
    api = [r for r in replay.requests if r.platform == "x"]
    media = [r for r in replay.requests if r.platform == "media"]
    assert api and all(r.headers["authorization"] == f"Bearer {X_TOKEN}" for r in api)
    assert media and all("authorization" not in r.headers for r in media)
    assert all(r.headers["user-agent"].startswith("osint/") for r in replay.requests)


def test_collect_and_export_from_the_command_line(
    run_cli: CliRun, x_settings: Settings, replay: ReplayServer, x_cli_env: None, tmp_path: Any
) -> None:
    import csv
    import json

    dia_world(replay.world, posts=5)
    run_cli("case", "new", "c")
    out = run_cli("collect", "x", "@Dia_Diarra", "--case", "c").stdout
    assert "9 new posts" in out and "cases/1/warc/" in out
    again = run_cli("collect", "x", "dia_diarra", "--case", "c", "--full").stdout
    assert "0 new posts" in again and "9 already known" in again and "profile unchanged" in again
    bad = run_cli("collect", "x", "dia", "--case", "c", "--since", "bad", expect=2)
    assert "not a date" in bad.stderr
    lines = run_cli("export", "posts", "--case", "c").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    collected_records = [r for r in records if r["seen_via"] is None]
    assert len(collected_records) == 9 and records[0]["created_at"] < records[-1]["created_at"]
    # what the account amplified is there too, as a post of its own author
    original = next(r for r in records if r["seen_via"] == "reference")
    assert original["account_handle"] == "sahel_news" and original["text"].startswith("Images")
    first = next(r for r in records if r["text"].startswith("Post 0:"))
    assert first["account_handle"] == "Dia_Diarra" and first["media"][0]["sha256"]
    assert first["media"][0]["width"] == 32 and first["capture_sha256"]
    assert first["capture_warc_file"].startswith("cases/1/warc/")
    assert first["created_at"].endswith("Z")
    repost = next(r for r in records if r["kind"] == "repost")
    assert repost["repost_of"]
    target = tmp_path / "posts.csv"
    run_cli("export", "posts", "--case", "c", "--format", "csv", "-o", str(target))
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert len(rows) == len(records) and json.loads(rows[0]["media"]) == records[0]["media"]
    assert rows[0]["post_id"] == records[0]["post_id"]


def test_collected_evidence_bundles_verifies_and_replays(
    run_cli: CliRun, x_settings: Settings, replay: ReplayServer, x_cli_env: None, tmp_path: Any
) -> None:
    dia_world(replay.world, posts=4)
    run_cli("case", "new", "c")
    run_cli("collect", "x", "dia_diarra", "--case", "c")
    run_cli("export", "bundle", "--case", "c", "-o", str(tmp_path / "c.zip"))
    assert "OK: manifest.json" in run_cli("verify", str(tmp_path / "c.zip")).stdout
    wacz = run_cli("export", "wacz", "--case", "c", "-o", str(tmp_path / "c.wacz")).stdout
    assert "1 WARC files" in wacz and "0 records indexed" not in wacz
