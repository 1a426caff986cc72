"""The fast lane's look-ups and id allocation (storage/bulk.py), on the suite's database."""

from __future__ import annotations

from itertools import pairwise

from sqlalchemy import text

from osint.cases import create_case
from osint.storage.bulk import BulkRows
from osint.storage.columns import ACCOUNT_COLUMNS
from osint.storage.db import Store
from osint.storage.types import utcnow


def test_select_in_finds_texts_whatever_they_hold(store: Store) -> None:
    case_id = create_case(store, "c").id
    pids = ["a", "b,c", 'q"uote', "back\\slash", "sep\x1fin", "NULL", " sp ace"]
    with store.session() as session:
        bulk = BulkRows(session)
        ids, now = bulk.allocate_ids("accounts", len(pids)), bulk.utc(utcnow())
        rows = [
            (i, case_id, "x", p, None, None, "active", None, now, now)
            for i, p in zip(ids, pids, strict=True)
        ]
        assert bulk.insert_new("accounts", ACCOUNT_COLUMNS, rows) is None
    with store.session() as session:
        bulk = BulkRows(session)

        def found(values: list[str]) -> set[str]:
            got = bulk.select_in(
                "accounts", ("platform_id",), {"case_id": case_id, "platform": "x"},
                "platform_id", values,
            )  # fmt: skip
            return {row[0] for row in got}

        assert found(pids) == set(pids)  # one holds the separator: the values go one by one
        plain = [p for p in pids if "\x1f" not in p]
        assert found([*plain, "absent"]) == set(plain)  # joined into one text
        assert found(["b,c"]) == {"b,c"}
        assert found(["absent", "other"]) == set()


def test_allocated_ids_are_fresh_and_in_order_when_the_sequence_skips(store: Store) -> None:
    with store.session() as session:
        bulk = BulkRows(session)
        first = bulk.allocate_ids("posts", 5)
        assert len(set(first)) == 5 and first == sorted(first)
        if store.dialect == "postgresql":  # as when other writers draw values meanwhile
            seq = session.execute(text("SELECT pg_get_serial_sequence('posts', 'id')")).scalar()
            session.execute(text(f"ALTER SEQUENCE {seq} INCREMENT BY 3"))
            spaced = bulk.allocate_ids("posts", 4)
            session.execute(text(f"ALTER SEQUENCE {seq} INCREMENT BY 1"))
            assert [b - a for a, b in pairwise(spaced)] == [3, 3, 3]
            assert spaced[0] > first[-1]


def test_insert_new_names_the_rows_that_went_in(store: Store) -> None:
    # Some rows hit the unique (case, platform, platform_id) index: the ids returned are those of
    # the others, whether the ids are consecutive (a range scan on SQLite) or not.
    case_id = create_case(store, "c").id
    with store.session() as session:
        bulk = BulkRows(session)
        now = bulk.utc(utcnow())

        def rows(ids: list[int], pids: list[str]) -> list[tuple[object, ...]]:
            return [
                (i, case_id, "x", p, None, None, "active", None, now, now)
                for i, p in zip(ids, pids, strict=True)
            ]

        first = bulk.allocate_ids("accounts", 2)
        assert bulk.insert_new("accounts", ACCOUNT_COLUMNS, rows(first, ["a", "b"])) is None
        ids = bulk.allocate_ids("accounts", 4)
        got = bulk.insert_new("accounts", ACCOUNT_COLUMNS, rows(ids, ["a", "c", "b", "d"]))
        assert got == {ids[1], ids[3]}
        spread = [i * 2 for i in bulk.allocate_ids("accounts", 3)]  # not consecutive
        got = bulk.insert_new("accounts", ACCOUNT_COLUMNS, rows(spread, ["c", "e", "f"]))
        assert got == {spread[1], spread[2]}
