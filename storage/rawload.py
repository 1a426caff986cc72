"""Rows written straight into the share tables, past the ORM and the case writer.

For generated data whose ids and consistency hold by construction (the benchmarks, and the
tests that need many thousands of shares): PostgreSQL through ``COPY FROM STDIN`` with the
foreign-key triggers off for the transaction, SQLite through the driver's ``executemany``.
Not the way evidence gets in (``osint import`` parses, validates and records provenance).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select

from osint.storage.db import Store
from osint.storage.models import Account, Post, SharedObject

Rows = list[tuple[object, ...]]

# The columns each table's tuples fill, in order.
COLUMNS = {
    "accounts": "id, case_id, platform, platform_id, status, first_seen, last_seen",
    "shared_objects": "id, case_id, modality, key, key_hash",
    "posts": "id, case_id, account_id, platform, platform_id, created_at, kind, links, hashtags, mentions, "
    "metrics, extra, source, first_seen, last_seen",
    "post_objects": "post_id, object_id, case_id, account_id, ts",
}
_SERIAL = ("accounts", "posts", "shared_objects")


def next_ids(store: Store) -> dict[str, int]:
    """The first free id of the accounts, posts and (shared) objects tables."""
    with store.session() as session:
        return {
            "accounts": (session.scalar(select(func.max(Account.id))) or 0) + 1,
            "posts": (session.scalar(select(func.max(Post.id))) or 0) + 1,
            "objects": (session.scalar(select(func.max(SharedObject.id))) or 0) + 1,
        }


def load_rows(store: Store, tables: Mapping[str, Iterable[Rows]]) -> None:
    """Write each table's chunks of ``COLUMNS`` tuples in one transaction, in the mapping's
    order (parents first), then gather planner statistics as autovacuum would."""
    with store.session() as session:
        driver = session.connection().connection.driver_connection
        if store.dialect == "postgresql":  # consistent by construction: skip FK triggers
            with driver.cursor() as cursor:  # type: ignore[union-attr]
                cursor.execute("SET LOCAL session_replication_role = replica")
        for name, chunks in tables.items():
            for chunk in chunks:
                if store.dialect == "postgresql":
                    _copy(driver, name, chunk)
                else:
                    marks = ", ".join("?" * len(chunk[0]))
                    driver.executemany(  # type: ignore[union-attr]
                        f"INSERT INTO {name} ({COLUMNS[name]}) VALUES ({marks})", chunk
                    )
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def _copy(driver: Any, name: str, chunk: Rows) -> None:
    text = io.StringIO()
    for row in chunk:
        text.write("\t".join(map(str, row)))
        text.write("\n")
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {name} ({COLUMNS[name]}) FROM STDIN") as copy,
    ):
        copy.write(text.getvalue())
    if name in _SERIAL:
        with driver.cursor() as cursor:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
            )
