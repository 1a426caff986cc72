"""collect_unreachable: a run whose image host does not answer (issue 15 item 3).

100 X posts, 23 of them with a picture, every picture (and the avatar) on a host whose port is
closed: connections are refused. osint stores the posts page by page and its circuit breaker
stops asking that host after 3 connection failures in a row; the baseline is the same engine
with the breaker disabled, which tries every picture with the full retry budget (6 attempts,
doubling back-off), as osint did before. Both use a 0.05 s first back-off (the default is 1 s:
with it the baseline takes ~20 times longer, about 9 minutes here, 546 s in the issue).

``python -m bench collect_unreachable``
"""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

from osint.cases import create_case
from osint.collect import collect_account
from osint.collectors import http as http_module
from osint.config import Secret, load_settings
from osint.demo.replay import ReplayServer, World
from osint.store import open_store

POSTS, IMAGES, BACKOFF = 100, 23, 0.05
TOKEN = "bench-token-0123456789"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _world() -> World:
    world = World()
    world.tokens["x"] = {TOKEN}
    world.media_base = f"http://127.0.0.1:{_closed_port()}/media"
    account = world.add_account("x", "bench", avatar=world.add_image().id)
    every = POSTS // IMAGES
    for i in range(POSTS):
        media = [world.add_image(32, 24)] if i % every == 0 and i // every < IMAGES else []
        world.add_post(account, f"post {i}", media=media)
    return world


def _collect(breaker: bool) -> tuple[float, int]:
    saved = http_module.BREAKER_FAILURES
    if not breaker:
        http_module.BREAKER_FAILURES = 10**9
    try:
        with tempfile.TemporaryDirectory() as tmp, ReplayServer(_world()) as server:
            settings = load_settings(home=Path(tmp), environ={}).with_overrides(
                **server.settings_overrides(),
                x_bearer_token=Secret(TOKEN),
                http_min_interval=0.0,
                http_backoff=BACKOFF,
                http_retries=5,
            )
            store = open_store(settings)
            create_case(store, "bench")
            started = time.perf_counter()
            summary = collect_account(store, settings, platform="x", target="bench", case="bench")
            elapsed = time.perf_counter() - started
            store.dispose()
            return elapsed, summary.posts_new
    finally:
        http_module.BREAKER_FAILURES = saved


def run() -> str:
    with_breaker, stored = _collect(True)
    without, stored_before = _collect(False)
    assert stored == stored_before == POSTS, (stored, stored_before)
    print(f"   with the breaker: {with_breaker:.2f} s; without: {without:.2f} s ({POSTS} posts)")
    return (
        f"collect_unreachable: {with_breaker:.2f} s for {POSTS} posts with {IMAGES} pictures on "
        f"an unreachable host ({without / with_breaker:.1f}x faster than without the breaker, "
        f"{without:.1f} s)"
    )
