"""A pinned store (long imports): each session commits; on SQLite a thread checkpoints the WAL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from osint.cases import create_case
from osint.config import load_settings
from osint.storage import db
from osint.storage.db import Store
from osint.storage.models import Case
from osint.store import open_store


def test_pinned_sessions_commit_and_the_wal_is_checkpointed_behind(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "WAL_REWIND_BYTES", 0)  # wait for the checkpoint before each write
    with store.pinned() as pinned:
        for n in range(5):
            with pinned.session() as session:
                session.add(Case(name=f"case-{n}"))
        if store.dialect == "sqlite":
            with pinned.session() as session:  # the commits leave checkpoints to the thread
                assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 0
    with store.reader() as session:
        assert session.execute(select(func.count()).select_from(Case)).scalar_one() == 5
    create_case(store, "after")  # the connection is back in the pool, usable as before
    if store.dialect != "sqlite":
        return
    with store.session() as session:
        assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one() == 1000
    database = store.engine.url.database
    assert database is not None
    conn = sqlite3.connect(database)
    try:
        busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        conn.close()
    assert busy == 0 and frames == copied


def test_none_is_stored_as_null() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a, b)")
    conn.executemany("INSERT INTO t VALUES (?, ?)", [(None, 1), (None, None)])
    assert conn.execute("SELECT count(*) FROM t WHERE a IS NULL").fetchone() == (2,)
    adapter = sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)]
    assert adapter(None) is None and type(adapter).__name__ == "builtin_function_or_method"


def test_trusted_rows_skip_sqlite_foreign_key_checks_on_the_pinned_connection_only(
    tmp_path: Path,
) -> None:
    settings = load_settings(home=tmp_path / "h", db=f"sqlite:///{tmp_path / 'fk.db'}", environ={})
    store = open_store(settings)
    try:
        with store.pinned(trusted_rows=True) as pinned:
            with pinned.session() as session:  # set outside a transaction, so it took effect
                assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 0
            with store.session() as session:  # other connections still check
                assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        with store.session() as session:
            assert session.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        store.dispose()
