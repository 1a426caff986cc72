"""Reading and matching ThreatExchange-format PDQ hash lists, hostile lines included."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime

from osint.analyzers.hashlist import (
    COLUMNS,
    TE_COLUMNS,
    CaseImageHash,
    hashlist_findings,
    match_hashlist,
    parse_hashlist,
)
from osint.analyzers.imagereuse import ImageUsage
from osint.analyzers.pdq import pdq_distance

RNG = random.Random(20)


def random_hash() -> str:
    return "".join(RNG.choice("0123456789abcdef") for _ in range(64))


def flip(hex_hash: str, bits: int) -> str:
    value = int(hex_hash, 16)
    for bit in RNG.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


def test_threatexchange_csv_with_bad_lines() -> None:
    good, other = random_hash(), random_hash()
    text = (
        "signal_type,signal_str,collab,category,tags\r\n"
        f"pdq,{good},Sample Data,POSITIVE_CLASS,staged media\r\n"
        "pdq,not-a-hash,x,POSITIVE_CLASS,\r\n"
        f"video_md5,{'a' * 32},x,POSITIVE_CLASS,\r\n"
        f"pdq,{good},too,many,cells,here\r\n"
        f'pdq,{other.upper()},"=HYPERLINK(""http://evil"")\u202e",WEIRD,\x07bell\r\n'
    )
    parsed = parse_hashlist(io.StringIO(text))
    assert parsed.format == "csv"
    assert [e.line for e in parsed.entries] == [2, 6]
    first, hostile = parsed.entries
    assert (first.pdq, first.collab, first.category, first.tags) == (
        good,
        "Sample Data",
        "POSITIVE_CLASS",
        ("staged", "media"),
    )
    assert hostile.pdq == other  # upper-case hex read as the same hash
    assert "\u202e" not in hostile.collab and hostile.tags == ("bell",)
    assert [(p.line, p.message.split(" (")[0].split(":")[0]) for p in parsed.problems] == [
        (3, "not a PDQ hash"),
        (4, "not a PDQ signal"),
        (5, "6 cells where the header has 5"),
        (6, "unknown category 'WEIRD'"),
    ]


def test_signal_file_lines_and_comments() -> None:
    one, two = random_hash(), random_hash()
    lines = [
        "# known staged pictures",
        f"pdq {one}",
        "",
        two,
        "pdq",
        f"pdq {one} extra",
        "x" * 30000,
    ]
    parsed = parse_hashlist(lines)
    assert parsed.format == "text" and [e.pdq for e in parsed.entries] == [one, two]
    assert [p.line for p in parsed.problems] == [5, 6, 7]


def test_matching_within_the_threshold_and_mirrors() -> None:
    base, mirror = random_hash(), random_hash()
    images = [CaseImageHash(1, base, mirror), CaseImageHash(2, random_hash(), random_hash())]
    entries = parse_hashlist([flip(base, 31), flip(base, 32), flip(mirror, 5)]).entries
    found = match_hashlist(images, entries)
    assert [(m.media_id, m.entry.line, m.distance, m.mirrored) for m in found] == [
        (1, 3, 5, True),
        (1, 1, 31, False),
    ]
    assert pdq_distance(base, entries[1].pdq) == 32  # one bit past: not a match
    assert match_hashlist(images, entries, threshold=4) == []


def test_findings_cite_the_picture_posts_accounts_and_the_list() -> None:
    base = random_hash()
    entry = parse_hashlist(["signal_type,signal_str,collab", f"pdq,{base},Partner list"]).entries
    matches = match_hashlist([CaseImageHash(7, base)], entry)
    usages = [
        ImageUsage(7, 11, "x", datetime(2022, 4, 21, tzinfo=UTC), 101, "@a (x)"),
        ImageUsage(7, 12, "x", datetime(2022, 4, 20, tzinfo=UTC), 102, "@b (x)"),
        ImageUsage(8, 13, "x", None, 103, "@c (x)"),
    ]
    (draft,) = hashlist_findings(matches, usages, {7: "ab" * 32}, list_name="partner.csv")
    assert (draft.media, draft.posts, draft.accounts) == ((7,), (102, 101), (12, 11))
    assert draft.score == 1.0 and "'Partner list'" in draft.explanation
    assert draft.details["entries"][0]["line"] == 2 and draft.details["sha256"] == "ab" * 32


def test_the_export_columns_start_with_threatexchanges() -> None:
    assert COLUMNS[: len(TE_COLUMNS)] == TE_COLUMNS
    assert next(csv.reader([",".join(COLUMNS)])) == list(COLUMNS)
