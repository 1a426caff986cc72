"""Collection runs: the chain-of-custody log of every collection, import and monitoring run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

import osint
from osint.config import Settings
from osint.storage.models import CollectionRun
from osint.storage.types import utcnow

MAX_STORED_ERRORS = 1000


def start_run(
    session: Session,
    settings: Settings,
    *,
    case_id: int,
    kind: str,
    platform: str,
    target: str,
    params: dict[str, Any],
    state: dict[str, Any] | None = None,
) -> CollectionRun:
    run = CollectionRun(
        case_id=case_id,
        kind=kind,
        platform=platform,
        target=target,
        params=params,
        state=state or {},
        status="running",
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
