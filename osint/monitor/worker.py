"""The monitoring worker: takes due jobs, runs them, records events, schedules the next run.

A run is an ordinary incremental collection (``kind="monitor"``), then direct look-ups of known
posts (deletions, edits), then change detection. ``--once`` runs every job due when it started and
exits (for cron and systemd timers); otherwise the worker keeps going, sleeping until the next job
falls due. ``workers`` threads share one process; jobs of one platform share its rate budget.

Stopping: :meth:`MonitorWorker.stop` (Ctrl-C, SIGTERM) lets each run finish the page it is on, then
marks it interrupted; the job stays due and its next run resumes the collection where it stopped.
A worker that is killed outright leaves its leases to expire (or to be taken over at once by the
next worker on the same machine), and the engine resumes its runs: nothing lost, nothing twice.

Failures are isolated per job and back off exponentially (``monitor_retry`` doubling up to
``monitor_max_backoff``); ``osint monitor list`` shows such a job as failing, with its error.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from sqlalchemy import select

from osint.cases import get_case
from osint.collect import CollectSummary, collect_account
from osint.collectors.ratelimit import RateBudget
from osint.config import Settings
from osint.errors import AccountNotFound, AccountUnavailable, OsintError
from osint.monitor.changes import detect_changes, find_account, store_events
from osint.monitor.events import event_records
from osint.monitor.lease import (
    ClaimedJob,
    claim_due_job,
    next_due,
    release_job,
    renew_leases,
    worker_name,
)
from osint.monitor.options import parse_threshold
from osint.monitor.recheck import recheck_posts
from osint.storage.db import Store
from osint.storage.kinds import RunKind, RunStatus
from osint.storage.models import CollectionRun, MonitorJob
from osint.storage.types import utcnow

EventHandler = Callable[[dict[str, Any]], None]


class StopRequested(KeyboardInterrupt):
    """The operator asked the worker to stop; raised inside a run once its page is stored.

    A KeyboardInterrupt, so the collection engine records the run as interrupted (resumable).
    """


@dataclass
class WorkerOptions:
    workers: int = 1
    once: bool = False  # run the jobs due at start, then exit
    case: str | None = None  # only this case's jobs


@dataclass
class JobOutcome:
    status: RunStatus  # completed | unavailable | failed | interrupted
    error: str | None = None
    run_id: int | None = None
    summary: CollectSummary | None = None
    event_ids: list[int] = field(default_factory=list)


@dataclass
class WorkerReport:
    runs: int = 0
    completed: int = 0
    unavailable: int = 0
    failed: int = 0
    interrupted: int = 0
    events: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, outcome: JobOutcome) -> None:
        with self._lock:
            self.runs += 1
            setattr(self, outcome.status, getattr(self, outcome.status) + 1)
            self.events += len(outcome.event_ids)


class _JobProgress:
    """The engine's progress hook: stops a run right after a page (or the profile) is stored."""

    def __init__(self, stop: threading.Event, log: Callable[[str], None], label: str) -> None:
        self.stop, self._log, self.label = stop, log, label

    def update(self, stage: str, *, advance: int = 0, total: int | None = None) -> None:
        if stage in ("profile", "pages") and self.stop.is_set():
            raise StopRequested

    def log(self, message: str) -> None:
        self._log(f"{self.label}: {message}")


