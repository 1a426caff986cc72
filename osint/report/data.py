"""What the report shows, loaded from the store into plain objects: posts, accounts, runs.

The loaders query in bulk (one statement per kind of row, ``IN`` lists in chunks), so a case of
100,000 posts loads in seconds; the long lists are capped by :class:`ReportLimits` and the report
says how much it left out and where the rest is (the evidence bundle's CSV/JSONL files).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from osint.content import describe
from osint.storage.kinds import PostKind
from osint.storage.models import (
    Account,
    AccountSnapshot,
    Capture,
    CollectionRun,
    Media,
    Post,
    PostVersion,
)
from osint.storage.postrow import PostRow, read_row, select_posts
from osint.storage.queries import chunks
from osint.storage.records import text_sha256

T = TypeVar("T")
MAX_TEXT = 2000


@dataclass(frozen=True)
class ReportLimits:
    """How much of a large case the report shows in full (the rest is counted, not dropped)."""

    max_posts: int = 2000
    max_accounts: int = 300
    max_findings: int = 200
    max_evidence: int = 40  # posts, accounts and images listed per finding
    max_clusters: int = 60
    max_thumbnails: int = 400
    max_timeline_rows: int = 30
    max_network_nodes: int = 300
    max_runs: int = 500


def account_label(handle: str | None, platform_id: str, platform: str) -> str:
    return f"@{handle} ({platform})" if handle else f"{platform_id} ({platform})"


def load_account_labels(
    session: Session, ids: Iterable[int], *, case_id: int | None = None
) -> dict[int, str]:
    labels: dict[int, str] = {}
    for chunk in chunks(sorted(set(ids))):
        stmt = select(Account.id, Account.handle, Account.platform_id, Account.platform).where(
            Account.id.in_(chunk)
        )
        if case_id is not None:
            stmt = stmt.where(Account.case_id == case_id)
        for acc_id, handle, pid, platform in session.execute(stmt):
            labels[acc_id] = account_label(handle, pid, platform)
    return labels


@dataclass(frozen=True, kw_only=True)
class PostView(PostRow):
    """A post as the report shows it: the store's :class:`PostRow` (every field of it) and
    what the report adds: its account's label and how many texts it was captured with."""

    account_label: str
    versions: int = 1

    @property
    def shown_text(self) -> str:
        """The text, cut at ``MAX_TEXT`` characters (the bundle holds it whole)."""
        return (self.text or "")[:MAX_TEXT]

    @property
    def text_truncated(self) -> bool:
        return len(self.text or "") > MAX_TEXT

    @property
    def text_sha256(self) -> str:
        return text_sha256(self.text, self.text_html)

    @property
    def content_words(self) -> list[str]:
        """The structured content (a poll, a place, ...) in words."""
        return [describe(c) for c in self.content or [] if isinstance(c, dict)]


def _post_views(session: Session, stmt: Any) -> list[PostView]:
    rows = session.execute(stmt).all()
    labels = load_account_labels(session, (row.account_id for row in rows))
    versions: dict[int, int] = {}
    post_ids = [row.id for row in rows]
    for chunk in chunks(post_ids):
        for post_id, count in session.execute(
            select(PostVersion.post_id, func.count())
            .where(PostVersion.post_id.in_(chunk))
            .group_by(PostVersion.post_id)
        ):
            versions[post_id] = count
    return [
        read_row(
            PostView,
            row,
            account_label=labels.get(row.account_id, str(row.account_id)),
            versions=max(versions.get(row.id, 1), 1),
        )
        for row in rows
    ]


def load_posts_by_id(session: Session, ids: Iterable[int]) -> dict[int, PostView]:
    found: dict[int, PostView] = {}
    for chunk in chunks(sorted(set(ids))):
        for view in _post_views(session, select_posts().where(Post.id.in_(chunk))):
            found[view.id] = view
    return found


def load_post_page(session: Session, case_id: int, limit: int) -> list[PostView]:
    """The first ``limit`` posts of the case in time order."""
    stmt = (
        select_posts()
        .where(Post.case_id == case_id)
        .order_by(Post.created_at, Post.id)
        .limit(limit)
    )
    return _post_views(session, stmt)


@dataclass
class SnapshotView:
    captured_at: datetime
    handle: str | None
    display_name: str | None
    bio: str | None
    location: str | None
    url: str | None
    followers: int | None
    following: int | None
    posts_count: int | None
    verified: bool | None
    protected: bool | None
    avatar_sha256: str | None
    capture_sha256: str | None
    changed: list[str] = field(default_factory=list)
    avatar_thumb: str | None = None


@dataclass
class AccountView:
    id: int
    label: str
    platform: str
    platform_id: str
    handle: str | None
    display_name: str | None
    status: str
    created_at_platform: datetime | None
    first_seen: datetime
    last_seen: datetime
    posts: int = 0
    reposts: int = 0
    first_post: datetime | None = None
    last_post: datetime | None = None
    findings: list[tuple[int, str]] = field(default_factory=list)
    snapshots: list[SnapshotView] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PostStats:
    posts: int
    reposts: int
    first: datetime | None
    last: datetime | None


def load_post_stats(session: Session, case_id: int) -> dict[int, PostStats]:
    """Posts, reposts and first/last post time per account of the case (one grouped query)."""
    is_repost = func.sum(case((Post.kind == PostKind.REPOST, 1), else_=0))
    stmt = (
        select(
            Post.account_id,
            func.count(),
            is_repost,
            func.min(Post.created_at),
            func.max(Post.created_at),
        )
        .where(Post.case_id == case_id)
        .group_by(Post.account_id)
    )
    stats = {}
    for acc_id, posts, reposts, first, last in session.execute(stmt):
        stats[acc_id] = PostStats(int(posts), int(reposts or 0), first, last)
    return stats


