"""A realistic Telegram Desktop JSON export, written by the tests: ``write_export(folder)``.

Shaped as Telegram Desktop writes it (``Export chat history`` -> JSON): channel metadata first,
then ``messages`` with ``date`` in local time and ``date_unixtime`` as a string, ``text`` as a
string or as a list of strings and entity objects, ``text_entities``, relative ``photo`` paths.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import skimage
from PIL import Image

CHANNEL_ID = 1647423982
ROCKET = Path(skimage.__file__).parent / "data" / "rocket.jpg"


def photo_with_exif(path: Path) -> tuple[int, int]:
    """A real photograph (scikit-image's rocket) re-saved with camera EXIF; its size."""
    with Image.open(ROCKET) as image:
        exif = Image.Exif()
        exif[271] = "Canon"  # Make
        exif[272] = "EOS 5D"  # Model
        exif[306] = "2022:04:21 09:58:00"  # DateTime
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, "JPEG", quality=90, exif=exif)
        return image.size


def _msg(msg_id: int, unix: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": msg_id,
        "type": "message",
        "date": "2022-04-21T12:00:00",  # the exporting computer's local time: not used
        "date_unixtime": str(unix),
        "from": "Dia Diarra",
        "from_id": f"channel{CHANNEL_ID}",
    }
    base.update(fields)
    text = base.setdefault("text", "")
    if "text_entities" not in base:
        parts = [text] if isinstance(text, str) else text
        base["text_entities"] = [
            p if isinstance(p, dict) else {"type": "plain", "text": p} for p in parts if p
        ]
    return base


def export_messages() -> list[dict[str, Any]]:
    t = 1650535200  # 2022-04-21T10:00:00Z
    return [
        {
            "id": 1,
            "type": "service",
            "date": "2022-04-21T11:55:00",
            "date_unixtime": str(t - 300),
            "actor": "Dia Diarra",
            "actor_id": f"channel{CHANNEL_ID}",
            "action": "create_channel",
            "title": "Dia Diarra",
            "text": "",
            "text_entities": [],
        },
        _msg(2, t, text="Charnier découvert près de Gossi. Ce que les Français ont laissé."),
        _msg(
            3,
            t + 60,
            photo="photos/photo_1@21-04-2022_12-01-00.jpg",
            width=1280,
            height=853,
            text=[
                "Les images parlent ",
                {"type": "hashtag", "text": "#Mali"},
                " ",
                {"type": "hashtag", "text": "#Gossi"},
                " voir ",
                {"type": "link", "text": "https://www.example.org/gossi?utm_source=tg"},
                " et ",
                {"type": "text_link", "text": "ici", "href": "https://news.example.com/a/1"},
                ", merci ",
                {"type": "mention", "text": "@wagner_watch"},
            ],
        ),
        _msg(
            4,
            t + 120,
            forwarded_from="RIA Novosti",
            text="Французские военные оставили массовое захоронение",
        ),
        _msg(
            5,
            t + 180,
            reply_to_message_id=3,
            text="Qui a filmé ?",
            edited="2022-04-21T12:05:00",
            edited_unixtime=str(t + 300),
            **{"from": "Amadou", "from_id": "user5012345678"},
        ),
        _msg(6, t + 240, photo="../outside.jpg", text="path traversal"),
        _msg(7, t + 300, photo="/etc/passwd", text="absolute path"),
        _msg(8, t + 360, photo="photos/escape.jpg", text="symlink leaving the folder"),
        _msg(9, t + 420, photo="photos/corrupt.jpg", text="a broken picture"),
        _msg(
            10,
            t + 480,
            photo="(File not included. Change data exporting settings to download.)",
            text="not downloaded",
        ),
        _msg(11, t + 540, photo="photos/photo_1@21-04-2022_12-01-00.jpg", text="same photo"),
    ]


def write_export(folder: Path, messages: list[dict[str, Any]] | None = None) -> Path:
    """The export folder with result.json, its photos, and the traps around it."""
    folder.mkdir(parents=True, exist_ok=True)
    photo_with_exif(folder / "photos" / "photo_1@21-04-2022_12-01-00.jpg")
    good = (folder / "photos" / "photo_1@21-04-2022_12-01-00.jpg").read_bytes()
    (folder / "photos" / "corrupt.jpg").write_bytes(good[: len(good) // 3])
    outside = folder.parent / "outside.jpg"
    outside.write_bytes(b"secret bytes outside the export")
    escape = folder / "photos" / "escape.jpg"
    if not escape.is_symlink():
        escape.symlink_to(outside)
    result = {
        "name": "Dia Diarra",
        "type": "public_channel",
        "id": CHANNEL_ID,
        "messages": messages if messages is not None else export_messages(),
    }
    (folder / "result.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return folder


def png_bomb() -> bytes:
    """A tiny PNG whose pixel count is past Pillow's decompression-bomb error limit."""
    out = io.BytesIO()
    Image.new("1", (14_000, 14_000)).save(out, "PNG")
    return out.getvalue()
