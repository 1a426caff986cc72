"""Change detection: what a monitoring run found new, edited or changed, stored as events.

Detection reads the store, not a run's summary, so a run that was killed and resumed still
reports everything once. A job's ``state`` holds what it last reported: the highest post and post
version ids (watermarks), the profile as last reported and the account's status. After a run,
everything past those marks is a change: posts past the post mark are new; versions past the
version mark of posts that already had a version are edits; a newer profile snapshot that differs
in handle, display name, bio, location, link, avatar (by SHA-256 of the image) or, beyond the
job's threshold, follower/following counts is one ``profile_changed`` event; a changed account
status (suspended, protected, not found, back to active) is one ``account_*`` event. The events
and the new state are written in one transaction, and each event has a ``key`` unique in its case,
so a change is never reported twice.

The first run of a job (or ``monitor add`` for an account the case already holds) sets the
baseline: what the account holds then is not news. Deletions are found by direct look-ups of known
posts (:mod:`osint.monitor.recheck`), which also writes their events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session, aliased

from osint.storage.models import Account, AccountSnapshot, Capture, Event, Media, Post, PostVersion
from osint.storage.queries import insert_new

PROFILE_FIELDS = ("handle", "display_name", "bio", "location", "url", "avatar_sha256")
COUNT_FIELDS = ("followers_count", "following_count")
STATUS_EVENTS = {
    "active": "account_restored",
    "suspended": "account_suspended",
    "protected": "account_protected",
    "not_found": "account_deleted",
    "deleted": "account_deleted",
}


@dataclass
class EventDraft:
    """An event before it is stored; ``key`` names the change (unique per case)."""

    kind: str
    key: str
    account_id: int | None
    post_id: int | None = None
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    before_capture_id: int | None = None
    after_capture_id: int | None = None


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


class _PostLike(Protocol):  # a Post, or a row of one
    platform_id: str
    created_at: datetime
    text: str | None
    url: str | None


def post_facts(post: _PostLike, kind: str | None = None) -> dict[str, Any]:
    """What an event shows of a post: its id, time, (its ``kind`` when given,) text and URL."""
    facts: dict[str, Any] = {"post_id": post.platform_id, "created_at": iso(post.created_at)}
    if kind is not None:
        facts["kind"] = kind
    facts.update(text=post.text, url=post.url)
    return facts


# -- finding the account and the baseline -------------------------------------------------
def find_account(
    session: Session, case_id: int, platform: str, target: str, platform_id: str | None = None
) -> int | None:
    """The case's account for this target: by platform id when known, else by handle."""
    which = (
        Account.platform_id == platform_id
        if platform_id
        else func.lower(Account.handle) == target.lower()
    )
    return session.execute(
        select(Account.id)
        .where(Account.case_id == case_id, Account.platform == platform, which)
        .order_by(Account.id)
        .limit(1)
    ).scalar_one_or_none()


def initial_state(session: Session, case_id: int, platform: str, target: str) -> dict[str, Any]:
    """The state of a new job: the baseline, if the case already holds the account."""
    account_id = find_account(session, case_id, platform, target)
    return baseline(session, account_id) if account_id is not None else {}


def baseline(session: Session, account_id: int) -> dict[str, Any]:
    """Everything the account holds now, as already reported."""
    post_mark = session.execute(
        select(func.max(Post.id)).where(Post.account_id == account_id)
    ).scalar_one()
    version_mark = session.execute(
        select(func.max(PostVersion.id))
        .join(Post, Post.id == PostVersion.post_id)
        .where(Post.account_id == account_id)
    ).scalar_one()
    status = session.execute(select(Account.status).where(Account.id == account_id)).scalar_one()
    return {
        "account_id": account_id,
        "post_mark": post_mark or 0,
        "version_mark": version_mark or 0,
        "profile": current_profile(session, account_id),
        "account_status": status,
    }


