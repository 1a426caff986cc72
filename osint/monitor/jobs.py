"""Monitoring jobs in the case store: add, list, pause, resume, remove.

A job is one target of one platform, watched for one case on a schedule. Its ``options`` say how
each run collects (``full`` re-reads the whole timeline; ``recheck`` known posts are looked up
directly for deletions and edits; ``follower_threshold`` is the follower-count change worth an
event); its ``state`` is what change detection last reported (see :mod:`osint.monitor.changes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from osint.cases import get_case
from osint.collectors.registry import get_collector
from osint.errors import InputError
from osint.monitor.changes import initial_state
from osint.monitor.options import JobOptions
from osint.monitor.schedule import Schedule
from osint.storage.db import Store
from osint.storage.models import Case, MonitorJob
from osint.storage.types import utcnow


@dataclass(frozen=True)
class JobView:
    """A job as ``osint monitor list`` shows it."""

    id: int
    case: str
    platform: str
    target: str
    schedule: str
    status: str  # active | paused
    next_run_at: datetime
    last_run_at: datetime | None
    last_status: str | None
    last_error: str | None
    consecutive_failures: int
    lease_owner: str | None
    lease_expires_at: datetime | None
    options: dict[str, Any]

    @property
    def condition(self) -> str:
        """paused, failing (N in a row), running (leased now) or active."""
        if self.status == "paused":
            return "paused"
        if self.consecutive_failures:
            return f"failing ({self.consecutive_failures} in a row)"
        if self.lease_owner and self.lease_expires_at and self.lease_expires_at > utcnow():
            return "running"
        return "active"

    @property
    def schedule_text(self) -> str:
        return Schedule.parse(self.schedule).describe()


def _view(job: MonitorJob, case: str) -> JobView:
    return JobView(
        id=job.id,
        case=case,
        platform=job.platform,
        target=job.target,
        schedule=job.schedule,
        status=job.status,
        next_run_at=job.next_run_at,
        last_run_at=job.last_run_at,
        last_status=job.last_status,
        last_error=job.last_error,
        consecutive_failures=job.consecutive_failures,
        lease_owner=job.lease_owner,
        lease_expires_at=job.lease_expires_at,
        options=dict(job.options or {}),
    )


def add_job(
    store: Store,
    *,
    platform: str,
    target: str,
    case: str,
    schedule: str,
    options: JobOptions | None = None,
) -> JobView:
    """Watch ``target`` for ``case``; the first run is due at once and sets the baseline."""
    collector_cls = get_collector(platform)
    target = collector_cls.normalize_target(target)
    parsed = Schedule.parse(schedule)
    options = options or JobOptions()
    try:
        with store.session() as session:
            case_row = get_case(session, case)
            _refuse_duplicate(session, case_row, collector_cls.platform, target)
            job = MonitorJob(
                case_id=case_row.id,
                platform=collector_cls.platform,
                target=target,
                schedule=parsed.text,
                options=options.to_json(),
                state=initial_state(session, case_row.id, collector_cls.platform, target),
                status="active",
                next_run_at=utcnow(),
                consecutive_failures=0,
            )
            session.add(job)
            session.flush()
            return _view(job, case_row.name)
    except IntegrityError as exc:  # lost a race with another process adding the same job
        raise InputError(f"{platform}:{target} is already monitored in case {case!r}") from exc


def _refuse_duplicate(session: Session, case: Case, platform: str, target: str) -> None:
    existing = session.execute(
        select(MonitorJob.id).where(
            MonitorJob.case_id == case.id,
            MonitorJob.platform == platform,
            MonitorJob.target == target,
        )
    ).scalar_one_or_none()
    if existing is not None:
        raise InputError(
            f"{platform}:{target} is already monitored in case {case.name!r} (job {existing})",
            hint=f"see 'osint monitor list'; 'osint monitor remove {existing}' to start over",
        )


def list_jobs(store: Store, *, case: str | None = None) -> list[JobView]:
    with store.reader() as session:
        stmt = select(MonitorJob, Case.name).join(Case, Case.id == MonitorJob.case_id)
        if case is not None:
            stmt = stmt.where(MonitorJob.case_id == get_case(session, case).id)
        rows = session.execute(stmt.order_by(MonitorJob.id)).all()
        return [_view(job, name) for job, name in rows]


def _job(session: Session, job_id: int) -> tuple[MonitorJob, str]:
    row = session.execute(
        select(MonitorJob, Case.name)
        .join(Case, Case.id == MonitorJob.case_id)
        .where(MonitorJob.id == job_id)
    ).first()
    if row is None:
        raise InputError(f"no monitoring job {job_id}", hint="see 'osint monitor list'")
    return row[0], row[1]


def pause_job(store: Store, job_id: int) -> JobView:
    """Stop scheduling the job (a run in progress finishes)."""
    with store.session() as session:
        job, case = _job(session, job_id)
        job.status = "paused"
        session.flush()
        return _view(job, case)


def resume_job(store: Store, job_id: int) -> JobView:
    """Schedule a paused job again; a failing one is retried at once, its backoff forgotten."""
    with store.session() as session:
        job, case = _job(session, job_id)
        job.status = "active"
        if job.consecutive_failures:
            job.next_run_at = utcnow()
        session.flush()
        return _view(job, case)


def remove_job(store: Store, job_id: int) -> JobView:
    """Delete the job; its events and everything it collected stay in the case."""
    with store.session() as session:
        job, case = _job(session, job_id)
        view = _view(job, case)
        session.execute(delete(MonitorJob).where(MonitorJob.id == job_id))
        return view
