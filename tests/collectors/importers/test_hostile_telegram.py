"""Hostile Telegram Desktop exports (issue 21): a bad message costs itself; memory and time bound.

The exports are written here, in Telegram Desktop's shape (:mod:`telegram_fixture`), with one
message spoiled at a time; the bounds are measured on files built to break a streaming parser.
"""

from __future__ import annotations

import io
import json
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.jsonstream import CUT_MARK, MAX_STRING_BYTES, CappedStrings
from osint.collectors.importers.telegram_export import read_export
from osint.storage.records import PostRecord
from tests.collectors.importers.telegram_fixture import CHANNEL_ID, export_messages, write_export

PEER = f"-100{CHANNEL_ID}"


def read(folder: Path) -> tuple[dict[int, PostRecord], list[ImportProblem]]:
    with (folder / "result.json").open("rb") as fh:
        items = list(read_export(fh, folder))
    posts = {int(p.platform_id.split("/")[1]): p for p in items if isinstance(p, PostRecord)}
    return posts, [p for p in items if isinstance(p, ImportProblem)]


def spoiled(msg_id: int, **fields: Any) -> list[dict[str, Any]]:
    messages = export_messages()
    for message in messages:
        if message["id"] == msg_id:
            message.update(fields)
    return messages


SPOILS = {
    "date_unixtime a list": (5, {"date_unixtime": [1, 2]}, "dropped"),
    "edited_unixtime abc": (5, {"edited_unixtime": "abc"}, "kept"),
    "hashtag text a number": (
        3,
        {"text_entities": [{"type": "hashtag", "text": 5}, {"type": "plain", "text": " x"}]},
        "kept",
    ),
    "reactions counted as strings": (2, {"reactions": [{"type": "emoji", "count": "9"}]}, "kept"),
    "media_type a list": (9, {"media_type": ["video_file"], "file": "files/x.mp4"}, "kept"),
    "photo '.'": (9, {"photo": "."}, "kept"),
    "photo './'": (9, {"photo": "./"}, "kept"),
    "id a string": (5, {"id": "five"}, "dropped"),
    "from a dict": (4, {"from": {"name": "x"}}, "kept"),
    "text a number": (4, {"text": 17, "text_entities": None}, "kept"),
}


@pytest.mark.parametrize("spoil", SPOILS.values(), ids=SPOILS.keys())
def test_a_spoiled_message_costs_at_most_itself(
    spoil: tuple[int, dict[str, Any], str], tmp_path: Path
) -> None:
    msg_id, fields, fate = spoil
    posts, problems = read(write_export(tmp_path / "export", spoiled(msg_id, **fields)))
    others = set(range(2, 12)) - {msg_id}
    assert others <= set(posts)  # every other message is imported
    assert (msg_id in posts) == (fate == "kept")
    if fate == "dropped":
        assert any(not p.kept for p in problems)


def test_a_symlink_loop_under_photos_refuses_that_file_only(tmp_path: Path) -> None:
    export = write_export(tmp_path / "export", spoiled(9, photo="photos/loop/a.jpg"))
    (export / "photos" / "loop").symlink_to(export / "photos" / "loop")
    posts, problems = read(export)
    assert set(posts) == set(range(2, 12))
    (ref,) = posts[9].media
    assert ref.local_path is None and ref.error
    assert any(p.line == 9 and p.kept for p in problems)


def test_a_message_nested_too_deep_is_refused_alone(tmp_path: Path) -> None:
    deep: Any = "bottom"
    for _ in range(200):
        deep = [deep]
    posts, problems = read(write_export(tmp_path / "export", spoiled(4, text=deep)))
    assert set(posts) == set(range(2, 12)) - {4}
    assert [(p.line, p.message) for p in problems if not p.kept] == [
        (4, "nested more than 32 levels deep: skipped")
    ]