def current_profile(session: Session, account_id: int) -> dict[str, Any] | None:
    """The account's latest snapshot, as the fields change detection compares."""
    row = session.execute(
        select(AccountSnapshot, Media.sha256)
        .outerjoin(Media, Media.id == AccountSnapshot.avatar_media_id)
        .where(AccountSnapshot.account_id == account_id)
        .order_by(AccountSnapshot.captured_at.desc(), AccountSnapshot.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    snap, avatar_sha256 = row
    profile: dict[str, Any] = {
        "snapshot_id": snap.id,
        "capture_id": snap.capture_id,
        "captured_at": iso(snap.captured_at),
        "avatar_url": snap.avatar_url,
        "avatar_sha256": avatar_sha256,
    }
    for name in (*PROFILE_FIELDS, *COUNT_FIELDS):
        if name != "avatar_sha256":
            profile[name] = getattr(snap, name)
    profile["counts_capture_id"] = snap.capture_id
    return profile


# -- detection -----------------------------------------------------------------------------
def detect_changes(
    session: Session,
    state: dict[str, Any],
    account_id: int,
    *,
    run_id: int | None,
    threshold: tuple[float, bool],
) -> tuple[list[EventDraft], dict[str, Any]]:
    """The changes since ``state`` and the state that reports them (see the module docstring)."""
    if state.get("account_id") != account_id:
        return [], {**state, **baseline(session, account_id)}
    drafts = _new_posts(session, account_id, int(state.get("post_mark") or 0))
    drafts += _edited_posts(session, account_id, int(state.get("version_mark") or 0))
    reported = state.get("profile")
    current = current_profile(session, account_id)
    profile_drafts, profile = _profile_change(account_id, reported, current, threshold)
    drafts += profile_drafts
    status = session.execute(select(Account.status).where(Account.id == account_id)).scalar_one()
    drafts += _status_change(session, account_id, state, status, profile, run_id)
    new_state = {
        **state,
        "post_mark": _max_post_id(session, account_id, int(state.get("post_mark") or 0)),
        "version_mark": _max_version_id(session, account_id, int(state.get("version_mark") or 0)),
        "profile": profile,
        "account_status": status,
    }
    return drafts, new_state


def _max_post_id(session: Session, account_id: int, mark: int) -> int:
    found = session.execute(
        select(func.max(Post.id)).where(Post.account_id == account_id, Post.id > mark)
    ).scalar_one()
    return max(mark, found or 0)


def _max_version_id(session: Session, account_id: int, mark: int) -> int:
    found = session.execute(
        select(func.max(PostVersion.id))
        .join(Post, Post.id == PostVersion.post_id)
        .where(Post.account_id == account_id, PostVersion.id > mark)
    ).scalar_one()
    return max(mark, found or 0)


def _new_posts(session: Session, account_id: int, mark: int) -> list[EventDraft]:
    posts = session.execute(
        select(Post).where(Post.account_id == account_id, Post.id > mark).order_by(Post.id)
    ).scalars()
    return [
        EventDraft(
            kind="post_new",
            key=f"post_new:{post.id}",
            account_id=account_id,
            post_id=post.id,
            after=post_facts(post, post.kind),
            after_capture_id=post.capture_id,
        )
        for post in posts
    ]


def _edited_posts(session: Session, account_id: int, mark: int) -> list[EventDraft]:
    """Versions past the mark of posts that already had an earlier version."""
    earlier = aliased(PostVersion)
    previous_id = (
        select(func.max(earlier.id))
        .where(earlier.post_id == PostVersion.post_id, earlier.id < PostVersion.id)
        .correlate(PostVersion)
        .scalar_subquery()
    )
    rows = session.execute(
        select(PostVersion, previous_id.label("previous_id"), Post.platform_id)
        .join(Post, Post.id == PostVersion.post_id)
        .where(Post.account_id == account_id, PostVersion.id > mark, previous_id.is_not(None))
        .order_by(PostVersion.id)
    ).all()
    if not rows:
        return []
    previous = {
        v.id: v
        for v in session.execute(
            select(PostVersion).where(PostVersion.id.in_([r.previous_id for r in rows]))
        ).scalars()
    }
    drafts = []
    for version, previous_id_value, platform_id in rows:
        old = previous[previous_id_value]
        drafts.append(
            EventDraft(
                kind="post_edited",
                key=f"post_edited:{version.id}",
                account_id=account_id,
                post_id=version.post_id,
                before={"post_id": platform_id, "text": old.text, "seen_at": iso(old.captured_at)},
                after={
                    "post_id": platform_id,
                    "text": version.text,
                    "seen_at": iso(version.captured_at),
                },
                before_capture_id=old.capture_id,
                after_capture_id=version.capture_id,
            )
        )
    return drafts


def _count_moved(old: Any, new: Any, threshold: tuple[float, bool]) -> bool:
    if not isinstance(old, int) or not isinstance(new, int) or old == new:
        return False
    value, relative = threshold
    change = abs(new - old)
    return change >= value * max(old, 1) if relative else change >= value


def _avatar_changed(reported: dict[str, Any], current: dict[str, Any]) -> bool:
    """By image hash; a failed download (no hash) of an unchanged URL is not a change."""
    if current.get("avatar_sha256") is None and current.get("avatar_url") is not None:
        return current.get("avatar_url") != reported.get("avatar_url") and bool(
            reported.get("avatar_sha256")
        )
    return current.get("avatar_sha256") != reported.get("avatar_sha256")


def _profile_change(
    account_id: int,
    reported: dict[str, Any] | None,
    current: dict[str, Any] | None,
    threshold: tuple[float, bool],
) -> tuple[list[EventDraft], dict[str, Any] | None]:
    """One event for everything that changed in the profile; the profile now reported."""
    if current is None or reported is None or current["snapshot_id"] == reported["snapshot_id"]:
        return [], reported or current
    changed = [
        name
        for name in PROFILE_FIELDS
        if (
            _avatar_changed(reported, current)
            if name == "avatar_sha256"
            else current.get(name) != reported.get(name)
        )
    ]
    counts = [n for n in COUNT_FIELDS if _count_moved(reported.get(n), current.get(n), threshold)]
    # counts below the threshold keep their reported base, so slow drifts add up to an event
    kept = {n: reported.get(n) for n in COUNT_FIELDS if n not in counts}
    if not counts and "counts_capture_id" in reported:
        kept["counts_capture_id"] = reported["counts_capture_id"]
    now_reported = {**current, **kept}
    if not changed and not counts:
        return [], now_reported
    names = changed + counts
    if "avatar_sha256" in changed:
        names.append("avatar_url")
    before_capture = reported.get("capture_id" if changed else "counts_capture_id")
    draft = EventDraft(
        kind="profile_changed",
        key=f"profile_changed:{current['snapshot_id']}",
        account_id=account_id,
        before={"changed": changed + counts, **{n: reported.get(n) for n in names}},
        after={"changed": changed + counts, **{n: current.get(n) for n in names}},
        before_capture_id=before_capture,
        after_capture_id=current.get("capture_id"),
    )
    return [draft], now_reported


def _status_change(
    session: Session,
    account_id: int,
    state: dict[str, Any],
    status: str,
    profile: dict[str, Any] | None,
    run_id: int | None,
) -> list[EventDraft]:
    reported = state.get("account_status") or "active"
    if status == reported:
        return []
    last_good = (state.get("profile") or {}).get("capture_id")
    if status == "active":
        proof = (profile or {}).get("capture_id")
    else:  # the answer that refused the account: the last capture of this run
        proof = session.execute(
            select(func.max(Capture.id)).where(Capture.run_id == run_id)
        ).scalar_one()
    handle = (profile or {}).get("handle")
    return [
        EventDraft(
            kind=STATUS_EVENTS.get(status, f"account_{status}"),
            key=f"account_status:{account_id}:{run_id}:{status}",
            account_id=account_id,
            before={"status": reported, "handle": handle},
            after={"status": status, "handle": handle},
            before_capture_id=last_good if reported == "active" else None,
            after_capture_id=proof,
        )
    ]


# -- storing -------------------------------------------------------------------------------
def store_events(
    session: Session,
    drafts: list[EventDraft],
    *,
    case_id: int,
    job_id: int | None,
    run_id: int | None,
    detected_at: datetime,
) -> list[int]:
    """Insert the events not stored yet (by key); the ids of those inserted, in order."""
    table: Table = Event.__table__  # type: ignore[assignment]
    ids = []
    for draft in drafts:
        values = {
            "case_id": case_id,
            "job_id": job_id,
            "run_id": run_id,
            "kind": draft.kind,
            "key": draft.key,
            "account_id": draft.account_id,
            "post_id": draft.post_id,
            "detected_at": detected_at,
            "before": draft.before,
            "after": draft.after,
            "before_capture_id": draft.before_capture_id,
            "after_capture_id": draft.after_capture_id,
        }
        inserted = insert_new(session, table, values, unique=("case_id", "key"))
        if inserted is not None:
            ids.append(inserted)
    return ids
