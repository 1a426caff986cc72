"""Media of a collection when their host fails (issue 15 items 2 and 3), over real sockets.

The pictures live on a second replay server (the platform's CDN) on a port of its own, stopped
for an outage and started again on the same port: the platform keeps answering, only the media
host is unreachable.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from osint.cases import case_summary, create_case
from osint.collect import collect_account
from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.storage.db import Store
from osint.storage.models import Capture, Post, PostMedia
from osint.storage.types import utcnow
from tests.conftest import CliRun
from tests.demo.replay.worlds import dia_world


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def cdn(replay: ReplayServer) -> Iterator[ReplayServer]:
    """The world's media host, not started: ``cdn.start()`` / ``cdn.stop()`` in the test."""
    server = ReplayServer(replay.world, apps=[], port=free_port())
    replay.world.media_base = f"http://127.0.0.1:{server.port}/media"
    yield server
    server.stop()


def cdn_captures(store: Store, cdn: ReplayServer) -> list[Capture]:
    with store.reader() as s:
        rows = s.execute(select(Capture).where(Capture.url.contains(f":{cdn.port}/"))).scalars()
        return list(rows)


def links(store: Store) -> list[PostMedia]:
    with store.reader() as s:
        return list(s.execute(select(PostMedia).order_by(PostMedia.id)).scalars())


def test_an_unreachable_image_host_costs_seconds_and_a_rerun_fetches_everything(
    store: Store,
    x_settings: Settings,
    replay: ReplayServer,
    cdn: ReplayServer,
    run_cli: CliRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_case(store, "c")
    dia_world(replay.world, posts=23, image_every=1)  # 23 pictures + a video poster + avatar
    settings = x_settings.with_overrides(http_retries=5, http_backoff=0.05)
    started = time.monotonic()
    first = collect_account(store, settings, platform="x", target="dia_diarra", case="c")
    elapsed = time.monotonic() - started
    assert first.status == "completed" and first.posts_new == 27  # every post stored
    # the breaker opened after 3 connection failures: 3 attempts, not 6 for each of 25 files
    attempts = cdn_captures(store, cdn)
    assert len(attempts) == 3 and all(c.status_code is None for c in attempts)
    assert first.media_pending == 25 and first.media_downloaded == 0  # 23, poster, avatar
    assert elapsed < 10
    summary = case_summary(store, "c")
    assert (summary.media_failed, summary.media_pending) == (0, 24)  # the avatar is no post's
    shown = run_cli("case", "show", "c").stdout
    assert "0 (tried again" in shown and "24 (not tried yet" in shown
    assert all(link.error and link.error.startswith("pending: ") for link in links(store))

    cdn.start()  # the outage is over: a plain re-run (no --full) fetches what was pending
    second = collect_account(store, settings, platform="x", target="dia_diarra", case="c")
    assert second.media_retried == 24 and second.media_downloaded == 25  # + the avatar
    assert all(link.media_id is not None and link.error is None for link in links(store))
    assert case_summary(store, "c").media_failed == 0 == case_summary(store, "c").media_pending


def test_failed_media_are_retried_with_attempts_and_back_off(
    store: Store,
    x_settings: Settings,
    replay: ReplayServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_case(store, "c")
    dia_world(replay.world, posts=8, image_every=4)  # 2 pictures + a video poster
    replay.world.faults.add("status", status=500, platform="media", path=r"^/\d+\.jpg$", times=99)
    first = collect_account(store, x_settings, platform="x", target="dia_diarra", case="c")
    assert first.media_failed == 3
    rows = [link for link in links(store) if link.source_url]
    assert [link.attempts for link in rows] == [1, 1, 1]
    assert all(link.retry_after and link.retry_after > utcnow() for link in rows)
    assert case_summary(store, "c").media_failed == 3
    # a re-run before the back-off is over leaves them (nothing asked of the media host)
    before = len([r for r in replay.requests if r.platform == "media"])
    again = collect_account(store, x_settings, platform="x", target="dia_diarra", case="c")
    assert again.media_retried == 0
    assert len([r for r in replay.requests if r.platform == "media"]) == before
    # later, still failing: a second attempt, a longer back-off
    later = utcnow() + timedelta(minutes=2)
    monkeypatch.setattr("osint.collect.utcnow", lambda: later)
    third = collect_account(store, x_settings, platform="x", target="dia_diarra", case="c")
    assert third.media_retried == 3
    rows = [link for link in links(store) if link.source_url]
    assert [link.attempts for link in rows] == [2, 2, 2]
    assert all(link.retry_after and link.retry_after > later for link in rows)
    # the host is back, and the back-off over: a plain re-run fetches them
    replay.world.faults.clear()
    monkeypatch.setattr("osint.collect.utcnow", lambda: later + timedelta(hours=1))
    fourth = collect_account(store, x_settings, platform="x", target="dia_diarra", case="c")
    assert fourth.media_retried == 3 and fourth.media_downloaded >= 3
    assert all(link.media_id is not None for link in links(store) if link.source_url)
    assert case_summary(store, "c").media_failed == 0
    with store.reader() as s:
        assert s.execute(select(Post.id)).first() is not None
