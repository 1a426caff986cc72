"""Events as records: what notifications send, what ``osint export events`` writes.

One record per event: what changed (``kind``, ``before``, ``after``), on which account and post,
when it was detected, by which job and run, and the two captures that prove the before and the
after (URL, fetch time, SHA-256 of the response, WARC file and record id under OSINT_HOME).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from osint.cases import get_case
from osint.monitor.changes import iso
from osint.storage.db import Store
from osint.storage.models import Account, Capture, Case, Event, Post
from osint.writers import RecordWriter

FORMATS = ("jsonl", "csv")
PAGE = 2000
FIELDS = [
    "event_id",
    "case",
    "kind",
    "detected_at",
    "platform",
    "account_id",
    "account_handle",
    "post_id",
    "post_url",
    "job_id",
    "run_id",
    "before",
    "after",
    "before_capture",
    "after_capture",
]


def _capture(capture: Capture | None) -> dict[str, Any] | None:
    if capture is None:
        return None
    return {
        "id": capture.id,
        "url": capture.url,
        "fetched_at": iso(capture.fetched_at),
        "status_code": capture.status_code,
        "sha256": capture.sha256,
        "warc_file": capture.warc_file,
        "warc_record_id": capture.warc_record_id,
    }


def _select_events() -> Any:
    before, after = aliased(Capture), aliased(Capture)
    return (
        select(Event, Case.name, Account, Post, before, after)
        .join(Case, Case.id == Event.case_id)
        .outerjoin(Account, Account.id == Event.account_id)
        .outerjoin(Post, Post.id == Event.post_id)
        .outerjoin(before, before.id == Event.before_capture_id)
        .outerjoin(after, after.id == Event.after_capture_id)
    )


def _record(row: Any) -> dict[str, Any]:
    event, case, account, post, before, after = row
    return {
        "event_id": event.id,
        "case": case,
        "kind": event.kind,
        "detected_at": iso(event.detected_at),
        "platform": account.platform if account else None,
        "account_id": account.platform_id if account else None,
        "account_handle": account.handle if account else None,
        "post_id": post.platform_id if post else None,
        "post_url": post.url if post else None,
        "job_id": event.job_id,
        "run_id": event.run_id,
        "before": event.before or {},
        "after": event.after or {},
        "before_capture": _capture(before),
        "after_capture": _capture(after),
    }


def event_records(session: Session, event_ids: list[int]) -> list[dict[str, Any]]:
    """These events as records, in the order given."""
    if not event_ids:
        return []
    rows = session.execute(_select_events().where(Event.id.in_(event_ids))).all()
    by_id = {row[0].id: _record(row) for row in rows}
    return [by_id[i] for i in event_ids if i in by_id]


def iter_event_records(store: Store, case: str) -> Iterator[dict[str, Any]]:
    """The case's events, in the order they were stored, read in keyset pages."""
    with store.reader() as session:
        case_id = get_case(session, case).id
        after_id = 0
        while True:
            rows = session.execute(
                _select_events()
                .where(Event.case_id == case_id, Event.id > after_id)
                .order_by(Event.id)
                .limit(PAGE)
            ).all()
            if not rows:
                return
            for row in rows:
                yield _record(row)
            after_id = rows[-1][0].id
            session.expunge_all()


def export_events(store: Store, case: str, out: TextIO, *, fmt: str = "jsonl") -> int:
    """Write the case's events as JSON lines or CSV (before/after/captures as JSON); how many."""
    return RecordWriter(out, fmt, FIELDS).write_all(iter_event_records(store, case))


def _short(text: Any, width: int = 60) -> str:
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def describe_event(record: dict[str, Any]) -> str:
    """One line for a terminal or a log: when, where, what changed."""
    who = f"{record['platform']}:@{record['account_handle'] or record['account_id']}"
    kind, before, after = record["kind"], record["before"], record["after"]
    head = f"{record['detected_at']} [{record['case']}] {who} {kind}"
    if kind == "post_new":
        return f"{head} {record['post_id']}: {_short(after.get('text'))!r}"
    if kind == "post_edited":
        return (
            f"{head} {record['post_id']}: {_short(before.get('text'), 40)!r} -> "
            f"{_short(after.get('text'), 40)!r}"
        )
    if kind == "post_deleted":
        return f"{head} {record['post_id']} ({after.get('reason')}): {_short(before.get('text'))!r}"
    if kind == "profile_changed":
        changes = [
            f"{name} {_short(before.get(name), 30)!r} -> {_short(after.get(name), 30)!r}"
            for name in after.get("changed", [])
        ]
        return f"{head}: {'; '.join(changes)}"
    return f"{head}: {before.get('status')} -> {after.get('status')}"
