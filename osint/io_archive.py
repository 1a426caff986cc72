"""What an import of X's information-operations archive means for the case: the checks a
researcher would otherwise do by hand.

- A release comes as a tweets file (often split into parts) and a users file. After each
  import, :func:`release_notes` says which half of a release the case still lacks, how many of
  the users file's accounts have no tweets and how many tweet authors the users file does not
  list.
- Hashed ids mean something only inside their release. :func:`tweet_collisions` reports a tweet
  the case already holds under another account (the same tweet in two releases, or also
  collected from X); :func:`shared_userids` reports userids that two releases both use (kept
  apart; an unhashed id is X's own, so there it is the same real account).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from osint.collectors.importers import ImportProblem
from osint.storage.ingest import PostWriteResult
from osint.storage.kinds import RunStatus
from osint.storage.models import Account, CollectionRun, Post
from osint.storage.queries import chunks
from osint.storage.records import PostRecord

SOURCE = "x-io"


def _release_range(release: str) -> tuple[str, str]:
    # Account ids are "<release>:<userid>"; ";" sorts right after ":" (an index range scan).
    return f"{release}:", f"{release};"


def _in_release(release: str) -> ColumnElement[bool]:
    low, high = _release_range(release)
    return and_(Account.platform == "x", Account.platform_id >= low, Account.platform_id < high)


def releases_in_case(session: Session, case_id: int) -> dict[str, set[str]]:
    """``release -> {"tweets", "users"}`` of the completed archive imports of the case."""
    runs = session.execute(
        select(CollectionRun.params).where(
            CollectionRun.case_id == case_id,
            CollectionRun.kind == "import",
            CollectionRun.platform == SOURCE,
            CollectionRun.status == RunStatus.COMPLETED,
        )
    ).scalars()
    found: dict[str, set[str]] = {}
    for params in runs:
        for member in params.get("members") or []:
            found.setdefault(member["release"], set()).add(member["kind"])
    return found


def tweet_collisions(
    session: Session, records: Sequence[PostRecord], result: PostWriteResult
) -> list[ImportProblem]:
    """Tweets of this batch the case already held under another account."""
    known = [*result.unchanged, *(e.post_id for e in result.edited)]
    if not known:
        return []
    mine = {r.platform_id: r for r in records if r.platform == "x"}
    problems = []
    for batch in chunks(known):
        rows = session.execute(
            select(Post.platform_id, Account.platform_id)
            .join(Account, Account.id == Post.account_id)
            .where(Post.id.in_(batch))
        )
        for tweet_id, stored in rows:
            rec = mine.get(tweet_id)
            if rec is None or stored == rec.account.platform_id:
                continue
            problems.append(
                ImportProblem(
                    int(rec.extra.get("line") or 0),
                    f"tweet {tweet_id} is already in the case as a post of account {stored}; "
                    f"this file has it from {rec.account.platform_id}: kept once (hashed ids "
                    "differ between releases, so the two may be one account)",
                )
            )
    return problems


def release_notes(
    session: Session, case_id: int, members: Sequence[tuple[str, str, str]], started: datetime
) -> list[str]:
    """What the case holds of each release this import touched, in sentences."""
    present = releases_in_case(session, case_id)
    notes = []
    for release in dict.fromkeys(r for _, r, _ in members):
        kinds_now = {k for _, r, k in members if r == release}
        kinds = present.get(release, set()) | kinds_now
        if "tweets" not in kinds:
            notes.append(
                f"release {release}: a users file without its tweets file: import "
                f"{release}_tweets_csv_hashed.csv (all its parts) to analyse these accounts"
            )
            continue
        if "users" not in kinds:
            notes.append(
                f"release {release}: no users file of this release in the case yet; profiles "
                f"come from the tweets rows (import {release}_users_csv_hashed.csv for the "
                "accounts that did not tweet)"
            )
            continue
        notes.extend(_pairing_counts(session, case_id, release, kinds_now, started))
    return notes


def _pairing_counts(
    session: Session, case_id: int, release: str, kinds_now: set[str], started: datetime
) -> list[str]:
    of_release = (Account.case_id == case_id, _in_release(release))
    has_posts = exists().where(Post.account_id == Account.id)
    silent = session.scalar(select(func.count()).where(*of_release, ~has_posts)) or 0
    notes = []
    if silent:
        notes.append(f"release {release}: {silent:,} accounts of the users file have no tweets")
    if "users" in kinds_now:  # the users import just marked every account it lists as seen
        unlisted_query = select(func.count()).where(
            *of_release, has_posts, Account.last_seen < started
        )
    else:  # accounts first seen by this tweets import were not in the users file
        unlisted_query = select(func.count()).where(
            *of_release, has_posts, Account.first_seen >= started
        )
    unlisted = session.scalar(unlisted_query) or 0
    if unlisted:
        notes.append(f"release {release}: {unlisted:,} tweet authors are not in the users file")
    return notes


def shared_userids(session: Session, case_id: int, release: str) -> list[str]:
    """Userids of ``release`` that other releases of the case use too (kept apart)."""
    others = [r for r in releases_in_case(session, case_id) if r != release]
    if not others:
        return []
    userids = [
        pid.split(":", 1)[1]
        for pid in session.execute(
            select(Account.platform_id).where(Account.case_id == case_id, _in_release(release))
        ).scalars()
    ]
    notes = []
    for other in others:
        shared = _existing(session, case_id, [f"{other}:{u}" for u in userids])
        if not shared:
            continue
        numeric = sum(1 for pid in shared if pid.split(":", 1)[1].isdigit())
        example = min(shared).split(":", 1)[1]
        notes.append(
            f"releases {release} and {other} both use {len(shared):,} userids (e.g. {example}): "
            "kept as separate accounts, since hashed ids mean nothing across releases"
            + (
                f"; {numeric:,} of them are unhashed X ids, the same real accounts"
                if numeric
                else ""
            )
        )
    return notes


def _existing(session: Session, case_id: int, platform_ids: list[str]) -> list[str]:
    found: list[str] = []
    for batch in chunks(platform_ids):
        found.extend(
            session.execute(
                select(Account.platform_id).where(
                    Account.case_id == case_id,
                    Account.platform == "x",
                    Account.platform_id.in_(batch),
                )
            ).scalars()
        )
    return found
