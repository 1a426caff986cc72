"""Monitoring: keep watching accounts and record what they add, edit and delete.

    job = add_job(store, platform="x", target="dia_diarra", case="mali-2022", schedule="15m")
    report = run_monitor(store, settings, options=WorkerOptions(once=True), on_event=print)

- :mod:`~osint.monitor.jobs`: jobs in the case store (add, list, pause, resume, remove);
- :mod:`~osint.monitor.schedule`: ``15m`` / ``1h`` / ``1d`` / cron expressions;
- :mod:`~osint.monitor.lease`: one worker at a time per job, across processes and machines;
- :mod:`~osint.monitor.worker`: the loop that runs due jobs (``osint monitor run``);
- :mod:`~osint.monitor.changes` and :mod:`~osint.monitor.recheck`: what changed, as events;
- :mod:`~osint.monitor.events`: events as records (export, notifications);
- :mod:`~osint.monitor.notify`: webhook and command notifications, in the background.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from osint.lazy import lazy_exports

if TYPE_CHECKING:
    from osint.monitor.events import describe_event, event_records, export_events
    from osint.monitor.jobs import JobView, add_job, list_jobs, pause_job, remove_job, resume_job
    from osint.monitor.notify import Notifier
    from osint.monitor.options import JobOptions
    from osint.monitor.schedule import Schedule
    from osint.monitor.worker import (
        MonitorWorker,
        StopRequested,
        WorkerOptions,
        WorkerReport,
        run_monitor,
    )

# Loaded on first use (``monitor.add_job``): importing the package stays cheap for the CLI.
_EXPORTS = {
    "describe_event": "events",
    "event_records": "events",
    "export_events": "events",
    "JobView": "jobs",
    "add_job": "jobs",
    "list_jobs": "jobs",
    "pause_job": "jobs",
    "remove_job": "jobs",
    "resume_job": "jobs",
    "Notifier": "notify",
    "JobOptions": "options",
    "Schedule": "schedule",
    "MonitorWorker": "worker",
    "StopRequested": "worker",
    "WorkerOptions": "worker",
    "WorkerReport": "worker",
    "run_monitor": "worker",
}


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "JobOptions",
    "JobView",
    "MonitorWorker",
    "Notifier",
    "Schedule",
    "StopRequested",
    "WorkerOptions",
    "WorkerReport",
    "add_job",
    "describe_event",
    "event_records",
    "export_events",
    "list_jobs",
    "pause_job",
    "remove_job",
    "resume_job",
    "run_monitor",
]
