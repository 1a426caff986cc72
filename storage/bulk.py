"""The fast lane of the ingest writer: rows as tuples, straight to the database driver.

SQLAlchemy's per-row parameter processing (type decorators, JSON encoding, ``insertmanyvalues``)
costs more than the database itself when an import writes tens of thousands of rows a second.
:class:`BulkRows` takes rows already in the driver's shape and sends them the cheapest way each
backend has: ``executemany`` on SQLite (the C loop of the ``sqlite3`` module), ``COPY`` on
PostgreSQL. It works inside the caller's transaction, on the session's own connection.

Values must be adapted with :meth:`BulkRows.utc` and :meth:`BulkRows.json`, which store exactly
what the ORM types in :mod:`storage.types` store, so the ORM reads these rows back unchanged.

Ids are allocated up front (:meth:`BulkRows.allocate_ids`) so that rows referring to new rows
can be built without a round trip per row: on SQLite the writer holds the database's write lock
for the whole transaction (``BEGIN IMMEDIATE``), so ``max(id) + 1...`` is what SQLite would have
chosen; on PostgreSQL the ids come from the table's own sequence.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from osint.storage.queries import chunks

try:
    from psycopg.errors import LockNotAvailable, UniqueViolation
except ImportError:  # pragma: no cover - psycopg is a dependency; SQLite-only installs still work

    class UniqueViolation(Exception):  # type: ignore[no-redef]
        pass

    class LockNotAvailable(Exception):  # type: ignore[no-redef]
        pass


_EMPTY_LIST, _EMPTY_DICT = "[]", "{}"
_ANALYZE_AFTER_ROWS = 10_000
# nextval() ``count`` times, answered as (first, last) runs of consecutive values, in order.
_ID_RUNS = (
    "SELECT min(v), max(v) FROM (SELECT v, v - row_number() OVER (ORDER BY v) AS run FROM "
    "(SELECT nextval(%s::regclass) AS v FROM generate_series(1, %s)) AS drawn) AS runs "
    "GROUP BY run ORDER BY 1"
)
_SEPARATOR = "\x1f"  # joins the texts of an ``= ANY`` look-up, when none of them holds it
# The columns a writer looks rows up by, per table: what its own ANALYZEs gather statistics on.
# Statistics of JSON and text columns (sorting their sampled values) were most of an ANALYZE's
# time; a partial ANALYZE leaves autovacuum's count of changes alone, so it still analyses the
# whole table later.
_LOOKUP_COLUMNS = {
    "posts": ("id", "case_id", "platform", "platform_id"),
    "accounts": ("id", "case_id", "platform", "platform_id"),
    "shared_objects": ("id", "case_id", "modality", "key_hash"),
    "post_objects": ("post_id", "object_id", "case_id"),
    "post_versions": ("post_id", "text_sha256"),
    "post_media": ("post_id", "position"),
}


class BulkRows:
    """Multi-row inserts and updates on the session's connection, in its transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.is_postgres = self.dialect == "postgresql"
        self._sequences: dict[str, str] = {}
        self._grown: dict[str, int] = {}  # rows inserted since this table was last analysed
        self._analysed: dict[str, float] = {}  # the table's row count at its last ANALYZE

    # -- value adapters ---------------------------------------------------------------------
    def utc(self, value: datetime | None) -> Any:
        """A timezone-aware time as the store keeps it; naive times are refused."""
        if value is None:
            return None
        tz = value.tzinfo
        if tz is None:
            raise ValueError(f"naive datetime {value!r}: pass timezone-aware UTC times")
        if tz is not UTC:
            value = value.astimezone(UTC)
        if self.is_postgres:
            return value
        # SQLAlchemy's SQLite DATETIME text: "YYYY-MM-DD HH:MM:SS.ffffff", always with microseconds
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")

    @staticmethod
    def json(value: Any) -> str:
        """JSON text, as both backends accept it for a JSON/JSONB column."""
        if not value:
            if isinstance(value, list):
                return _EMPTY_LIST
            if isinstance(value, dict):
                return _EMPTY_DICT
        try:
            return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
        except (orjson.JSONEncodeError, TypeError):
            return json.dumps(value)  # what orjson refuses (integers past 64 bits, ...)

    # -- the driver connection --------------------------------------------------------------
    def _driver(self) -> Any:
        # session.connection() starts the transaction (BEGIN IMMEDIATE on SQLite) if needed.
        return self.session.connection().connection.driver_connection

    # -- ids --------------------------------------------------------------------------------
    def allocate_ids(self, table: str, count: int) -> list[int]:
        """``count`` fresh primary keys for ``table``, to be used in this transaction."""
        if count <= 0:
            return []
        driver = self._driver()
        if self.is_postgres:
            # The values come back as runs of consecutive ids (one run unless a concurrent
            # writer drew from the sequence meanwhile): a few rows instead of ``count``.
            seq = self._sequence(table)
            with driver.cursor() as cur:
                cur.execute(_ID_RUNS, (seq, count))
                return [i for first, last in cur.fetchall() for i in range(first, last + 1)]
        cur = driver.cursor()
        try:
            top = cur.execute(f"SELECT max(id) FROM {table}").fetchone()[0] or 0
        finally:
            cur.close()
        return list(range(top + 1, top + 1 + count))

    def _sequence(self, table: str) -> str:
        if table not in self._sequences:
            with self._driver().cursor() as cur:
                cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,))
                self._sequences[table] = cur.fetchone()[0]
        return self._sequences[table]

    # -- inserts ----------------------------------------------------------------------------
    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        *,
        may_conflict: bool = True,
    ) -> None:
        """Insert ``rows``, skipping those that hit a unique constraint.

        ``may_conflict=False`` promises that no row can conflict (rows of posts this transaction
        just created): PostgreSQL then copies straight into the table.
        """
        if not rows:
            return
        if not self.is_postgres:
            self._sqlite_insert(table, columns, rows)
            return
        self._keep_statistics(table, len(rows))
        if may_conflict:
            self._insert_via_stage(table, columns, rows, returning=False)
        else:
            self._copy(table, columns, rows)

    def insert_new(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> set[int] | None:
        """Insert rows with fresh ids (``columns[0] == "id"``) that the caller checked were absent.

        Only a concurrent writer can have stored the same rows meanwhile, so the fast path is
        tried first (one ``COPY`` under a savepoint on PostgreSQL; ``executemany`` on SQLite, whose
        count tells whether every row went in). Returns None when every row went in, else the ids
        of the rows that did.
        """
        if not rows:
            return set()
        if columns[0] != "id":
            raise ValueError("insert_new needs the id as the first column")
        if self.is_postgres:
            self._keep_statistics(table, len(rows))
            try:
                with self._savepoint():
                    self._copy(table, columns, rows)
                return None
            except UniqueViolation:
                return self._insert_via_stage(table, columns, rows, returning=True)
        if self._sqlite_insert(table, columns, rows) == len(rows):
            return None
        ids = [row[0] for row in rows]
        low, high = min(ids), max(ids)
        if high - low + 1 == len(ids):  # consecutive, as allocate_ids gives: one range scan
            cur = self._driver().cursor()
            try:
                sql = f"SELECT id FROM {table} WHERE id BETWEEN ? AND ?"
                return {found[0] for found in cur.execute(sql, (low, high))}
            finally:
                cur.close()
        return {
            found[0]
            for batch in chunks(ids)
            for found in self._fetch(f"SELECT id FROM {table} WHERE id IN", batch, ())
        }

    def _sqlite_insert(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> int:
        cols = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        cur = self._driver().cursor()
        try:
            cur.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT DO NOTHING", rows
            )
            return int(cur.rowcount)
        finally:
            cur.close()

    @contextlib.contextmanager
    def _savepoint(self) -> Iterator[None]:
        with self._driver().cursor() as cur:
            cur.execute("SAVEPOINT osint_bulk")
            try:
                yield
            except BaseException:
                cur.execute("ROLLBACK TO SAVEPOINT osint_bulk")
                raise
            cur.execute("RELEASE SAVEPOINT osint_bulk")

    def _keep_statistics(self, table: str, count: int) -> None:
        """ANALYZE a table each time this writer has doubled it (and once past 10,000 rows).

        PostgreSQL's planner otherwise keeps believing a freshly created table is empty and
        answers ``platform_id = ANY(...)`` by filtering every row of the case instead of using
        the unique index: an import then slows down quadratically. Autovacuum catches up only
        a minute or more later.
        """
        if table not in self._analysed:
            with self._driver().cursor() as cur:
                cur.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (table,))
                found = cur.fetchone()
            self._analysed[table] = max(float(found[0]), 0.0) if found else 0.0
        grown = self._grown.get(table, 0) + count
        if grown >= max(_ANALYZE_AFTER_ROWS, self._analysed[table]) and self._analyze(table):
            self._analysed[table] += grown
            grown = 0
        self._grown[table] = grown

    def _analyze(self, table: str) -> bool:
        """ANALYZE now if no other writer is analysing the table; whether it ran.

        Inside a transaction ANALYZE holds its lock until the commit: a second writer waiting
        for it while holding rows the first one needs would deadlock. So it waits at most a
        moment and otherwise leaves the statistics to the next batch (or to autovacuum).
        """
        with self._driver().cursor() as cur:
            cur.execute("SAVEPOINT osint_analyze")
            try:
                cur.execute("SET LOCAL lock_timeout = '50ms'")
                columns = _LOOKUP_COLUMNS.get(table)
                cur.execute(
                    f"ANALYZE {table} ({', '.join(columns)})" if columns else f"ANALYZE {table}"
                )
            except LockNotAvailable:
                cur.execute("ROLLBACK TO SAVEPOINT osint_analyze")  # the setting goes with it
                return False
            cur.execute("SET LOCAL lock_timeout TO DEFAULT")
            cur.execute("RELEASE SAVEPOINT osint_analyze")
        return True

    def _copy(self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with self._driver().cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def _insert_via_stage(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        *,
        returning: bool,
    ) -> set[int]:
        """COPY into a temporary table, then one INSERT ... ON CONFLICT DO NOTHING from it."""
        stage = self._stage(table)
        self._copy(stage, columns, rows)
        cols = ", ".join(columns)
        sql = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} ON CONFLICT DO NOTHING"
        with self._driver().cursor() as cur:
            cur.execute(sql + (" RETURNING id" if returning else ""))
            inserted = {r[0] for r in cur.fetchall()} if returning else set()
            cur.execute(f"TRUNCATE {stage}")
        return inserted

    def _stage(self, table: str) -> str:
        # A temporary table lives as long as its connection; asking each time is one cheap
        # statement, and safe whichever pooled connection this transaction got.
        stage = f"osint_stage_{table}"
        with self._driver().cursor() as cur:
            cur.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
                f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
        return stage

    # -- reads and updates ------------------------------------------------------------------
    def select_in(
        self,
        table: str,
        columns: Sequence[str],
        equals: dict[str, Any],
        in_column: str,
        values: Sequence[Any],
    ) -> list[tuple[Any, ...]]:
        """``SELECT columns FROM table WHERE equals... AND in_column IN values``, any count."""
        if not values:
            return []
        cols = ", ".join(columns)
        where = " AND ".join(f"{name} = {'%s' if self.is_postgres else '?'}" for name in equals)
        prefix = f"SELECT {cols} FROM {table} WHERE {where + ' AND ' if where else ''}{in_column}"
        if self.is_postgres:
            with self._driver().cursor() as cur:
                # One text for the server to split: psycopg adapts a list element by element.
                joined = _texts(values)
                if joined is None:
                    cur.execute(f"{prefix} = ANY(%s)", (*equals.values(), list(values)))
                else:
                    sql = f"{prefix} = ANY(string_to_array(%s, %s))"
                    cur.execute(sql, (*equals.values(), joined, _SEPARATOR))
                return list(cur.fetchall())
        found: list[tuple[Any, ...]] = []
        params = tuple(equals.values())
        for batch in chunks(values):
            found.extend(self._fetch(f"{prefix} IN", batch, params))
        return found

    def lock_rows(self, table: str, ids: Sequence[int]) -> list[int]:
        """Those of ``ids`` that ``table`` holds; on PostgreSQL locked against deletion (``FOR
        KEY SHARE``) until the transaction ends. SQLite's writer holds the whole database."""
        if not self.is_postgres:
            return [row[0] for row in self.select_in(table, ("id",), {}, "id", ids)]
        with self._driver().cursor() as cur:
            cur.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) FOR KEY SHARE", (list(ids),))
            return [row[0] for row in cur.fetchall()]

    def _fetch(self, prefix: str, ids: Sequence[Any], params: tuple[Any, ...]) -> list[Any]:
        marks = ", ".join("?" * len(ids))
        cur = self._driver().cursor()
        try:
            return list(cur.execute(f"{prefix} ({marks})", (*params, *ids)).fetchall())
        finally:
            cur.close()

    def update_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        *,
        where: Sequence[str] = ("id",),
        json: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """``UPDATE table SET columns WHERE where``, one row of values (then keys) per tuple.

        Rows should come sorted by their keys: two writers then lock rows in the same order.
        ``json`` names the columns given as JSON text (cast to JSONB on PostgreSQL).
        """
        if not rows:
            return
        mark = "%s" if self.is_postgres else "?"
        sets = ", ".join(
            f"{c} = {mark}::jsonb" if self.is_postgres and c in json else f"{c} = {mark}"
            for c in columns
        )
        keys = " AND ".join(f"{c} = {mark}" for c in where)
        sql = f"UPDATE {table} SET {sets} WHERE {keys}"
        if self.is_postgres:
            with self._driver().cursor() as cur:
                cur.executemany(sql, rows)
            return
        cur = self._driver().cursor()
        try:
            cur.executemany(sql, rows)
        finally:
            cur.close()

    def delete_where_in(self, table: str, column: str, values: Sequence[Any]) -> None:
        """``DELETE FROM table WHERE column IN values``, any count."""
        if not values:
            return
        if self.is_postgres:
            with self._driver().cursor() as cur:
                cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", (list(values),))
            return
        cur = self._driver().cursor()
        try:
            for chunk in chunks(values):
                cur.execute(
                    f"DELETE FROM {table} WHERE {column} IN ({', '.join('?' * len(chunk))})",
                    tuple(chunk),
                )
        finally:
            cur.close()

    def delete_pairs(
        self, table: str, columns: tuple[str, str], pairs: Sequence[tuple[Any, Any]]
    ) -> None:
        """Delete the rows whose two ``columns`` hold one of these pairs."""
        if not pairs:
            return
        mark = "%s" if self.is_postgres else "?"
        sql = f"DELETE FROM {table} WHERE {columns[0]} = {mark} AND {columns[1]} = {mark}"
        if self.is_postgres:
            with self._driver().cursor() as cur:
                cur.executemany(sql, pairs)
            return
        cur = self._driver().cursor()
        try:
            cur.executemany(sql, pairs)
        finally:
            cur.close()

    def set_where_ids(self, table: str, values: dict[str, Any], ids: Sequence[int]) -> None:
        """``UPDATE table SET ... WHERE id IN ids``: one statement (or a few) for many rows."""
        if not ids:
            return
        names = list(values)
        if self.is_postgres:
            sets = ", ".join(f"{n} = %s" for n in names)
            with self._driver().cursor() as cur:
                cur.execute(
                    f"UPDATE {table} SET {sets} WHERE id = ANY(%s)",
                    (*values.values(), list(ids)),
                )
            return
        sets = ", ".join(f"{n} = ?" for n in names)
        cur = self._driver().cursor()
        try:
            for chunk in chunks(ids):
                marks = ", ".join("?" * len(chunk))
                cur.execute(
                    f"UPDATE {table} SET {sets} WHERE id IN ({marks})",
                    (*values.values(), *chunk),
                )
        finally:
            cur.close()


def _texts(values: Sequence[Any]) -> str | None:
    """``values`` joined by :data:`_SEPARATOR`, when they are all texts without it."""
    try:
        joined = _SEPARATOR.join(values)
    except TypeError:
        return None
    return joined if len(values) > 1 and joined.count(_SEPARATOR) == len(values) - 1 else None
