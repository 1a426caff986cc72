"""Read a case's content-key index (``post_objects``) into a ``ShareTable``, fast.

Millions of rows must reach numpy without becoming millions of Python objects: on PostgreSQL
the rows come through ``COPY ... TO STDOUT (FORMAT BINARY)`` and are parsed with one
``np.frombuffer``; on SQLite each column comes as one ``group_concat`` text parsed by
``np.fromstring``. Everything is
SQLAlchemy Core or the driver underneath it, never the ORM.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Select, and_, func, literal_column, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from osint.analysis.derived import derived_shares
from osint.analyzers.share_table import ShareTable
from osint.storage.models import Account, Post, PostObject, SharedObject

FETCH_BATCH = 250_000
SQLITE_ROWID_CHUNK = 8_000_000  # rows of one group_concat: ~120 MB of text per column
# Below this many shares, also look for posts that share themselves (an imported content id
# equal to its object id, one of CooRTweet's loops): a join that costs seconds on big cases.
SELF_SHARE_CHECK_LIMIT = 250_000
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _share_query(case_id: int, modalities: Sequence[str] | None) -> Select:
    query = select(
        PostObject.object_id, PostObject.account_id, PostObject.ts, PostObject.post_id
    ).where(PostObject.case_id == case_id)
    if modalities:
        wanted = select(SharedObject.id).where(
            SharedObject.case_id == case_id, SharedObject.modality.in_(list(modalities))
        )
        query = query.where(PostObject.object_id.in_(wanted))
    return query


def _copy_binary(session: Session, query: Select) -> list[np.ndarray]:
    """Rows of four NOT NULL bigint columns through PostgreSQL's binary COPY."""
    sql = str(query.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    driver: Any = session.connection().connection.driver_connection
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
    return [records[f"c{i}"]["value"].astype(np.int64) for i in range(4)]


def _sqlite_columns(session: Session, query: Select) -> list[np.ndarray]:
    """Rows from SQLite as one decimal text per column, parsed by numpy.

    A Python tuple and int objects per row cost ~1 us each; ``group_concat`` builds each
    column's text in C (the aggregates step row by row in one scan, so the columns stay
    aligned) and ``np.fromstring`` parses it in C: ~2.5x faster. Rowid ranges keep each
    text far below SQLite's 1 GB string limit. Two ids travel packed in one 64-bit integer
    (``a << 32 | b``) when they fit: half the numbers to print and parse. A time packs only
    when it lies in [0, 2**32) (1970-2106): the same scan returns the chunk's lowest and
    highest time, and a chunk with a time outside is read again unpacked, so no share is
    ever credited to another object.
    """
    packable = _fits_32_bits(session)
    connection = session.connection()
    first, last = (
        connection.exec_driver_sql(f"SELECT {edge}(rowid) FROM post_objects").scalar() or 0
        for edge in ("min", "max")
    )
    parts: list[list[np.ndarray]] = [[] for _ in range(4)]
    for low in range(first, last + 1, SQLITE_ROWID_CHUNK):
        columns = _sqlite_chunk(connection, session, query, low, packable)
        if columns is None:  # a time outside 1970-2106 in this chunk
            columns = _sqlite_chunk(connection, session, query, low, False)
        assert columns is not None
        for part, column in zip(parts, columns, strict=True):
            part.append(column)
    return [np.concatenate(p) if p else np.empty(0, dtype=np.int64) for p in parts]


def _sqlite_chunk(
    connection: Any, session: Session, query: Select, low: int, packed: bool
) -> list[np.ndarray] | None:
    """One rowid range's (object, account, ts, post) columns; None when ``packed`` and a time
    does not fit in 32 unsigned bits."""
    exprs: list[ColumnElement[int] | InstrumentedAttribute[int]]
    if packed:
        exprs = [
            PostObject.object_id.op("<<")(32).op("|")(PostObject.ts),
            PostObject.account_id.op("<<")(32).op("|")(PostObject.post_id),
        ]
    else:
        exprs = [PostObject.object_id, PostObject.account_id, PostObject.ts, PostObject.post_id]
    rowid: ColumnElement[int] = literal_column("post_objects.rowid")
    aggregates = [func.group_concat(e) for e in exprs]
    chunk = query.with_only_columns(
        *aggregates, func.min(PostObject.ts), func.max(PostObject.ts)
    ).where(rowid.between(low, low + SQLITE_ROWID_CHUNK - 1))
    sql = str(chunk.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
    # SQLite would walk the (case, object, ts) index and fetch every row from the table at
    # random; a plain scan is ~4x faster (SQLAlchemy renders no table hints for SQLite).
    sql = sql.replace("FROM post_objects", "FROM post_objects NOT INDEXED", 1)
    *texts, lowest, highest = connection.exec_driver_sql(sql).one()
    if packed and lowest is not None and (lowest < 0 or highest >= 2**32):
        return None
    columns = [
        np.fromstring(text, dtype=np.int64, sep=",") if text else np.empty(0, dtype=np.int64)
        for text in texts
    ]
    if not packed:
        return columns
    low_bits = np.int64(0xFFFFFFFF)
    packed_a, packed_b = columns
    return [packed_a >> 32, packed_b >> 32, packed_a & low_bits, packed_b & low_bits]


def _fits_32_bits(session: Session) -> bool:
    """Whether every store id stays below 2**31 (times are checked per chunk). Maximum
    primary keys are index look-ups, not scans."""
    highest = [
        session.scalar(select(func.max(model.id))) or 0 for model in (Account, Post, SharedObject)
    ]
    return max(highest) < 2**31


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
    query = _share_query(case_id, modalities)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        columns = _copy_binary(session, query)
    else:  # the store runs on SQLite or PostgreSQL only (osint.config refuses others)
        columns = _sqlite_columns(session, query)
    object_ids, account_ids, times, post_ids = columns
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
