"""Image analysis of a case: hash what is new, cluster copies of the same picture, store findings.

1. The case's images are the media of its posts and the avatars of its accounts' snapshots.
2. Media without hashes yet (and not already found unusable) are hashed from the media store with
   the 2-process batch hasher; hashes go to ``image_hashes`` (one row per algorithm and variant),
   size, EXIF and status to ``media``. A bad file is a warning, and the run goes on: its status
   and note say what is wrong with it, and it is not retried on the next run.
3. All hashed media of the case are clustered (``analyzers.imagereuse``); the case's clusters
   and its ``images`` findings are replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from osint.analysis import replace_findings
from osint.analyzers.imagebatch import hash_files
from osint.analyzers.imagematch import (
    DEFAULT_RADIUS,
    ImageFingerprint,
    candidate_pairs,
    find_matches,
    in_gray_zone,
    is_frame_match,
)
from osint.analyzers.imagemeta import exif_notes, stored_exif
from osint.analyzers.imagereuse import ImageCluster, ImageUsage, cluster_images, image_findings
from osint.analyzers.images import PDQ_AVAILABLE, HashRecord, ImageStatus
from osint.analyzers.localmatch import LocalFeatures, LocalMatch, extract_features, match_locally
from osint.analyzers.perceptual import GRID_VARIANT
from osint.cases import get_case
from osint.errors import InputError
from osint.progress import NullProgress, Progress
from osint.storage.db import Store
from osint.storage.models import (
    Account,
    AccountSnapshot,
    ImageClusterMember,
    ImageHash,
    Media,
    Post,
    PostMedia,
)
from osint.writers import RecordWriter, utc_iso

ANALYSIS = "images"
# What clustering needs; an image missing any (e.g. after a grid layout change) is re-hashed.
REQUIRED_HASHES = (("phash", "orig"), ("phash", GRID_VARIANT), ("dhash", GRID_VARIANT))
MAX_RADIUS = 16
WRITE_BATCH = 200


@dataclass
class ImageAnalysisSummary:
    case: str
    images: int = 0  # distinct media used by the case's posts and avatars
    hashed_now: int = 0
    already_hashed: int = 0
    unusable: int = 0  # bad files (this run or before)
    missing: int = 0  # bytes not in the media store
    clusters: int = 0
    findings: int = 0
    local_matches: int = 0  # same-picture pairs found by local features (not by hashes)
    # (original media, copy media, "the photo fills 62 % of this image, ...") per such pair
    local_pairs: list[tuple[int, int, str]] = field(default_factory=list)
    same_scene: list[tuple[int, int]] = field(default_factory=list)  # never merged
    local_notes: list[str] = field(default_factory=list)  # images without local features, why
    # "Same picture on 5 accounts across platforms, first @x (x) in post 12 (...)" per finding
    highlights: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _MediaRow:
    id: int
    sha256: str
    status: str
    width: int | None
    height: int | None


def case_usages(session: Session, case_id: int) -> list[ImageUsage]:
    """Every appearance of a stored image in the case: post attachments, then avatars."""
    posts = session.execute(
        select(
            PostMedia.media_id,
            Post.id,
            Post.account_id,
            Post.platform,
            Post.created_at,
            Account.handle,
        )
        .join(Post, Post.id == PostMedia.post_id)
        .join(Account, Account.id == Post.account_id)
        .where(Post.case_id == case_id, PostMedia.media_id.is_not(None))
    )
    usages = [
        ImageUsage(
            media_id,
            account_id,
            platform,
            created_at,
            post_id,
            _label(handle, platform, account_id),
        )
        for media_id, post_id, account_id, platform, created_at, handle in posts
        if media_id is not None
    ]
    avatars = session.execute(
        select(
            AccountSnapshot.avatar_media_id,
            Account.id,
            Account.platform,
            Account.handle,
            func.min(AccountSnapshot.captured_at),
        )
        .join(Account, Account.id == AccountSnapshot.account_id)
        .where(Account.case_id == case_id, AccountSnapshot.avatar_media_id.is_not(None))
        .group_by(AccountSnapshot.avatar_media_id, Account.id, Account.platform, Account.handle)
    )
    usages += [
        ImageUsage(
            media_id,
            account_id,
            platform,
            first_captured,
            None,
            _label(handle, platform, account_id),
        )
        for media_id, account_id, platform, handle, first_captured in avatars
        if media_id is not None
    ]
    return usages


def _label(handle: str | None, platform: str, account_id: int) -> str:
    return f"@{handle} ({platform})" if handle else f"account {account_id} ({platform})"


def _media_rows(session: Session, media_ids: Iterable[int]) -> dict[int, _MediaRow]:
    ids = sorted(set(media_ids))
    rows: dict[int, _MediaRow] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for row in session.execute(
            select(Media.id, Media.sha256, Media.status, Media.width, Media.height).where(
                Media.id.in_(chunk)
            )
        ):
            rows[row.id] = _MediaRow(*row)
    return rows


def _stored_hashes(
    session: Session, media_ids: Iterable[int]
) -> dict[int, dict[tuple[str, str], str]]:
    ids = sorted(set(media_ids))
    found: dict[int, dict[tuple[str, str], str]] = {}
    for start in range(0, len(ids), 500):
        for media_id, algorithm, variant, value in session.execute(
            select(
                ImageHash.media_id, ImageHash.algorithm, ImageHash.variant, ImageHash.value
            ).where(ImageHash.media_id.in_(ids[start : start + 500]))
        ):
            found.setdefault(media_id, {})[(algorithm, variant)] = value
    return found


def _paths_to_hash(
    store: Store, rows: Iterable[_MediaRow], summary: ImageAnalysisSummary, progress: Progress
) -> Iterator[tuple[int, Path]]:
    for row in rows:
        path = store.media.local_path(row.sha256)
        if path is None or not Path(path).is_file():
            summary.missing += 1
            _warn(
                summary,
                progress,
                f"media {row.id} ({row.sha256[:12]}): bytes missing from "
                "the media store; re-collect the post to fetch them again",
            )
            continue
        yield row.id, Path(path)


def _warn(summary: ImageAnalysisSummary, progress: Progress, message: str) -> None:
    summary.warnings.append(message)
    progress.log(message)


def _save_record(
    session: Session, media_id: int, record: HashRecord, known: set[tuple[str, str]]
) -> None:
    """Store a hashing outcome; hashes already stored (``known``) are left as they are."""
    values: dict[str, Any] = {"status": record.status.value, "note": record.note or None}
    if record.ok:
        values |= {"width": record.width, "height": record.height, "exif": record.exif}
        if record.mime:
            values["mime"] = record.mime
        rows = [
            {"media_id": media_id, "algorithm": algorithm, "variant": variant, "value": value}
            for (algorithm, variant), value in record.hashes.items()
            if (algorithm, variant) not in known
        ]
        if rows:
            session.execute(insert(ImageHash), rows)
    session.execute(update(Media).where(Media.id == media_id).values(**values))


def _hash_new_media(
    store: Store,
    rows: list[_MediaRow],
    hashed: dict[int, dict[tuple[str, str], str]],
    summary: ImageAnalysisSummary,
    progress: Progress,
    *,
    workers: int,
    pdq: bool,
) -> None:
    paths = _paths_to_hash(store, rows, summary, progress)
    done: list[tuple[int, HashRecord]] = []
    progress.update("hashing images", total=len(rows))

    def flush() -> None:
        with store.session() as session:
            for media_id, record in done:
                _save_record(session, media_id, record, set(hashed.get(media_id, {})))
        progress.update("hashing images", advance=len(done))
        done.clear()

    for media_id, record in hash_files(paths, workers=workers, pdq=pdq):
        if record.ok:
            summary.hashed_now += 1
        else:
            summary.unusable += 1
            _warn(summary, progress, f"media {media_id}: {record.status.value}: {record.note}")
        done.append((media_id, record))
        if len(done) >= WRITE_BATCH:
            flush()
    flush()


def _needing_hashes(
    rows: dict[int, _MediaRow],
    hashed: dict[int, dict[tuple[str, str], str]],
    summary: ImageAnalysisSummary,
    *,
    pdq: bool,
) -> list[_MediaRow]:
    """Media to hash this run: usable so far and missing a wanted hash (never re-tried bad ones)."""
    wanted = [*REQUIRED_HASHES, *([("pdq", "orig")] if pdq else [])]
    summary.already_hashed = sum(
        1 for r in rows.values() if all(key in hashed.get(r.id, {}) for key in REQUIRED_HASHES)
    )
    summary.unusable = sum(1 for r in rows.values() if r.status != ImageStatus.OK)
    return [
        row
        for row in rows.values()
        if row.status == ImageStatus.OK and any(k not in hashed.get(row.id, {}) for k in wanted)
    ]


def analyze_images(
    store: Store,
    *,
    case: str,
    radius: int = DEFAULT_RADIUS,
    workers: int = 2,
    event_start: datetime | None = None,
    pdq: bool = False,
    progress: Progress | None = None,
) -> ImageAnalysisSummary:
    """Hash the case's new images, cluster copies, and replace the case's image findings.

    ``pdq`` also stores PDQ hashes (optional ``pdqhash`` package), for images that lack them.
    """
    if pdq and not PDQ_AVAILABLE:
        raise InputError(
            "PDQ hashes need the optional pdqhash package, which is not installed",
            hint="pip install 'osint[pdq]' (it compiles a small C++ extension), "
            "or run without --pdq",
        )
    if not 0 <= radius <= MAX_RADIUS:
        raise InputError(
            f"threshold {radius} bits is out of range",
            hint=f"use 0-{MAX_RADIUS} (default {DEFAULT_RADIUS})",
        )
    progress = progress or NullProgress()
    summary = ImageAnalysisSummary(case=case)
    with store.reader() as session:
        case_id = get_case(session, case).id
        usages = case_usages(session, case_id)
        rows = _media_rows(session, (u.media_id for u in usages))
        hashed = _stored_hashes(session, rows)
    summary.images = len(rows)
    fresh = _needing_hashes(rows, hashed, summary, pdq=pdq)
    _hash_new_media(store, fresh, hashed, summary, progress, workers=workers, pdq=pdq)
    with store.session() as session:
        clusters = _cluster_case(store, session, case_id, usages, radius, summary)
        drafts = image_findings(clusters, event_start=event_start)
        summary.findings = len(replace_findings(session, case_id, ANALYSIS, drafts))
    summary.highlights = [
        f"{d.title}, first {d.details['first']}" if d.details.get("first") else d.title
        for d in sorted(drafts, key=lambda d: -d.score)
    ]
    summary.clusters = len(clusters)
    return summary


def _local_matches(
    store: Store,
    prints: list[ImageFingerprint],
    rows: dict[int, _MediaRow],
    radius: int,
    summary: ImageAnalysisSummary,
) -> list[LocalMatch]:
    """Local features only where they can change a decision (see analyzers.localmatch).

    Images matched by nothing globally are searched in an index holding them and one image per
    global cluster; candidate pairs the hashes rejected, and the hashes' gray-zone matches
    (``imagematch.in_gray_zone``), are verified directly.
    """
    informative = [fp for fp in prints if fp.informative]
    found = find_matches(informative, radius)
    accepted = {(m.left_id, m.right_id) for m in found}
    rejected = {
        (informative[i].media_id, informative[j].media_id)
        for i, j in candidate_pairs(informative, radius)
    } - accepted
    # Gray-zone hash matches are checked too: a same_scene or different verdict vetoes them.
    gray = [m for m in found if in_gray_zone(m)]
    rejected |= {(m.left_id, m.right_id) for m in gray}
    wholes = [(m.left_id, m.right_id, m.mirrored) for m in gray if is_frame_match(m)]
    matched = {media_id for pair in accepted for media_id in pair}
    parent = {media_id: media_id for media_id in matched}

    def root(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    for left, right in accepted:
        parent[max(root(left), root(right))] = min(root(left), root(right))
    lonely = [fp.media_id for fp in informative if fp.media_id not in matched]
    wanted = set(lonely) | {root(m) for m in matched} | {m for pair in rejected for m in pair}
    features: dict[int, LocalFeatures] = {}
    for media_id in sorted(wanted):
        path = store.media.local_path(rows[media_id].sha256)
        if path is None or not Path(path).is_file():
            continue
        outcome = extract_features(media_id, Path(path).read_bytes())
        if outcome.features is None:
            summary.local_notes.append(f"media {media_id}: {outcome.note}")
            continue
        if outcome.note:
            summary.local_notes.append(f"media {media_id}: {outcome.note}")
        features[media_id] = outcome.features
    return match_locally(features, rejected, lonely, wholes)


def _cluster_case(
    store: Store,
    session: Session,
    case_id: int,
    usages: list[ImageUsage],
    radius: int,
    summary: ImageAnalysisSummary,
) -> list[ImageCluster]:
    rows = _media_rows(session, (u.media_id for u in usages))
    hashes = _stored_hashes(session, rows)
    prints = [
        ImageFingerprint.from_hex(
            media_id,
            found,
            width=rows[media_id].width,
            height=rows[media_id].height,
            sha256=rows[media_id].sha256,
        )
        for media_id, found in sorted(hashes.items())
        if all(key in found for key in REQUIRED_HASHES)
    ]
    local = _local_matches(store, prints, rows, radius, summary)
    summary.local_matches = sum(m.relation == "same_picture" for m in local)
    summary.local_pairs = [
        (m.left_id, m.right_id, m.describe(m.right_id))
        for m in local
        if m.relation == "same_picture"
    ]
    summary.same_scene = [(m.left_id, m.right_id) for m in local if m.relation == "same_scene"]
    clusters = cluster_images(
        prints, [u for u in usages if u.media_id in hashes], radius=radius, local_matches=local
    )
    session.execute(delete(ImageClusterMember).where(ImageClusterMember.case_id == case_id))
    member_rows = [
        {
            "case_id": case_id,
            "cluster_no": cluster.number,
            "media_id": member.media_id,
            "distance": member.phash_distance if member.phash_distance >= 0 else None,
            "transforms": list(member.transforms),
            "representative": member.representative,
        }
        for cluster in clusters
        for member in cluster.members
    ]
    if member_rows:
        session.execute(insert(ImageClusterMember), member_rows)
    return clusters


EXPORT_FIELDS = (
    "media_id",
    "sha256",
    "status",
    "width",
    "height",
    "phash",
    "dhash",
    "cluster",
    "representative",
    "distance",
    "transforms",
    "first_seen",
    "first_account",
    "accounts",
    "posts",
    "avatar_of",
    "exif",
    "exif_notes",
    "note",
)


def image_rows(store: Store, *, case: str) -> list[dict[str, Any]]:
    """One row per image of the case: hashes, cluster, first seen, who used it (for export)."""
    with store.reader() as session:
        case_id = get_case(session, case).id
        usages = case_usages(session, case_id)
        members = {
            row.media_id: row
            for row in session.execute(
                select(ImageClusterMember).where(ImageClusterMember.case_id == case_id)
            ).scalars()
        }
        media = _media_objects(session, {u.media_id for u in usages})
        hashes = _stored_hashes(session, media)
        by_media: dict[int, list[ImageUsage]] = {}
        for usage in sorted(
            usages, key=lambda u: (u.posted_at is None, u.posted_at or datetime.max)
        ):
            by_media.setdefault(usage.media_id, []).append(usage)
        return [
            _image_row(media[media_id], members.get(media_id), hashes.get(media_id, {}), used)
            for media_id, used in sorted(by_media.items())
        ]


def _media_objects(session: Session, media_ids: set[int]) -> dict[int, Media]:
    ids = sorted(media_ids)
    found: dict[int, Media] = {}
    for start in range(0, len(ids), 500):
        chunk = select(Media).where(Media.id.in_(ids[start : start + 500]))
        found |= {row.id: row for row in session.execute(chunk).scalars()}
    return found


def _image_row(
    media: Media,
    member: ImageClusterMember | None,
    hashes: dict[tuple[str, str], str],
    used: list[ImageUsage],
) -> dict[str, Any]:
    posted = [u for u in used if not u.is_avatar]
    first = used[0] if used else None  # earliest post, or avatar capture
    return {
        "media_id": media.id,
        "sha256": media.sha256,
        "status": media.status,
        "width": media.width,
        "height": media.height,
        "phash": hashes.get(("phash", "orig"), ""),
        "dhash": hashes.get(("dhash", "orig"), ""),
        "cluster": member.cluster_no if member else None,
        "representative": bool(member and member.representative),
        "distance": member.distance if member else None,
        "transforms": list(member.transforms) if member else [],
        "first_seen": utc_iso(first.posted_at) if first else None,
        "first_account": first.account_label if first else None,
        "accounts": list(dict.fromkeys(u.account_label for u in posted)),
        "posts": sorted({u.post_id for u in posted if u.post_id is not None}),
        "avatar_of": list(dict.fromkeys(u.account_label for u in used if u.is_avatar)),
        "exif": stored_exif(media.exif),
        "exif_notes": exif_notes(stored_exif(media.exif), first.posted_at if first else None)
        if media.status == ImageStatus.OK
        else [],
        "note": media.note,
    }


EXPORT_FORMATS = ("csv", "jsonl")


def export_images(store: Store, *, case: str, fmt: str, out: TextIO) -> int:
    """Write the case's images (``image_rows``) as CSV or JSON lines; returns the row count."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}", hint="use csv or jsonl")
    return RecordWriter(out, fmt, EXPORT_FIELDS).write_all(image_rows(store, case=case))
