"""Server faults of issue 21 against the engine, over real sockets: each platform's replay app
misbehaves (cursors that repeat or were never issued, pages not of the documented shape, absurd
rate-limit headers, a server that echoes the token) and osint stops with a clear line or goes
on, keeping what it read."""

from __future__ import annotations

import json
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from osint.cases import create_case
from osint.collect import CollectSummary, collect_account
from osint.collectors.http import HttpClient
from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.errors import CollectError
from osint.storage.db import Store
from osint.storage.models import CollectionRun, Media, Post, PostMedia
from tests.conftest import X_TOKEN, CliRun
from tests.demo.replay.worlds import dia_world
from tests.test_collect_durability import _all_files_under, _all_text_in_database


@dataclass(frozen=True)
class Timeline:
    name: str
    target: str
    posts: int  # dia_world(posts=...): three pages
    page: int  # posts per page
    path: str  # regex of the timeline endpoint

    @property
    def total(self) -> int:
        return self.posts + 4


TIMELINES = [
    Timeline("x", "dia_diarra", 230, 100, r"/tweets$"),
    Timeline("telegram", "Dia_Diarra", 50, 20, r"^/s/"),
    Timeline("bluesky", "dia-diarra.bsky.social", 230, 100, r"getAuthorFeed"),
    Timeline("mastodon", "dia_diarra@mastodon.example", 96, 40, r"/statuses$"),
]
BY_NAME = {t.name: t for t in TIMELINES}


@pytest.fixture
def case(store: Store) -> str:
    create_case(store, "c")
    return "c"


def collect(store: Store, settings: Settings, timeline: Timeline, **kw: Any) -> CollectSummary:
    return collect_account(
        store, settings, platform=timeline.name, target=timeline.target, case="c", **kw
    )


def collected(store: Store) -> int:
    with store.reader() as s:
        return s.execute(select(func.count()).where(Post.seen_via.is_(None))).scalar_one()


def last_run(store: Store) -> CollectionRun:
    with store.reader() as s:
        return s.execute(select(CollectionRun).order_by(CollectionRun.id.desc())).scalars().first()


@pytest.mark.parametrize("timeline", TIMELINES, ids=lambda t: t.name)
def test_a_cursor_that_repeats_stops_the_run_and_keeps_what_was_read(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str, timeline: Timeline
) -> None:
    dia_world(replay.world, posts=timeline.posts, image_every=50, platform=timeline.name)
    replay.world.faults.add("repeat_cursor", path=timeline.path, platform=timeline.name, times=99)
    started = time.monotonic()
    with pytest.raises(CollectError, match=r"page cursor .* again after 2 page"):
        collect(store, x_settings, timeline)
    assert time.monotonic() - started < 30  # stopped, not looping until killed
    assert collected(store) == 2 * timeline.page  # both pages read before the repeat are kept
    run = last_run(store)
    assert run.status == "failed" and any("repeats would page forever" in e for e in run.errors)
    replay.world.faults.clear()
    again = collect(store, x_settings, timeline)  # a re-run continues to the end
    assert again.complete and collected(store) == timeline.total


@pytest.mark.parametrize("name", ["x", "bluesky"])
def test_a_cursor_the_server_never_issued_is_dropped(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str, name: str
) -> None:
    timeline = BY_NAME[name]
    dia_world(replay.world, posts=timeline.posts, image_every=50, platform=name)
    replay.world.faults.add("bad_cursor", path=timeline.path, platform=name)
    # the page after it fails too: the run ends with the unissued cursor saved to resume from
    replay.world.faults.add("status", status=500, path=timeline.path, platform=name, times=99)
    with pytest.raises(CollectError):
        collect(store, x_settings, timeline)
    assert last_run(store).state["cursor"] is not None
    replay.world.faults.clear()
    # the server refuses that cursor: not a poisoned resume point, but a fresh start
    summary = collect(store, x_settings, timeline)
    assert summary.resumed and summary.status == "completed" and summary.complete
    assert collected(store) == timeline.total
    assert any("refused the page cursor" in p and "newest post" in p for p in summary.problems)
    # and a plain later run is clean
    assert collect(store, x_settings, timeline).problems == []


