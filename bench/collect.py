"""collect: what the engine adds per post over plain HTTP paging, against the local replay server.

Both sides fetch the same thing from the same in-process replay server: every page of an X
timeline (100 posts a page) and every image on it. The baseline only reads the bytes with a plain
``httpx.Client``; the engine (``osint.collect.collect_account``) also writes each response to a
WARC file, stores posts, versions, content keys and captures in SQLite, and hashes, inspects and
stores each image. Overhead per post = (engine time - baseline time) / posts; target < 5 ms.

``python -m bench collect`` (or ``python -m bench.collect``); ``OSINT_BENCH_POSTS`` sets the size.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from osint.cases import create_case
from osint.collect import collect_account
from osint.collectors.x import EXPANSIONS, MEDIA_FIELDS, TWEET_FIELDS, USER_FIELDS
from osint.config import Secret, load_settings
from osint.demo.replay import ReplayServer, World, WorldAccount
from osint.store import open_store

TOKEN = "bench-token"  # the replay server's, not a real one
IMAGE_EVERY = 5


def add_bench_account(
    world: World, platform: str, handle: str, posts: int, text: str
) -> WorldAccount:
    """An account with ``posts`` posts, an image every IMAGE_EVERY; ``text`` is formatted with
    the post's number ``i`` and its ``link``."""
    account = world.add_account(
        platform,
        handle,
        bio="benchmark",
        created_at=datetime(2022, 1, 1, tzinfo=UTC),
        avatar=world.add_image(48, 48).id,
    )
    for i in range(posts):
        media = [world.add_image(64, 48, (i % 256, 40, 90))] if i % IMAGE_EVERY == 0 else []
        link = f"https://news.example/{i % 50}"
        world.add_post(
            account,
            text.format(i=i, link=link),
            media=media,
            hashtags=["Gossi"],
            links=[link],
        )
    return account


def build_world(posts: int) -> tuple[World, WorldAccount]:
    world = World()
    world.tokens["x"] = {TOKEN}
    account = add_bench_account(
        world, "x", "bench_account", posts, "post {i} about #Gossi and {link}"
    )
    return world, account


def plain_paging(server: ReplayServer, account: WorldAccount) -> int:
    """The baseline: the same requests and bytes, read and thrown away."""
    fetched = 0
    params = {
        "max_results": "100",
        "tweet.fields": TWEET_FIELDS,
        "expansions": EXPANSIONS,
        "media.fields": MEDIA_FIELDS,
        "user.fields": USER_FIELDS,
    }
    with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        base = server.base_url("x")
        user = client.get(
            f"{base}/2/users/by/username/{account.handle}", params={"user.fields": USER_FIELDS}
        ).json()["data"]
        client.get(user.get("profile_image_url", "").replace("_normal", "") or base).read()
        token = None
        while True:
            page = client.get(
                f"{base}/2/users/{account.id}/tweets",
                params={**params, **({"pagination_token": token} if token else {})},
            ).json()
            fetched += len(page.get("data", []))
            for media in page.get("includes", {}).get("media", []):
                client.get(media["url"]).read()
            token = page.get("meta", {}).get("next_token")
            if not token:
                return fetched


def engine_run(server: ReplayServer, home: Path, db: str | None) -> int:
    env = {"OSINT_DB": db} if db else {}
    settings = load_settings(home=home, environ=env).with_overrides(
        **server.settings_overrides(),
        x_bearer_token=Secret(TOKEN),
        http_min_interval=0.0,
    )
    store = open_store(settings)
    case = f"bench-{os.getpid()}-{time.time_ns()}"  # a fresh case even in a reused database
    try:
        create_case(store, case)
        summary = collect_account(store, settings, platform="x", target="bench_account", case=case)
    finally:
        store.dispose()
    return summary.posts_new


def run() -> str:
    posts = int(os.environ.get("OSINT_BENCH_POSTS", "2000"))
    world, account = build_world(posts)
    with ReplayServer(world) as server, tempfile.TemporaryDirectory() as tmp:
        plain_paging(server, account)  # warm the server's and the client's paths
        started = time.perf_counter()
        assert plain_paging(server, account) == posts
        baseline = time.perf_counter() - started
        started = time.perf_counter()
        stored = engine_run(server, Path(tmp) / "home", os.environ.get("OSINT_BENCH_DB"))
        engine = time.perf_counter() - started
        assert stored == posts, f"the engine stored {stored} of {posts} posts"
        started = time.perf_counter()
        plain_paging(server, account)
        baseline = min(baseline, time.perf_counter() - started)
    base_ms = baseline / posts * 1000
    engine_ms = engine / posts * 1000
    print(f"posts: {posts:,} ({posts // IMAGE_EVERY:,} images), pages of 100")
    print(f"plain httpx paging: {baseline:.2f} s ({base_ms:.2f} ms/post)")
    print(f"osint engine:       {engine:.2f} s ({engine_ms:.2f} ms/post)")
    overhead = engine_ms - base_ms
    line = (
        f"collect: {overhead:.2f} ms/post engine overhead "
        f"({engine / baseline:.1f}x plain httpx paging at {base_ms:.2f} ms/post)"
    )
    print(line)
    return line


if __name__ == "__main__":
    run()
