"""Deleted posts, found by looking known posts up directly, never by a timeline that got shorter.

Each run looks up the account's newest ``recheck`` known posts and as many older ones (a window
that moves through the rest of the timeline run after run) with the platform's direct look-up
(X ``GET /2/tweets?ids=``). A post the platform reports missing gets ``deleted_at`` and one
``post_deleted`` event whose "before" is the capture that last showed it and whose "after" is the
look-up response that reported it missing. Posts the look-up returns are stored like any other
capture of them, so an edited text becomes a new version (reported by change detection).
Every look-up response is kept in the WARC file and as a Capture, like the collection's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from osint.collectors.base import Collector, PostLookup
from osint.collectors.capture import WarcRecorder
from osint.collectors.http import HttpClient
from osint.collectors.ratelimit import RateBudget
from osint.collectors.registry import get_collector
from osint.config import Settings
from osint.monitor.changes import EventDraft, iso, post_facts, store_events
from osint.monitor.lease import ClaimedJob
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import MonitorJob, Post
from osint.storage.records import CaptureRecord, PostRecord
from osint.storage.types import utcnow

LOOKUP_BATCH = 100  # ids per look-up call (X's limit; one request per call on X)


@dataclass
class _Known:
    id: int
    platform_id: str
    text: str | None
    url: str | None
    created_at: datetime
    capture_id: int | None


@dataclass
class RecheckResult:
    checked: int = 0
    deleted: int = 0
    event_ids: list[int] = field(default_factory=list)


def has_lookup(collector_cls: type[Collector]) -> bool:
    return collector_cls.lookup_posts is not Collector.lookup_posts


def _posts_to_check(
    session: Session, account_id: int, recheck: int, offset: int
) -> tuple[list[_Known], int]:
    """The newest ``recheck`` live posts and ``recheck`` older ones from ``offset``; next offset."""
    live = (
        select(Post.id, Post.platform_id, Post.text, Post.url, Post.created_at, Post.capture_id)
        .where(Post.account_id == account_id, Post.deleted_at.is_(None))
        .order_by(Post.created_at.desc(), Post.id.desc())
    )
    newest = session.execute(live.limit(recheck)).all()
    older = session.execute(live.offset(recheck + offset).limit(recheck)).all()
    if not older and offset:
        offset = 0
        older = session.execute(live.offset(recheck).limit(recheck)).all()
    next_offset = offset + len(older) if len(older) == recheck else 0
    return [_Known(*row) for row in [*newest, *older]], next_offset


def recheck_posts(
    store: Store,
    settings: Settings,
    claimed: ClaimedJob,
    *,
    account_id: int,
    run_id: int,
    budget: RateBudget,
    sleep: Callable[[float], None],
) -> RecheckResult:
    """Look the account's known posts up; store what came back and the deletions it proves."""
    collector_cls = get_collector(claimed.platform)
    if claimed.options.recheck == 0 or not has_lookup(collector_cls):
        return RecheckResult()
    offset = int(claimed.state.get("recheck_offset") or 0)
    with store.reader() as session:
        known, next_offset = _posts_to_check(session, account_id, claimed.options.recheck, offset)
    if not known:
        return RecheckResult()
    http = HttpClient(settings, budget=budget, sleep=sleep)
    recorder = WarcRecorder(
        settings.home, claimed.case_id, run_id=run_id, operator=settings.operator
    )
    http.capture_hook = recorder
    lookups: list[tuple[list[_Known], PostLookup]] = []
    try:
        collector = collector_cls(http, settings)
        for start in range(0, len(known), LOOKUP_BATCH):
            batch = known[start : start + LOOKUP_BATCH]
            lookups.append((batch, collector.lookup_posts([k.platform_id for k in batch])))
        captures = http.drain_captures()
        recorder.sync()
        return _store(store, claimed, run_id, account_id, lookups, captures, next_offset)
    finally:
        leftover = http.drain_captures()
        http.close()
        recorder.close()
        if leftover:  # an interrupted look-up's responses are evidence too
            with store.session() as session:
                CaseWriter(session, claimed.case_id, source=_source(claimed)).captures(
                    leftover, run_id=run_id
                )


def _source(claimed: ClaimedJob) -> str:
    return f"monitor:{claimed.platform}"


def _store(
    store: Store,
    claimed: ClaimedJob,
    run_id: int,
    account_id: int,
    lookups: list[tuple[list[_Known], PostLookup]],
    captures: list[CaptureRecord],
    next_offset: int,
) -> RecheckResult:
    """One transaction: the captures, the posts found, the deletions and their events."""
    result = RecheckResult()
    with store.session() as session:
        writer = CaseWriter(session, claimed.case_id, source=_source(claimed))
        capture_ids = writer.captures(captures, run_id=run_id)
        row_of = {id(c): row for c, row in zip(captures, capture_ids, strict=True)}
        drafts: list[EventDraft] = []
        for batch, lookup in lookups:
            by_answer: dict[datetime, list[PostRecord]] = {}
            for record in lookup.found:
                record.media = []  # attachments of known posts are already held
                record.capture_id, seen_at = _proof(lookup, record.platform_id, row_of)
                by_answer.setdefault(seen_at, []).append(record)
            for seen_at, records in by_answer.items():  # one write per response
                writer.posts(records, seen_at=seen_at)
            found = {r.platform_id for r in lookup.found}
            for post in batch:
                reason = lookup.missing.get(post.platform_id)
                if reason is None or post.platform_id in found:
                    continue
                capture_id, seen_at = _proof(lookup, post.platform_id, row_of)
                drafts.append(_deleted(session, account_id, post, reason, seen_at, capture_id))
        result.checked = sum(len(batch) for batch, _ in lookups)
        result.deleted = len(drafts)
        job = session.get(MonitorJob, claimed.id)  # None if removed while it ran
        result.event_ids = store_events(
            session,
            drafts,
            case_id=claimed.case_id,
            job_id=job.id if job is not None else None,
            run_id=run_id,
            detected_at=utcnow(),
        )
        if job is not None:
            job.state = {**(job.state or {}), "recheck_offset": next_offset}
    return result


def _proof(lookup: PostLookup, post_id: str, row_of: dict[int, int]) -> tuple[int | None, datetime]:
    """The stored capture that answered for this post, and when it was fetched."""
    capture = lookup.capture_for(post_id)
    if capture is None:
        return None, utcnow()
    return row_of.get(id(capture)), capture.fetched_at


def _deleted(
    session: Session,
    account_id: int,
    post: _Known,
    reason: str,
    seen_at: datetime,
    capture_id: int | None,
) -> EventDraft:
    session.execute(
        update(Post)
        .where(Post.id == post.id, Post.deleted_at.is_(None))
        .values(deleted_at=seen_at)
        .execution_options(synchronize_session=False)
    )
    return EventDraft(
        kind="post_deleted",
        key=f"post_deleted:{post.id}",
        account_id=account_id,
        post_id=post.id,
        before=post_facts(post),
        after={"post_id": post.platform_id, "deleted_at": iso(seen_at), "reason": reason},
        before_capture_id=post.capture_id,
        after_capture_id=capture_id,
    )
