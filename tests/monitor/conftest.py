"""Fixtures for monitoring tests: settings with short leases and retries, jobs made due."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from osint.cases import create_case
from osint.config import Settings
from osint.monitor import MonitorWorker, WorkerOptions, WorkerReport
from osint.storage.db import Store
from osint.storage.models import Event, MonitorJob
from osint.storage.types import utcnow


@pytest.fixture
def mon_settings(x_settings: Settings) -> Settings:
    return x_settings.with_overrides(
        monitor_lease=5.0, monitor_poll=0.2, monitor_retry=30.0, monitor_max_backoff=600.0
    )


@pytest.fixture
def case(store: Store) -> str:
    create_case(store, "c")
    return "c"


def run_once(store: Store, settings: Settings, **options: Any) -> tuple[WorkerReport, list[dict]]:
    """One ``--once`` pass in-process; the report and the event records it emitted."""
    seen: list[dict[str, Any]] = []
    worker = MonitorWorker(
        store, settings, options=WorkerOptions(once=True, **options), on_event=seen.append
    )
    return worker.run(), seen


def make_due(store: Store, *job_ids: int) -> None:
    """As if the period had passed: the jobs are due now."""
    with store.session() as session:
        stmt = update(MonitorJob).values(next_run_at=utcnow() - timedelta(seconds=1))
        if job_ids:
            stmt = stmt.where(MonitorJob.id.in_(job_ids))
        session.execute(stmt)


def events(store: Store, **where: Any) -> list[Event]:
    with store.reader() as session:
        stmt = select(Event).order_by(Event.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(Event, name) == value)
        return list(session.execute(stmt).scalars())
