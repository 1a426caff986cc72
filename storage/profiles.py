"""Profile snapshots written a batch at a time, for imports that bring thousands of profiles.

:meth:`storage.ingest.CaseWriter.snapshot` records one profile with a few statements, right for
a collector's one account per run; an import of a release with 50,000 accounts needs the same
rule in batches: a new snapshot only when the profile differs from the account's latest one.
Each account given here is also marked seen (``last_seen``) and gets the platform creation date
when the store had none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import insert, update

from osint.storage.ingest import CaseWriter
from osint.storage.models import Account, AccountSnapshot
from osint.storage.records import ProfileRecord


def write_profiles(
    writer: CaseWriter,
    profiles: Sequence[ProfileRecord],
    *,
    captured_at: datetime,
    capture_id: int | None,
) -> int:
    """Store these profiles (the last one per account wins); the number of new snapshots."""
    if not profiles:
        return 0
    latest_of: dict[tuple[str, str], ProfileRecord] = {}
    for profile in profiles:
        latest_of[(profile.account.platform, profile.account.platform_id)] = profile
    ids = writer.accounts((p.account for p in latest_of.values()), seen_at=captured_at)
    by_id = {ids[key]: profile for key, profile in latest_of.items()}
    known = _latest_fingerprints(writer, list(by_id))
    _refresh_accounts(writer, by_id, captured_at)
    rows = []
    for account_id, profile in by_id.items():
        fingerprint = profile.fingerprint()
        if known.get(account_id) == fingerprint:
            continue
        acc = profile.account
        rows.append(
            {
                "account_id": account_id,
                "captured_at": captured_at,
                "capture_id": capture_id,
                "fingerprint": fingerprint,
                "handle": acc.handle,
                "display_name": acc.display_name,
                "bio": profile.bio,
                "location": profile.location,
                "url": profile.url,
                "avatar_url": profile.avatar_url,
                "banner_url": profile.banner_url,
                "followers_count": profile.followers_count,
                "following_count": profile.following_count,
                "posts_count": profile.posts_count,
                "listed_count": profile.listed_count,
                "verified": profile.verified,
                "protected": profile.protected,
                "created_at_platform": acc.created_at,
                "extra": profile.extra,
            }
        )
    if rows:
        writer.session.execute(insert(AccountSnapshot), rows)
    return len(rows)


def _latest_fingerprints(writer: CaseWriter, account_ids: list[int]) -> dict[int, str]:
    """The fingerprint of each account's latest snapshot (by capture time, then id)."""
    latest: dict[int, tuple[str, int, str]] = {}
    for account_id, captured, snap_id, fingerprint in writer.bulk.select_in(
        "account_snapshots",
        ("account_id", "captured_at", "id", "fingerprint"),
        {},
        "account_id",
        account_ids,
    ):
        key = (str(captured), snap_id, fingerprint)
        if account_id not in latest or key[:2] > latest[account_id][:2]:
            latest[account_id] = key
    return {account_id: value[2] for account_id, value in latest.items()}


def _refresh_accounts(
    writer: CaseWriter, by_id: dict[int, ProfileRecord], seen_at: datetime
) -> None:
    """``last_seen`` for all, the creation date where the profile gives one."""
    with_date = [
        {"id": account_id, "last_seen": seen_at, "created_at_platform": p.account.created_at}
        for account_id, p in by_id.items()
        if p.account.created_at is not None
    ]
    without = [account_id for account_id, p in by_id.items() if p.account.created_at is None]
    if with_date:
        writer.session.execute(update(Account), with_date)
    if without:
        writer.bulk.set_where_ids("accounts", {"last_seen": writer.bulk.utc(seen_at)}, without)
