"""Engine, sessions and migrations of the case store, on SQLite or PostgreSQL.

SQLite is tuned for evidence work on one machine: WAL (readers never block the writer), foreign
keys on, a long busy timeout, and write transactions that start with ``BEGIN IMMEDIATE`` so two
``osint`` processes queue for the write lock instead of failing with "database is locked".
Read-only sessions (:meth:`Store.reader`) start deferred and never take the lock.

Migrations (alembic, in ``storage/migrations``) are applied on first use, under a lock so two
processes starting at once do not both try: a lock file for SQLite, an advisory lock on PostgreSQL.
A database already at the head revision of the migration files (its ``alembic_version`` row, read
with one statement) needs neither the lock nor alembic, whose import costs more than a command's
own work; any other revision, or no version table, goes through alembic as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from osint.storage.catalog import migration_head
from osint.storage.indexes import deferred_indexes, restore_indexes

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x05141_7E57  # arbitrary constant: pg_advisory_lock key for migrations
SQLITE_BUSY_TIMEOUT_MS = 120_000
WAL_REWIND_BYTES = 128 * 1024 * 1024  # a pinned store lets the WAL grow this far between rewinds


# Python 3.11's sqlite3 binds None through its adaptation protocol, which raises and discards an
# AttributeError for each one (about a microsecond: a fifth of the cost of a typical post row).
# A registered adapter is found by a dictionary lookup instead; NULL is stored all the same.
# The adapter is a builtin ({}.get returns None for any key), so binding a NULL runs no Python.
sqlite3.register_adapter(type(None), {}.get)  # type: ignore[arg-type]


_CONFLICT_SQLSTATES = {"40P01", "40001"}  # deadlock_detected, serialization_failure


def is_write_conflict(exc: BaseException) -> bool:
    """A transaction that lost a deadlock or a serialization conflict (PostgreSQL): retry it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if getattr(exc, "sqlstate", None) in _CONFLICT_SQLSTATES:
            return True
        orig = getattr(exc, "orig", None)
        exc = orig if isinstance(orig, BaseException) else exc.__cause__  # type: ignore[assignment]
    return False


class StoreUnavailable(Exception):
    """The database cannot be reached; the service layer turns this into an actionable error."""


class SchemaTooNew(Exception):
    """The database was migrated by a newer osint than this one."""


def create_store_engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def _sqlite_engine(url: URL) -> Engine:
    # A small pool: opening and closing SQLite connections is not free (the last close of a WAL
    # database checkpoints it). Pools are not shared across fork; children open their own engine.
    engine = create_engine(url, pool_size=5, max_overflow=10, connect_args={"timeout": 120})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA cache_size = -65536")  # 64 MB of pages: an import's indexes stay hot
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("osint_readonly"):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect().execution_options(osint_readonly=True) as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            yield
            return
        lock_path = Path(database + ".migrate.lock")
        with lock_path.open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    else:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Bring the schema to ``revision``; safe to call from several processes at once."""
    if revision == "head":
        ready = _ready_head(engine)
        if ready is not None:
            restore_indexes(engine)  # a killed bulk load's (storage.indexes)
            return ready
    from alembic import command

    head = head_revision()
    with _migration_lock(engine):
        current = current_revision(engine)
        if current is not None and current != head and not _is_known(current):
            raise SchemaTooNew(current)
        if current != head or revision != "head":
            with engine.begin() as conn:
                command.upgrade(_alembic_config(conn), revision)
    if revision == "head":
        restore_indexes(engine)
    return head


_VERSION_TABLE_SQL = {
    "sqlite": "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
    "postgresql": "SELECT 1 WHERE to_regclass('alembic_version') IS NOT NULL",
}


def _ready_head(engine: Engine) -> str | None:
    """The head revision if the database is already there (nothing to migrate), else None.

    Reading a committed head is safe without the migration lock: migrations only ever move a
    database towards head, and an older or a newer revision is left to alembic, under the lock.
    """
    head = migration_head()
    has_table = _VERSION_TABLE_SQL.get(engine.dialect.name)
    if head is None or has_table is None:
        return None
    with engine.connect().execution_options(osint_readonly=True) as conn:
        if conn.exec_driver_sql(has_table).first() is None:
            return None
        versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    return head if [str(v) for (v,) in versions] == [head] else None


def _is_known(revision: str) -> bool:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        return ScriptDirectory.from_config(cfg).get_revision(revision) is not None
    except Exception:
        return False


class Store:
    """The case store: an engine, session factories and the media store beside it."""

    def __init__(self, engine: Engine, media: Any) -> None:
        self.engine = engine
        self.media = media
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._readers = sessionmaker(
            engine.execution_options(osint_readonly=True), expire_on_commit=False
        )
        self._checkpoints: _BackgroundCheckpoints | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on error."""
        if self._checkpoints is not None:
            self._checkpoints.before_write()
        with self._sessions() as session, session.begin():
            yield session
        if self._checkpoints is not None:
            self._checkpoints.after_commit()

    @contextlib.contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session that never takes SQLite's write lock."""
        with self._readers() as session:
            yield session

    @contextlib.contextmanager
    def pinned(
        self, *, trusted_rows: bool = False, expected_rows: int | None = None
    ) -> Iterator[Store]:
        """This store with its write sessions all on one connection, still one transaction each.

        For long imports: the batches share one SQLite page cache (``cache_size`` above) and one
        PostgreSQL backend, whatever else the pool hands out meanwhile. On SQLite the WAL is
        copied into the database file by a thread of its own (:class:`_BackgroundCheckpoints`)
        instead of by the commit that fills it.

        ``trusted_rows``: the caller writes only rows whose references it made or read in the
        same transaction (the import writer, which also checks its case at the start of each
        one, on PostgreSQL locking it), so SQLite's per-row foreign-key look-ups are skipped on
        this connection (about a tenth of an import's time); on PostgreSQL too, where the role
        may (:func:`_pg_trusted_rows`). PostgreSQL commits of a pinned store do not wait for
        the WAL to reach the disk (see there).
        """
        with self.engine.connect() as conn:
            pinned = Store(self.engine, self.media)
            pinned._sessions = sessionmaker(bind=conn, expire_on_commit=False)
            database = self.engine.url.database or ""
            if self.dialect == "postgresql":
                with _pg_trusted_rows(conn, trusted=trusted_rows):
                    yield pinned
                return
            if self.dialect != "sqlite":
                yield pinned
                return
            # On the driver's connection: through SQLAlchemy's, the PRAGMA would open a
            # transaction that the sessions' transactions would then only nest in.
            driver = conn.connection.driver_connection
            assert driver is not None
            if trusted_rows:
                driver.execute("PRAGMA foreign_keys = OFF")
            try:
                if database in ("", ":memory:") or "file:" in database:
                    yield pinned
                    return
                pinned._checkpoints = _BackgroundCheckpoints(database)
                driver.execute("PRAGMA wal_autocheckpoint = 0")
                try:
                    with deferred_indexes(driver, database, expected_rows):
                        yield pinned
                finally:
                    pinned._checkpoints.close()
                    driver.execute("PRAGMA wal_autocheckpoint = 1000")  # SQLite's default
            finally:
                if trusted_rows:
                    driver.execute("PRAGMA foreign_keys = ON")

    def dispose(self) -> None:
        self.engine.dispose()


