"""A pinned store (long imports): each session commits; on SQLite a thread checkpoints the WAL."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from osint.cases import create_case
from osint.config import load_settings
from osint.storage import db
from osint.storage.db import Store
from osint.storage.ingest import CaseGone, CaseWriter
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


def _setting(pinned: Store, name: str) -> str:
    with pinned.session() as session:
        return str(session.execute(text(f"SHOW {name}")).scalar_one())


@pytest.mark.parametrize("trusted", [True, False])
def test_a_pinned_postgres_connection_is_set_for_imports_and_reset_after(
    pg_url: str, tmp_path: Path, trusted: bool
) -> None:
    store = open_store(load_settings(home=tmp_path, db=pg_url, environ={}))
    with store.pinned(trusted_rows=trusted) as pinned:
        assert _setting(pinned, "synchronous_commit") == "off"
        role = _setting(pinned, "session_replication_role")  # the suite's role is a superuser
        assert role == ("replica" if trusted else "origin")
        with pinned.session() as session:  # the settings outlast each commit
            session.add(Case(name="pinned"))
        assert _setting(pinned, "synchronous_commit") == "off"
    store.engine.pool.dispose()
    with store.engine.connect() as conn:  # whichever pooled connection: as the server's default
        assert conn.execute(text("SHOW session_replication_role")).scalar_one() == "origin"
        assert conn.execute(text("SHOW synchronous_commit")).scalar_one() == "on"
    store.dispose()


def test_a_trusted_postgres_import_locks_its_case_against_deletion(
    pg_url: str, tmp_path: Path
) -> None:
    """Without foreign-key triggers, the batch's lock on its case is what keeps a concurrent
    case deletion from leaving the batch's rows behind without their case."""
    store = open_store(load_settings(home=tmp_path, db=pg_url, environ={}))
    case_id = create_case(store, "locked").id
    other = store.engine.connect()
    try:
        with store.pinned(trusted_rows=True) as pinned, pinned.session() as session:
            CaseWriter(session, case_id, source="test").check_case()
            other.execute(text("SET lock_timeout = '100ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                other.execute(text("DELETE FROM cases WHERE id = :id"), {"id": case_id})
            other.rollback()
        other.execute(text("DELETE FROM cases WHERE id = :id"), {"id": case_id})
        other.commit()
        with (
            store.pinned(trusted_rows=True) as pinned,
            pinned.session() as session,
            pytest.raises(CaseGone),
        ):
            CaseWriter(session, case_id, source="test").check_case()
    finally:
        other.close()
        store.dispose()


def test_a_role_that_may_not_skip_foreign_key_checks_keeps_them(
    pg_url: str, tmp_path: Path
) -> None:
    """A team server's ordinary role: the import still runs, with the server's checks."""
    role = f"osint_plain_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_url)
    schema = str(url.query["options"]).split("=", 1)[1]
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"'))
        for kind in ("TABLES", "SEQUENCES"):
            conn.execute(text(f'GRANT ALL ON ALL {kind} IN SCHEMA "{schema}" TO "{role}"'))
    store = open_store(
        load_settings(home=tmp_path, db=url.set(username=role).render_as_string(), environ={})
    )
    try:
        with store.pinned(trusted_rows=True) as pinned:
            assert _setting(pinned, "session_replication_role") == "origin"
            assert _setting(pinned, "synchronous_commit") == "off"
            with pinned.session() as session:
                session.add(Case(name="plain"))
        with store.reader() as session:
            assert session.execute(select(func.count()).select_from(Case)).scalar_one() == 1
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        admin.dispose()
