"""Leases: one worker at a time runs a job, however many workers share the store.

A worker takes a due job by writing its name and an expiry into the job's row, atomically: on
PostgreSQL the candidate row is read ``FOR UPDATE SKIP LOCKED`` (two workers never wait on, or
take, the same row); on SQLite every write transaction starts with ``BEGIN IMMEDIATE``, so the
read and the conditional ``UPDATE ... WHERE the lease is free`` run alone. The ``UPDATE``'s
condition is a compare-and-set on both. A worker renews its leases while it runs; if it dies, its
leases expire and any worker takes the jobs over (at once, when the dead worker was a process on
this same machine), and the collection engine resumes the interrupted run. Lease times come
from each worker's clock: machines sharing a database should keep their clocks synchronised (NTP).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Result, and_, case, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from osint.collect import pid_alive
from osint.monitor.options import JobOptions
from osint.monitor.schedule import Schedule
from osint.storage.db import Store
from osint.storage.models import Case, MonitorJob
from osint.storage.types import utcnow

ORPHAN_CANDIDATES = 50  # leases of this machine's processes checked per claim


@dataclass
class ClaimedJob:
    """A job this worker holds the lease of, with what a run needs."""

    id: int
    owner: str
    case_id: int
    case: str
    platform: str
    target: str
    schedule: Schedule
    options: JobOptions
    state: dict[str, Any]
    due_at: datetime
    consecutive_failures: int

    @property
    def label(self) -> str:
        return f"job {self.id} {self.platform}:{self.target} ({self.case})"


def _rowcount(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def worker_name(hostname: str) -> str:
    """``host:pid:random``: unique per worker, and says which process holds a lease."""
    return f"{hostname}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _lease_free(now: datetime) -> ColumnElement[bool]:
    return or_(
        MonitorJob.lease_owner.is_(None),
        MonitorJob.lease_expires_at.is_(None),
        MonitorJob.lease_expires_at < now,
    )


def _due(due_by: datetime, case_id: int | None) -> list[ColumnElement[bool]]:
    conditions = [MonitorJob.status == "active", MonitorJob.next_run_at <= due_by]
    if case_id is not None:
        conditions.append(MonitorJob.case_id == case_id)
    return conditions


def _orphaned(owner: str, hostname: str) -> bool:
    """Held by a process of this machine that no longer exists."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != hostname or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    return pid != os.getpid() and not pid_alive(pid)


def claim_due_job(
    store: Store,
    owner: str,
    *,
    hostname: str,
    lease_seconds: float,
    due_by: datetime,
    case_id: int | None = None,
) -> ClaimedJob | None:
    """Take the lease of the job due longest ago (by ``due_by``), or None when none is free."""
    for _ in range(3):  # a lost compare-and-set (a clock or isolation surprise): look again
        now = utcnow()
        with store.session() as session:
            job, previous = _candidate(session, now, due_by, case_id, hostname)
            if job is None:
                return None
            free = _lease_free(now) if previous is None else MonitorJob.lease_owner == previous
            taken = _rowcount(
                session.execute(
                    update(MonitorJob)
                    .where(MonitorJob.id == job.id, free)
                    .values(
                        lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds)
                    )
                    .execution_options(synchronize_session=False)
                )
            )
            if taken == 1:
                return _claimed(session, job, owner)
    return None


def _candidate(
    session: Session, now: datetime, due_by: datetime, case_id: int | None, hostname: str
) -> tuple[MonitorJob | None, str | None]:
    """A due job whose lease is free, else one held by a dead process of this machine."""
    job = session.execute(
        select(MonitorJob)
        .where(*_due(due_by, case_id), _lease_free(now))
        .order_by(MonitorJob.next_run_at, MonitorJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if job is not None:
        return job, None
    held = session.execute(
        select(MonitorJob)
        .where(*_due(due_by, case_id), MonitorJob.lease_owner.startswith(f"{hostname}:"))
        .order_by(MonitorJob.next_run_at, MonitorJob.id)
        .limit(ORPHAN_CANDIDATES)
        .with_for_update(skip_locked=True)
    ).scalars()
    for candidate in held:
        if candidate.lease_owner and _orphaned(candidate.lease_owner, hostname):
            return candidate, candidate.lease_owner
    return None, None


def _claimed(session: Session, job: MonitorJob, owner: str) -> ClaimedJob:
    case = session.execute(select(Case.name).where(Case.id == job.case_id)).scalar_one()
    return ClaimedJob(
        id=job.id,
        owner=owner,
        case_id=job.case_id,
        case=case,
        platform=job.platform,
        target=job.target,
        schedule=Schedule.parse(job.schedule),
        options=JobOptions.from_json(job.options or {}),
        state=dict(job.state or {}),
        due_at=job.next_run_at,
        consecutive_failures=job.consecutive_failures,
    )


def renew_leases(store: Store, owner: str, lease_seconds: float) -> int:
    """Push back the expiry of every lease ``owner`` holds; how many it holds."""
    with store.session() as session:
        return _rowcount(
            session.execute(
                update(MonitorJob)
                .where(MonitorJob.lease_owner == owner)
                .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
                .execution_options(synchronize_session=False)
            )
        )


def release_job(store: Store, claimed: ClaimedJob, **values: Any) -> bool:
    """Record the run's outcome (``values``) and give the lease back; False if it was lost."""
    with store.session() as session:
        released = session.execute(
            update(MonitorJob)
            .where(MonitorJob.id == claimed.id, MonitorJob.lease_owner == claimed.owner)
            .values(lease_owner=None, lease_expires_at=None, **values)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(released) == 1


def next_due(store: Store, case_id: int | None = None) -> datetime | None:
    """When an active job can next be claimed: when it falls due, or when its lease expires."""
    now = utcnow()
    claimable_at = case(
        (
            and_(MonitorJob.lease_owner.is_not(None), MonitorJob.lease_expires_at > now),
            MonitorJob.lease_expires_at,
        ),
        else_=MonitorJob.next_run_at,
    )
    with store.reader() as session:
        stmt = select(func.min(claimable_at)).where(MonitorJob.status == "active")
        if case_id is not None:
            stmt = stmt.where(MonitorJob.case_id == case_id)
        found = session.execute(stmt).scalar_one_or_none()
    return _as_utc(found)


def _as_utc(value: Any) -> datetime | None:
    """An aggregate loses the column type: SQLite hands back text, PostgreSQL an aware time."""
    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
