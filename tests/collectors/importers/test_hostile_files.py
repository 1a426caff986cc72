"""Hostile and broken import files (issue 21): each bad part costs itself, never the file.

Every bad input is generated here, beside good rows, and imported through the real service:
the bad record is reported with its line (or message id), every other record is stored, the
import ends normally with a count of problems, and fails only when nothing could be imported.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from osint import imports
from osint.cases import create_case
from osint.collectors.importers import ImportProblem, lines
from osint.collectors.importers.csvrows import FIELD_LIMIT
from osint.collectors.importers.shares import read_shares
from osint.collectors.importers.twarc import read_twarc
from osint.config import Settings
from osint.errors import InputError
from osint.storage.db import Store
from osint.storage.models import Account, Post
from osint.storage.records import PostRecord
from tests.collectors.importers.test_twarc import USERS, page_line, tweet


def twarc_items(data: bytes) -> tuple[list[PostRecord], list[ImportProblem]]:
    items = list(read_twarc(io.BytesIO(data)))
    return (
        [i for i in items if isinstance(i, PostRecord)],
        [i for i in items if isinstance(i, ImportProblem)],
    )


def good_page(first: int, count: int = 3) -> str:
    return page_line([tweet(first + i, f"ordinary tweet {first + i} #Mali") for i in range(count)])


def posts_in(store: Store) -> list[str]:
    with store.reader() as s:
        return sorted(s.execute(select(Post.platform_id)).scalars())


def import_file(store: Store, settings: Settings, path: Path, kind: str = "twarc") -> Any:
    create_case(store, "c")
    if kind == "twarc":
        return imports.import_twarc(store, settings, case="c", path=path, read_in_child=False)
    return imports.import_shares(store, settings, case="c", path=path)


# -- twarc2 JSONL: wrong JSON types ----------------------------------------------------------
def _page_with(**overrides: Any) -> str:
    page = json.loads(good_page(500, 2))
    page.update(overrides)
    return json.dumps(page)


WRONG_TYPES = {
    "__twarc a list": _page_with(__twarc=["not", "an", "object"]),
    "includes a list": _page_with(includes=[{"users": USERS}]),
    "entities a list": page_line(
        [tweet(500, "entities as a list", entities=[{"hashtags": []}]), tweet(501, "fine")]
    ),
    "attachments a string": page_line(
        [tweet(500, "attachments as text", attachments="3_1"), tweet(501, "fine")]
    ),
    "hashtag tag a number": page_line(
        [tweet(500, "tag 5", entities={"hashtags": [{"tag": 5}]}), tweet(501, "fine")]
    ),
    "flattened, lists for objects": json.dumps(
        {**tweet(500, "flat"), "author": [USERS[0]], "entities": [], "attachments": []}
    ),
}


@pytest.mark.parametrize("line", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_a_field_of_the_wrong_type_costs_at_most_its_tweet(line: str) -> None:
    data = "\n".join([good_page(100), line, good_page(200)]).encode()
    posts, problems = twarc_items(data)
    ids = {p.platform_id for p in posts}
    assert {"100", "101", "102", "200", "201", "202"} <= ids  # the pages around it
    assert "500" in ids  # imported without the mistyped field
    assert all(p.line == 2 for p in problems)


def test_import_with_wrong_types_ends_normally_with_a_count(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    bad = [tweet(900, "text as a list") | {"text": ["a", "b"]}, tweet(901, "fine")]
    path.write_text("\n".join([good_page(100), page_line(bad), *WRONG_TYPES.values()]) + "\n")
    summary = import_file(store, settings, path)
    assert summary.problem_count == 0 and "900" in posts_in(store)
    assert "line 2: tweet 900: its text is not a text: kept as its JSON" in summary.problems
    assert "901" in posts_in(store) and "100" in posts_in(store)
    assert summary.rows == (
        summary.posts_new + summary.posts_known + summary.posts_repeated + summary.problem_count
    )


# -- twarc2 JSONL: pages that are not tweets -------------------------------------------------
def test_a_counts_page_is_one_clear_line() -> None:
    counts = [
        {"end": f"2021-10-16T{h + 1:02d}:00:00.000Z", "start": f"2021-10-16T{h:02d}:00:00.000Z"}
        | {"tweet_count": 4000 + h}
        for h in range(20)
    ]
    line = json.dumps({"data": counts, "meta": {"total_tweet_count": 90_000}})
    posts, problems = twarc_items(line.encode())
    assert posts == [] and len(problems) == 1
    assert problems[0].message == "a page of 20 tweet counts (twarc2 counts), not tweets: skipped"


def test_lists_users_and_compliance_are_named() -> None:
    lists = {"data": [{"id": "1354", "name": "Pilot", "owner_id": "1194", "member_count": 3}]}
    users = {"data": [USERS[0], USERS[1]]}
    compliance = {"id": "1170025343920402432", "action": "delete", "reason": "protected"}
    data = "\n".join(json.dumps(x) for x in (lists, users, compliance)).encode()
    _, problems = twarc_items(data)
    assert [p.message for p in problems] == [
        "a page of 1 lists, not tweets: skipped",
        "a page of 2 users, not tweets: skipped",
        "a compliance result (delete, protected) for 1170025343920402432, not a tweet: skipped",
    ]


def test_a_file_of_nothing_but_counts_fails_with_that_line(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "counts.jsonl"
    path.write_text(json.dumps({"data": [{"start": "a", "end": "b", "tweet_count": 3}]}) + "\n")
    with pytest.raises(InputError, match=r"nothing could be imported.*tweet counts"):
        import_file(store, settings, path)


# -- twarc2 JSONL: text that is not quite UTF-8 ----------------------------------------------
def test_a_lone_surrogate_costs_one_character_not_the_page() -> None:
    page = page_line([tweet(1, "emoji cut in half: \ud83d end"), tweet(2, "its neighbour")])
    assert "\\ud83d" in page  # json.dumps escapes it, as the API did
    posts, problems = twarc_items(page.encode())
    assert [p.text for p in posts] == ["emoji cut in half: \ufffd end", "its neighbour"]
    assert [(p.message, p.kept) for p in problems] == [
        ("1 lone UTF-16 surrogate(s) replaced by U+FFFD", True)
    ]


def test_invalid_utf8_keeps_every_row_and_names_the_offset(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    before = "\n".join(good_page(100 + 10 * i) for i in range(30)).encode() + b"\n"
    bad = page_line([tweet(7000, "caf\u00e9")]).encode().replace(b"\\u00e9", b"\xe9")
    path = tmp_path / "bad.jsonl"
    path.write_bytes(before + bad + b"\n" + good_page(9000).encode() + b"\n")
    summary = import_file(store, settings, path)
    offset = len(before) + bad.index(b"\xe9")
    assert summary.problem_count == 0 and summary.posts_new == 30 * 3 + 1 + 3
    assert f"line 31: not UTF-8 at byte offset {offset:,}" in summary.problems[0]
    assert "7000" in posts_in(store) and "9000" in posts_in(store)


# -- twarc2 JSONL: size and depth ------------------------------------------------------------
@pytest.mark.parametrize("depth", [1_100, 100_000])
def test_deep_nesting_refuses_its_line_only(depth: int) -> None:
    deep = '{"data": [{"id": "5", "text": "x", "geo": ' + "[" * depth + "]" * depth + "}]}"
    posts, problems = twarc_items("\n".join([good_page(1), deep, good_page(10)]).encode())
    assert len(posts) == 6
    assert [(p.line, p.message) for p in problems] == [
        (2, "JSON nested more than 1,024 levels deep: skipped")
    ]


def test_raw_fields_nested_past_what_the_store_writes_refuse_their_tweet() -> None:
    metrics: Any = {}
    for _ in range(400):
        metrics = {"deeper": metrics}
    page = page_line([tweet(1, "deep", public_metrics=metrics), tweet(2, "flat")])
    posts, problems = twarc_items(page.encode())
    assert [p.platform_id for p in posts] == ["2"]
    assert (
        problems[0].message == "tweet 1: its metrics are nested more than 255 levels deep: skipped"
    )


def test_a_line_over_the_limit_is_skipped_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 1_000_000)
    huge = page_line([tweet(5, "y" * 3_000_000)])
    posts, problems = twarc_items("\n".join([good_page(1), huge, good_page(10)]).encode())
    assert len(posts) == 6 and [p.line for p in problems] == [2]
    assert problems[0].message.startswith("a line of 3,000,")
    assert "over the limit of 1,000,000: skipped" in problems[0].message


# -- both stores alike: what PostgreSQL refuses ----------------------------------------------
def test_nul_bytes_and_overlong_ids_behave_alike_on_every_store(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    page = page_line(
        [
            tweet(1, "a NUL\x00 in the text", lang="x" * 25),
            tweet(2, "an id too long") | {"id": "9" * 300},
            tweet(3, "fine"),
            tweet(4, "author id too long") | {"author_id": "8" * 300},
        ]
    )
    path = tmp_path / "nul.jsonl"
    path.write_text(page + "\n")
    summary = import_file(store, settings, path)
    assert posts_in(store) == ["1", "3"]
    assert summary.problem_count == 2 and summary.note_count == 2
    with store.reader() as s:
        post = s.execute(select(Post).where(Post.platform_id == "1")).scalar_one()
    assert post.text == "a NUL\ufffd in the text" and post.lang is None
    messages = "\n".join(summary.problems)
    assert "the post id is 300 characters long; the store keeps 255" in messages
    assert "the account id is 300 characters long" in messages


def test_a_platform_name_too_long_is_refused_before_anything(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "s.csv"
    path.write_text("object_id,account_id,content_id,timestamp_share\no,a,c,1650530000\n")
    create_case(store, "c")
    with pytest.raises(InputError, match="1 to 40 characters"):
        imports.import_shares(store, settings, case="c", path=path, platform="p" * 41)


# -- shares CSV ------------------------------------------------------------------------------
HEADER = "object_id,account_id,content_id,timestamp_share\n"


def test_shares_dates_out_of_range_cost_their_row_not_the_batch(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    rows = [f"o{i},a{i % 7},c{i},{1650530000 + i}" for i in range(500)]
    rows[100] = "o,a1,bad1,0001-01-01T00:00:00+05:00"  # before year 1 in UTC
    rows[200] = "o,a1,bad2,9999-12-31T23:30:00-05:00"  # past 9999 in UTC
    rows[300] = "o,a1,bad3,1e300"
    path = tmp_path / "dates.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    summary = import_file(store, settings, path, kind="shares")
    assert summary.posts_new == 497 and summary.problem_count == 3
    assert [p.split(":")[0] for p in summary.problems] == ["line 102", "line 202", "line 302"]
    assert "outside years 1-9999 in UTC" in summary.problems[0]


def test_shares_invalid_utf8_keeps_every_other_row(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    rows = [f"o{i % 50},a{i % 99},c{i},{1650530000 + i}".encode() for i in range(30_000)]
    rows[29_990] = b"o1,a\xff1,c29990,1650530000"
    data = HEADER.encode() + b"\n".join(rows) + b"\n"
    path = tmp_path / "utf8.csv"
    path.write_bytes(data)
    summary = import_file(store, settings, path, kind="shares")
    offset = data.index(b"\xff")
    assert summary.posts_new == 29_999 and summary.problem_count == 1
    assert summary.problems[0] == (
        f"line 29992: not UTF-8 at byte offset {offset:,} (invalid start byte): skipped"
    )


def test_shares_field_over_the_csv_limit_is_one_line(tmp_path: Path) -> None:
    big = "z" * (FIELD_LIMIT + 1)
    data = (HEADER + "o1,a1,c1,1650530000\n" + f"o2,a2,{big},1650530001\n").encode()
    data += b"o3,a3,c3,1650530002\n"
    items = list(read_shares(io.BytesIO(data)))
    posts = [i.platform_id for i in items if isinstance(i, PostRecord)]
    problems = [str(i) for i in items if isinstance(i, ImportProblem)]
    assert posts == ["c1", "c3"]
    assert problems == [
        f"line 3: not readable as CSV (field larger than field limit ({FIELD_LIMIT})): skipped"
    ]


def test_shares_line_over_the_limit_is_never_held(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lines, "MAX_LINE_BYTES", 1_000_000)
    data = (HEADER + "o1,a1,c1,1650530000\n" + "o2,a2," + "q" * 2_500_000 + ",1\n").encode()
    data += b"o3,a3,c3,1650530002\n"
    items = list(read_shares(io.BytesIO(data)))
    assert [i.platform_id for i in items if isinstance(i, PostRecord)] == ["c1", "c3"]
    (problem,) = [i for i in items if isinstance(i, ImportProblem)]
    assert problem.line == 3 and "over the limit of 1,000,000" in problem.message


def test_a_file_where_nothing_can_be_imported_fails(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(HEADER + "o,a,c,never\no,a,d,nor this\n")
    with pytest.raises(InputError, match=r"nothing could be imported.*2 of 2 rows"):
        import_file(store, settings, path, kind="shares")
    with store.reader() as s:
        assert s.execute(select(func.count()).select_from(Account)).scalar_one() == 0
