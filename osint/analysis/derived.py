"""Co-sharing modalities computed at analysis time rather than indexed at ingest.

- ``similar_text``: near-identical texts (MinHash/LSH over word shingles, Jaccard >= 0.8),
  so "l'armée française accusée !" and "l'armée française accusée !!" are one object;
- ``image``: the image clusters of the image analysis (copies of one picture, recompressed,
  cropped, captioned), through the posts that carry them.

Each comes back as share rows (object, account, epoch seconds, post) whose object ids lie
above every stored object's id, with a readable name per object.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from osint.analyzers.text import near_duplicate_clusters
from osint.storage.models import ImageClusterMember, Post, PostMedia, PostObject, SharedObject
from osint.storage.queries import epoch_seconds

SIMILAR_TEXT = "similar_text"
IMAGE = "image"
MAX_TEXT_POSTS = 200_000  # MinHash runs in Python per shingle: beyond this, skipped with a note


@dataclass
class DerivedShares:
    """Extra share rows, one modality each, and names for their objects."""

    modalities: list[str] = field(default_factory=list)
    columns: list[np.ndarray] = field(default_factory=list)  # (n, 4): object, account, ts, post
    names: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _similar_texts(session: Session, case_id: int, first_id: int, derived: DerivedShares) -> int:
    # Candidates are the posts whose text was indexed at ingest (authored, long enough): an
    # index walk, where a scan of every post's text would cost seconds on big cases.
    query = (
        select(Post.id, Post.account_id, epoch_seconds(session, Post.created_at), Post.text)
        .join(PostObject, PostObject.post_id == Post.id)
        .join(SharedObject, SharedObject.id == PostObject.object_id)
        .where(SharedObject.case_id == case_id, SharedObject.modality == "text")
        .limit(MAX_TEXT_POSTS + 1)
    )
    rows = session.execute(query).all()
    if len(rows) > MAX_TEXT_POSTS:
        derived.notes.append(
            f"near-identical texts not compared: more than {MAX_TEXT_POSTS:,} posts with text"
        )
        return first_id
    if not rows:
        return first_id
    labels = near_duplicate_clusters([text or "" for *_, text in rows])
    members = np.bincount(labels[labels >= 0], minlength=len(rows))
    keep = np.flatnonzero((labels >= 0) & (members[np.maximum(labels, 0)] >= 2))
    if keep.size == 0:
        return first_id
    clusters, dense = np.unique(labels[keep], return_inverse=True)
    ids = np.array([[r[0], r[1], r[2]] for r in rows], dtype=np.int64)[keep]
    derived.columns.append(np.stack([first_id + dense, ids[:, 1], ids[:, 2], ids[:, 0]], axis=1))
    derived.modalities.append(SIMILAR_TEXT)
    for offset, label in enumerate(clusters.tolist()):
        derived.names[first_id + offset] = f"text like {rows[label][3][:80]!r}"
    return first_id + len(clusters)


def _image_clusters(session: Session, case_id: int, first_id: int, derived: DerivedShares) -> int:
    query = (
        select(
            ImageClusterMember.cluster_no,
            Post.account_id,
            epoch_seconds(session, Post.created_at),
            Post.id,
        )
        .join(PostMedia, PostMedia.media_id == ImageClusterMember.media_id)
        .join(Post, Post.id == PostMedia.post_id)
        .where(ImageClusterMember.case_id == case_id, Post.case_id == case_id)
        .distinct()
    )
    rows = np.array(session.execute(query).all(), dtype=np.int64).reshape(-1, 4)
    if rows.size == 0:
        return first_id
    clusters, dense = np.unique(rows[:, 0], return_inverse=True)
    rows[:, 0] = first_id + dense
    derived.columns.append(rows)
    derived.modalities.append(IMAGE)
    for offset, cluster in enumerate(clusters.tolist()):
        derived.names[first_id + offset] = f"image cluster {cluster}"
    return first_id + len(clusters)


def derived_shares(
    session: Session, case_id: int, modalities: list[str] | None = None
) -> DerivedShares:
    """Share rows of the derived modalities wanted (all when ``modalities`` is None)."""
    derived = DerivedShares()
    next_id = (session.scalar(select(func.max(SharedObject.id))) or 0) + 1
    if modalities is None or SIMILAR_TEXT in modalities:
        next_id = _similar_texts(session, case_id, next_id, derived)
    if modalities is None or IMAGE in modalities:
        _image_clusters(session, case_id, next_id, derived)
    return derived
