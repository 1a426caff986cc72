"""The platforms osint collects from: a plain list, checked by meta-tests over every collector."""

from __future__ import annotations

from osint.collectors.base import Collector
from osint.collectors.bluesky import BlueskyCollector
from osint.collectors.mastodon import MastodonCollector
from osint.collectors.telegram import TelegramCollector
from osint.collectors.x import XCollector
from osint.errors import InputError

COLLECTORS: list[type[Collector]] = [
    XCollector,
    TelegramCollector,
    BlueskyCollector,
    MastodonCollector,
]


def get_collector(platform: str) -> type[Collector]:
    for collector in COLLECTORS:
        if collector.platform == platform:
            return collector
    known = ", ".join(c.platform for c in COLLECTORS)
    raise InputError(f"osint cannot collect from {platform!r}", hint=f"platforms: {known}")
