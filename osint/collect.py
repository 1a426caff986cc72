"""The collection engine: archive one account of one platform into a case, resumably.

A run resolves the account, captures its profile (a new snapshot only when it changed; the
avatar downloaded and stored), then pages through its posts newest first. Each page is one
transaction: the page's captures, its new media rows, its posts and the run's resume cursor are
committed together, after the WARC records behind them are on disk. A run killed at any moment
and started again resumes from the last committed cursor and converges to the uninterrupted
result; a later run asks only for posts newer than the newest one a complete run stored.

Images are downloaded once per case (by URL), streamed under ``settings.max_media_bytes``,
stored by SHA-256 and inspected: too large, HTML instead of an image, corrupt, truncated or a
decompression bomb are recorded and flagged, never fatal to the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from time import sleep as time_sleep
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from osint.analyzers.contentkeys import add_content_keys
from osint.cases import get_case
from osint.collect_media import RETRY_BATCH, MediaFetcher, NewMedia, PendingMedia
from osint.collectors.base import Collector, CursorRejected, PageQuery, PostPage
from osint.collectors.capture import WarcRecorder
from osint.collectors.http import HttpClient
from osint.collectors.ratelimit import RateBudget
from osint.collectors.redact import scrub, scrub_value
from osint.collectors.registry import get_collector
from osint.config import Settings
from osint.errors import (
    AccountNotFound,
    AccountUnavailable,
    CollectError,
    InputError,
    OsintError,
)
from osint.progress import NullProgress, Progress
from osint.runs import finish_run, start_run
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter, EditedPost
from osint.storage.kinds import RunKind, RunStatus
from osint.storage.models import Account, CollectionRun
from osint.storage.records import (
    SEEN_VIA_REFERENCE,
    CaptureRecord,
    MediaRef,
    PostRecord,
    ProfileRecord,
)
from osint.storage.runstate import RunState
from osint.storage.types import utcnow

RECENT_RUNS = 200  # completed runs scanned for the newest post already collected


@dataclass
class CollectSummary:
    """What one invocation did; ``new_post_ids``/``edited`` feed monitoring's change events."""

    case: str
    platform: str
    target: str
    run_id: int
    resumed: bool = False
    status: str = RunStatus.RUNNING
    account_id: int | None = None
    handle: str | None = None
    snapshot_id: int | None = None
    snapshot_created: bool = False
    previous_snapshot_id: int | None = None
    pages: int = 0
    posts_new: int = 0
    posts_edited: int = 0
    posts_unchanged: int = 0
    media_downloaded: int = 0
    media_reused: int = 0
    media_failed: int = 0
    media_flagged: int = 0
    media_pending: int = 0  # left for the next run (their host unreachable in this one)
    media_retried: int = 0  # attachments that failed in earlier runs, tried again
    referenced_posts: int = 0  # posts of other accounts stored as what was amplified
    captures: int = 0
    new_post_ids: list[int] = field(default_factory=list)
    edited: list[EditedPost] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warc_file: str | None = None
    complete: bool = False  # reached the end of the timeline (or the last run's newest post)

    def counts(self) -> dict[str, int]:
        names = [
            "pages",
            "posts_new",
            "posts_edited",
            "posts_unchanged",
            "media_downloaded",
            "media_reused",
            "media_failed",
            "media_flagged",
            "media_pending",
            "media_retried",
            "referenced_posts",
            "captures",
        ]
        return {name: int(getattr(self, name)) for name in names}


@dataclass
class _Job:
    """Everything one run carries between its steps."""

    store: Store
    settings: Settings
    collector: Collector
    http: HttpClient
    recorder: WarcRecorder
    writer: CaseWriter
    progress: Progress
    summary: CollectSummary
    case_id: int
    state: RunState  # committed resume state (cursor, since_id, newest_id, posts, pages)
    since: datetime | None
    until: datetime | None
    limit: int | None
    media: MediaFetcher
    known_id: str | None = None  # the account's platform id, once known
    pending: list[CaptureRecord] = field(default_factory=list)


