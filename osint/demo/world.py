"""The demo scenario rendered as a replay :class:`~osint.demo.replay.world.World`.

Only this adapter knows the scenario; the replay server then serves it in each platform's real
API shapes, and the collectors cannot tell it from the platforms.
"""

from __future__ import annotations

import io
import re

from PIL import Image

from osint.demo.replay.world import World, WorldAccount
from osint.demo.scenario import Persona, Scenario
from osint.storage.kinds import PostKind

HASHTAG = re.compile(r"(?<!\w)#(\w+)")
MASTODON_DOMAIN = "demo.example"  # the instance the demo's Mastodon accounts live on


def platform_handle(persona: Persona) -> str:
    """The handle as the platform shows it: Mastodon's carries its instance (user@domain)."""
    if persona.platform == "mastodon":
        return f"{persona.handle}@{MASTODON_DOMAIN}"
    return persona.handle


def build_world(scenario: Scenario, platforms: set[str]) -> World:
    """Accounts, posts and pictures of ``scenario`` on the given platforms."""
    world = World()
    media: dict[str, str] = {}
    for key, data in scenario.images.items():
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
        media[key] = world.add_media(data, "image/jpeg", width=width, height=height).id
    accounts: dict[str, WorldAccount] = {}
    for p in scenario.personas.values():
        if p.platform not in platforms:
            continue
        html_bio = p.platform == "mastodon" and p.bio.startswith("<")  # Mastodon notes are HTML
        accounts[p.key] = world.add_account(
            p.platform,
            platform_handle(p),
            id=p.platform_id,
            display_name=p.display_name,
            bio="" if html_bio else p.bio,
            extra={"note_html": p.bio} if html_bio else {},
            location=p.location,
            created_at=p.created_at,
            avatar=media[p.avatar],
            followers=p.followers,
            following=p.following,
        )
    ids = {m.key: m.platform_id for m in scenario.messages}
    for m in scenario.messages:
        if m.author not in accounts:
            continue
        target = ids.get(m.target) if m.target else None
        world.add_post(
            accounts[m.author],
            "" if m.kind == PostKind.REPOST else m.text,
            id=m.platform_id,
            created_at=m.created_at,
            kind=m.kind,
            repost_of=target if m.kind == PostKind.REPOST else None,
            quote_of=target if m.kind == PostKind.QUOTE else None,
            reply_to=target if m.kind == PostKind.REPLY else None,
            media=[media[k] for k in m.images],
            links=list(m.links),
            hashtags=list(dict.fromkeys([*m.hashtags, *HASHTAG.findall(m.text)])),
            lang="fr",
        )
    return world
