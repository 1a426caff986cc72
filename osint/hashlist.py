"""Hash lists investigators share (ThreatExchange's PDQ format, see ``analyzers/hashlist.py``).

``osint export hashlist`` writes the stored PDQ hash of every case picture with what the case
knows of it (SHA-256, first post, accounts); ``osint match hashlist`` reads someone's list,
matches the case's stored PDQ hashes against it within ThreatExchange's 31 bits, and stores one
finding per listed picture (analysis ``hashlist``), citing the picture, its posts and accounts
and the list's metadata. PDQ hashes are the analysis's: ``osint analyze images --pdq`` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from osint.analysis import replace_findings
from osint.analysis.images_pass import case_usages
from osint.analyzers.hashlist import (
    COLUMNS,
    EXPORT_CATEGORY,
    PDQ_SIGNAL,
    CaseImageHash,
    HashListProblem,
    clean_text,
    hashlist_findings,
    match_hashlist,
    parse_hashlist,
)
from osint.analyzers.imagereuse import ImageUsage
from osint.analyzers.pdq import MATCH_THRESHOLD
from osint.cases import get_case
from osint.errors import InputError
from osint.storage.db import Store
from osint.storage.models import ImageHash, Media, Post
from osint.writers import RecordWriter, text_output, utc_iso

ANALYSIS = "hashlist"
MAX_LIST_BYTES = 200 * 1024 * 1024
MAX_SHOWN_PROBLEMS = 50


@dataclass
class HashListExport:
    case: str
    images: int = 0  # pictures of the case
    written: int = 0  # with a PDQ hash, written
    without_pdq: int = 0


@dataclass
class HashListMatchSummary:
    case: str
    list_name: str
    format: str = "text"
    entries: int = 0
    images: int = 0  # case pictures with a PDQ hash
    matched_images: int = 0
    findings: int = 0
    problems: list[HashListProblem] = field(default_factory=list)


def _pdq_hashes(session: Session, media_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    rows = session.execute(
        select(ImageHash.media_id, ImageHash.variant, ImageHash.value).where(
            ImageHash.algorithm == "pdq", ImageHash.media_id.in_(sorted(set(media_ids)))
        )
    )
    found: dict[int, dict[str, str]] = {}
    for media_id, variant, value in rows:
        found.setdefault(media_id, {})[variant] = value
    return {k: v for k, v in found.items() if "orig" in v}


def _no_pdq_error(case: str) -> InputError:
    return InputError(
        f"no picture of case {case!r} has a PDQ hash yet",
        hint=f"run: osint analyze images --case {case} --pdq",
    )


def export_hashlist(store: Store, *, case: str, out: Path | None) -> HashListExport:
    """Write the case's PDQ hash list (ThreatExchange CSV plus osint's columns) to ``out``."""
    summary = HashListExport(case=case)
    with store.reader() as session:
        case_row = get_case(session, case)
        usages = case_usages(session, case_row.id)
        media_ids = sorted({u.media_id for u in usages})
        hashes = _pdq_hashes(session, media_ids)
        sha256_of = _sha256s(session, media_ids)
        urls = _post_urls(session, [u.post_id for u in usages if u.post_id is not None])
    summary.images, summary.without_pdq = len(media_ids), len(set(media_ids) - set(hashes))
    if not hashes:
        raise _no_pdq_error(case)
    with text_output(out) as stream:
        writer = RecordWriter(stream, "csv", COLUMNS)
        for media_id in media_ids:
            if media_id in hashes:
                seen = _ordered([u for u in usages if u.media_id == media_id])
                writer.write(_row(case, hashes[media_id]["orig"], sha256_of[media_id], seen, urls))
        summary.written = writer.count
    return summary


def _row(
    case: str, pdq: str, sha256: str, seen: list[ImageUsage], urls: dict[int, str | None]
) -> dict[str, Any]:
    first_post = next((u for u in seen if u.post_id is not None), None)
    return {
        "signal_type": PDQ_SIGNAL,
        "signal_str": pdq,
        "collab": clean_text(case),
        "category": EXPORT_CATEGORY,
        "tags": "osint",
        "sha256": sha256,
        "first_post_url": urls.get(first_post.post_id)
        if first_post and first_post.post_id
        else None,
        "first_posted_at": utc_iso(first_post.posted_at) if first_post else None,
        "accounts": " ".join(dict.fromkeys(_account_ref(u) for u in seen)),
    }


def _account_ref(usage: ImageUsage) -> str:
    """``platform/handle`` (no spaces, so a list of them splits; no ``@`` a sheet would run)."""
    name = usage.account_label.rsplit(" (", 1)[0].lstrip("@").replace(" ", "")
    return f"{usage.platform}/{name}"


def _ordered(usages: list[ImageUsage]) -> list[ImageUsage]:
    return sorted(usages, key=lambda u: (u.posted_at is None, u.posted_at or 0, u.post_id or 0))


def _sha256s(session: Session, media_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(select(Media.id, Media.sha256).where(Media.id.in_(media_ids)))
    return {media_id: sha for media_id, sha in rows}


def _post_urls(session: Session, post_ids: Sequence[int]) -> dict[int, str | None]:
    rows = session.execute(select(Post.id, Post.url).where(Post.id.in_(sorted(set(post_ids)))))
    return {post_id: url for post_id, url in rows}


def read_hashlist_lines(path: Path) -> list[str]:
    """The list's lines; a missing, huge or binary file is an InputError that says so."""
    try:
        size = path.stat().st_size
        if size > MAX_LIST_BYTES:
            raise InputError(
                f"{path} is {size:,} bytes, over the {MAX_LIST_BYTES:,}-byte limit for a hash list",
                hint="split the list into smaller files",
            )
        data = path.read_bytes()
    except OSError as error:
        raise InputError(
            f"cannot read the hash list {path}: {error.strerror or error}",
            hint="check the path",
        ) from error
    if b"\x00" in data[:4096]:
        raise InputError(f"{path} is not a text file", hint="give a CSV or a one-hash-a-line list")
    return data.decode("utf-8", errors="replace").splitlines()


def match_hashlist_file(
    store: Store, *, case: str, path: Path, threshold: int = MATCH_THRESHOLD
) -> HashListMatchSummary:
    """Match the case's stored PDQ hashes against the list at ``path``; store the findings."""
    if not 0 <= threshold <= 128:
        raise InputError(f"threshold {threshold} bits is out of range", hint="use 0-128 (31)")
    parsed = parse_hashlist(read_hashlist_lines(path))
    summary = HashListMatchSummary(case=case, list_name=clean_text(path.name), format=parsed.format)
    summary.entries, summary.problems = len(parsed.entries), parsed.problems
    with store.reader() as session:
        case_id = get_case(session, case).id
        usages = case_usages(session, case_id)
        hashes = _pdq_hashes(session, [u.media_id for u in usages])
        sha256_of = _sha256s(session, sorted(hashes))
    if not hashes:
        raise _no_pdq_error(case)
    summary.images = len(hashes)
    images = [CaseImageHash(m, h["orig"], h.get("mirror")) for m, h in sorted(hashes.items())]
    matches = match_hashlist(images, parsed.entries, threshold)
    drafts = hashlist_findings(
        matches, usages, sha256_of, list_name=summary.list_name, threshold=threshold
    )
    with store.session() as session:
        summary.findings = len(replace_findings(session, case_id, ANALYSIS, drafts))
    summary.matched_images = len({m.media_id for m in matches})
    return summary
