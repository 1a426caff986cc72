"""Fill a case store with many generated shares, fast, for the coordination benchmarks and
the tests that read shares back.

Not the way data gets in normally (``osint import shares`` parses, validates and records
provenance row by row): ids are assigned here and ``storage.rawload`` writes the rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from osint.analyzers.share_table import ShareTable
from osint.cases import create_case
from osint.config import load_settings
from osint.storage.db import Store
from osint.storage.ingest import object_key_hash
from osint.storage.rawload import load_rows, next_ids
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


def bulk_load(store: Store, case_name: str, table: ShareTable) -> int:
    """Write ``table`` as a new case's accounts, posts, objects and index rows; its id."""
    case_id = create_case(store, case_name).id
    load_rows(store, _rows(table, case_id, next_ids(store)))
    return case_id
