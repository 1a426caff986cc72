"""CaseWriter's batched captures and media rows (used by the collection engine per page)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from osint.cases import create_case
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import Capture, Media
from osint.storage.records import CaptureRecord


def test_captures_come_back_in_order(store: Store) -> None:
    case_id = create_case(store, "c").id
    records = [
        CaptureRecord(f"https://h.example/{i}", datetime(2024, 1, 1, tzinfo=UTC), f"{i:064x}", i)
        for i in range(7)
    ]
    with store.session() as session:
        ids = CaseWriter(session, case_id, source="t").captures(records, run_id=None)
        assert CaseWriter(session, case_id, source="t").captures([]) == []
    with store.reader() as session:
        urls = dict(session.execute(select(Capture.id, Capture.url)).all())
    assert [urls[i] for i in ids] == [r.url for r in records]


def test_media_many_creates_once_and_reuses(store: Store) -> None:
    case_id = create_case(store, "c").id
    rows = [{"sha256": f"{i:064x}", "size": i, "mime": "image/jpeg"} for i in range(3)]
    with store.session() as session:
        first = CaseWriter(session, case_id, source="t").media_many(rows[:2])
    with store.session() as session:
        again = CaseWriter(session, case_id, source="t").media_many(
            [rows[1], {**rows[2], "status": "bomb"}, rows[0]]
        )
    assert again[rows[0]["sha256"]] == first[rows[0]["sha256"]]
    assert again[rows[1]["sha256"]] == first[rows[1]["sha256"]]
    with store.reader() as session:
        statuses = dict(session.execute(select(Media.sha256, Media.status)).all())
    assert len(statuses) == 3 and statuses[rows[2]["sha256"]] == "bomb"
