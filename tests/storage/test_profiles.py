"""Profile snapshots a batch at a time: new only when changed, accounts marked seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from osint.cases import create_case
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import Account, AccountSnapshot
from osint.storage.profiles import write_profiles
from osint.storage.records import AccountRecord, ProfileRecord

T0 = datetime(2022, 4, 21, 8, tzinfo=UTC)


def _profile(pid: str, location: str, created: datetime | None = None) -> ProfileRecord:
    return ProfileRecord(
        AccountRecord("x", pid, handle=pid, created_at=created), location=location, bio="b"
    )


def test_write_profiles(store: Store) -> None:
    case_id = create_case(store, "c").id
    with store.session() as s:
        writer = CaseWriter(s, case_id, source="test")
        batch = [_profile(f"r:{i}", "Bamako", T0 - timedelta(days=i)) for i in range(3)]
        assert write_profiles(writer, batch, captured_at=T0, capture_id=None) == 3
    with store.session() as s:
        writer = CaseWriter(s, case_id, source="test")
        again = [_profile("r:0", "Bamako", T0), _profile("r:1", "Moscow", T0 - timedelta(days=1))]
        # the same profile twice in a batch counts once; only the changed one is new
        later = T0 + timedelta(hours=1)
        assert write_profiles(writer, [*again, again[1]], captured_at=later, capture_id=None) == 1
    with store.reader() as s:
        rows = s.execute(
            select(Account.platform_id, AccountSnapshot.location, Account.last_seen)
            .join(AccountSnapshot, AccountSnapshot.account_id == Account.id)
            .order_by(AccountSnapshot.id)
        ).all()
        created = dict(s.execute(select(Account.platform_id, Account.created_at_platform)).all())
    assert [(r[0], r[1]) for r in rows] == [
        ("r:0", "Bamako"), ("r:1", "Bamako"), ("r:2", "Bamako"), ("r:1", "Moscow"),
    ]  # fmt: skip
    seen = {r[0]: r[2] for r in rows}
    assert seen["r:1"] == T0 + timedelta(hours=1) and seen["r:2"] == T0
    assert created["r:2"] == T0 - timedelta(days=2)