# -- dates from the command line -----------------------------------------------------------
def parse_date(value: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time, as UTC; a plain date for ``--until`` means the end of that day."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(
            f"not a date: {value!r}", hint="use YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+00:00]"
        ) from exc
    if len(text) == 10 and end_of_day:
        parsed = datetime.combine(parsed.date() + timedelta(days=1), time())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


# -- the run -------------------------------------------------------------------------------
def collect_account(
    store: Store,
    settings: Settings,
    *,
    platform: str,
    target: str,
    case: str,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
    full: bool = False,
    progress: Progress | None = None,
    budget: RateBudget | None = None,
    kind: RunKind = RunKind.COLLECT,
    sleep: Callable[[float], None] = time_sleep,
) -> CollectSummary:
    """Collect (or resume collecting) one account into ``case``; see the module docstring.

    ``full`` re-reads the whole timeline instead of only what is newer than the last complete
    run (slower; finds edits of older posts). ``budget`` shares rate limits between runs.
    """
    collector_cls = get_collector(platform)
    target = collector_cls.normalize_target(target)
    collector_cls.token(settings)  # a missing token fails before anything is written
    _check_window(since, until, limit)
    params = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "limit": limit,
        "full": full,
    }
    http = HttpClient(settings, budget=budget, sleep=sleep)
    # every line shown or kept passes through the run's secrets (a server may echo a token)
    progress = http.notify = ScrubbedProgress(progress or NullProgress(), http.secrets)
    try:
        collector = collector_cls(http, settings)
        with store.session() as session:
            case_id = get_case(session, case).id
            run, resumed = _start_or_resume(
                session, settings, collector_cls, case_id, target, params, kind
            )
            run_id, state = run.id, RunState.from_dict(run.state)
            writer = CaseWriter(session, case_id, source=f"collect:{platform}")
    except BaseException:
        http.close()
        raise
    recorder = WarcRecorder(settings.home, case_id, run_id=run_id, operator=settings.operator)
    http.capture_hook = recorder
    summary = CollectSummary(case, platform, target, run_id, resumed=resumed)
    media = MediaFetcher(store, http, settings, case_id, progress)
    job = _Job(
        store,
        settings,
        collector,
        http,
        recorder,
        writer,
        progress,
        summary,
        case_id,
        state,
        since,
        until,
        limit,
        media,
    )
    return _run(job)


