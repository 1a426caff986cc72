"""A big import into SQLite builds some indexes at its end (storage.indexes), and never loses them."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from osint import imports
from osint.cases import create_case
from osint.config import load_settings
from osint.imports import import_shares
from osint.storage import indexes
from osint.storage.db import create_store_engine
from osint.storage.models import Base
from osint.store import open_store
from tests.conftest import spawn_env

DEFERRED = {
    "ix_post_media_media_id",
    "ix_post_objects_case_id",
    "ix_posts_account_id",
    "ix_posts_case_id",
}
# what differs between two imports of one file: when each ran
_WHEN = {"first_seen", "last_seen", "seen_at", "fetched_at", "started_at", "finished_at", "state"}


def _shares_csv(path: Path, rows: int) -> Path:
    lines = ["object_id,account_id,content_id,timestamp_share"]
    lines += [f"o{n % 997:05d},acc{n % 331:04d},c{n:07d},{1_600_000_000 + n}" for n in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _index_names(database: Path) -> set[str]:
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()
    finally:
        conn.close()
    return {name for (name,) in rows if not name.startswith("sqlite_autoindex")}


def _model_index_names() -> set[str]:
    return {str(ix.name) for t in Base.metadata.tables.values() for ix in t.indexes}


def _rows(database: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(database)
    try:
        dump = {}
        for table in ("accounts", "posts", "post_versions", "shared_objects", "post_objects"):
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            kept = ", ".join(c for c in cols if c not in _WHEN)
            dump[table] = conn.execute(f"SELECT {kept} FROM {table} ORDER BY 1, 2").fetchall()
    finally:
        conn.close()
    return dump


def _import(tmp_path: Path, name: str, csv: Path) -> tuple[Path, list[set[str]]]:
    """Import ``csv`` into a fresh SQLite store; the indexes present at each batch's write."""
    database = tmp_path / f"{name}.db"
    settings = load_settings(home=tmp_path / name, db=f"sqlite:///{database}", environ={})
    store = open_store(settings)
    seen: list[set[str]] = []
    write = imports._Importer.write

    def watched(self: imports._Importer, batch: imports._Batch) -> None:
        seen.append(_index_names(database))
        write(self, batch)

    try:
        create_case(store, "c")
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(imports._Importer, "write", watched)
            import_shares(store, settings, case="c", path=csv, modality="repost")
    finally:
        store.dispose()
    return database, seen


def test_a_big_import_defers_the_indexes_and_stores_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = _shares_csv(tmp_path / "shares.csv", 2_500)
    monkeypatch.setattr(imports, "BATCH", 400)  # several batches, each written without them
    monkeypatch.setattr(indexes, "DEFER_FROM_ROWS", 10**9)
    plain, plain_seen = _import(tmp_path, "plain", csv)
    monkeypatch.setattr(indexes, "DEFER_FROM_ROWS", 1)
    deferred, deferred_seen = _import(tmp_path, "deferred", csv)
    assert len(deferred_seen) == len(plain_seen) > 3
    assert all(names >= DEFERRED for names in plain_seen)
    assert all(not (DEFERRED & names) for names in deferred_seen)
    assert {str(ix.name) for ix in indexes.deferrable()} == DEFERRED
    assert _index_names(deferred) == _index_names(plain) == _model_index_names()
    dumped = _rows(deferred)
    assert len(dumped["posts"]) == 2_500 and len(dumped["post_objects"]) == 2_500
    assert dumped == _rows(plain)
    engine = create_engine(f"sqlite:///{deferred}")
    with engine.connect() as conn:  # the rebuilt indexes are the migrations' own
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_a_small_import_or_one_into_a_bigger_case_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports, "BATCH", 400)
    database, seen = _import(tmp_path, "small", _shares_csv(tmp_path / "small.csv", 1_000))
    assert seen and all(names >= DEFERRED for names in seen)
    driver = sqlite3.connect(database)
    try:
        monkeypatch.setattr(indexes, "DEFER_FROM_ROWS", 500)
        assert indexes.worth_deferring(driver, 1_000)  # as many rows again as the store holds
        assert not indexes.worth_deferring(driver, 999)  # fewer: the rebuild would cost more
        assert not indexes.worth_deferring(driver, None) and not indexes.worth_deferring(
            driver, 400
        )
    finally:
        driver.close()


def test_a_killed_import_leaves_a_store_that_gets_its_indexes_back(tmp_path: Path) -> None:
    csv = _shares_csv(tmp_path / "big.csv", 400_000)  # past DEFER_FROM_ROWS by its size
    database = tmp_path / "k.db"
    url = f"sqlite:///{database}"
    settings = load_settings(home=tmp_path / "home", db=url, environ={})
    store = open_store(settings)
    create_case(store, "c")
    store.dispose()
    env = spawn_env(tmp_path / "home", url)
    argv = [sys.executable, "-m", "osint", "import", "shares", str(csv), "--case", "c"]
    child = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while DEFERRED & _index_names(database):
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() < deadline, "the import never deferred its indexes"
            time.sleep(0.02)
        engine = create_store_engine(make_url(url))
        indexes.restore_indexes(engine)  # a live load holds the lock: left to it
        engine.dispose()
        assert not DEFERRED & _index_names(database)
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert not DEFERRED & _index_names(database)
    store = open_store(settings)  # any command's open builds them again
    store.dispose()
    assert _index_names(database) == _model_index_names()
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()
