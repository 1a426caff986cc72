"""Two worker processes on one PostgreSQL: 50 due jobs, each run exactly once per period."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from osint.cases import create_case
from osint.config import load_settings
from osint.demo.replay import LoggedRequest, ReplayServer
from osint.monitor import add_job, list_jobs
from osint.storage.db import Store
from osint.storage.models import CollectionRun, Event
from osint.store import open_store
from tests.monitor.conftest import make_due
from tests.monitor.test_worker import spawn_worker

JOBS = 50


class Gate:
    """Holds every request until four are waiting at once: both processes' two threads are in."""

    def __init__(self, parties: int = 4) -> None:
        self.parties = parties
        self.arrived = 0
        self.lock = threading.Lock()
        self.open = threading.Event()

    def __call__(self, _request: LoggedRequest) -> None:
        with self.lock:
            self.arrived += 1
            if self.arrived >= self.parties:
                self.open.set()
        self.open.wait(30)


def one_period(replay: ReplayServer, home: Path, pg_url: str) -> None:
    replay.on_request = Gate()
    workers = [spawn_worker(replay, home, pg_url, "--once", "--workers", "2") for _ in range(2)]
    try:
        for proc in workers:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err.decode()
    finally:
        replay.on_request = None


def runs_by_target(store: Store) -> tuple[Counter[str], list[dict[str, Any]]]:
    with store.reader() as s:
        runs = s.execute(select(CollectionRun.target, CollectionRun.state)).all()
    return Counter(target for target, _ in runs), [state for _, state in runs]


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_run_each_of_fifty_due_jobs_once_per_period(
    pg_url: str, tmp_path: Path, replay: ReplayServer
) -> None:
    home = tmp_path / "home"
    store = open_store(load_settings(home=home, db=pg_url, environ={}))
    try:
        create_case(store, "c")
        accounts = []
        for n in range(JOBS):
            account = replay.world.add_account("x", f"acct_{n:02d}")
            replay.world.add_post(account, f"first post {n}")
            add_job(store, platform="x", target=account.handle, case="c", schedule="1h")
            accounts.append(account)
        one_period(replay, home, pg_url)
        per_target, states = runs_by_target(store)
        assert len(per_target) == JOBS and set(per_target.values()) == {1}
        assert len({s["pid"] for s in states}) == 2  # both processes ran jobs
        jobs = list_jobs(store)
        assert all(j.last_status == "completed" and j.lease_owner is None for j in jobs)
        # an hour later: one new post on every account
        for n, account in enumerate(accounts):
            replay.world.add_post(account, f"second post {n}")
        make_due(store)
        one_period(replay, home, pg_url)
        per_target, states = runs_by_target(store)
        assert len(per_target) == JOBS and set(per_target.values()) == {2}
        with store.reader() as s:
            new_posts = s.execute(
                select(Event.account_id).where(Event.kind == "post_new")
            ).scalars()
            per_account = Counter(new_posts)
        assert len(per_account) == JOBS and set(per_account.values()) == {1}
    finally:
        store.dispose()
