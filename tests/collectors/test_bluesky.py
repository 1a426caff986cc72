"""The Bluesky normaliser on the lexicon's shapes, the XRPC error mapping, and getPosts look-ups."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from osint.collectors.base import PageQuery
from osint.collectors.bluesky import (
    BlueskyCollector,
    facet_entities,
    posts_from_feed,
    profile_from,
    tid_micros,
    uri_time,
)
from osint.collectors.http import HttpClient
from osint.config import Settings
from osint.errors import AccountNotFound, AccountUnavailable, CollectError, InputError

DID = "did:plc:z72i7hdynmk6r22z27h6tvur"
OTHER = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
ME = {"did": DID, "handle": "dia-diarra.bsky.social", "displayName": "Dia Diarra"}
THEM = {"did": OTHER, "handle": "sahel.bsky.social", "displayName": "Sahel"}
POST_URI = f"at://{DID}/app.bsky.feed.post/3k44deefqdk2g"
QUOTED_URI = f"at://{OTHER}/app.bsky.feed.post/3k43tv4rft22g"
TEXT = "Gossi 🇲🇱 #Mali @sahel.bsky.social voir news.example/a"


def byte_range(text: str, part: str) -> dict[str, int]:
    start = text.encode().index(part.encode())
    return {"byteStart": start, "byteEnd": start + len(part.encode())}


FACETS = [
    {
        "index": byte_range(TEXT, "#Mali"),
        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "Mali"}],
    },
    {
        "index": byte_range(TEXT, "@sahel.bsky.social"),
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": OTHER}],
    },
    {
        "index": byte_range(TEXT, "news.example/a"),
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://news.example/a"}],
    },
]


def view(uri: str, author: dict[str, Any], **record: Any) -> dict[str, Any]:
    return {
        "uri": uri,
        "cid": "bafyreib2rxk3rh6kzwq",
        "author": author,
        "record": {
            "$type": "app.bsky.feed.post",
            "createdAt": "2022-04-21T10:00:00.000Z",
            **record,
        },
        "replyCount": 1,
        "repostCount": 2,
        "likeCount": 3,
        "quoteCount": 0,
        "indexedAt": "2022-04-21T10:00:01.000Z",
        "labels": [],
    }


IMAGES = {
    "$type": "app.bsky.embed.images#view",
    "images": [
        {
            "thumb": "https://cdn.bsky.app/img/feed_thumbnail/plain/x/a@jpeg",
            "fullsize": "https://cdn.bsky.app/img/feed_fullsize/plain/x/a@jpeg",
            "alt": "a field",
            "aspectRatio": {"width": 4, "height": 3},
        }
    ],
}


def feed() -> list[dict[str, Any]]:
    own = view(POST_URI, ME, text=TEXT, facets=FACETS, langs=["fr"])
    own["embed"] = {
        "$type": "app.bsky.embed.recordWithMedia#view",
        "record": {
            "$type": "app.bsky.embed.record#view",
            "record": {
                "$type": "app.bsky.embed.record#viewRecord",
                "uri": QUOTED_URI,
                "author": THEM,
                "value": {"text": "quoted"},
            },
        },
        "media": IMAGES,
    }
    reply = view(
        f"at://{DID}/app.bsky.feed.post/3k44aaaaaaa2g",
        ME,
        text="réponse",
        reply={
            "root": {"uri": QUOTED_URI, "cid": "c"},
            "parent": {"uri": QUOTED_URI, "cid": "c"},
        },
    )
    gone = {"$type": "app.bsky.feed.defs#notFoundPost", "uri": QUOTED_URI, "notFound": True}
    repost_reason = {
        "$type": "app.bsky.feed.defs#reasonRepost",
        "by": ME,
        "uri": f"at://{DID}/app.bsky.feed.repost/3k45bbbbbbb2g",
        "cid": "bafyrepost",
        "indexedAt": "2022-04-22T08:00:00.000Z",
    }
    return [
        {"post": view(QUOTED_URI, THEM, text="their post"), "reason": repost_reason},
        {"post": own},
        {"post": reply, "reply": {"root": gone, "parent": gone}},
        {"post": own, "reason": {"$type": "app.bsky.feed.defs#reasonPin"}},
        {"post": {"cid": "no uri"}},
    ]


def test_tids_and_facets() -> None:
    assert uri_time(POST_URI) is not None and uri_time("at://x/y/not-a-tid") is None
    assert tid_micros("3k44deefqdk2g") > tid_micros("3k43tv4rft22g")  # type: ignore[operator]
    links, mentions, tags = facet_entities({"text": TEXT, "facets": FACETS})
    assert (links, mentions, tags) == (["https://news.example/a"], ["sahel.bsky.social"], ["Mali"])


def test_feed_items_reposts_quotes_replies_and_problems() -> None:
    posts, problems = posts_from_feed(feed())
    repost, own, reply = posts
    assert repost.kind == "repost" and repost.platform_id.endswith(
        "/app.bsky.feed.repost/3k45bbbbbbb2g"
    )
    assert repost.account.platform_id == DID and repost.repost_of == QUOTED_URI
    assert repost.created_at == datetime(2022, 4, 22, 8, tzinfo=UTC)
    assert repost.extra["reposted"] == {"author": "sahel.bsky.social", "text": "their post"}
    assert own.kind == "quote" and own.quote_of == QUOTED_URI and own.lang == "fr"
    assert own.url == "https://bsky.app/profile/dia-diarra.bsky.social/post/3k44deefqdk2g"
    assert own.media[0].source_url.endswith("/feed_fullsize/plain/x/a@jpeg")
    assert own.media[0].alt_text == "a field" and own.hashtags == ["Mali"]
    assert own.metrics == {"reply_count": 1, "repost_count": 2, "like_count": 3, "quote_count": 0}
    assert reply.kind == "reply" and reply.reply_to == QUOTED_URI
    assert reply.extra["reply_parent"] == "not_found"  # the parent was deleted
    assert len(problems) == 1 and "not an at:// URI" in problems[0]  # the pinned repeat is skipped


def test_profile() -> None:
    profile = profile_from(
        {
            **ME,
            "description": "Malienne",
            "avatar": "https://cdn.bsky.app/img/avatar/plain/x/y@jpeg",
            "followersCount": 12,
            "followsCount": 80,
            "postsCount": 5,
            "createdAt": "2022-04-15T10:00:00.000Z",
            "labels": [{"val": "!hide"}],
        }
    )
    assert profile.account.platform_id == DID and profile.account.handle == ME["handle"]
    assert (profile.followers_count, profile.following_count, profile.posts_count) == (12, 80, 5)
    assert profile.extra["labels"] == ["!hide"] and profile.bio == "Malienne"


def collector(settings: Settings, status: int, body: Any, seen: list[httpx.Request]) -> Any:
    """A collector whose requests get ``body`` (or ``body[method]``) over a mock transport."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        method = request.url.path.rpartition("/")[2]
        reply = body.get(method, body) if isinstance(body, dict) else body
        return httpx.Response(status, content=json.dumps(reply).encode())

    settings = settings.with_overrides(http_min_interval=0.0, http_backoff=0.0)
    http = HttpClient(settings, transport=httpx.MockTransport(answer))
    return BlueskyCollector(http, settings)


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        (
            {"error": "InvalidRequest", "message": "Profile not found"},
            AccountNotFound,
            "no account",
        ),
        (
            {"error": "AccountTakedown", "message": "Account has been suspended"},
            AccountUnavailable,
            "taken down",
        ),
        (
            {"error": "AccountDeactivated", "message": "Account is deactivated"},
            AccountUnavailable,
            "deactivated",
        ),
        (
            {"error": "InvalidRequest", "message": "Error: actor must be a valid did or a handle"},
            CollectError,
            "refused",
        ),
    ],
)
def test_xrpc_errors(settings: Settings, body: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        collector(settings, 400, body, []).fetch_profile("nobody.bsky.social")


def test_requests_by_did_and_the_since_id_stop(settings: Settings) -> None:
    seen: list[httpx.Request] = []
    answers = {
        "app.bsky.actor.getProfile": ME,
        "app.bsky.feed.getAuthorFeed": {"feed": feed(), "cursor": "next"},
    }
    bluesky = collector(settings, 200, answers, seen)
    bluesky.fetch_profile("dia-diarra.bsky.social", known_id=DID)  # follows a renamed handle
    assert seen[0].url.params["actor"] == DID
    assert seen[0].url.path == "/xrpc/app.bsky.actor.getProfile"
    profile = profile_from(ME)
    page = bluesky.fetch_page(profile, PageQuery(cursor="abc", since_id=POST_URI, limit=3))
    params = seen[1].url.params
    assert params["cursor"] == "abc" and params["limit"] == "3"
    assert params["filter"] == "posts_with_replies"
    assert [p.kind for p in page.posts] == ["repost"] and page.next_cursor is None
    assert BlueskyCollector.newest_id([QUOTED_URI, POST_URI]) == POST_URI
    assert BlueskyCollector.normalize_target("https://bsky.app/profile/Dia.bsky.social") == (
        "dia.bsky.social"
    )
    assert BlueskyCollector.normalize_target(DID) == DID
    with pytest.raises(InputError):
        BlueskyCollector.normalize_target("not a handle")


def test_lookup_posts_against_the_replay_server(x_settings: Settings, replay: Any) -> None:
    from tests.demo.replay.worlds import dia_world

    dia = dia_world(replay.world, posts=30, platform="bluesky")
    own = [p for p in replay.world.timeline(dia) if p.kind != "repost"]
    replay.world.delete_post(own[0])
    repost = f"at://did:plc:x/app.bsky.feed.repost/{own[1].id.rpartition('/')[2]}"
    wanted = [p.id for p in own] + [repost]
    with HttpClient(x_settings) as http:
        lookup = BlueskyCollector(http, x_settings).lookup_posts(wanted)
    assert sorted(p.platform_id for p in lookup.found) == sorted(p.id for p in own[1:])
    assert list(lookup.missing) == [own[0].id] and "getPosts" in lookup.missing[own[0].id]
    getposts = [r for r in replay.requests if r.path.endswith("getPosts")]
    assert len(getposts) == 2  # 33 post URIs in chunks of 25; the repost record is not asked
    assert lookup.capture is not None and lookup.capture.status_code == 200