def test_a_null_page_is_an_error_and_a_rerun_continues(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    timeline = BY_NAME["mastodon"]
    dia_world(replay.world, posts=timeline.posts, image_every=50, platform="mastodon")
    replay.world.faults.add("body", body=b"null", path=timeline.path, after=1, times=99)
    with pytest.raises(CollectError, match=r"not the documented shape.*JSON list, this is null"):
        collect(store, x_settings, timeline)
    assert collected(store) == timeline.page  # the first page is kept
    replay.world.faults.clear()
    assert collect(store, x_settings, timeline).complete and collected(store) == timeline.total


def test_duplicate_keys_that_empty_a_page_are_an_error(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    timeline = BY_NAME["x"]
    dia_world(replay.world, posts=timeline.posts, image_every=50)
    replay.world.faults.add("duplicate_key", key="data", path=timeline.path, after=1, times=99)
    with pytest.raises(CollectError, match="the key 'data' appears twice"):
        collect(store, x_settings, timeline)
    assert collected(store) == timeline.page
    replay.world.faults.clear()
    assert collect(store, x_settings, timeline).complete and collected(store) == timeline.total


@pytest.mark.parametrize(
    "headers",
    [
        [("Retry-After", "9" * 400)],
        [("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", "inf")],
        [("x-rate-limit-remaining", "nan"), ("x-rate-limit-reset", "nan")],
        [("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", "1000000000")],
        [("x-rate-limit-reset", "1" + "0" * 330), ("Retry-After", "-5")],
    ],
    ids=["retry-after-400-digits", "reset-inf", "nan", "reset-1e9", "reset-1e330"],
)
def test_absurd_rate_limit_headers_fall_back_to_backoff(
    store: Store,
    x_settings: Settings,
    replay: ReplayServer,
    case: str,
    headers: list[tuple[str, str]],
) -> None:
    dia_world(replay.world, posts=3)
    replay.world.faults.add("status", status=429, path="/tweets", headers=headers, times=2)
    started = time.monotonic()
    summary = collect(store, x_settings, BY_NAME["x"])
    assert summary.complete and collected(store) == 7
    assert time.monotonic() - started < 10  # backed off briefly, no wait "until 2058"


def test_a_503_with_retry_after_is_reported_as_what_the_server_said(
    x_settings: Settings, replay: ReplayServer
) -> None:
    replay.world.add_account("x", "someone")
    url = f"{replay.base_url('x')}/2/users/by/username/someone"
    auth = {"Authorization": f"Bearer {X_TOKEN}"}
    notes: list[str] = []
    replay.world.faults.add("status", status=503, path="/users/by/", headers=[("Retry-After", "1")])
    with HttpClient(x_settings, notify=notes.append) as http:
        assert http.get(url, headers=auth).status_code == 200
    assert notes and all("rate limit" not in n for n in notes)
    assert "HTTP 503 (unavailable) with Retry-After" in notes[0]
    replay.world.faults.add(
        "status", status=503, path="/users/by/", headers=[("Retry-After", "0")], times=99
    )
    with HttpClient(x_settings) as http, pytest.raises(CollectError) as err:
        http.get(url, headers=auth)
    assert "still answers HTTP 503 (unavailable, with Retry-After)" in str(err.value)
    assert "429" not in str(err.value) and "rate limit" not in str(err.value)


def test_a_token_the_server_echoes_is_redacted_everywhere(
    replay: ReplayServer,
    run_cli: CliRun,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    x_cli_env: None,
) -> None:
    dia_world(replay.world, posts=8, image_every=2)
    monkeypatch.setenv("OSINT_HTTP_BACKOFF", "0.01")
    run_cli("case", "new", "c")
    # its media URLs carry the token, and its errors quote it (in the body and a header)
    replay.world.faults.add("echo_token", status=200, path="/tweets")
    first = run_cli("collect", "x", "dia_diarra", "--case", "c")
    media_asked = [r for r in replay.requests if r.platform == "media" and "sig=" in r.target]
    assert media_asked  # the URLs did carry it: the redaction below is not vacuous
    replay.world.faults.add("echo_token", status=400, path="/users/")
    failed = run_cli("collect", "x", "dia_diarra", "--case", "c", "--full", expect=3)
    assert "[redacted]" in failed.stderr
    run_cli("export", "posts", "--case", "c", "-o", str(home / "posts.jsonl"))
    run_cli("report", "--case", "c", "-o", str(home / "report.html"))
    monkeypatch.delenv("OSINT_X_BEARER_TOKEN")  # a bundle made later, with no token configured
    run_cli("export", "bundle", "--case", "c", "-o", str(home / "case.zip"))
    blobs = _all_files_under(home)
    for bundle in home.glob("*.zip"):  # the bundle's members, inflated
        with zipfile.ZipFile(bundle) as zf:
            blobs += [zf.read(name) for name in zf.namelist()]
    for warc in home.rglob("*.warc.gz"):  # each gzip member of the WARC files, inflated
        blobs.append(b"".join(_members(warc.read_bytes())))
    assert any(b"redaction:" in blob for blob in blobs)  # the WARC says where it redacted
    store = open_store_for(run_cli.db_url, home)
    try:
        text = _all_text_in_database(store)
        with store.reader() as s:
            errors = [e for run in s.execute(select(CollectionRun)).scalars() for e in run.errors]
    finally:
        store.dispose()
    assert any("[redacted]" in e for e in errors)
    places = [first.stdout, first.stderr, failed.stdout, failed.stderr, text]
    assert not any(X_TOKEN in place for place in places)
    assert not any(X_TOKEN.encode() in blob for blob in blobs)


def _members(data: bytes) -> list[bytes]:
    out = []
    while data:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        out.append(inflater.decompress(data))
        data = inflater.unused_data
    return out


def open_store_for(db_url: str, home: Path) -> Store:
    from osint.config import load_settings
    from osint.store import open_store

    return open_store(load_settings(home=home, db=db_url, environ={}))


def test_redaction_keeps_every_other_byte(x_settings: Settings) -> None:
    from osint.collectors.redact import REDACTED, redact_url

    url = "https://api.example/2/tweets?ids=1%2C2&flag&q=a%20b+c&access_token=s3cr3t-value&x=%7E"
    assert redact_url(url) == (
        f"https://api.example/2/tweets?ids=1%2C2&flag&q=a%20b+c&access_token={REDACTED}&x=%7E"
    )
    assert json.dumps(redact_url("https://h.example?flag")) == '"https://h.example?flag"'


def test_media_a_hostile_instance_points_at_the_local_network_are_refused(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    """Issue 21: an instance (here on 127.0.0.1, like the tests and the demo) hands out an avatar
    on the cloud metadata address, a picture on a private range, and a picture whose media host
    redirects to link-local: each is refused and named, the posts are stored, nothing is sent."""
    world = replay.world
    dia = world.add_account(
        "mastodon",
        "dia_diarra@mastodon.example",
        avatar=world.add_image(url="http://169.254.169.254/latest/meta-data/iam").id,
    )
    private = world.add_image(url="http://10.1.2.3/internal.jpg")
    bounced = world.add_image(redirect="http://169.254.169.254/latest/user-data")
    fine = world.add_image()
    world.add_post(dia, "one", media=[private])
    world.add_post(dia, "two", media=[bounced, fine])
    lines: list[str] = []

    class Lines:
        def update(self, stage: str, *, advance: int = 0, total: int | None = None) -> None:
            pass

        def log(self, message: str) -> None:
            lines.append(message)

    summary = collect(store, x_settings, BY_NAME["mastodon"], progress=Lines())
    assert summary.status == "completed" and collected(store) == 2
    assert summary.media_downloaded == 1 and summary.media_failed == 3
    refused = [line for line in lines if "refused to fetch" in line]
    assert any("169.254.169.254/latest/meta-data" in x and "link-local" in x for x in refused)
    assert any("10.1.2.3/internal.jpg" in x and "private-network" in x for x in refused)
    assert any("169.254.169.254/latest/user-data" in x for x in refused)  # after the redirect
    with store.reader() as s:
        errors = s.execute(select(PostMedia.error).where(PostMedia.media_id.is_(None))).scalars()
        assert all("refused to fetch" in (e or "") for e in errors)
        kept = s.execute(select(Media.source_url)).scalars().all()
    assert not any("169.254" in (u or "") or "10.1.2.3" in (u or "") for u in kept)


def test_a_post_the_store_cannot_hold_is_reported_and_the_rest_are_kept(
    store: Store, x_settings: Settings, replay: ReplayServer, case: str
) -> None:
    """A server handing out an id longer than the store keeps: that post is named in the
    run's problems (not dropped silently), every other post of its page is stored."""
    timeline = BY_NAME["x"]
    world = replay.world
    account = dia_world(world, posts=20, image_every=50)
    world.add_post(account, "an id nobody can store", id="9" * 300)
    summary = collect(store, x_settings, timeline)
    refused = [p for p in summary.problems if "not stored" in p]
    assert len(refused) == 1 and "characters long" in refused[0], summary.problems
    assert collected(store) == 24
