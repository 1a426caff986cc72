"""The X normaliser (documented v2 shapes -> records) and the client's error mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from osint.collectors.base import PageQuery
from osint.collectors.http import HttpClient
from osint.collectors.x import (
    XCollector,
    avatar_original,
    page_from_flat_tweet,
    posts_from_page,
    profile_from_user,
    snowflake_time,
)
from osint.config import Secret, Settings
from osint.errors import AccountNotFound, AccountUnavailable, AuthError, InputError
from osint.storage.records import AccountRecord

USER = {
    "id": "2244994945",
    "name": "Developers",
    "username": "XDevelopers",
    "created_at": "2013-12-14T04:35:55.000Z",
    "description": "The voice of the X Dev team",
    "location": "127.0.0.1",
    "profile_image_url": "https://pbs.twimg.com/profile_images/1/abc_normal.jpg",
    "protected": False,
    "public_metrics": {
        "followers_count": 513962,
        "following_count": 2039,
        "tweet_count": 3635,
        "listed_count": 1672,
    },
    "url": "https://t.co/3ZX3TNiZCY",
    "entities": {
        "url": {
            "urls": [{"url": "https://t.co/3ZX3TNiZCY", "expanded_url": "https://developer.x.com"}]
        }
    },
    "verified": True,
}

PAGE: dict[str, Any] = {
    "data": [
        {
            "id": "1511757922354663425",
            "text": "RT @sahel: Images &amp; news from Gossi",
            "author_id": "2244994945",
            "created_at": "2022-04-06T17:30:00.000Z",
            "edit_history_tweet_ids": ["1511757922354663425"],
            "referenced_tweets": [{"type": "retweeted", "id": "1511750000000000000"}],
            "entities": {"mentions": [{"start": 3, "end": 9, "username": "sahel", "id": "99"}]},
            "public_metrics": {"retweet_count": 5, "like_count": 0},
            "lang": "fr",
        },
        {
            "id": "1511700000000000000",
            "text": "Look #Gossi https://t.co/aaa https://t.co/bbb",
            "author_id": "2244994945",
            "created_at": "2022-04-06T14:00:00.000Z",
            "attachments": {"media_keys": ["3_1", "7_2", "3_9"]},
            "entities": {
                "hashtags": [{"start": 5, "end": 11, "tag": "Gossi"}],
                "urls": [
                    {
                        "url": "https://t.co/aaa",
                        "expanded_url": "https://news.example/a",
                        "unwound_url": "https://news.example/article",
                    },
                    {
                        "url": "https://t.co/bbb",
                        "media_key": "3_1",
                        "expanded_url": "https://x.com/XDevelopers/status/1511700000000000000/photo/1",
                    },
                ],
            },
        },
        {
            "id": "1511600000000000000",
            "text": "@sahel yes, and look at this",
            "author_id": "2244994945",
            "created_at": "2022-04-06T12:00:00.000Z",
            "referenced_tweets": [
                {"type": "replied_to", "id": "1511590000000000000"},
                {"type": "quoted", "id": "1511580000000000000"},
            ],
            "in_reply_to_user_id": "99",
            "conversation_id": "1511590000000000000",
        },
    ],
    "includes": {
        "users": [USER, {"id": "99", "name": "Sahel", "username": "sahel"}],
        "media": [
            {
                "media_key": "3_1",
                "type": "photo",
                "url": "https://pbs.twimg.com/media/one.jpg",
                "width": 1200,
                "height": 800,
                "alt_text": "a field",
            },
            {
                "media_key": "7_2",
                "type": "video",
                "preview_image_url": "https://pbs.twimg.com/ext_tw_video_thumb/2/pu/img/p.jpg",
                "variants": [{"content_type": "video/mp4", "url": "https://video.twimg.com/v.mp4"}],
            },
        ],
        "tweets": [
            {"id": "1511750000000000000", "text": "Images &amp; news from Gossi", "author_id": "99"}
        ],
    },
    "meta": {
        "result_count": 3,
        "newest_id": "1511757922354663425",
        "next_token": "7140dibdnow9c7btw3w29",
    },
}


def test_profile_from_user() -> None:
    profile = profile_from_user(USER)
    assert profile.account.platform_id == "2244994945" and profile.account.handle == "XDevelopers"
    assert profile.account.created_at == datetime(2013, 12, 14, 4, 35, 55, tzinfo=UTC)
    assert profile.url == "https://developer.x.com"  # expanded, not t.co
    assert profile.avatar_url == "https://pbs.twimg.com/profile_images/1/abc.jpg"
    assert (profile.followers_count, profile.posts_count, profile.listed_count) == (
        513962,
        3635,
        1672,
    )
    assert profile.verified is True and profile.protected is False


def test_posts_from_page_kinds_entities_and_media() -> None:
    page = posts_from_page(PAGE)
    assert page.problems == []
    repost, photo_post, reply = page.posts
    assert repost.kind == "repost" and repost.repost_of == "1511750000000000000"
    assert repost.text == "RT @sahel: Images & news from Gossi" and repost.lang == "fr"
    assert repost.extra["referenced_tweets"][0]["author_username"] == "sahel"
    assert repost.url == "https://x.com/XDevelopers/status/1511757922354663425"
    assert repost.metrics["retweet_count"] == 5 and repost.mentions == ["sahel"]
    assert photo_post.kind == "post" and photo_post.hashtags == ["Gossi"]
    assert photo_post.links == [
        "https://news.example/article"
    ]  # the photo's own link is not a link
    photo, video, missing = photo_post.media
    assert (photo.kind, photo.source_url, photo.alt_text) == (
        "photo",
        "https://pbs.twimg.com/media/one.jpg",
        "a field",
    )
    assert video.kind == "video" and video.source_url.endswith("/p.jpg")  # the poster
    assert missing.source_url is None and missing.error == "not in the response"
    assert reply.kind == "reply" and reply.reply_to == "1511590000000000000"
    assert reply.quote_of == "1511580000000000000"
    assert reply.extra["in_reply_to_user_id"] == "99"


def test_missing_fields_are_recovered_or_reported() -> None:
    author = AccountRecord("x", "2244994945", "XDevelopers")
    page = posts_from_page(
        {"data": [{"id": "1511757922354663425", "text": "no date"}, {"text": "no id"}]},
        default_author=author,
    )
    assert len(page.posts) == 1 and page.problems == ["skipped a tweet: a tweet without an id"]
    post = page.posts[0]
    assert post.created_at == snowflake_time("1511757922354663425")
    assert post.created_at.date().isoformat() == "2022-04-06" and post.extra["created_at_from_id"]
    assert post.account is author


def test_flattened_tweet_round_trips_through_the_page_normaliser() -> None:
    flat = dict(PAGE["data"][1])
    flat["author"] = USER
    flat["attachments"] = {"media_keys": ["3_1"], "media": [PAGE["includes"]["media"][0]]}
    flat["referenced_tweets"] = [
        {
            "type": "quoted",
            "id": "1511580000000000000",
            "text": "quoted text",
            "author_id": "99",
            "author": {"id": "99", "username": "sahel", "name": "Sahel"},
        }
    ]
    page = posts_from_page(page_from_flat_tweet(flat))
    (post,) = page.posts
    assert post.account.handle == "XDevelopers" and post.kind == "quote"
    assert post.media[0].source_url == "https://pbs.twimg.com/media/one.jpg"
    assert post.extra["referenced_tweets"][0]["author_username"] == "sahel"


def test_helpers() -> None:
    assert (
        avatar_original("https://pbs.twimg.com/p/x_normal.png") == "https://pbs.twimg.com/p/x.png"
    )
    assert avatar_original(None) is None
    assert snowflake_time("12") is None
    assert XCollector.normalize_target("https://x.com/Dia_Diarra/status/1") == "dia_diarra"
    assert XCollector.normalize_target(" @Dia_Diarra ") == "dia_diarra"
    with pytest.raises(InputError):
        XCollector.normalize_target("not/valid")


# -- the client's error mapping, over httpx.MockTransport -----------------------------------
def collector(settings: Settings, answer: Any) -> XCollector:
    settings = settings.with_overrides(
        x_bearer_token=Secret("tok"), http_min_interval=0.0, http_backoff=0.0
    )
    http = HttpClient(settings, transport=httpx.MockTransport(answer))
    return XCollector(http, settings)


def reply_with(status: int, body: Any) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=json.dumps(body).encode())

    return answer


@pytest.mark.parametrize(
    ("status", "body", "error", "match"),
    [
        (
            200,
            {
                "errors": [
                    {
                        "title": "Not Found Error",
                        "detail": "Could not find user with username: [nobody].",
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            },
            AccountNotFound,
            "X has no account @nobody",
        ),
        (
            200,
            {
                "errors": [
                    {
                        "title": "Forbidden",
                        "detail": "User has been suspended: [nobody].",
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                ]
            },
            AccountUnavailable,
            "suspended",
        ),
        (
            401,
            {
                "title": "Unauthorized",
                "type": "about:blank",
                "status": 401,
                "detail": "Unauthorized",
            },
            AuthError,
            "HTTP 401: Unauthorized",
        ),
        (
            403,
            {"title": "Client Forbidden", "detail": "This app is not enrolled", "type": "x"},
            AuthError,
            "not enrolled",
        ),
    ],
)
def test_profile_errors(
    settings: Settings, status: int, body: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        collector(settings, reply_with(status, body)).fetch_profile("nobody")


def test_protected_timeline_and_empty_page(settings: Settings) -> None:
    profile = profile_from_user(USER)
    denied = {
        "errors": [
            {
                "title": "Authorization Error",
                "detail": "Sorry, you are not authorized to see the user with id: [2244994945].",
                "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
            }
        ]
    }
    with pytest.raises(AccountUnavailable) as err:
        collector(settings, reply_with(200, denied)).fetch_page(profile, PageQuery())
    assert err.value.status == "protected"
    empty = collector(settings, reply_with(200, {"meta": {"result_count": 0}}))
    page = empty.fetch_page(profile, PageQuery(since_id="1"))
    assert page.posts == [] and page.next_cursor is None


def test_page_request_parameters(settings: Settings) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=json.dumps(PAGE).encode())

    query = PageQuery(
        cursor="abc",
        since_id="15",
        since=datetime(2022, 4, 1, tzinfo=UTC),
        until=datetime(2022, 5, 1, tzinfo=UTC),
        limit=3,
    )
    page = collector(settings, answer).fetch_page(profile_from_user(USER), query)
    params = seen[0].url.params
    assert seen[0].url.path == "/2/users/2244994945/tweets"
    assert params["max_results"] == "5" and params["pagination_token"] == "abc"
    assert params["since_id"] == "15" and params["start_time"] == "2022-04-01T00:00:00Z"
    assert params["end_time"] == "2022-05-01T00:00:00Z"
    assert (
        "attachments.media_keys" in params["expansions"]
        and "preview_image_url" in params["media.fields"]
    )
    assert seen[0].headers["authorization"] == "Bearer tok"
    assert page.next_cursor == "7140dibdnow9c7btw3w29" and len(page.posts) == 3


def test_lookup_posts_against_the_replay_server(x_settings: Settings, replay: Any) -> None:
    from tests.demo.replay.worlds import dia_world

    dia = dia_world(replay.world, posts=3)
    posts = replay.world.timeline(dia)
    replay.world.delete_post(posts[0])
    with HttpClient(x_settings) as http:
        lookup = XCollector(http, x_settings).lookup_posts([p.id for p in posts[:3]] + ["42"])
    assert sorted(p.platform_id for p in lookup.found) == sorted(p.id for p in posts[1:3])
    assert set(lookup.missing) == {posts[0].id, "42"}
    assert "Could not find tweet" in lookup.missing[posts[0].id]
    assert lookup.capture is not None and lookup.capture.status_code == 200


def test_lookup_names_the_response_that_answered_for_each_post(
    x_settings: Settings, replay: Any
) -> None:
    from tests.demo.replay.worlds import dia_world

    dia = dia_world(replay.world, posts=120)  # 124 posts: two requests of at most 100 ids
    ids = [p.id for p in replay.world.timeline(dia)]
    replay.world.delete_post(replay.world.timeline(dia)[0])
    with HttpClient(x_settings) as http:
        lookup = XCollector(http, x_settings).lookup_posts(ids)
    first, last = lookup.capture_for(ids[0]), lookup.capture_for(ids[-1])
    assert first is not None and last is not None and first is not last
    assert last is lookup.capture and ids[0] in first.url and ids[0] not in last.url
    assert set(lookup.missing) == {ids[0]} and len(lookup.found) == 123
