from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.telegram_export import (
    TelegramExportError,
    locate_export,
    marked_peer_id,
    read_export,
    safe_export_path,
)
from osint.storage.records import PostRecord
from tests.collectors.importers.telegram_fixture import CHANNEL_ID, write_export

PEER = f"-100{CHANNEL_ID}"


def read(folder: Path) -> tuple[dict[str, PostRecord], list[ImportProblem]]:
    with (folder / "result.json").open("rb") as fh:
        items = list(read_export(fh, folder))
    posts = {p.platform_id: p for p in items if isinstance(p, PostRecord)}
    return posts, [p for p in items if isinstance(p, ImportProblem)]


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_export(tmp_path / "ChatExport_2022-04-21")


def test_messages_become_posts_service_messages_do_not(export: Path) -> None:
    posts, _ = read(export)
    assert sorted(int(pid.split("/")[1]) for pid in posts) == list(range(2, 12))
    first = posts[f"{PEER}/2"]
    assert first.platform == "telegram"
    assert first.created_at == datetime(2022, 4, 21, 10, 0, tzinfo=UTC)  # date_unixtime, not date
    assert first.text.startswith("Charnier découvert")
    assert first.account.platform_id == PEER and first.account.display_name == "Dia Diarra"
    assert first.url == f"https://t.me/c/{CHANNEL_ID}/2"
    assert first.kind == "post"


def test_text_as_a_list_of_entities(export: Path) -> None:
    post = read(export)[0][f"{PEER}/3"]
    assert post.text == (
        "Les images parlent #Mali #Gossi voir https://www.example.org/gossi?utm_source=tg "
        "et ici, merci @wagner_watch"
    )
    assert post.hashtags == ["Mali", "Gossi"]
    assert post.links == [
        "https://www.example.org/gossi?utm_source=tg",
        "https://news.example.com/a/1",
    ]
    assert post.mentions == ["wagner_watch"]
    assert {e["type"] for e in post.extra["entities"]} == {
        "hashtag",
        "link",
        "text_link",
        "mention",
    }


def test_text_list_without_text_entities(tmp_path: Path) -> None:
    message = {
        "id": 7,
        "type": "message",
        "date": "2021-01-01T00:00:00",
        "date_unixtime": "1609459200",
        "from": "x",
        "from_id": "user1",
        "text": ["see ", {"type": "link", "text": "example.com/a"}],
    }
    (tmp_path / "result.json").write_text(
        json.dumps({"name": "g", "type": "private_group", "id": 42, "messages": [message]})
    )
    (post,) = read(tmp_path)[0].values()
    assert post.platform_id == "-42/7" and post.account.platform_id == "1"
    assert post.text == "see example.com/a" and post.links == ["http://example.com/a"]


def test_forward_is_a_repost_of_its_source_and_reply_is_a_reply(export: Path) -> None:
    posts, _ = read(export)
    forward, reply = posts[f"{PEER}/4"], posts[f"{PEER}/5"]
    assert forward.kind == "repost" and forward.repost_of == "RIA Novosti"
    assert forward.objects and forward.objects[0][0] == "repost"
    assert forward.objects[0][1].startswith("telegram:RIA Novosti#")
    assert reply.kind == "reply" and reply.reply_to == f"{PEER}/3"
    assert reply.account.platform_id == "5012345678" and reply.account.display_name == "Amadou"
    assert reply.extra["edited_at"] == "2022-04-21T10:05:00+00:00"


