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
