"""Cases: the folders of an investigation in the store."""

from __future__ import annotations

from sqlalchemy import func, select, union
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from osint.errors import CaseExists, CaseNotFound, InputError
from osint.storage.catalog import CaseSummary
from osint.storage.db import Store
from osint.storage.models import Account, AccountSnapshot, Case, Finding, Post, PostMedia

MAX_NAME = 200


def get_case(session: Session, name: str) -> Case:
    case = session.execute(select(Case).where(Case.name == name)).scalar_one_or_none()
    if case is None:
        raise CaseNotFound(name)
    return case


def _check_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME or any(c in cleaned for c in "/\\\x00"):
        raise InputError(
            f"bad case name {name!r}",
            hint=f"use 1-{MAX_NAME} characters without slashes, e.g. 'mali-2022'",
        )
    return cleaned


def create_case(
    store: Store, name: str, *, title: str | None = None, description: str | None = None
) -> CaseSummary:
    name = _check_name(name)
    try:
        with store.session() as session:
            if session.execute(select(Case.id).where(Case.name == name)).first():
                raise CaseExists(name)
            case = Case(name=name, title=title, description=description)
            session.add(case)
            session.flush()
            return _summary(session, case)
    except IntegrityError as exc:  # lost a race with another process creating the same name
        raise CaseExists(name) from exc


def ensure_case(store: Store, name: str) -> CaseSummary:
    """The case, created if it does not exist yet (for the demo and scripted imports)."""
    try:
        return create_case(store, name)
    except CaseExists:
        return case_summary(store, name)


def list_cases(store: Store) -> list[CaseSummary]:
    with store.reader() as session:
        cases = session.execute(select(Case).order_by(Case.created_at, Case.id)).scalars().all()
        return [_summary(session, c) for c in cases]


def case_summary(store: Store, name: str) -> CaseSummary:
    with store.reader() as session:
        return _summary(session, get_case(session, name))


def _summary(session: Session, case: Case) -> CaseSummary:
    def count(stmt: object) -> int:
        return int(session.execute(stmt).scalar_one())  # type: ignore[call-overload]

    media_ids = union(
        select(PostMedia.media_id)
        .join(Post, Post.id == PostMedia.post_id)
        .where(Post.case_id == case.id, PostMedia.media_id.is_not(None)),
        select(AccountSnapshot.avatar_media_id)
        .join(Account, Account.id == AccountSnapshot.account_id)
        .where(Account.case_id == case.id, AccountSnapshot.avatar_media_id.is_not(None)),
    ).subquery()
    media = count(select(func.count()).select_from(media_ids))
    missing = (
        select(func.count())
        .select_from(PostMedia)
        .join(Post, Post.id == PostMedia.post_id)
        .where(
            Post.case_id == case.id,
            PostMedia.media_id.is_(None),
            PostMedia.source_url.is_not(None),
        )
    )
    tried = func.coalesce(PostMedia.attempts, 0) > 0
    return CaseSummary(
        id=case.id,
        name=case.name,
        title=case.title,
        description=case.description,
        created_at=case.created_at,
        accounts=count(select(func.count()).select_from(Account).where(Account.case_id == case.id)),
        posts=count(select(func.count()).select_from(Post).where(Post.case_id == case.id)),
        media=media,
        findings=count(select(func.count()).select_from(Finding).where(Finding.case_id == case.id)),
        media_failed=count(missing.where(tried)),
        media_pending=count(missing.where(~tried)),
    )
