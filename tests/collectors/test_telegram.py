"""The Telegram normaliser on t.me's markup, and the single-message look-up over the replay server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from selectolax.lexbor import LexborHTMLParser

from osint.collectors.http import HttpClient
from osint.collectors.telegram import (
    TelegramCollector,
    channel_profile,
    parse_count,
    parse_preview,
    post_from_message,
    style_url,
)
from osint.config import Settings
from osint.errors import InputError

CARD = """<!DOCTYPE html><html><head><meta property="og:title" content="Dia News"></head>
<body><div class="tgme_page_wrap"><div class="tgme_page">
<div class="tgme_page_photo"><a href="tg://resolve?domain=Dia_News">
<img class="tgme_page_photo_image" src="https://cdn4.telesco.pe/file/abc.jpg"></a></div>
<div class="tgme_page_title" dir="auto"><span dir="auto">Dia &amp; News</span></div>
<div class="tgme_page_extra">10 612 280 subscribers</div>
<div class="tgme_page_description" dir="auto">Vérité<br/>pour <b>Gossi</b></div>
<div class="tgme_page_action"><a class="tgme_action_button_new shine"
 href="tg://resolve?domain=Dia_News">View in Telegram</a></div>
<div class="tgme_page_context_link_wrap"><a href="/s/Dia_News" class="tgme_page_context_link">
Preview channel</a></div></div></div></body></html>"""

CONTACT = """<!DOCTYPE html><html><body><div class="tgme_page">
<div class="tgme_page_icon"></div><div class="tgme_page_description">If you have
<strong>Telegram</strong>, you can contact <a href="tg://resolve?domain=nobody">@nobody</a>
right away.</div></div></body></html>"""


def message(number: int, body: str, *, when: str = "2022-04-21T10:15:00+00:00") -> str:
    footer = (
        '<div class="tgme_widget_message_footer compact js-message_footer">'
        '<div class="tgme_widget_message_info short js-message_info">'
        '<span class="tgme_widget_message_views">1.2K</span>'
        '<span class="tgme_widget_message_meta">edited <a class="tgme_widget_message_date" '
        f'href="https://t.me/Dia_News/{number}"><time datetime="{when}" class="time">10:15'
        "</time></a></span></div></div>"
    )
    return (
        '<div class="tgme_widget_message_wrap js-widget_message_wrap">'
        '<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
        f'data-post="Dia_News/{number}"><div class="tgme_widget_message_bubble">'
        '<div class="tgme_widget_message_author accent_color"><a '
        'class="tgme_widget_message_owner_name" href="https://t.me/Dia_News"><span dir="auto">'
        f"Dia News</span></a></div>{body}{footer}</div></div></div>"
    )


RICH = (
    '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
    '<a class="tgme_widget_message_forwarded_from_name" href="https://t.me/sahel_news/45">'
    '<span dir="auto">Sahel News</span></a></div>'
    '<a class="tgme_widget_message_reply" href="https://t.me/Dia_News/3">'
    '<div class="tgme_widget_message_author accent_color"><span '
    'class="tgme_widget_message_author_name">Dia News</span></div>'
    '<div class="tgme_widget_message_text js-message_reply_text" dir="auto">quoted old text'
    "</div></a>"
    '<div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap">'
    '<div class="tgme_widget_message_grouped js-message_grouped">'
    '<a class="tgme_widget_message_photo_wrap grouped_media_wrap blured js-message_photo" '
    "style=\"left:0px;top:0px;width:149px;height:88px;background-image:url('https://cdn4."
    'telesco.pe/file/a.jpg\')" href="https://t.me/Dia_News/9?single"></a>'
    '<a class="tgme_widget_message_photo_wrap grouped_media_wrap blured js-message_photo" '
    'style="width:149px;background-image:url(//cdn4.telesco.pe/file/b.jpg)" '
    'href="https://t.me/Dia_News/9?single"></a></div></div>'
    '<a class="tgme_widget_message_video_player js-message_video_player" href="x">'
    '<i class="tgme_widget_message_video_thumb" style="background-image:url(\'https://cdn4.'
    'telesco.pe/file/poster.jpg\')"></i><video src="https://cdn4.telesco.pe/file/v.mp4?token='
    'abc"></video><time class="message_video_duration js-message_video_duration">0:42</time></a>'
    '<div class="tgme_widget_message_text js-message_text" dir="auto"><i class="emoji" '
    "style=\"background-image:url('//telegram.org/img/emoji/40/E29AA1.png')\"><b>⚡</b></i> "
    'Les soldats &amp; <b>Gossi</b><br/>voir <a href="https://news.example/a" target="_blank" '
    'rel="noopener" onclick="return confirm(\'Open this link?\')">news.example/a</a> '
    '<a href="?q=%23Gossi">#Gossi</a> <a href="https://t.me/sahel_news">@sahel_news</a> '
    '<a href="javascript:alert(1)">x</a></div>'
    '<a class="tgme_widget_message_link_preview" href="https://news.example/a">'
    '<i class="link_preview_right_image" style="background-image:url(\'https://cdn4.telesco.'
    'pe/file/prev.jpg\')"></i><div class="link_preview_site_name accent_color">News</div>'
    '<div class="link_preview_title">A story</div>'
    '<div class="link_preview_description">What happened</div></a>'
)


def preview_page(*messages: str, before: int | None = None) -> str:
    more = (
        f'<a href="/s/Dia_News?before={before}" class="tme_messages_more js-messages_more" '
        f'data-before="{before}"></a>'
        if before
        else ""
    )
    return (
        '<!DOCTYPE html><html><body><section class="tgme_channel_history js-message_history">'
        f"{more}{''.join(messages)}</section></body></html>"
    )


def test_counts_and_styles() -> None:
    assert parse_count("10 612 280 subscribers") == 10612280
    assert parse_count("12.3K") == 12300 and parse_count("1.2M") == 1200000
    assert parse_count("950") == 950 and parse_count("") is None
    assert style_url("width:1px;background-image:url('https://a/b.jpg')") == "https://a/b.jpg"
    assert style_url('background-image:url("//cdn/x.jpg")') == "https://cdn/x.jpg"
    assert style_url("width:800px") is None and style_url(None) is None


def test_channel_card_and_the_contact_card_of_unknown_names() -> None:
    profile = channel_profile(CARD, "dia_news")
    assert profile is not None
    assert profile.account.platform_id == "dia_news" and profile.account.handle == "Dia_News"
    assert profile.account.display_name == "Dia & News" and profile.bio == "Vérité\npour Gossi"
    assert profile.followers_count == 10612280 and profile.extra["kind"] == "channel"
    assert profile.avatar_url == "https://cdn4.telesco.pe/file/abc.jpg"
    assert profile.extra["preview_link"] and profile.url == "https://t.me/Dia_News"
    assert channel_profile(CONTACT, "nobody") is None


def test_a_rich_message() -> None:
    node = LexborHTMLParser(message(9, RICH)).css_first(".tgme_widget_message")
    post = post_from_message(node)
    assert post.platform_id == "dia_news/9" and post.url == "https://t.me/Dia_News/9"
    assert post.created_at == datetime(2022, 4, 21, 10, 15, tzinfo=UTC)
    assert post.kind == "repost" and post.repost_of == "sahel_news/45"
    assert post.reply_to == "dia_news/3" and post.extra["reply_to_text"] == "quoted old text"
    assert post.text.startswith("⚡ Les soldats & Gossi\nvoir news.example/a #Gossi")
    assert "quoted old text" not in post.text and "A story" not in post.text
    assert post.links == ["https://news.example/a"]  # javascript: is no link; one preview URL
    assert post.hashtags == ["Gossi"] and post.mentions == ["sahel_news"]
    assert [(m.kind, m.source_url) for m in post.media] == [
        ("photo", "https://cdn4.telesco.pe/file/a.jpg"),
        ("photo", "https://cdn4.telesco.pe/file/b.jpg"),
        ("video", "https://cdn4.telesco.pe/file/poster.jpg"),
        ("other", "https://cdn4.telesco.pe/file/prev.jpg"),
    ]
    assert post.metrics == {"views": 1200} and post.extra["edited"] is True
    assert post.extra["link_preview"]["title"] == "A story"
    assert post.extra["forwarded_from"]["name"] == "Sahel News"


def test_preview_page_order_cursor_and_broken_messages() -> None:
    broken_photo = (
        '<a class="tgme_widget_message_photo_wrap" style="width:800px" href="x"></a>'
        '<div class="tgme_widget_message_text js-message_text">lost photo</div>'
    )
    html = preview_page(
        message(11, '<div class="tgme_widget_message_text js-message_text">old</div>'),
        message(12, broken_photo),
        message(13, '<div class="tgme_widget_message_text js-message_text">new</div>').replace(
            '<time datetime="2022-04-21T10:15:00+00:00" class="time">10:15</time>', ""
        ),
        message(14, '<div class="tgme_widget_message_text js-message_text">newest</div>'),
        before=11,
    )
    page = parse_preview(html, "the page P")
    assert [p.platform_id for p in page.posts] == ["dia_news/14", "dia_news/11"]  # newest first
    assert page.before == "11"
    assert page.problems == [
        "skipped Telegram message Dia_News/12: a photo whose style has no background-image URL;"
        " its raw HTML is in the page P",
        "skipped Telegram message Dia_News/13: no time[datetime] (the message has no date); its"
        " raw HTML is in the page P",
    ]
    last = parse_preview(preview_page(message(2, "")), "P")
    assert last.before is None and last.posts[0].text == ""
    with pytest.raises(ValueError, match="no message history"):
        parse_preview("<html><body><h1>We'll be back soon</h1></body></html>", "P")


def test_targets() -> None:
    assert TelegramCollector.normalize_target("https://t.me/s/Dia_News") == "dia_news"
    assert TelegramCollector.normalize_target("t.me/Dia_News/12") == "dia_news"
    assert TelegramCollector.normalize_target("@Dia_News") == "dia_news"
    with pytest.raises(InputError, match="not a Telegram channel"):
        TelegramCollector.normalize_target("no")
    assert TelegramCollector.newest_id(["a/9", "a/10", "bad"]) == "a/10"


def test_lookup_posts_against_the_replay_server(x_settings: Settings, replay: Any) -> None:
    from tests.demo.replay.worlds import dia_world

    dia = dia_world(replay.world, posts=3, platform="telegram")
    posts = replay.world.timeline(dia)
    replay.world.delete_post(posts[0])
    wanted = [p.id for p in posts[:3]] + ["dia_diarra/999"]
    with HttpClient(x_settings) as http:
        lookup = TelegramCollector(http, x_settings).lookup_posts(wanted)
    assert sorted(p.platform_id for p in lookup.found) == sorted(p.id for p in posts[1:3])
    assert lookup.missing == {posts[0].id: "Post not found", "dia_diarra/999": "Post not found"}
    assert lookup.capture is not None and "embed=1" in lookup.capture.url
    with HttpClient(x_settings) as http, pytest.raises(InputError):
        TelegramCollector(http, x_settings).lookup_posts(["not-a-post-id"])
