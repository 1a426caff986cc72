"""Telegram, Bluesky and Mastodon through the collection engine, over real sockets.

Each platform runs against its replay app: pagination, incremental runs, rate limits in the
platform's own headers, faults, bad input, and a kill -9 in the middle of a run.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from osint.cases import create_case
from osint.collect import CollectSummary, collect_account
from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.errors import AccountNotFound, AccountUnavailable
from osint.storage.db import Store
from osint.storage.models import Account, AccountSnapshot, Capture, CollectionRun, Post
from tests.conftest import REPO, CliRun, spawn_env
from tests.demo.replay.worlds import TRANSIENT_FAULTS, dia_world, fault_id, inject_fault
from tests.test_collect_durability import _kill_at_request, case_contents, check_captures_in_warc


@dataclass(frozen=True)
class Platform:
    name: str
    target: str  # as an investigator types it
    posts: int  # dia_world(posts=...) for three pages of the timeline
    timeline: str  # regex of the timeline endpoint's path (faults, request counting)
    quota_endpoint: str  # the replay app's name for that endpoint's quota
    unknown: str
    unknown_message: str

    @property
    def total(self) -> int:
        return self.posts + 4  # dia_world adds a repost, a reply, a quote and a video


PLATFORMS = [
    Platform(
        "telegram",
        "https://t.me/s/Dia_Diarra",
        50,  # 54 messages: 20 + 20 + 14
        r"^/s/",
        "preview",
        "nobody_here",
        "Telegram shows no channel @nobody_here",
    ),
    Platform(
        "bluesky",
        "@Dia-Diarra.bsky.social",
        230,  # 234 items: 100 + 100 + 34
        "getAuthorFeed",
        "app.bsky.feed.getAuthorFeed",
        "nobody.bsky.social",
        "Bluesky has no account @nobody.bsky.social (InvalidRequest: Profile not found)",
    ),
    Platform(
        "mastodon",
        "@dia_diarra@mastodon.example",
        96,  # 100 statuses: 40 + 40 + 20
        "/statuses$",
        "statuses",
        "nobody@mastodon.example",
        "Mastodon has no account @nobody@mastodon.example (Record not found)",
    ),
]
BY_NAME = {p.name: p for p in PLATFORMS}


def collect(
    store: Store, settings: Settings, platform: Platform, target: str | None = None, **kw: Any
) -> CollectSummary:
    kw.setdefault("case", "c")
    return collect_account(
        store, settings, platform=platform.name, target=target or platform.target, **kw
    )


def timeline_requests(replay: ReplayServer, platform: Platform) -> list[Any]:
    return [
        r
        for r in replay.requests
        if r.platform == platform.name and re.search(platform.timeline, r.path)
    ]


def count(store: Store, model: Any) -> int:
    with store.reader() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


@pytest.fixture
def case(store: Store) -> str:
    create_case(store, "c")
    return "c"


@pytest.fixture(params=PLATFORMS, ids=lambda p: p.name)
def platform(request: pytest.FixtureRequest) -> Platform:
    return request.param  # type: ignore[no-any-return]


# -- pagination and incremental runs ----------------------------------------------------------
def test_full_then_incremental_collection(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str, platform: Platform
) -> None:
    dia = dia_world(replay.world, posts=platform.posts, image_every=25, platform=platform.name)
    first = collect(store, x_settings, platform)
    assert first.status == "completed" and first.complete and first.problems == []
    assert first.pages == 3 and first.posts_new == platform.total
    assert first.snapshot_created and first.media_failed == 0
    with store.reader() as s:
        posts = s.execute(select(Post)).scalars().all()
        snap = s.execute(select(AccountSnapshot)).scalar_one()
        captures = {c.id: c for c in s.execute(select(Capture)).scalars()}
        handles = dict(s.execute(select(Account.id, Account.handle)).all())
    collected = [p for p in posts if p.seen_via is None]
    referenced = [p for p in posts if p.seen_via == "reference"]
    assert len({p.platform_id for p in collected}) == platform.total  # no duplicates
    assert all(captures[p.capture_id].warc_file for p in posts)  # every post has its evidence
    assert snap.bio and "Vérité pour Gossi" in snap.bio and snap.avatar_media_id is not None
    kinds = sorted(p.kind for p in collected)
    assert kinds.count("repost") == 1 and kinds.count("reply") == 1
    repost = next(p for p in collected if p.kind == "repost")
    assert repost.text and repost.text.startswith("Images from Gossi")  # not empty any more
    if platform.name != "telegram":  # a t.me forward shows no post of its own
        # what was amplified: the original, stored as a post of its own author (not collected)
        original = next(p for p in referenced if p.text.startswith("Images from Gossi"))
        assert "sahel" in handles[original.account_id].lower()
        assert first.referenced_posts == len(referenced) >= 1
    assert any("gossi" in [h.casefold() for h in p.hashtags] for p in posts)
    assert any("https://news.example/story?id=7&utm_source=x" in p.links for p in posts)
    # a second run asks only for what is new, from the newest page
    before = len(replay.requests)
    replay.world.add_post(dia, "Un nouveau message #Gossi", media=[replay.world.add_image()])
    second = collect(store, x_settings, platform)
    assert second.posts_new == 1 and second.pages == 1 and second.media_downloaded == 1
    asked = [r for r in timeline_requests(replay, platform) if replay.requests.index(r) >= before]
    assert len(asked) == 1
    assert count(store, Post) == platform.total + 1 + len(referenced)
    third = collect(store, x_settings, platform)
    assert third.posts_new == 0 and third.complete and not third.snapshot_created


def test_limit_and_since(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str, platform: Platform
) -> None:
    dia = dia_world(replay.world, posts=30, image_every=50, platform=platform.name)
    times = sorted(p.created_at for p in replay.world.timeline(dia))
    limited = collect(store, x_settings, platform, limit=7)
    assert limited.posts_new == 7 and not limited.complete
    window = collect(store, x_settings, platform, since=times[-12], until=times[-3])
    with store.reader() as s:
        created = set(s.execute(select(Post.created_at)).scalars())
    assert window.posts_new + window.posts_unchanged == 9
    assert set(times[-12:-3]) <= created


# -- rate limits --------------------------------------------------------------------------------
EXPECTED_STATUSES = {
    # Bluesky and Mastodon announce the end of their quota (remaining 0 + reset): osint waits
    "bluesky": [429, 200, 200, 200],
    "mastodon": [429, 200, 200, 200],
    # t.me announces nothing: its 429 and Retry-After are waited out
    "telegram": [429, 200, 200, 429, 200],
}


def test_rate_limits_in_the_platforms_headers_are_waited_out(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str, platform: Platform
) -> None:
    dia_world(replay.world, posts=platform.posts, image_every=100, platform=platform.name)
    app: Any = replay.app(platform.name)
    app.set_rate_limit(platform.quota_endpoint, limit=2, window=1.0)
    replay.world.faults.add("rate_limit", path=platform.timeline, reset_in=0.3)
    summary = collect(store, x_settings, platform)
    assert summary.status == "completed" and summary.posts_new == platform.total
    with store.reader() as s:
        captures = s.execute(select(Capture).order_by(Capture.id)).scalars().all()
    prefix = f"/{platform.name}"
    statuses = [
        c.status_code
        for c in captures
        if re.search(platform.timeline, urlsplit(c.url).path.removeprefix(prefix))
    ]
    assert statuses == EXPECTED_STATUSES[platform.name]
    # The quota's window opens with the first page served after the injected 429; the last page
    # came after that window ended (however slow the machine made the pages in between).
    at = [r.at for r in timeline_requests(replay, platform)]
    assert at[-1] - at[1] >= 0.95


# -- faults and bad markup ------------------------------------------------------------------------
@pytest.mark.parametrize("fault", TRANSIENT_FAULTS, ids=fault_id)
def test_faults_are_retried_and_nothing_is_lost(
    store: Store,
    x_settings: Settings,
    replay: ReplayServer,
    case: str,
    platform: Platform,
    fault: dict[str, Any],
) -> None:
    dia_world(replay.world, posts=platform.posts, image_every=100, platform=platform.name)
    settings = inject_fault(replay.world, fault, platform.timeline, x_settings)
    summary = collect(store, settings, platform)
    assert summary.status == "completed" and summary.posts_new == platform.total
    assert len(timeline_requests(replay, platform)) == 4  # the failed attempt and three pages
    with store.reader() as s:
        kept = s.execute(select(func.count()).select_from(Capture)).scalar_one()
    assert kept >= 4 + 2  # the failed answer is evidence too (plus profile and avatar)


def test_telegram_broken_markup_is_reported_and_the_rest_collected(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    telegram = BY_NAME["telegram"]
    dia = dia_world(replay.world, posts=telegram.posts, image_every=6, platform="telegram")
    replay.world.faults.add("missing_fields", path=r"^/s/", times=1)
    summary = collect(store, x_settings, telegram)
    assert summary.status == "completed" and summary.posts_new == telegram.total - 2
    assert len(summary.problems) == 2
    no_date = next(p for p in summary.problems if "no time[datetime]" in p)
    no_url = next(p for p in summary.problems if p != no_date)
    newest = replay.world.timeline(dia)[0]
    assert f"skipped Telegram message {newest.id.replace('dia_diarra', 'Dia_Diarra')}" in no_date
    assert "photo whose style has no background-image URL" in no_url
    with store.reader() as s:
        page = (
            s.execute(select(Capture).where(Capture.url.contains("/s/")).order_by(Capture.id))
            .scalars()
            .first()
        )
    assert page is not None and page.warc_file in no_date and page.warc_record_id in no_date
    # the skipped newest message comes with the next run; the older one needs --full
    assert collect(store, x_settings, telegram).posts_new == 1
    assert collect(store, x_settings, telegram, full=True).posts_new == 1
    assert count(store, Post) == telegram.total


@pytest.mark.parametrize("name", ["bluesky", "mastodon"])
def test_api_fields_missing_are_recovered_or_reported(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str, name: str
) -> None:
    platform = BY_NAME[name]
    dia_world(replay.world, posts=platform.posts, image_every=100, platform=name)
    replay.world.faults.add("missing_fields", path=platform.timeline, times=1)
    summary = collect(store, x_settings, platform)
    assert summary.status == "completed" and summary.posts_new == platform.total - 1
    assert len(summary.problems) == 1 and "skipped" in summary.problems[0]
    with store.reader() as s:
        from_id = [
            p for p in s.execute(select(Post)).scalars() if p.extra.get("created_at_from_id")
        ]
    assert from_id and all(p.created_at.year == 2022 for p in from_id)


# -- bad input: unknown, suspended, no preview ---------------------------------------------------
def test_unknown_account_is_one_clear_line(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str, platform: Platform
) -> None:
    with pytest.raises(AccountNotFound) as err:
        collect(store, x_settings, platform, target=platform.unknown)
    assert str(err.value).startswith(platform.unknown_message) and "\n" not in str(err.value)
    with store.reader() as s:
        run = s.execute(select(CollectionRun)).scalar_one()
        capture = s.execute(select(Capture)).scalars().first()
    assert run.status == "unavailable" and capture is not None  # the answer is evidence


@pytest.mark.parametrize(
    ("name", "world_status", "error", "stored_status"),
    [
        ("bluesky", "suspended", "taken down by its moderators", "suspended"),
        ("bluesky", "deactivated", "is deactivated", "deactivated"),
        ("mastodon", "suspended", r"is suspended \(HTTP 410", "suspended"),
        ("telegram", "suspended", "Telegram shows no channel", "not_found"),
    ],
)
def test_suspended_accounts_are_marked_and_nothing_is_lost(
    store: Store,
    x_settings: Settings,
    replay: ReplayServer,
    case: str,
    name: str,
    world_status: str,
    error: str,
    stored_status: str,
) -> None:
    platform = BY_NAME[name]
    dia = dia_world(replay.world, posts=3, platform=name)
    collect(store, x_settings, platform)
    replay.world.update_account(dia, status=world_status)
    with pytest.raises((AccountUnavailable, AccountNotFound), match=error):
        collect(store, x_settings, platform)
    with store.reader() as s:
        statuses = dict(s.execute(select(Account.handle, Account.status)).all())
    assert stored_status in statuses.values()
    with store.reader() as s:
        collected = s.execute(select(func.count()).where(Post.seen_via.is_(None))).scalar_one()
    assert collected == 7


def test_telegram_channel_without_preview_is_a_clear_error(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    replay.world.add_account("telegram", "closed_group", followers=5, status="no_preview")
    with pytest.raises(AccountUnavailable, match="has no public preview") as err:
        collect(store, x_settings, BY_NAME["telegram"], target="closed_group")
    assert err.value.status == "no_preview" and "Telegram Desktop" in str(err.value)
    with store.reader() as s:
        account = s.execute(select(Account)).scalar_one()
        snap = s.execute(select(AccountSnapshot)).scalar_one()
        codes = s.execute(select(Capture.status_code).order_by(Capture.id)).scalars().all()
    assert account.status == "no_preview" and snap.extra["kind"] == "group"
    assert codes == [200, 302, 200]  # the card, the redirect of /s/ and where it led


# -- kill -9 and resume -------------------------------------------------------------------------
def _spawn(
    platform: Platform, case: str, replay: ReplayServer, home: Path, db_url: str
) -> subprocess.Popen[bytes]:
    urls = {f"OSINT_{setting.upper()}": url for setting, url in replay.settings_overrides().items()}
    env = spawn_env(home, db_url, **urls)
    return subprocess.Popen(
        [sys.executable, "-m", "osint", "collect", platform.name, platform.target, "--case", case],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_converges(
    store: Store,
    x_settings: Settings,
    replay: ReplayServer,
    home: Path,
    db_url: str,
    platform: Platform,
) -> None:
    dia_world(replay.world, posts=platform.posts, image_every=6, platform=platform.name)
    replay.latency = 0.002
    create_case(store, "ref")
    before = len(replay.requests)
    reference = collect(store, x_settings, platform, case="ref")
    assert reference.posts_new == platform.total
    total_requests = len(replay.requests) - before
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    create_case(store, "killed")
    proc = _spawn(platform, "killed", replay, home, db_url)
    # past the profile, before the end: somewhere in the pages and their images
    assert _kill_at_request(proc, replay, rng.randint(3, total_requests - 2), rng), f"seed {seed}"
    final = collect(store, x_settings, platform, case="killed")
    assert final.status == "completed", f"seed {seed}"
    assert case_contents(store, "killed") == case_contents(store, "ref"), f"seed {seed}"
    assert check_captures_in_warc(store, home) > 0


# -- the command line and one export for every platform ------------------------------------------
def test_export_posts_shows_all_four_platforms_in_one_format(
    run_cli: CliRun,
    replay: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from osint.export import FIELDS
    from tests.conftest import X_TOKEN

    world = replay.world
    for name in ("x", "telegram", "bluesky", "mastodon"):
        dia_world(world, posts=4, image_every=2, platform=name)
    dia = world.account_by_handle("mastodon", "dia_diarra@mastodon.example")
    assert dia is not None
    hostile = '<p>Lisez<script>alert(1)</script> <a href="javascript:alert(2)">ceci</a></p>'
    world.add_post(dia, "", extra={"content_html": hostile})
    for setting, url in replay.settings_overrides().items():
        if setting != "mastodon_instance_url":  # given with --instance-url below
            monkeypatch.setenv(f"OSINT_{setting.upper()}", url)
    monkeypatch.setenv("OSINT_X_BEARER_TOKEN", X_TOKEN)
    monkeypatch.setenv("OSINT_HTTP_MIN_INTERVAL", "0")
    run_cli("case", "new", "c")
    outputs = [
        run_cli("collect", "x", "dia_diarra", "--case", "c").stdout,
        run_cli("collect", "telegram", "t.me/Dia_Diarra", "--case", "c").stdout,
        run_cli("collect", "bluesky", "dia-diarra.bsky.social", "--case", "c").stdout,
        run_cli(
            "collect",
            "mastodon",
            "dia_diarra@mastodon.example",
            "--case",
            "c",
            "--instance-url",
            replay.base_url("mastodon"),
        ).stdout,
    ]
    assert [o.split(" new posts")[0].rsplit(" ", 1)[1] for o in outputs] == ["8", "8", "8", "9"]
    assert "collected telegram:@Dia_Diarra" in outputs[1] and "cases/1/warc/" in outputs[1]
    bad = run_cli(
        "collect",
        "mastodon",
        "dia_diarra@mastodon.example",
        "--case",
        "c",
        "--instance-url",
        "mastodon.example",
        expect=2,
    )
    assert "--instance-url" in bad.stderr and "https://" in bad.stderr
    unknown = run_cli("collect", "bluesky", "nobody.bsky.social", "--case", "c", expect=3)
    assert unknown.stderr.count("\n") == 1 and "Bluesky has no account" in unknown.stderr
    lines = run_cli("export", "posts", "--case", "c").stdout.splitlines()
    records = [json.loads(line) for line in lines]
    by_platform: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_platform.setdefault(record["platform"], []).append(record)
        assert list(record) == FIELDS  # one format for every platform
        assert record["created_at"].endswith("Z") and record["capture_sha256"]
        assert record["capture_warc_file"].startswith("cases/1/warc/")
    assert {k: len([r for r in v if r["seen_via"] is None]) for k, v in by_platform.items()} == {
        "x": 8,
        "telegram": 8,
        "bluesky": 8,
        "mastodon": 9,
    }
    # the amplified original is exported too (a post of its own author, seen via a reference)
    assert {k: len(v) for k, v in by_platform.items()} == {
        "x": 9,
        "telegram": 8,
        "bluesky": 9,
        "mastodon": 10,
    }
    for platform_records in by_platform.values():
        kinds = {r["kind"] for r in platform_records}
        assert {"post", "repost", "reply"} <= kinds
        with_media = [r for r in platform_records if r["media"]]
        assert with_media and all(m["sha256"] for r in with_media for m in r["media"])
        assert all(r["account_handle"] for r in platform_records)
    lisez = next(r for r in by_platform["mastodon"] if r["text"].startswith("Lisez"))
    assert lisez["text"] == "Lisez ceci" and lisez["links"] == []
    target = tmp_path / "posts.csv"
    run_cli("export", "posts", "--case", "c", "--format", "csv", "-o", str(target))
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert sorted({r["platform"] for r in rows}) == ["bluesky", "mastodon", "telegram", "x"]
    assert len(rows) == len(records)