def _check_window(since: datetime | None, until: datetime | None, limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, not {limit}")
    if since and until and since >= until:
        raise InputError(
            f"--since ({since:%Y-%m-%d %H:%M}) is not before --until ({until:%Y-%m-%d %H:%M})"
        )


def _run(job: _Job) -> CollectSummary:
    summary = job.summary
    status, errors = RunStatus.FAILED, []
    if summary.resumed:
        job.progress.log(
            f"resuming run {summary.run_id} of {summary.platform}:{summary.target} "
            f"after {job.state.pages or 0} page(s)"
        )
    try:
        profile = _capture_profile(job)
        _collect_posts(job, profile)
        status = RunStatus.COMPLETED
    except (AccountUnavailable, AccountNotFound) as exc:
        errors.append(str(exc))
        status = RunStatus.UNAVAILABLE
        job.state = job.state.replace(account_status=_unavailable_status(exc))
        raise
    except OsintError as exc:
        exc.message = scrub(exc.message, job.http.secrets)
        exc.hint = scrub(exc.hint, job.http.secrets) if exc.hint else exc.hint
        errors.append(str(exc))
        raise
    except KeyboardInterrupt:
        status = RunStatus.INTERRUPTED
        raise
    except Exception as exc:
        errors.append(f"unexpected {type(exc).__name__}: {exc}")
        raise
    finally:
        summary.status = status
        summary.media_downloaded, summary.media_reused = job.media.downloaded, job.media.reused
        summary.media_failed, summary.media_flagged = job.media.failed, job.media.flagged
        summary.media_pending, summary.media_retried = job.media.pending, job.media.retried
        errors = [scrub(e, job.http.secrets) for e in errors]
        summary.warc_file = job.recorder.relative_path
        job.http.close()
        job.recorder.close()
        _finish(job, status, errors)
    return summary


def _unavailable_status(exc: Exception) -> str:
    return exc.status if isinstance(exc, AccountUnavailable) else "not_found"


# -- runs: start, resume, finish -----------------------------------------------------------
def pid_alive(pid: int) -> bool:
    """Whether a process of this machine with this id exists (signal 0 probes, sends nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_or_resume(
    session: Session,
    settings: Settings,
    collector_cls: type[Collector],
    case_id: int,
    target: str,
    params: dict[str, Any],
    kind: RunKind,
) -> tuple[CollectionRun, bool]:
    """Resume the last unfinished run of this target with the same options, or start one."""
    same_target = (
        CollectionRun.case_id == case_id,
        CollectionRun.platform == collector_cls.platform,
        CollectionRun.target == target,
        CollectionRun.kind == kind,
    )
    prev = session.execute(
        select(CollectionRun).where(*same_target).order_by(CollectionRun.id.desc()).limit(1)
    ).scalar_one_or_none()
    if prev is not None and prev.status in (
        RunStatus.RUNNING,
        RunStatus.INTERRUPTED,
        RunStatus.FAILED,
    ):
        st = RunState.from_dict(prev.state)
        if prev.status == RunStatus.RUNNING and st.host == settings.hostname:
            pid = st.pid or 0
            if pid and pid != os.getpid() and pid_alive(pid):
                raise CollectError(
                    f"another osint process (pid {pid}) is collecting "
                    f"{collector_cls.platform}:{target} into this case",
                    hint="wait for it to finish, or stop it and run this command again",
                )
        if prev.params == params and (st.pages or st.cursor):
            prev.status = RunStatus.RUNNING
            prev.state = st.replace(
                pid=os.getpid(), host=settings.hostname, resumes=(st.resumes or 0) + 1
            ).to_dict()
            session.flush()
            return prev, True
        if prev.status == RunStatus.RUNNING:
            prev.status = RunStatus.ABANDONED
    state = RunState(
        since_id=None
        if params.get("full")
        else _newest_collected(session, collector_cls, same_target),
        pages=0,
        posts=0,
        complete=False,
        pid=os.getpid(),
        host=settings.hostname,
    )
    run = start_run(
        session,
        settings,
        case_id=case_id,
        kind=kind,
        platform=collector_cls.platform,
        target=target,
        params=params,
        state=state,
    )
    return run, False


def _newest_collected(
    session: Session, collector_cls: type[Collector], same_target: Iterable[Any]
) -> str | None:
    """The newest post id of runs that covered the timeline to its end (or to their since_id)."""
    states = session.execute(
        select(CollectionRun.state)
        .where(*same_target, CollectionRun.status == RunStatus.COMPLETED)
        .order_by(CollectionRun.id.desc())
        .limit(RECENT_RUNS)
    ).scalars()
    read = [RunState.from_dict(s) for s in states]
    ids = [s.newest_id for s in read if s.complete and s.newest_id]
    return collector_cls.newest_id([str(i) for i in ids])


def _finish(job: _Job, status: str, errors: list[str]) -> None:
    """Close the run: status, counts, errors, and the captures no page committed (evidence)."""
    leftover = job.pending + job.http.drain_captures()
    account_status = job.state.account_status
    try:
        with job.store.session() as session:
            writer = CaseWriter(session, job.case_id, source=job.writer.source)
            writer.captures(leftover, run_id=job.summary.run_id)
            job.summary.captures += len(leftover)
            if account_status:
                _mark_account(session, job, account_status)
            finish_run(
                session,
                job.summary.run_id,
                status=status,
                counts=job.summary.counts(),
                errors=scrub_value(job.summary.problems + errors, job.http.secrets),
                state=scrub_value(job.state.to_dict(), job.http.secrets),
            )
    except Exception as exc:  # never hide the error that ended the run behind this one
        job.progress.log(f"could not record the end of run {job.summary.run_id}: {exc}")


def _mark_account(session: Session, job: _Job, status: str) -> None:
    """Record that the platform now refuses the account (suspended, protected, not found)."""
    which = (
        Account.platform_id == job.known_id
        if job.known_id
        else func.lower(Account.handle) == job.summary.target
    )
    session.execute(
        update(Account)
        .where(Account.case_id == job.case_id, Account.platform == job.collector.platform, which)
        .values(status=status, last_seen=utcnow())
    )


def _known_account_id(job: _Job) -> str | None:
    """The platform id this target resolved to before (runs remember it across renames)."""
    with job.store.reader() as session:
        states = session.execute(
            select(CollectionRun.state)
            .where(
                CollectionRun.case_id == job.case_id,
                CollectionRun.platform == job.collector.platform,
                CollectionRun.target == job.summary.target,
            )
            .order_by(CollectionRun.id.desc())
            .limit(RECENT_RUNS)
        ).scalars()
        accounts = (RunState.from_dict(s).account for s in states)
        remembered = next((a for a in accounts if a), None)
        if remembered:
            return str(remembered)
        return session.execute(
            select(Account.platform_id)
            .where(
                Account.case_id == job.case_id,
                Account.platform == job.collector.platform,
                func.lower(Account.handle) == job.summary.target,
            )
            .limit(1)
        ).scalar_one_or_none()


# -- profile -------------------------------------------------------------------------------
def _capture_profile(job: _Job) -> ProfileRecord:
    """Resolve the account and store its profile: a new snapshot only when it changed."""
    job.known_id = _known_account_id(job)
    result = job.collector.fetch_profile(job.summary.target, known_id=job.known_id)
    profile = result.profile
    job.known_id = profile.account.platform_id
    avatar_new: list[NewMedia] = []
    if profile.avatar_url:
        ref = MediaRef(profile.avatar_url, kind="avatar")
        avatar_new = job.media.fetch([ref])
        profile.avatar_sha256 = ref.sha256
    scrub_value(profile, job.http.secrets)
    captured_at = result.capture.fetched_at if result.capture else utcnow()
    captures = job.pending + job.http.drain_captures()
    job.pending = captures
    job.recorder.sync()
    with job.store.session() as session:
        job.writer.session = session
        ids = _write_captures(job, captures)
        media_ids = job.media.write(job.writer, avatar_new)
        avatar_id = job.media.media_id(profile.avatar_sha256, media_ids)
        snap = job.writer.snapshot(
            profile,
            captured_at=captured_at,
            capture_id=ids.get(id(result.capture)),
            avatar_media_id=avatar_id,
        )
        account_id = job.writer.accounts([profile.account])[
            (profile.account.platform, profile.account.platform_id)
        ]
        state = job.state.replace(account=profile.account.platform_id)
        _save_state(session, job, state)
    job.pending, job.state = [], state
    summary = job.summary
    summary.account_id, summary.handle = account_id, profile.account.handle
    summary.snapshot_id, summary.snapshot_created = snap.snapshot_id, snap.created
    summary.previous_snapshot_id = snap.previous_id if snap.created else snap.snapshot_id
    job.progress.update("profile", advance=1, total=1)
    return profile


def _save_state(session: Session, job: _Job, state: RunState) -> None:
    session.execute(
        update(CollectionRun)
        .where(CollectionRun.id == job.summary.run_id)
        .values(state=state.to_dict())
    )


def _write_captures(job: _Job, captures: list[CaptureRecord]) -> dict[int, int]:
    """Store the captures; returns ``id(record) -> capture row id`` for linking posts to them."""
    ids = job.writer.captures(captures, run_id=job.summary.run_id)
    job.summary.captures += len(captures)
    return {id(c): capture_id for c, capture_id in zip(captures, ids, strict=True)}


# -- posts ---------------------------------------------------------------------------------
def _collect_posts(job: _Job, profile: ProfileRecord) -> None:
    """Page through the account's posts from the committed cursor to the end (or the limit)."""
    _retry_media(job)
    seen_cursors = {job.state.cursor} if job.state.cursor else set()
    dropped_cursor = False
    while True:
        remaining = None if job.limit is None else job.limit - (job.state.posts or 0)
        if remaining is not None and remaining <= 0:
            return
        query = PageQuery(
            cursor=job.state.cursor,
            since_id=job.state.since_id,
            since=job.since,
            until=job.until,
            limit=remaining,
        )
        try:
            page = job.collector.fetch_page(profile, query)
        except CursorRejected as exc:
            if query.cursor is None or dropped_cursor:
                raise
            # a cursor the server no longer takes (or never issued) must not poison every
            # later run: drop it and page again from the newest post (stored posts are kept)
            dropped_cursor = True
            _problem(
                job,
                f"{exc.message}: the saved page cursor is dropped and the run pages "
                "again from the newest post",
            )
            job.state = job.state.replace(cursor=None)
            seen_cursors.clear()
            continue
        posts, older_seen = _within_window(job, page.posts, remaining)
        limited = remaining is not None and len(posts) >= remaining
        repeated = page.next_cursor is not None and page.next_cursor in seen_cursors
        last = page.next_cursor is None or older_seen or limited or repeated
        for problem in page.problems:
            _problem(job, problem)
        repeat_line = _repeat_line(job, page.next_cursor or "", len(posts)) if repeated else ""
        if repeated:
            _problem(job, repeat_line)
        elif page.next_cursor:
            seen_cursors.add(page.next_cursor)
        state = job.state.replace(
            cursor=None if last else page.next_cursor,
            pages=(job.state.pages or 0) + 1,
            posts=(job.state.posts or 0) + len(posts),
        )
        if state.newest_id is None and posts:
            state.newest_id = job.collector.newest_id([p.platform_id for p in posts])
        if last:
            state.newest_id = state.newest_id or state.since_id
            state.complete = (
                page.next_cursor is None and job.since is None and not limited and not repeated
            )
        ids = _commit_page(job, page, posts, state)
        _fetch_post_media(job, [*posts, *_referenced(page, posts)], ids)
        if last:
            job.summary.complete = bool(state.complete)
            if repeated:
                raise CollectError(
                    scrub(repeat_line, job.http.secrets),
                    hint="the platform is misbehaving; run the same command again later",
                )
            return


def _problem(job: _Job, line: str) -> None:
    line = scrub(line, job.http.secrets)
    job.summary.problems.append(line)
    job.progress.log(line)


def _repeat_line(job: _Job, cursor: str, page_posts: int) -> str:
    pages = (job.state.pages or 0) + 1
    posts = (job.state.posts or 0) + page_posts
    return (
        f"{job.collector.title} handed out the page cursor {cursor[:60]!r} again after "
        f"{pages} page(s): a cursor that repeats would page forever, so the run stops here; "
        f"the {posts:,} posts read so far are kept"
    )


def _referenced(page: PostPage, posts: list[PostRecord]) -> list[PostRecord]:
    """The page's referenced posts that are not posts of the page itself."""
    own = {p.platform_id for p in page.posts}
    refs = [r for r in page.referenced if r.platform_id not in own]
    for rec in refs:
        rec.seen_via = SEEN_VIA_REFERENCE
    return list({r.platform_id: r for r in refs}.values())


def _within_window(
    job: _Job, posts: list[PostRecord], remaining: int | None
) -> tuple[list[PostRecord], bool]:
    """The posts inside --since/--until and the limit; True when older posts showed up."""
    kept = [
        p
        for p in posts
        if (job.until is None or p.created_at < job.until)
        and (job.since is None or p.created_at >= job.since)
    ]
    older = job.since is not None and any(p.created_at < job.since for p in posts)
    return (kept if remaining is None else kept[:remaining]), older


def _commit_page(
    job: _Job, page: PostPage, posts: list[PostRecord], state: RunState
) -> dict[str, int]:
    """One transaction: captures, posts (and what they reference) and the resume cursor, or
    none of them. The attachments' bytes come after (:func:`_fetch_post_media`): the posts of a
    page never wait for its images. Returns ``platform_id -> post id``."""
    referenced = _referenced(page, posts)
    secrets = job.http.secrets
    job.media.resolve_known([ref for post in (*posts, *referenced) for ref in post.media])
    captures = job.pending + job.http.drain_captures()
    job.pending = captures
    job.recorder.sync()
    seen_at = page.capture.fetched_at if page.capture else utcnow()
    with job.store.session() as session:
        job.writer.session = session
        ids = _write_captures(job, captures)
        page_capture_id = ids.get(id(page.capture)) if page.capture else None
        for post in posts:
            post.capture_id = page_capture_id
            add_content_keys(post)
        for rec in referenced:  # what was amplified: stored, but no share of its author's
            rec.capture_id, rec.objects = page_capture_id, []
        # what osint keeps never holds a secret a server echoed (in a text, a media URL...)
        scrub_value(posts, secrets)
        scrub_value(referenced, secrets)
        seen = job.writer.posts(referenced, seen_at=seen_at) if referenced else None
        result = job.writer.posts(posts, seen_at=seen_at)
        for platform_id, why in [*(seen.refused if seen else []), *result.refused]:
            _problem(job, f"post {platform_id} not stored: {why} (the raw page keeps it)")
        _save_state(session, job, state)
    job.pending, job.state = [], state
    summary = job.summary
    summary.pages += 1
    summary.posts_new += len(result.new)
    summary.posts_edited += len(result.edited)
    summary.posts_unchanged += len(result.unchanged)
    summary.new_post_ids.extend(result.new)
    summary.edited.extend(result.edited)
    summary.referenced_posts += len(seen.new) if seen else 0
    job.progress.update("pages", advance=1)
    job.progress.update("posts", advance=len(posts))
    return {**(seen.ids if seen else {}), **result.ids}


def _fetch_post_media(job: _Job, posts: list[PostRecord], ids: dict[str, int]) -> None:
    """Download the stored posts' new attachments, then record each outcome (one transaction)."""
    items = [
        PendingMedia(ids[post.platform_id], ref)
        for post in posts
        if post.platform_id in ids
        for ref in post.media
        if ref.source_url and not ref.sha256 and not ref.error
    ]
    if items:
        _download_and_record(job, items)


def _download_and_record(job: _Job, items: list[PendingMedia]) -> None:
    batch = job.media.fetch_for(items)
    captures = job.pending + job.http.drain_captures()
    job.pending = captures
    job.recorder.sync()
    with job.store.session() as session:
        job.writer.session = session
        _write_captures(job, captures)
        job.media.write_outcomes(job.writer, batch)
    job.pending = []


def _retry_media(job: _Job) -> None:
    """Attachments that earlier runs could not fetch (or left pending), tried again when due."""
    if job.summary.account_id is None:
        return
    after = 0
    while True:
        with job.store.reader() as session:
            items, after = job.media.retry_rows(
                session, job.summary.account_id, job.collector.platform, after, utcnow()
            )
        if not items:
            return
        if job.media.retried == 0:
            job.progress.log(f"retrying media that earlier runs could not fetch ({len(items)}+)")
        job.media.retried += len(items)
        _download_and_record(job, items)
        if len(items) < RETRY_BATCH:
            return


class ScrubbedProgress:
    """A progress display whose lines never show a secret (a server may echo the token)."""

    def __init__(self, inner: Progress, secrets: list[str]) -> None:
        self.inner = inner
        self.secrets = secrets  # the HTTP client's own list: tokens added later count too

    def update(self, stage: str, *, advance: int = 0, total: int | None = None) -> None:
        self.inner.update(stage, advance=advance, total=total)

    def log(self, message: str) -> None:
        self.inner.log(scrub(message, self.secrets))

    def __call__(self, message: str) -> None:
        self.log(message)