_SNAPSHOT_FIELDS = ("handle", "display_name", "bio", "location", "url", "avatar_sha256")


def load_accounts(
    session: Session, account_ids: Sequence[int], stats: dict[int, PostStats]
) -> list[AccountView]:
    """The accounts (in the given order) with their profile history."""
    by_id: dict[int, AccountView] = {}
    for chunk in chunks(list(account_ids)):
        for acc in session.execute(select(Account).where(Account.id.in_(chunk))).scalars():
            st = stats.get(acc.id, PostStats(0, 0, None, None))
            by_id[acc.id] = AccountView(
                id=acc.id,
                label=account_label(acc.handle, acc.platform_id, acc.platform),
                platform=acc.platform,
                platform_id=acc.platform_id,
                handle=acc.handle,
                display_name=acc.display_name,
                status=acc.status,
                created_at_platform=acc.created_at_platform,
                first_seen=acc.first_seen,
                last_seen=acc.last_seen,
                posts=st.posts,
                reposts=st.reposts,
                first_post=st.first,
                last_post=st.last,
            )
        _attach_snapshots(session, chunk, by_id)
    return [by_id[i] for i in account_ids if i in by_id]


def _attach_snapshots(session: Session, ids: Sequence[int], by_id: dict[int, AccountView]) -> None:
    stmt = (
        select(AccountSnapshot, Media.sha256, Capture.sha256)
        .outerjoin(Media, Media.id == AccountSnapshot.avatar_media_id)
        .outerjoin(Capture, Capture.id == AccountSnapshot.capture_id)
        .where(AccountSnapshot.account_id.in_(ids))
        .order_by(AccountSnapshot.account_id, AccountSnapshot.captured_at, AccountSnapshot.id)
    )
    for snap, avatar_sha, capture_sha in session.execute(stmt):
        view = SnapshotView(
            captured_at=snap.captured_at,
            handle=snap.handle,
            display_name=snap.display_name,
            bio=snap.bio,
            location=snap.location,
            url=snap.url,
            followers=snap.followers_count,
            following=snap.following_count,
            posts_count=snap.posts_count,
            verified=snap.verified,
            protected=snap.protected,
            avatar_sha256=avatar_sha,
            capture_sha256=capture_sha,
        )
        history = by_id[snap.account_id].snapshots
        if history:
            previous = history[-1]
            view.changed = [
                name for name in _SNAPSHOT_FIELDS if getattr(view, name) != getattr(previous, name)
            ]
        history.append(view)


def account_signals(account: AccountView) -> list[str]:
    """Plain facts about an account that investigators weigh (none is proof on its own)."""
    signals: list[str] = []
    if account.status != "active":
        signals.append(f"status: {account.status}")
    if account.created_at_platform and account.first_post:
        age_days = (account.first_post - account.created_at_platform).days
        if age_days < 30:
            signals.append(f"created {max(age_days, 0)} days before its first post in this case")
    handles = _distinct_in_order(s.handle for s in account.snapshots)
    if len(handles) > 1:
        signals.append(f"changed handle {_times(len(handles) - 1)}: " + " → ".join(handles))
    names = _distinct_in_order(s.display_name for s in account.snapshots)
    if len(names) > 1:
        signals.append(f"changed display name {_times(len(names) - 1)}")
    avatars = _distinct_in_order(s.avatar_sha256 for s in account.snapshots)
    if len(avatars) > 1:
        signals.append(f"changed profile picture {_times(len(avatars) - 1)}")
    if account.snapshots and not (account.snapshots[-1].bio or "").strip():
        signals.append("empty bio")
    if account.posts >= 10 and account.reposts / account.posts >= 0.8:
        signals.append(f"{account.reposts / account.posts:.0%} of its posts are reposts")
    if account.findings:
        count = len(account.findings)
        signals.append(f"named in {count} finding{'s' if count != 1 else ''}")
    return signals


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _distinct_in_order(values: Iterable[str | None]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value and (not seen or seen[-1] != value):
            seen.append(value)
    return seen


@dataclass
class RunView:
    id: int
    kind: str
    platform: str
    target: str
    params: dict[str, Any]
    status: str
    started_at: datetime
    finished_at: datetime | None
    osint_version: str
    hostname: str
    operator: str
    captures: int
    counts: dict[str, Any]
    errors: list[Any]


def load_runs(session: Session, case_id: int, limit: int | None = None) -> list[RunView]:
    """Every collection run of the case (the chain of custody), oldest first."""
    capture_counts = dict(
        session.execute(
            select(Capture.run_id, func.count())
            .where(Capture.case_id == case_id, Capture.run_id.is_not(None))
            .group_by(Capture.run_id)
        ).all()
    )
    stmt = (
        select(CollectionRun)
        .where(CollectionRun.case_id == case_id)
        .order_by(CollectionRun.started_at, CollectionRun.id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [
        RunView(
            id=run.id,
            kind=run.kind,
            platform=run.platform,
            target=run.target,
            params=dict(run.params or {}),
            status=run.status,
            started_at=run.started_at,
            finished_at=run.finished_at,
            osint_version=run.osint_version,
            hostname=run.hostname,
            operator=run.operator,
            captures=int(capture_counts.get(run.id, 0)),
            counts=dict(run.counts or {}),
            errors=list(run.errors or []),
        )
        for run in session.execute(stmt).scalars()
    ]
