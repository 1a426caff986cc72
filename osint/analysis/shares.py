"""Read a case's content-key index (``post_objects``) into a ``ShareTable``, fast.

Millions of rows must reach numpy without becoming millions of Python objects: on PostgreSQL
the rows come through ``COPY ... TO STDOUT (FORMAT BINARY)`` and are parsed with one
``np.frombuffer``; elsewhere the raw DB-API cursor is read in large batches. Everything is
SQLAlchemy Core or the driver underneath it, never the ORM.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session

from analyzers.share_table import ShareTable
from storage.models import Post, PostObject, SharedObject

FETCH_BATCH = 250_000
# Below this many shares, also look for posts that share themselves (an imported content id
# equal to its object id, one of CooRTweet's loops): a join that costs seconds on big cases.
SELF_SHARE_CHECK_LIMIT = 2_000_000
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _share_query(
    case_id: int, modalities: Sequence[str] | None
) -> Select[tuple[int, int, int, int]]:
    query = select(
        PostObject.object_id, PostObject.account_id, PostObject.ts, PostObject.post_id
    ).where(PostObject.case_id == case_id)
    if modalities:
        wanted = select(SharedObject.id).where(
            SharedObject.case_id == case_id, SharedObject.modality.in_(list(modalities))
        )
        query = query.where(PostObject.object_id.in_(wanted))
    return query


def _copy_binary(session: Session, query: Select[tuple[int, int, int, int]]) -> np.ndarray:
    """Rows of four NOT NULL bigint columns through PostgreSQL's binary COPY."""
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    driver = session.connection().connection.driver_connection
    buffer = bytearray()
    with driver.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
        for chunk in copy:
            buffer += chunk
    if not buffer.startswith(_COPY_SIGNATURE):
        raise RuntimeError("unexpected COPY BINARY header from PostgreSQL")
    (extension,) = struct.unpack(">i", buffer[15:19])
    body = memoryview(buffer)[19 + extension : len(buffer) - 2]  # trailer: int16 -1
    row = np.dtype(
        [("fields", ">i2")] + [(f"c{i}", [("size", ">i4"), ("value", ">i8")]) for i in range(4)]
    )
    records = np.frombuffer(body, dtype=row)
    return np.stack([records[f"c{i}"]["value"].astype(np.int64) for i in range(4)], axis=1)


def _fetch_batches(session: Session, query: Select[tuple[int, int, int, int]]) -> np.ndarray:
    cursor = (
        session.connection()
        .exec_driver_sql(
            str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
        )
        .cursor
    )
    assert cursor is not None
    batches = []
    while rows := cursor.fetchmany(FETCH_BATCH):
        batches.append(np.array(rows, dtype=np.int64))
    cursor.close()
    return np.concatenate(batches) if batches else np.empty((0, 4), dtype=np.int64)


def _self_shares(session: Session, case_id: int) -> set[tuple[int, int]]:
    """(post, object) rows whose object key is the post's own id (CooRTweet's object == content)."""
    rows = session.execute(
        select(PostObject.post_id, PostObject.object_id)
        .join(SharedObject, SharedObject.id == PostObject.object_id)
        .join(Post, and_(Post.id == PostObject.post_id, Post.platform_id == SharedObject.key))
        .where(PostObject.case_id == case_id)
    )
    return {(int(post), int(obj)) for post, obj in rows}


def load_share_table(
    session: Session, case_id: int, modalities: Sequence[str] | None = None
) -> ShareTable:
    """The case's shares: object, account, post (store ids) and epoch seconds, one modality
    per ``SharedObject.modality`` (only ``modalities`` when given)."""
    query = _share_query(case_id, modalities)
    if session.get_bind().dialect.name == "postgresql":
        columns = _copy_binary(session, query)
    else:
        columns = _fetch_batches(session, query)
    object_ids, account_ids, times, post_ids = (columns[:, i].copy() for i in range(4))
    del columns
    kinds = session.execute(
        select(SharedObject.id, SharedObject.modality).where(SharedObject.case_id == case_id)
    ).all()
    names = sorted({modality for _, modality in kinds})
    code_of_name = {name: index for index, name in enumerate(names)}
    modality_of_object = dict((int(obj), code_of_name[m]) for obj, m in kinds)
    if object_ids.size:
        lookup = np.zeros(int(object_ids.max()) + 1, dtype=np.int8)
        lookup[np.fromiter(modality_of_object, np.int64, len(modality_of_object))] = np.fromiter(
            modality_of_object.values(), np.int8, len(modality_of_object)
        )
        modality_code = lookup[object_ids]
    else:
        modality_code = np.empty(0, dtype=np.int8)
    table = ShareTable.from_codes(
        object_ids, account_ids, post_ids, times, modality_code, names or ["object"]
    )
    if 0 < object_ids.size <= SELF_SHARE_CHECK_LIMIT:
        looped = _self_shares(session, case_id)
        if looped:
            keys = post_ids.astype(np.int64) * (int(object_ids.max()) + 1) + object_ids
            wanted = np.array(
                [p * (int(object_ids.max()) + 1) + o for p, o in looped], dtype=np.int64
            )
            table = table.with_self_shares(np.isin(keys, wanted))
    return table
