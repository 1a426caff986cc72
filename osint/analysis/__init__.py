"""Analysis services: load a case's data, call the pure analyzers, store their findings.

Each analysis (``images``, ``coordination``, ``timeline``) owns its findings: re-running it
replaces what it found before instead of piling up duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from osint.analyzers.findings import FindingDraft
from osint.storage.models import Finding, FindingEvidence


def replace_findings(
    session: Session, case_id: int, analysis: str, drafts: Sequence[FindingDraft]
) -> list[int]:
    """Delete the case's previous findings of ``analysis`` and store ``drafts``; returns new ids."""
    old = select(Finding.id).where(Finding.case_id == case_id, Finding.analysis == analysis)
    session.execute(delete(FindingEvidence).where(FindingEvidence.finding_id.in_(old)))
    session.execute(delete(Finding).where(Finding.case_id == case_id, Finding.analysis == analysis))
    ids: list[int] = []
    for draft in sorted(drafts, key=lambda d: -d.score):
        finding = Finding(
            case_id=case_id,
            analysis=analysis,
            kind=draft.kind,
            score=float(draft.score),
            title=draft.title,
            explanation=draft.explanation,
            details=draft.details,
        )
        session.add(finding)
        session.flush()
        ids.append(finding.id)
        rows = [
            {"finding_id": finding.id, f"{ref.kind}_id": ref.id, "role": role}
            for ref, role in draft.evidence()
        ]
        if rows:
            session.execute(
                insert(FindingEvidence),
                [{"account_id": None, "post_id": None, "media_id": None, **r} for r in rows],
            )
    return ids
