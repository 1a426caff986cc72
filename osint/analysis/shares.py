"""Read a case's content-key index (``post_objects``) into a ``ShareTable``, fast.

The rows come as numpy columns from ``storage.sharecolumns`` (each dialect's fast path);
here they gain their modalities, the derived shares and the self-share flags.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from osint.analysis.derived import derived_shares
from osint.analyzers.share_table import ShareTable
from osint.storage.models import Post, PostObject, SharedObject
from osint.storage.sharecolumns import share_columns

FETCH_BATCH = 250_000
# Below this many shares, also look for posts that share themselves (an imported content id
# equal to its object id, one of CooRTweet's loops): a join that costs seconds on big cases.
SELF_SHARE_CHECK_LIMIT = 250_000


def _self_shares(session: Session, case_id: int) -> set[tuple[int, int]]:
    """(post, object) rows whose object key is the post's own id (CooRTweet's object == content)."""
    rows = session.execute(
        select(PostObject.post_id, PostObject.object_id)
        .join(SharedObject, SharedObject.id == PostObject.object_id)
        .join(Post, and_(Post.id == PostObject.post_id, Post.platform_id == SharedObject.key))
        .where(PostObject.case_id == case_id)
    )
    return {(int(post), int(obj)) for post, obj in rows}


def _object_ids(session: Session, case_id: int, modality: str) -> np.ndarray:
    """Ids of the case's objects of one modality, read off the (case, modality, key) index."""
    query = select(SharedObject.id).where(
        SharedObject.case_id == case_id, SharedObject.modality == modality
    )
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    cursor = session.connection().exec_driver_sql(sql).cursor
    assert cursor is not None
    batches = [
        np.array(rows, dtype=np.int64).reshape(-1)
        for rows in iter(lambda: cursor.fetchmany(FETCH_BATCH), [])
    ]
    cursor.close()
    return np.concatenate(batches) if batches else np.empty(0, dtype=np.int64)


def _modality_codes(
    session: Session, case_id: int, object_ids: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Modality code of each share's object, and the modality names the codes index.

    The lookup starts filled with the code of the modality with the most objects, so only
    the other modalities' ids are read (none when the case has one modality).
    """
    counts = dict(
        session.execute(
            select(SharedObject.modality, func.count())
            .where(SharedObject.case_id == case_id)
            .group_by(SharedObject.modality)
        ).all()
    )
    names = sorted(counts)
    commonest = max(names, key=lambda name: counts[name], default=None)
    fill = names.index(commonest) if commonest is not None else 0
    lookup = np.full(int(object_ids.max(initial=0)) + 1, fill, dtype=np.int8)
    for code, name in enumerate(names):
        if name == commonest:
            continue
        ids = _object_ids(session, case_id, name)
        lookup[ids[ids < lookup.size]] = code
    return lookup[object_ids], names or ["object"]


def load_share_table(
    session: Session, case_id: int, modalities: Sequence[str] | None = None
) -> ShareTable:
    """The case's shares: object, account, post (store ids) and epoch seconds, one modality
    per ``SharedObject.modality`` (only ``modalities`` when given)."""
    object_ids, account_ids, times, post_ids = share_columns(session, case_id, modalities)
    modality_code, names = _modality_codes(session, case_id, object_ids)
    derived = derived_shares(session, case_id, None if modalities is None else list(modalities))
    if derived.columns:
        extra = np.concatenate(derived.columns)
        object_ids, account_ids, times, post_ids = (
            np.concatenate([mine, extra[:, i]])
            for i, mine in enumerate((object_ids, account_ids, times, post_ids))
        )
        codes = [
            np.full(c.shape[0], len(names) + i, dtype=np.int8)
            for i, c in enumerate(derived.columns)
        ]
        modality_code = np.concatenate([modality_code, *codes])
        names = [*names, *derived.modalities]
    table = ShareTable.from_codes(object_ids, account_ids, post_ids, times, modality_code, names)
    table = dataclasses.replace(table, object_names=derived.names)
    if 0 < object_ids.size <= SELF_SHARE_CHECK_LIMIT:
        looped = _self_shares(session, case_id)
        if looped:
            stride = int(object_ids.max()) + 1
            wanted = np.array([post * stride + obj for post, obj in looped], dtype=np.int64)
            table = table.with_self_shares(np.isin(post_ids * stride + object_ids, wanted))
    return table