# Set on a pinned PostgreSQL connection for its writes, and reset when it goes back to the pool.
_PG_PINNED_SETTINGS = ("synchronous_commit", "session_replication_role")


@contextlib.contextmanager
def _pg_trusted_rows(conn: Connection, *, trusted: bool) -> Iterator[None]:
    """A pinned PostgreSQL connection set up for an import's writes, for as long as it is pinned.

    ``synchronous_commit = off``: a commit returns before its WAL is on disk (the WAL writer
    flushes it within a fraction of a second). A server crash can then lose the last batches
    committed, never part of one; and the run's final record is committed synchronously by
    another session, which flushes all WAL written before it. So a run recorded as finished
    kept all its batches, and one that was not is re-run, which is idempotent.

    ``trusted``: ``session_replication_role = replica`` turns off the per-row foreign-key
    triggers, half the server's work in an import (every post, version and content-key row
    looked its parents up one by one). The rows refer only to what the writer made or read in
    the same transaction, and it locks its case first (:meth:`CaseWriter.check_case`), so
    deleting the case waits for the batch, then takes its rows with it. Only a superuser, or a
    role granted SET on the setting, may change it: for any other role the checks stay on.
    """
    from psycopg.errors import InsufficientPrivilege

    driver = conn.connection.driver_connection
    assert driver is not None
    driver.commit()  # the pool's ping may have opened a transaction: settings outside of any
    driver.execute("SET synchronous_commit = off")
    driver.commit()
    if trusted:
        try:
            driver.execute("SET session_replication_role = replica")
            driver.commit()
        except InsufficientPrivilege:
            driver.rollback()
    try:
        yield
    finally:
        try:
            driver.rollback()
            for name in _PG_PINNED_SETTINGS:
                driver.execute(f"RESET {name}")
            driver.commit()
        except Exception:
            conn.invalidate()  # a connection that may keep them never goes back to the pool


class _BackgroundCheckpoints:
    """Checkpoints of a SQLite WAL in a thread, while the writer goes on with its next batch.

    A commit that fills the WAL past ``wal_autocheckpoint`` copies it into the database file
    itself and waits for the disk (fsync): a quarter of an import's time. Here each commit
    starts a passive checkpoint on a connection of its own instead, which waits for the disk
    beside the writer. The WAL can only start over (rewind) once a checkpoint has caught up and
    before a transaction writes: past :data:`WAL_REWIND_BYTES`, the next write waits for that.
    """

    def __init__(self, database: str) -> None:
        self._wal = database + "-wal"
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="osint-checkpoint")
        self._pending: Future[None] | None = None
        self._database = database

    def after_commit(self) -> None:
        if self._pending is None or self._pending.done():
            self._finish()
            self._pending = self._thread.submit(self._checkpoint)

    def before_write(self) -> None:
        try:
            large = os.path.getsize(self._wal) > WAL_REWIND_BYTES
        except OSError:
            large = False
        if large:
            self._finish()

    def close(self) -> None:
        try:
            self._finish()
        finally:
            self._thread.submit(self._disconnect).result()
            self._thread.shutdown()

    def _finish(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()  # a failed checkpoint raises here; the WAL still holds the data

    def _checkpoint(self) -> None:  # in the thread, on the thread's own connection
        if self._conn is None:
            self._conn = sqlite3.connect(self._database, isolation_level=None)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
