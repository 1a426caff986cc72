"""Secondary indexes a big import into SQLite builds once at its end instead of row by row.

Inserting a row updates every index of its table; for the by-account and by-case-and-time
indexes of ``posts``, ``post_objects`` and ``post_media`` that is half of what SQLite spends on
an import's rows (1M posts: 21.5 s with them, 11.2 s without; building them afterwards: 2.4 s).
The import writer never reads through them: it looks rows up by primary key and by the unique
constraints, which stay. So a load that at least doubles the ``posts`` table drops them before its
first batch and builds them again after its last (:func:`deferred_indexes`).

Safety: the indexes are those of the models (:func:`deferrable`, names and columns from the
metadata, never written here again), so building them is ``CREATE INDEX IF NOT EXISTS`` of what
migrations made. The loading process holds an exclusive ``flock`` on ``<database>.indexes.lock``
while they are missing; the kernel drops it with the process, however it ends. Opening the store
(:func:`restore_indexes`, one read of ``sqlite_master`` when nothing is missing) builds any missing
one unless that lock is held, so a killed import leaves a store that gets its indexes back on the
next command, and a command run beside a live import leaves them to it. Other processes reading
meanwhile get the same answers, slower.
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, Index
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex

DEFERRED_TABLES = ("posts", "post_objects", "post_media")
DEFER_FROM_ROWS = 100_000  # below this, the rebuild's fixed cost is not worth it


def deferrable() -> list[Index]:
    """The models' non-unique indexes of the tables an import fills, in a fixed order."""
    from osint.storage.models import Base

    found = []
    for name in DEFERRED_TABLES:
        found += [ix for ix in Base.metadata.tables[name].indexes if not ix.unique]
    return sorted(found, key=lambda ix: str(ix.name))


def _names() -> list[str]:
    return [str(ix.name) for ix in deferrable()]


def missing(driver: sqlite3.Connection) -> list[Index]:
    """The deferrable indexes this database lacks (after a load, or one that was killed)."""
    wanted = deferrable()
    marks = ", ".join("?" * len(wanted))
    present = {
        name
        for (name,) in driver.execute(
            f"SELECT name FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
            [str(ix.name) for ix in wanted],
        )
    }
    return [ix for ix in wanted if str(ix.name) not in present]


def worth_deferring(driver: sqlite3.Connection, expected_rows: int | None) -> bool:
    """Whether a load of about ``expected_rows`` posts should defer the indexes.

    Building an index costs about as much per row as the load saves on two or three rows, and
    it covers the rows already there too: so the load must be big (:data:`DEFER_FROM_ROWS`) and
    at least as big as the ``posts`` table (``max(id)``, one index step, bounds its rows).
    """
    if expected_rows is None or expected_rows < DEFER_FROM_ROWS:
        return False
    top = driver.execute("SELECT max(id) FROM posts").fetchone()[0] or 0
    return expected_rows >= int(top)


@contextlib.contextmanager
def _load_lock(database: str) -> Iterator[bool]:
    """Hold the store's bulk-load lock if no one else does; whether it is held."""
    try:
        fh = Path(database + ".indexes.lock").open("a")  # noqa: SIM115 - closed below
    except OSError:  # a read-only folder: nothing can be deferred there either
        yield False
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # a live load holds it
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _create(driver: sqlite3.Connection, indexes: list[Index]) -> None:
    _in_one_transaction(
        driver,
        [
            str(CreateIndex(ix, if_not_exists=True).compile(dialect=sqlite.dialect()))
            for ix in indexes
        ],
    )


def _drop(driver: sqlite3.Connection) -> None:
    _in_one_transaction(driver, [f"DROP INDEX IF EXISTS {name}" for name in _names()])


def _in_one_transaction(driver: sqlite3.Connection, statements: list[str]) -> None:
    """Run ``statements`` under the write lock (``BEGIN IMMEDIATE``): all of them or none."""
    if not statements:
        return
    driver.execute("BEGIN IMMEDIATE")
    try:
        for statement in statements:
            driver.execute(statement)
    except BaseException:
        driver.execute("ROLLBACK")
        raise
    driver.execute("COMMIT")


@contextlib.contextmanager
def deferred_indexes(
    driver: sqlite3.Connection, database: str, expected_rows: int | None
) -> Iterator[bool]:
    """Around a bulk load on ``driver`` (outside a transaction): whether it defers the indexes.

    Deferring, they are dropped now and built when the block ends, however it ends; otherwise
    any a killed load left missing are built now, unless another load is running.
    """
    with _load_lock(database) as held:
        if not held:
            yield False
            return
        if not worth_deferring(driver, expected_rows):
            _create(driver, missing(driver))
            yield False
            return
        _drop(driver)
        try:
            yield True
        finally:
            _create(driver, missing(driver))


def restore_indexes(engine: Engine) -> None:
    """Build the deferrable indexes a killed load left missing (SQLite files; cheap if none)."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:") or "file:" in database:
        return
    with engine.connect().execution_options(osint_readonly=True) as conn:
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        conn.rollback()  # no transaction of SQLAlchemy's around our own BEGIN below
        if not missing(driver):
            return
        with _load_lock(database) as held:
            if held:
                _create(driver, missing(driver))
