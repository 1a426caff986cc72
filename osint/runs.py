"""Collection runs: the chain-of-custody log of every collection, import and monitoring run."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

import osint
from osint.config import Settings
from osint.storage.kinds import RunKind, RunStatus
from osint.storage.models import CollectionRun
from osint.storage.runstate import RunState
from osint.storage.types import utcnow

MAX_STORED_ERRORS = 1000


def start_run(
    session: Session,
    settings: Settings,
    *,
    case_id: int,
    kind: RunKind,
    platform: str,
    target: str,
    params: dict[str, Any],
    state: RunState | None = None,
) -> CollectionRun:
    run = CollectionRun(
        case_id=case_id,
        kind=kind,
        platform=platform,
        target=target,
        params=params,
        state=state.to_dict() if state else {},
        status=RunStatus.RUNNING,
        counts={},
        errors=[],
        osint_version=osint.__version__,
        hostname=settings.hostname,
        operator=settings.operator,
    )
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: str,
    counts: dict[str, int],
    errors: list[str],
    state: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {
        "status": status,
        "finished_at": utcnow(),
        "counts": counts,
        "errors": errors[:MAX_STORED_ERRORS],
    }
    if state is not None:
        values["state"] = state
    session.execute(update(CollectionRun).where(CollectionRun.id == run_id).values(**values))


def close_stale_runs(session: Session, settings: Settings, *, case_id: int, kind: str) -> list[int]:
    """Mark ``running`` runs of this case whose process is gone as ``abandoned``; their ids.

    A run killed outright (kill -9, a power cut) never says it stopped. Only runs started on
    this host can be checked (by the process id they recorded); the others are left alone.
    """
    from osint.collect import pid_alive  # here: osint.collect imports this module

    closed = []
    runs = session.execute(
        select(CollectionRun).where(
            CollectionRun.case_id == case_id,
            CollectionRun.kind == kind,
            CollectionRun.status == RunStatus.RUNNING,
        )
    ).scalars()
    for run in runs:
        state = RunState.from_dict(run.state)
        pid = state.pid
        if state.host != settings.hostname or not isinstance(pid, int):
            continue
        if pid == os.getpid() or pid_alive(pid):
            continue
        run.status = RunStatus.ABANDONED
        run.finished_at = utcnow()
        run.errors = [
            *(run.errors or [])[: MAX_STORED_ERRORS - 1],
            f"the process (pid {pid}) ended without finishing the run; what it had written "
            "stays, and running the same command again completes it",
        ]
        closed.append(run.id)
    session.flush()
    return closed
