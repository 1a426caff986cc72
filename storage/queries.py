"""Named queries and the SQL that differs between SQLite and PostgreSQL.

Services ask for what they want (``epoch_seconds(session, Post.created_at)``, ``select_in``
over many ids) and this module owns how each dialect says it. One batch size bounds every
``IN (...)`` list, so no service picks its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, TypeVarTuple

from sqlalchemy import BigInteger, Integer, Row, Select, Table, cast, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# Values per IN (...) list: well under SQLite's 32,766 variables (3.32 and later) and
# PostgreSQL's 65,535 bind parameters, with room for a query's other parameters; larger
# batches save little once a round trip carries thousands of ids.
IN_BATCH = 5_000


def chunks(items: Sequence[T], size: int = IN_BATCH) -> Iterator[Sequence[T]]:
    """``items`` in consecutive slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def select_in(
    session: Session,
    query_for: Callable[[Sequence[T]], Select[*Ts]],
    values: Sequence[T],
) -> Iterator[Row[*Ts]]:
    """The rows of ``query_for(batch)`` over ``values`` in batches of :data:`IN_BATCH`, for a
    query whose ``.in_(batch)`` would otherwise outgrow the database's parameter limit."""
    for batch in chunks(values):
        yield from session.execute(query_for(batch))


def epoch_seconds(session: Session, column: Any) -> ColumnElement[int]:
    """Epoch seconds computed by the database, so no datetime objects are built per row."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), Integer)


def insert_new(
    session: Session, table: Table, values: dict[str, Any], *, unique: Sequence[str]
) -> int | None:
    """Insert one row unless one with the same ``unique`` columns is there already: the new
    row's id, or None when it was there (``INSERT ... ON CONFLICT DO NOTHING RETURNING id``)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(unique))
        .returning(table.c.id)
    )
    inserted = session.execute(stmt).scalar_one_or_none()
    return None if inserted is None else int(inserted)