def test_photos_resolved_inside_the_export_only(export: Path) -> None:
    posts, problems = read(export)
    (photo,) = posts[f"{PEER}/3"].media
    assert photo.kind == "photo" and photo.local_path is not None
    assert photo.local_path == (export / "photos" / "photo_1@21-04-2022_12-01-00.jpg").resolve()
    assert photo.source_url == "photos/photo_1@21-04-2022_12-01-00.jpg"
    refused = {p.line: p.message for p in problems}
    assert set(refused) == {6, 7, 8}
    assert "'..'" in refused[6] and "absolute" in refused[7] and "symlink" in refused[8]
    for msg_id in (6, 7, 8):
        (ref,) = posts[f"{PEER}/{msg_id}"].media  # the post is imported, its file is not
        assert ref.local_path is None and ref.error
    (skipped,) = posts[f"{PEER}/10"].media
    assert skipped.local_path is None and skipped.error.startswith("not in the export")
    assert str(problems[0]).startswith("message 6: imported without its photo '../outside.jpg'")
    assert all(p.kept for p in problems)  # every message was imported


def test_truncated_json_yields_what_came_before_then_a_clear_error(export: Path) -> None:
    raw = (export / "result.json").read_bytes()
    cut = raw.index(b'"id": 5')  # inside message 5
    stream = io.BytesIO(raw[:cut])
    seen = []
    with pytest.raises(TelegramExportError, match="after message 4"):
        for item in read_export(stream, export):
            seen.append(item)
    assert [p.platform_id for p in seen if isinstance(p, PostRecord)] == [
        f"{PEER}/2",
        f"{PEER}/3",
        f"{PEER}/4",
    ]


def test_not_a_telegram_export(tmp_path: Path) -> None:
    with pytest.raises(TelegramExportError, match="no Telegram chat"):
        list(read_export(io.BytesIO(b'{"rows": [1, 2]}'), tmp_path))


def test_full_account_export_with_several_chats(tmp_path: Path) -> None:
    def chat(chat_id: int, kind: str, ids: list[int]) -> dict:
        return {
            "name": f"chat {chat_id}",
            "type": kind,
            "id": chat_id,
            "messages": [
                {"id": i, "type": "message", "date_unixtime": "1650535200", "text": f"m{i}"}
                for i in ids
            ],
        }

    data = {
        "about": "Here is the data you requested.",
        "chats": {
            "about": "...",
            "list": [chat(1, "public_channel", [1, 2]), chat(2, "personal_chat", [1])],
        },
        "left_chats": {"about": "...", "list": [chat(3, "private_supergroup", [9])]},
    }
    (tmp_path / "result.json").write_text(json.dumps(data))
    posts, _ = read(tmp_path)
    assert sorted(posts) == ["-1001/1", "-1001/2", "-1003/9", "2/1"]
    assert posts["2/1"].account.platform_id == "2"  # no from_id: the chat speaks
    assert posts["-1003/9"].extra["chat"]["name"] == "chat 3"


def test_old_export_without_date_unixtime_says_the_zone_is_unknown(tmp_path: Path) -> None:
    message = {"id": 1, "type": "message", "date": "2019-05-01T10:00:00", "text": "old"}
    (tmp_path / "result.json").write_text(
        json.dumps({"name": "c", "type": "public_channel", "id": 5, "messages": [message]})
    )
    (post,) = read(tmp_path)[0].values()
    assert post.created_at == datetime(2019, 5, 1, 10, tzinfo=UTC)
    assert "local time" in post.extra["time_zone"]


@pytest.mark.parametrize(
    "raw,expected",
    [("user123", "123"), ("channel123", "-100123"), ("chat123", "-123"), ("RIA", "RIA")],
)
def test_marked_peer_ids(raw: str, expected: str) -> None:
    assert marked_peer_id(raw) == expected


@pytest.mark.parametrize(
    "relative", ["../x.jpg", "photos/../../x.jpg", "/etc/passwd", "C:\\Windows\\x.jpg", "..\\x"]
)
def test_unsafe_paths_are_refused(tmp_path: Path, relative: str) -> None:
    local, refusal = safe_export_path(tmp_path, relative)
    assert local is None and refusal


def test_locate_export(tmp_path: Path) -> None:
    assert locate_export(tmp_path) == (tmp_path / "result.json", tmp_path)
    assert locate_export(tmp_path / "result.json") == (tmp_path / "result.json", tmp_path)
