"""Standard replay worlds for the tests: small, with every kind of post and attachment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from osint.config import Settings
from osint.demo.replay import World, WorldAccount

# faults (World.faults.add keywords) a collector retries through without losing a post
TRANSIENT_FAULTS: list[dict[str, Any]] = [
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 503},
    {"kind": "drop"},
    {"kind": "slow", "delay": 2.5},
    {"kind": "truncated"},
    {"kind": "html"},
]


def fault_id(fault: dict[str, Any]) -> str:
    """A test id for a fault: its kind and status (status500, drop)."""
    return fault["kind"] + str(fault.get("status", ""))


def inject_fault(world: World, fault: dict[str, Any], path: str, settings: Settings) -> Settings:
    """Add ``fault`` (left whole: parameters are shared) on ``path``; the settings to collect with.

    Only the slow fault needs the tests' 1 s timeout: every other fault gets 10 s, so that a busy
    machine cannot add a timeout of its own to the one failure the test counts."""
    options = dict(fault)
    kind = options.pop("kind")
    world.faults.add(kind, path=path, **options)
    return settings if kind == "slow" else settings.with_overrides(http_timeout=10.0)


# the same two accounts under each platform's naming rules
HANDLES = {
    "x": ("Dia_Diarra", "sahel_news"),
    "telegram": ("Dia_Diarra", "sahel_news"),
    "bluesky": ("dia-diarra.bsky.social", "sahel-news.bsky.social"),
    "mastodon": ("dia_diarra@mastodon.example", "sahel_news@news.example"),
}


def dia_world(
    world: World, *, posts: int = 12, image_every: int = 4, platform: str = "x"
) -> WorldAccount:
    """The "Dia Diarra" account: profile with avatar, posts with images, a repost, a reply, a
    quote of another account, a video poster; returns the account. ``posts + 4`` posts."""
    dia_handle, other_handle = HANDLES[platform]
    dia = world.add_account(
        platform,
        dia_handle,
        display_name="Dia Diarra",
        bio="Malienne. Vérité pour Gossi",
        location="Gossi, Mali",
        url="https://example.org/dia",
        created_at=datetime(2022, 4, 15, 10, 0, tzinfo=UTC),
        avatar=world.add_image(40, 40, (30, 120, 200)).id,
        followers=12,
        following=80,
    )
    other = world.add_account(platform, other_handle, display_name="Sahel News")
    original = world.add_post(other, "Images from Gossi", hashtags=["Mali"])
    for i in range(posts):
        media = (
            [world.add_image(32 + i, 24, (i * 20 % 256, 90, 60))] if i % image_every == 0 else []
        )
        world.add_post(
            dia,
            f"Post {i}: les soldats français à Gossi & <ailleurs>",
            media=media,
            hashtags=["Gossi"] if i % 3 == 0 else [],
            links=["https://news.example/story?id=7&utm_source=x"] if i % 5 == 0 else [],
        )
    world.add_post(dia, "", kind="repost", repost_of=original.id)
    world.add_post(
        dia, "C'est la vérité", kind="reply", reply_to=original.id, mentions=[other_handle]
    )
    world.add_post(dia, "Regardez", kind="quote", quote_of=original.id)
    video = world.add_image(64, 36, (10, 10, 10), kind="video")
    world.add_post(dia, "Vidéo", media=[video])
    return dia