def _measure(
    stream: io.BufferedIOBase | CappedStrings | Any, folder: Path
) -> tuple[list[Any], float, int]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        items = list(read_export(stream, folder))
        return items, time.perf_counter() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_export_nested_200000_deep_costs_a_counter(tmp_path: Path) -> None:
    depth = 200_000
    head = json.dumps({"name": "c", "type": "public_channel", "id": 1})[:-1]
    body = head + ', "junk": ' + "[" * depth + "]" * depth + ', "messages": ['
    body += json.dumps(export_messages()[1]) + "]}"
    items, seconds, peak = _measure(io.BytesIO(body.encode()), tmp_path)
    assert [i.platform_id for i in items if isinstance(i, PostRecord)] == ["-1001/2"]
    assert seconds < 30 and peak < 64 * 1024 * 1024  # was 8.9 GB in 41 s


class _Endless(io.RawIOBase):
    """A result.json whose one message text is ``size`` bytes of 'x', made as it is read."""

    def __init__(self, size: int) -> None:
        head = json.dumps({"name": "c", "type": "public_channel", "id": 1, "messages": []})
        self.parts: Iterator[bytes] = self._parts(head[:-3].encode(), size)
        self.pending = b""

    @staticmethod
    def _parts(head: bytes, size: int) -> Iterator[bytes]:
        yield head + b'[{"id": 7, "type": "message", "date_unixtime": "1650535200", "text": "'
        block = b"x" * (1 << 20)
        for _ in range(size >> 20):
            yield block
        yield b'"}, {"id": 8, "type": "message", "date_unixtime": "1650535260", "text": "next"}]}'

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        while len(self.pending) < max(size, 1):
            part = next(self.parts, b"")
            if not part:
                break
            self.pending += part
        out, self.pending = self.pending[:size], self.pending[size:]
        return out


@pytest.mark.parametrize("megabytes", [16, 400])
def test_a_huge_text_is_cut_in_bounded_time_and_memory(megabytes: int, tmp_path: Path) -> None:
    items, seconds, peak = _measure(_Endless(megabytes << 20), tmp_path)
    posts = {p.platform_id: p for p in items if isinstance(p, PostRecord)}
    cut = posts["-1001/7"].text or ""
    assert cut.endswith(CUT_MARK) and MAX_STRING_BYTES <= len(cut) <= 2 * MAX_STRING_BYTES + 100
    assert posts["-1001/8"].text == "next"  # the message after it is read
    notes = [str(p) for p in items if isinstance(p, ImportProblem)]
    assert notes == ["message 7: its text is longer than 1 MiB: imported cut to its first 1 MiB"]
    assert seconds < 60 and peak < 64 * 1024 * 1024


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        'with \\"quotes\\" inside',
        "ends in a backslash \\\\",
        '\\\\\\\\\\"x',
        "é\\u00e9\\ud83d\\ude00",
    ],
)
@pytest.mark.parametrize("size", [1, 3, 7, 64])
def test_capped_strings_leave_short_json_as_it_is(text: str, size: int) -> None:
    data = ('{"a": "' + text + '", "b": ["' + text + '", 1], "' + text + '": null}').encode()
    stream = CappedStrings(io.BytesIO(data), cap=1 << 20)
    out = b"".join(iter(lambda: stream.read(size), b""))
    assert out == data and stream.cuts == 0


@pytest.mark.parametrize(
    "tail", ["x" * 50, 'x\\"' * 40, "\\\\" * 60, "é" * 40, "\\ud83d\\ude00" * 20]
)
def test_capped_strings_cut_at_a_safe_place_and_stay_json(tail: str) -> None:
    data = ('{"a": "' + tail + '", "b": "short", "c": ["' + tail + '"]}').encode()
    for size in (5, 8, 13):
        stream = CappedStrings(io.BytesIO(data), cap=16)
        out = b"".join(iter(lambda: stream.read(size), b""))  # noqa: B023
        value = json.loads(out)
        assert value["b"] == "short" and stream.cuts == 2
        assert value["a"].endswith(CUT_MARK) and value["c"][0].endswith(CUT_MARK)
