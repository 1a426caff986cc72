"""collect_platforms: the engine's cost per post on Telegram, Bluesky and Mastodon, per platform.

Like ``bench/collect.py`` for X: both sides fetch the same pages and images from the in-process
replay server. The baseline reads the bytes with a plain ``httpx.Client`` and finds the next page
and the images with a regular expression or ``json``; the engine also parses (Telegram's HTML
with a real parser), writes every response to a WARC file, stores posts, captures and media in
SQLite and inspects each image. The last line is the worst platform's overhead per post.

``python -m bench collect_platforms``; ``OSINT_BENCH_POSTS`` sets the size (per platform).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.collect import IMAGE_EVERY, add_bench_account
from osint.cases import create_case
from osint.collect import collect_account
from osint.config import load_settings
from osint.demo.replay import ReplayServer, World, WorldAccount
from osint.store import open_store

HANDLES = {
    "telegram": "bench_channel",
    "bluesky": "bench.bsky.social",
    "mastodon": "bench@mastodon.example",
}


def build_world(posts: int) -> tuple[World, dict[str, WorldAccount]]:
    world = World()
    accounts = {}
    for platform, handle in HANDLES.items():
        accounts[platform] = add_bench_account(
            world, platform, handle, posts, "post {i} about #Gossi"
        )
    return world, accounts


def _telegram(client: httpx.Client, base: str, account: WorldAccount) -> int:
    client.get(f"{base}/{account.handle}").read()
    fetched, before = 0, ""
    while True:
        page = client.get(f"{base}/s/{account.handle}", params={"before": before} if before else {})
        html = page.text
        fetched += html.count('class="tgme_widget_message text_not_supported_wrap')
        for url in re.findall(r"photo_wrap[^>]*background-image:url\('([^']+)'\)", html):
            client.get(url).read()
        match = re.search(r'data-before="(\d+)"', html)
        if not match:
            return fetched
        before = match.group(1)


def _bluesky(client: httpx.Client, base: str, account: WorldAccount) -> int:
    profile = client.get(f"{base}/xrpc/app.bsky.actor.getProfile", params={"actor": account.handle})
    did = profile.json()["did"]
    fetched, cursor = 0, None
    while True:
        params = {"actor": did, "limit": "100", **({"cursor": cursor} if cursor else {})}
        body = client.get(f"{base}/xrpc/app.bsky.feed.getAuthorFeed", params=params).json()
        fetched += len(body["feed"])
        for item in body["feed"]:
            for image in (item["post"].get("embed") or {}).get("images", []):
                client.get(image["fullsize"]).read()
        cursor = body.get("cursor")
        if not cursor:
            return fetched


def _mastodon(client: httpx.Client, base: str, account: WorldAccount) -> int:
    found = client.get(f"{base}/api/v1/accounts/lookup", params={"acct": account.handle}).json()
    url: str | None = f"{base}/api/v1/accounts/{found['id']}/statuses?limit=40"
    fetched = 0
    while url:
        page = client.get(url)
        statuses = page.json()
        fetched += len(statuses)
        for status in statuses:
            for media in status["media_attachments"]:
                client.get(media["url"]).read()
        url = page.links.get("next", {}).get("url")
    return fetched


BASELINES: dict[str, Callable[[httpx.Client, str, WorldAccount], int]] = {
    "telegram": _telegram,
    "bluesky": _bluesky,
    "mastodon": _mastodon,
}


def plain_paging(server: ReplayServer, platform: str, account: WorldAccount) -> float:
    with httpx.Client(timeout=30) as client:
        started = time.perf_counter()
        fetched = BASELINES[platform](client, server.base_url(platform), account)
        elapsed = time.perf_counter() - started
    assert fetched == len(server.world.timeline(account)), (platform, fetched)
    return elapsed


def engine_run(server: ReplayServer, home: Path, platform: str, posts: int) -> float:
    db = os.environ.get("OSINT_BENCH_DB")
    settings = load_settings(home=home, environ={"OSINT_DB": db} if db else {}).with_overrides(
        **server.settings_overrides(), http_min_interval=0.0
    )
    store = open_store(settings)
    case = f"bench-{platform}-{os.getpid()}-{time.time_ns()}"
    try:
        create_case(store, case)
        started = time.perf_counter()
        summary = collect_account(
            store, settings, platform=platform, target=HANDLES[platform], case=case
        )
        elapsed = time.perf_counter() - started
    finally:
        store.dispose()
    assert summary.posts_new == posts, f"{platform}: stored {summary.posts_new} of {posts}"
    return elapsed


def run() -> str:
    posts = int(os.environ.get("OSINT_BENCH_POSTS", "1000"))
    world, accounts = build_world(posts)
    results = []
    with ReplayServer(world) as server, tempfile.TemporaryDirectory() as tmp:
        for platform, account in accounts.items():
            plain_paging(server, platform, account)  # warm up
            baseline = plain_paging(server, platform, account)
            engine = engine_run(server, Path(tmp) / platform, platform, posts)
            baseline = min(baseline, plain_paging(server, platform, account))
            base_ms, engine_ms = baseline / posts * 1000, engine / posts * 1000
            print(
                f"{platform:9} plain paging {base_ms:.2f} ms/post, engine {engine_ms:.2f} ms/post"
                f" ({posts:,} posts, {posts // IMAGE_EVERY:,} images)"
            )
            results.append((engine_ms - base_ms, platform, engine / baseline, base_ms))
    overhead, platform, ratio, base_ms = max(results)
    line = (
        f"collect_platforms: {overhead:.2f} ms/post worst engine overhead, {platform} "
        f"({ratio:.1f}x plain httpx paging at {base_ms:.2f} ms/post)"
    )
    print(line)
    return line


if __name__ == "__main__":
    run()
