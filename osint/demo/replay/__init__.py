"""A loopback server that answers like the platforms do, for tests, the demo and monitoring.

    world = World()
    dia = world.add_account("x", "dia_diarra", created_at=...)
    world.add_post(dia, "text", media=[world.add_image()])
    with ReplayServer(world) as server:
        settings = settings.with_overrides(**server.settings_overrides())
        ...  # collect; change the world; collect again

See :mod:`osint.demo.replay.world` (the data) and :mod:`osint.demo.replay.server` (HTTP, faults, log).
"""

from __future__ import annotations

from osint.demo.replay.bluesky import BlueskyApp
from osint.demo.replay.mastodon import MastodonApp
from osint.demo.replay.server import (
    LoggedRequest,
    PlatformApp,
    ReplayRequest,
    ReplayServer,
    Reply,
    json_reply,
)
from osint.demo.replay.telegram import TelegramApp
from osint.demo.replay.world import Fault, World, WorldAccount, WorldMedia, WorldPost
from osint.demo.replay.x import XApp

PLATFORM_APPS: list[type[PlatformApp]] = [XApp, TelegramApp, BlueskyApp, MastodonApp]

__all__ = [
    "PLATFORM_APPS",
    "BlueskyApp",
    "Fault",
    "LoggedRequest",
    "MastodonApp",
    "PlatformApp",
    "ReplayRequest",
    "ReplayServer",
    "Reply",
    "TelegramApp",
    "World",
    "WorldAccount",
    "WorldMedia",
    "WorldPost",
    "XApp",
    "json_reply",
]
