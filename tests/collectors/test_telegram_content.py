"""Telegram message types stored as structured content (issue 15 item 5), over real sockets.

The replay app writes each type in t.me's preview markup (the classes public t.me parsers read:
``tgme_widget_message_poll*``, ``..._location_wrap``/``_venue_*``, ``..._document_wrap``/
``_title``/``_extra``, ``..._voice_player``, ``..._sticker_wrap``, ``..._roundvideo_*``).
"""

from __future__ import annotations

import json

from sqlalchemy import select

from osint.cases import create_case
from osint.collect import collect_account
from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.storage.db import Store
from osint.storage.models import Post, PostMedia
from tests.conftest import CliRun


def test_message_types_are_stored_as_content_and_albums_keep_their_order(
    store: Store, x_settings: Settings, replay: ReplayServer, run_cli: CliRun
) -> None:
    world = replay.world
    channel = world.add_account("telegram", "sahel_news", display_name="Sahel News")
    album = [
        world.add_image(40, 30, (200, 10, 10)),
        world.add_image(40, 30, (10, 200, 10), kind="video"),
        world.add_image(40, 30, (10, 10, 200)),
    ]
    world.add_post(channel, "Album", media=album)
    world.add_post(
        channel,
        "",
        extra={
            "poll": {
                "question": "Qui a tué ?",
                "options": [("Wagner", 61), ("FAMa", 39)],
                "voters": 1234,
            }
        },
    )
    world.add_post(
        channel,
        "",
        extra={
            "location": {
                "lat": 15.1744,
                "lon": -1.2836,
                "name": "Camp de Gossi",
                "address": "Gossi, Mali",
            }
        },
    )
    world.add_post(
        channel,
        "Lire",
        extra={"document": {"title": "Оппозиционные медиапроекты.pdf", "extra": "2.4 MB"}},
    )
    world.add_post(channel, "", extra={"audio": {"title": "Hymne.mp3", "extra": "3:45"}})
    world.add_post(channel, "", extra={"voice": {"duration": "0:37"}})
    world.add_post(channel, "", extra={"sticker": {"emoji": "🔥"}})
    world.add_post(channel, "", media=[world.add_image(32, 32, (9, 9, 9), kind="round")])
    create_case(store, "c")
    summary = collect_account(store, x_settings, platform="telegram", target="sahel_news", case="c")
    assert summary.status == "completed" and summary.posts_new == 8 and not summary.problems
    with store.reader() as s:
        posts = {p.platform_id: p for p in s.execute(select(Post)).scalars()}
        media = s.execute(
            select(
                PostMedia.post_id, PostMedia.position, PostMedia.kind, PostMedia.source_url
            ).order_by(PostMedia.post_id, PostMedia.position)
        ).all()
    content = {int(pid.rpartition("/")[2]): p.content or [] for pid, p in posts.items()}
    poll = content[2][0]
    assert poll["type"] == "poll" and poll["question"] == "Qui a tué ?"
    assert [(o["text"], o["percent"]) for o in poll["options"]] == [("Wagner", 61), ("FAMa", 39)]
    assert poll["voters"] == 1234
    place = content[3][0]
    assert (place["lat"], place["lon"], place["name"]) == (15.1744, -1.2836, "Camp de Gossi")
    doc = content[4][0]
    assert doc["file_name"] == "Оппозиционные медиапроекты.pdf"
    assert doc["size"] == int(2.4 * 1024**2) and doc["type"] == "document"
    audio = content[5][0]
    assert audio["type"] == "audio" and audio["duration"] == 225
    assert content[6] == [{"type": "voice", "duration": 37}]
    assert content[7][0]["emoji"] == "🔥"
    assert content[8] == [{"type": "round_video", "duration": 9}]
    album_post = posts["sahel_news/1"].id
    kinds = [(m.position, m.kind) for m in media if m.post_id == album_post]
    assert kinds == [(0, "photo"), (1, "video"), (2, "photo")]  # as on the page
    album_urls = [m.source_url for m in media if m.post_id == album_post]
    assert [u.rsplit("/", 1)[1].split(".")[0] for u in album_urls] == [m.id for m in album]
    round_post = posts["sahel_news/8"].id
    assert [m.kind for m in media if m.post_id == round_post] == ["video"]  # its poster kept
    exported = [
        json.loads(line) for line in run_cli("export", "posts", "--case", "c").stdout.splitlines()
    ]
    assert any(r["content"] and r["content"][0]["type"] == "poll" for r in exported)
    report = run_cli.home / "report.html"
    run_cli("report", "--case", "c", "-o", str(report))
    page = report.read_text(encoding="utf-8")
    assert "poll: Qui a tué ?: Wagner (61%); FAMa (39%)" in page.replace("&#39;", "'")
    assert "document: Оппозиционные медиапроекты.pdf, 2.4 MB" in page


def test_the_report_shows_content_in_words(tmp_path: object) -> None:
    from osint.content import describe

    assert describe(
        {"type": "poll", "question": "Q?", "options": [{"text": "a", "percent": 60}]}
    ) == ("poll: Q?: a (60%)")
    assert describe({"type": "document", "file_name": "x.pdf", "extra": "2.4 MB"}) == (
        "document: x.pdf, 2.4 MB"
    )
    assert describe({"type": "voice", "duration": 37}) == "voice note 0:37"
    assert describe({"type": "withheld", "country_codes": ["FR"]}) == "withheld in FR"
    assert describe({"type": "place", "name": "Gossi", "lat": 1.5, "lon": 2.0}) == (
        "place: Gossi (1.5, 2.0)"
    )
