from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.shares import SharesFormatError, read_shares
from osint.storage.records import PostRecord


def parse(text: str, **kw: str) -> list:
    return list(read_shares(io.BytesIO(text.encode()), **kw))


def test_coortweet_layout() -> None:
    rows = parse(
        "object_id,account_id,content_id,timestamp_share\no1,a1,c1,1650530000\n", modality="repost"
    )
    (rec,) = rows
    assert isinstance(rec, PostRecord)
    assert rec.platform_id == "c1" and rec.account.platform_id == "a1"
    assert rec.created_at == datetime.fromtimestamp(1650530000, UTC)
    assert rec.objects == [("repost", "o1")] and rec.kind == "repost" and rec.repost_of == "o1"


def test_multimodal_layout() -> None:
    text = (
        "account_id,post_id,url_id,hashtag_id,domain_id,phash_id,timestamp\n"
        "fb_1,p1,u9,,d3,,1629589836\n"
    )
    (rec,) = parse(text)
    assert rec.objects == [("url", "u9"), ("domain", "d3")] and rec.kind == "share"


def test_bad_rows_reported_with_line_numbers_rest_imported() -> None:
    text = (
        "object_id,account_id,content_id,timestamp_share\n"
        "o1,a1,c1,1650530000\n"
        "o2,a2,c2,yesterday\n"
        "o3,a3\n"
        ",a4,c4,1650530000\n"
        "o5,a5,c5,2022-04-21T10:00:00Z\n"
    )
    rows = parse(text)
    problems = [r for r in rows if isinstance(r, ImportProblem)]
    posts = [r for r in rows if isinstance(r, PostRecord)]
    assert [p.line for p in problems] == [3, 4, 5]
    assert "unparseable timestamp" in problems[0].message
    assert [p.platform_id for p in posts] == ["c1", "c5"]
    assert posts[1].created_at == datetime(2022, 4, 21, 10, tzinfo=UTC)


def test_missing_columns() -> None:
    with pytest.raises(SharesFormatError, match="timestamp"):
        parse("object_id,account_id,content_id\no,a,c\n")


def test_empty_file() -> None:
    assert parse("") == []
