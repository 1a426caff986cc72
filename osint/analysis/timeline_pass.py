"""Timeline analysis of a case: per-account signals from posts and profile history.

Loads every account's post times and its profile snapshots (handle, display name, location,
platform creation date), runs ``analyzers.timeline`` and stores the findings, replacing the
previous timeline findings of the case. The coordinated groups found by the coordination
analysis, if any, are checked for accounts created in a burst.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from osint.analysis import replace_findings
from osint.analyzers.findings import FindingDraft
from osint.analyzers.timeline import AccountProfile, NameObservation
from osint.analyzers.timeline_screen import PostsByAccount, timeline_findings_at_scale
from osint.cases import get_case
from osint.progress import Progress
from osint.storage.db import Store
from osint.storage.kinds import FindingKind
from osint.storage.models import Account, AccountSnapshot, Finding, FindingEvidence, Post
from osint.storage.queries import epoch_seconds

ANALYSIS = "timeline"
_BATCH = 100_000


@dataclass
class TimelineReport:
    case: str
    accounts: int
    posts: int
    findings: int
    by_kind: dict[str, int]
    top_accounts: list[tuple[str, list[str]]]
    seconds: float
    # the explanation of the strongest finding of each kind, e.g. "@x's 70 posts fall silent..."
    highlights: list[str] = field(default_factory=list)


def _post_times(session: Session, case_id: int) -> PostsByAccount:
    """Every post's account, id and epoch seconds as arrays, read in batches of tuples
    straight off the driver's cursor (no ORM rows), grouped by account in numpy."""
    query = select(Post.account_id, Post.id, epoch_seconds(session, Post.created_at)).where(
        Post.case_id == case_id
    )
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    cursor = session.connection().exec_driver_sql(sql).cursor
    assert cursor is not None
    batches = [
        np.array(rows, dtype=np.int64).reshape(-1, 3)
        for rows in iter(lambda: cursor.fetchmany(_BATCH), [])
    ]
    cursor.close()
    table = np.concatenate(batches) if batches else np.empty((0, 3), dtype=np.int64)
    return PostsByAccount.build(table[:, 0], table[:, 1], table[:, 2])


def _profiles(session: Session, case_id: int) -> dict[int, AccountProfile]:
    history: dict[int, list[NameObservation]] = defaultdict(list)
    location: dict[int, str] = {}
    snapshots = session.execute(
        select(
            AccountSnapshot.account_id,
            epoch_seconds(session, AccountSnapshot.captured_at),
            AccountSnapshot.handle,
            AccountSnapshot.display_name,
            AccountSnapshot.location,
        )
        .join(Account, Account.id == AccountSnapshot.account_id)
        .where(Account.case_id == case_id)
        .order_by(AccountSnapshot.account_id, AccountSnapshot.captured_at)
    )
    for account_id, seen, handle, display_name, where in snapshots:
        history[account_id].append(NameObservation(int(seen), handle or "", display_name or ""))
        if where:
            location[account_id] = where
    accounts = session.execute(
        select(Account.id, Account.handle, Account.platform_id, Account.created_at_platform).where(
            Account.case_id == case_id
        )
    )
    return {
        account_id: AccountProfile(
            account_id,
            handle or platform_id,
            int(created.timestamp()) if created is not None else None,
            location.get(account_id),
            tuple(history.get(account_id, ())),
        )
        for account_id, handle, platform_id, created in accounts
    }


def coordinated_groups(session: Session, case_id: int) -> dict[str, list[int]]:
    """Accounts of each stored coordinated-group finding, by the finding's title."""
    rows = session.execute(
        select(Finding.id, Finding.title, FindingEvidence.account_id)
        .join(FindingEvidence, FindingEvidence.finding_id == Finding.id)
        .where(Finding.case_id == case_id, Finding.kind == FindingKind.COORDINATED_GROUP)
        .where(FindingEvidence.account_id.is_not(None))
    )
    groups: dict[str, list[int]] = defaultdict(list)
    for _, title, account_id in rows:
        if account_id is not None:
            groups[title.split(":")[0]].append(int(account_id))
    return dict(groups)


def analyze_timeline(
    store: Store, case_name: str, progress: Progress | None = None
) -> TimelineReport:
    """Compute every account's timeline signals and store the strong ones as findings."""
    started = time.perf_counter()
    with store.session() as session:
        case = get_case(session, case_name)
        posts = _post_times(session, case.id)
        profiles = _profiles(session, case.id)
        groups = coordinated_groups(session, case.id)
        by_id: dict[int | str, AccountProfile] = dict(profiles.items())
        labelled: dict[str, Sequence[int | str]] = dict(groups.items())
        drafts = timeline_findings_at_scale(posts, by_id, labelled)
        replace_findings(session, case.id, ANALYSIS, drafts)
    by_kind: dict[str, int] = defaultdict(int)
    per_account: dict[int, list[str]] = defaultdict(list)
    for draft in drafts:
        by_kind[draft.kind] += 1
        for account in draft.accounts:
            per_account[account].append(draft.kind)
    ranked = sorted(per_account.items(), key=lambda item: -len(item[1]))[:10]
    return TimelineReport(
        case=case_name,
        accounts=len(profiles),
        posts=int(posts.times.size),
        findings=len(drafts),
        by_kind=dict(by_kind),
        top_accounts=[(profiles[a].handle, kinds) for a, kinds in ranked if a in profiles],
        seconds=time.perf_counter() - started,
        highlights=_strongest_per_kind(drafts),
    )


def _strongest_per_kind(drafts: Sequence[FindingDraft]) -> list[str]:
    strongest: dict[str, FindingDraft] = {}
    for draft in drafts:
        if draft.kind not in strongest or draft.score > strongest[draft.kind].score:
            strongest[draft.kind] = draft
    return [d.explanation for _, d in sorted(strongest.items())]


def account_signal_summary(session: Session, case_id: int) -> dict[int, str]:
    """``kind:score`` of each account's stored timeline findings, for network exports."""
    rows = session.execute(
        select(FindingEvidence.account_id, Finding.kind, Finding.score)
        .join(Finding, Finding.id == FindingEvidence.finding_id)
        .where(Finding.case_id == case_id, FindingEvidence.account_id.is_not(None))
    )
    signals: dict[int, list[str]] = defaultdict(list)
    for account_id, kind, score in rows:
        if account_id is not None:
            signals[int(account_id)].append(f"{kind}:{score:.2f}")
    return {account: ",".join(sorted(set(kinds))) for account, kinds in signals.items()}
