"""Fill a case store with millions of generated shares, fast, for the coordination benchmarks.

Not the way data gets in normally (``osint import shares`` parses, validates and records
provenance row by row); this writes the same tables directly, with ids assigned here:
PostgreSQL through ``COPY FROM STDIN``, SQLite through the driver's ``executemany``.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import func, select

from osint.analyzers.share_table import ShareTable
from osint.cases import create_case
from osint.config import load_settings
from osint.storage.db import Store
from osint.storage.ingest import object_key_hash
from osint.storage.models import Account, Post, SharedObject
from osint.store import open_store

CHUNK = 500_000
NOW = datetime.now(UTC).isoformat()


def open_bench_store(url: str, home: Path) -> Store:
    """A migrated store at ``url`` with its home (media folder) under ``home``."""
    return open_store(load_settings(home=home, db=url, environ={}))


def _iso(epochs: np.ndarray) -> list[str]:
    return [f"{d}+00:00" for d in epochs.astype("datetime64[s]").astype(str).tolist()]


def _rows(
    table: ShareTable, case_id: int, bases: dict[str, int]
) -> dict[str, Iterator[list[tuple[object, ...]]]]:
    """Column tuples per table, in chunks; store ids = codes + the table's current max id."""
    account, post, obj = bases["accounts"], bases["posts"], bases["objects"]

    def accounts() -> Iterator[list[tuple[object, ...]]]:
        codes = np.arange(table.n_accounts)
        for s in range(0, codes.size, CHUNK):
            yield [
                (int(c) + account, case_id, "bench", f"a{c}", "active", NOW, NOW)
                for c in codes[s : s + CHUNK].tolist()
            ]

    def objects() -> Iterator[list[tuple[object, ...]]]:
        codes = np.arange(table.n_objects)
        for s in range(0, codes.size, CHUNK):
            yield [
                (int(c) + obj, case_id, "repost", f"t{c}", object_key_hash("repost", f"t{c}"))
                for c in codes[s : s + CHUNK].tolist()
            ]

    def posts() -> Iterator[list[tuple[object, ...]]]:
        for s in range(0, len(table), CHUNK):
            part = slice(s, s + CHUNK)
            contents, owners = table.content_code[part].tolist(), table.account_code[part].tolist()
            stamps = _iso(table.timestamp[part])
            yield [
                (c + post, case_id, a + account, "bench", f"p{c}", t, "repost", "[]", "[]", "[]", "{}", "{}", "bench", NOW, NOW)
                for c, a, t in zip(contents, owners, stamps, strict=True)
            ]  # fmt: skip

    def links() -> Iterator[list[tuple[object, ...]]]:
        for s in range(0, len(table), CHUNK):
            part = slice(s, s + CHUNK)
            yield [
                (c + post, o + obj, case_id, a + account, t)
                for c, o, a, t in zip(
                    table.content_code[part].tolist(), table.object_code[part].tolist(),
                    table.account_code[part].tolist(), table.timestamp[part].tolist(), strict=True,
                )
            ]  # fmt: skip

    return {
        "accounts": accounts(),
        "shared_objects": objects(),
        "posts": posts(),
        "post_objects": links(),
    }


COLUMNS = {
    "accounts": "id, case_id, platform, platform_id, status, first_seen, last_seen",
    "shared_objects": "id, case_id, modality, key, key_hash",
    "posts": "id, case_id, account_id, platform, platform_id, created_at, kind, links, hashtags, mentions, "
    "metrics, extra, source, first_seen, last_seen",
    "post_objects": "post_id, object_id, case_id, account_id, ts",
}


def bulk_load(store: Store, case_name: str, table: ShareTable) -> int:
    """Write ``table`` as a new case's accounts, posts, objects and index rows; its id."""
    case_id = create_case(store, case_name).id
    with store.session() as session:
        bases = {
            "accounts": (session.scalar(select(func.max(Account.id))) or 0) + 1,
            "posts": (session.scalar(select(func.max(Post.id))) or 0) + 1,
            "objects": (session.scalar(select(func.max(SharedObject.id))) or 0) + 1,
        }
        driver = session.connection().connection.driver_connection
        if (
            store.dialect == "postgresql"
        ):  # bench data is consistent by construction: skip FK triggers
            with driver.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = replica")
        for name, chunks in _rows(table, case_id, bases).items():
            for chunk in chunks:
                if store.dialect == "postgresql":
                    _copy(driver, name, chunk)
                else:
                    marks = ", ".join("?" * len(chunk[0]))
                    driver.executemany(
                        f"INSERT INTO {name} ({COLUMNS[name]}) VALUES ({marks})", chunk
                    )
    with store.engine.connect() as conn:  # planner statistics, as autovacuum would gather
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return case_id


def _copy(driver: object, name: str, chunk: list[tuple[object, ...]]) -> None:
    text = io.StringIO()
    for row in chunk:
        text.write("\t".join(map(str, row)))
        text.write("\n")
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {name} ({COLUMNS[name]}) FROM STDIN") as copy,
    ):  # type: ignore[attr-defined]
        copy.write(text.getvalue())
    if name in ("accounts", "posts", "shared_objects"):
        with driver.cursor() as cursor:  # type: ignore[attr-defined]
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
            )