class MonitorWorker:
    """Runs due monitoring jobs against ``store``; see the module docstring."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        options: WorkerOptions | None = None,
        on_event: EventHandler | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.store, self.settings = store, settings
        self.options = options or WorkerOptions()
        self.on_event = on_event or (lambda record: None)
        self.log = log or (lambda message: None)
        self.owner = worker_name(settings.hostname)
        self.report = WorkerReport()
        self._stop = threading.Event()
        self._budgets: dict[str, RateBudget] = {}
        self._budgets_lock = threading.Lock()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the loop ------------------------------------------------------------------------
    def run(self) -> WorkerReport:
        """Work until stopped (or, with ``once``, until the jobs due at the start are done)."""
        case_id = None
        if self.options.case is not None:
            with self.store.reader() as session:
                case_id = get_case(session, self.options.case).id
        started = utcnow()
        threads = [
            threading.Thread(
                target=self._work, args=(started, case_id), name=f"osint-monitor-{n}", daemon=True
            )
            for n in range(max(1, self.options.workers))
        ]
        beating = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(beating,), name="osint-lease-heartbeat", daemon=True
        )
        heartbeat.start()
        for thread in threads:
            thread.start()
        try:
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.2)
        finally:
            beating.set()
        return self.report

    def _work(self, started: datetime, case_id: int | None) -> None:
        while not self._stop.is_set():
            claimed = claim_due_job(
                self.store,
                self.owner,
                hostname=self.settings.hostname,
                lease_seconds=self.settings.monitor_lease,
                due_by=started if self.options.once else utcnow(),
                case_id=case_id,
            )
            if claimed is None:
                if self.options.once:
                    return
                self._idle(case_id)
                continue
            self.run_job(claimed)

    def _idle(self, case_id: int | None) -> None:
        upcoming = next_due(self.store, case_id)
        wait = self.settings.monitor_poll
        if upcoming is not None:
            wait = min(wait, max((upcoming - utcnow()).total_seconds(), 0.05))
        self._stop.wait(wait)

    def _heartbeat(self, done: threading.Event) -> None:
        interval = max(self.settings.monitor_lease / 3, 0.05)
        while not done.wait(interval):
            try:
                renew_leases(self.store, self.owner, self.settings.monitor_lease)
            except Exception as exc:  # a database blip: the next beat tries again
                self.log(f"could not renew leases: {exc}")

    # -- one job ---------------------------------------------------------------------------
    def run_job(self, claimed: ClaimedJob) -> JobOutcome:
        """Run a job this worker holds, record its outcome, give its lease back."""
        outcome = self._execute(claimed)
        self._release(claimed, outcome)
        self.report.add(outcome)
        self.log(_describe_outcome(claimed, outcome))
        if outcome.event_ids:
            with self.store.reader() as session:
                records = event_records(session, outcome.event_ids)
            for record in records:
                self.on_event(record)
        return outcome

    def _execute(self, claimed: ClaimedJob) -> JobOutcome:
        progress = _JobProgress(self._stop, self.log, claimed.label)
        try:
            summary = collect_account(
                self.store,
                self.settings,
                platform=claimed.platform,
                target=claimed.target,
                case=claimed.case,
                full=claimed.options.full,
                progress=progress,
                budget=self._budget(claimed.platform),
                kind=RunKind.MONITOR,
                sleep=self._sleep,
            )
            outcome = JobOutcome(RunStatus.COMPLETED, run_id=summary.run_id, summary=summary)
        except (AccountUnavailable, AccountNotFound) as exc:
            outcome = JobOutcome(
                RunStatus.UNAVAILABLE, error=str(exc), run_id=self._last_run(claimed)
            )
        except StopRequested:
            return JobOutcome(RunStatus.INTERRUPTED)
        except OsintError as exc:
            return JobOutcome(RunStatus.FAILED, error=str(exc))
        except Exception as exc:  # one job's bug never stops the others
            return JobOutcome(RunStatus.FAILED, error=f"unexpected {type(exc).__name__}: {exc}")
        try:
            self._changes(claimed, outcome)
        except StopRequested:
            outcome.status, outcome.error = RunStatus.INTERRUPTED, None
        except OsintError as exc:
            outcome.status, outcome.error = RunStatus.FAILED, str(exc)
        except Exception as exc:
            outcome.status, outcome.error = (
                RunStatus.FAILED,
                f"unexpected {type(exc).__name__}: {exc}",
            )
        return outcome

    def _changes(self, claimed: ClaimedJob, outcome: JobOutcome) -> None:
        """Look known posts up (deletions), then record what else changed."""
        account_id = outcome.summary.account_id if outcome.summary else None
        if account_id is None:
            account_id = self._account_of(claimed)
        if account_id is None or outcome.run_id is None:
            return
        baselined = claimed.state.get("account_id") == account_id
        if outcome.status == RunStatus.COMPLETED and baselined:
            checked = recheck_posts(
                self.store,
                self.settings,
                claimed,
                account_id=account_id,
                run_id=outcome.run_id,
                budget=self._budget(claimed.platform),
                sleep=self._sleep,
            )
            outcome.event_ids += checked.event_ids
        threshold = parse_threshold(claimed.options.follower_threshold)
        with self.store.session() as session:
            job = session.get(MonitorJob, claimed.id)
            state = dict(job.state or {}) if job is not None else dict(claimed.state)
            drafts, new_state = detect_changes(
                session, state, account_id, run_id=outcome.run_id, threshold=threshold
            )
            outcome.event_ids += store_events(
                session,
                drafts,
                case_id=claimed.case_id,
                job_id=claimed.id if job is not None else None,  # removed while it ran
                run_id=outcome.run_id,
                detected_at=utcnow(),
            )
            if job is not None:
                job.state = new_state

    def _account_of(self, claimed: ClaimedJob) -> int | None:
        with self.store.reader() as session:
            known = claimed.state.get("account_id")
            if known is not None:
                return int(known)
            return find_account(session, claimed.case_id, claimed.platform, claimed.target)

    def _last_run(self, claimed: ClaimedJob) -> int | None:
        with self.store.reader() as session:
            return session.execute(
                select(CollectionRun.id)
                .where(
                    CollectionRun.case_id == claimed.case_id,
                    CollectionRun.platform == claimed.platform,
                    CollectionRun.target == claimed.target,
                    CollectionRun.kind == "monitor",
                )
                .order_by(CollectionRun.id.desc())
                .limit(1)
            ).scalar_one_or_none()

    def _release(self, claimed: ClaimedJob, outcome: JobOutcome) -> None:
        now = utcnow()
        values: dict[str, Any] = {
            "last_run_at": now,
            "last_status": outcome.status,
            "last_error": outcome.error,
        }
        if outcome.status in (RunStatus.COMPLETED, RunStatus.UNAVAILABLE):
            values["next_run_at"] = claimed.schedule.next_run(claimed.due_at, now)
            values["consecutive_failures"] = 0
        elif outcome.status == RunStatus.FAILED:
            failures = claimed.consecutive_failures + 1
            delay = min(
                self.settings.monitor_retry * 2 ** (failures - 1),
                self.settings.monitor_max_backoff,
            )
            values["next_run_at"] = now + timedelta(seconds=delay)
            values["consecutive_failures"] = failures
        # interrupted: still due, so the next start resumes it
        if not release_job(self.store, claimed, **values):
            self.log(f"{claimed.label}: removed, or taken over by another worker, while it ran")

    def _budget(self, platform: str) -> RateBudget:
        with self._budgets_lock:
            return self._budgets.setdefault(platform, RateBudget())

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise StopRequested


def _describe_outcome(claimed: ClaimedJob, outcome: JobOutcome) -> str:
    text = f"{claimed.label}: {outcome.status}"
    summary = outcome.summary
    if summary is not None:
        text += (
            f", {summary.posts_new} new posts, {summary.posts_edited} edited, {summary.pages} pages"
        )
    text += f", {len(outcome.event_ids)} events"
    return text + (f" ({outcome.error})" if outcome.error else "")


@contextlib.contextmanager
def stop_on_signals(worker: MonitorWorker, log: Callable[[str], None]) -> Iterator[None]:
    """SIGINT/SIGTERM stop ``worker`` cleanly; a second one quits at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if worker.stopping:
            raise KeyboardInterrupt
        name = signal.Signals(signum).name
        log(f"{name}: finishing the current page of each run, then stopping (again to quit now)")
        worker.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_monitor(
    store: Store,
    settings: Settings,
    *,
    options: WorkerOptions,
    on_event: EventHandler | None = None,
    log: Callable[[str], None] | None = None,
) -> WorkerReport:
    """Run a worker until it is done or stopped by a signal."""
    log = log or (lambda message: None)
    worker = MonitorWorker(store, settings, options=options, on_event=on_event, log=log)
    with stop_on_signals(worker, log):
        return worker.run()
