"""The list of cases, read straight over the database driver (sqlite3, psycopg2 or psycopg).

``osint case list`` should answer at the speed of the command line, and importing SQLAlchemy
and alembic alone costs several times click's whole start. So this module reads the cases and
their counts with one SQL statement over the driver, once it has checked cheaply that the
database is at the schema revision this osint's migrations end at (read from the migration
files, without alembic). On PostgreSQL the driver is psycopg2 (``psycopg2-binary``, about 25 ms
of imports where psycopg costs about 90 ms, more than the rest of ``case list``), connecting with
the same parameters and timeout as the store's psycopg; when psycopg2 cannot connect (a refused
or failed connection, an option its libpq does not know) psycopg tries and reports, in the words
the full store would use, and a timeout is reported at once, not waited for twice. Whenever it
is not sure -- a database still to create or migrate, a URL form it does not parse, a statement
that fails -- it answers ``None`` and the caller opens the full store (``osint.store.open_store``),
which creates, migrates or explains. It never writes.

The statement mirrors ``osint.cases.list_cases``; ``tests/storage/test_catalog.py`` checks that
both give the same summaries on SQLite and PostgreSQL, ``tests/storage/test_catalog_pg.py`` that
psycopg2 connects, times out and fails as the store's psycopg does.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

VERSIONS_DIR = Path(__file__).with_name("migrations") / "versions"
SQLITE_TIMEOUT_S = 120.0  # as the store's engine (storage/db.py)
DEFAULT_CONNECT_TIMEOUT = 130  # psycopg's, when the URL and PGCONNECT_TIMEOUT set none


@dataclass(frozen=True)
class CaseSummary:
    """A case and how much it holds, as ``osint case list`` and ``osint case show`` print it."""

    id: int
    name: str
    title: str | None
    description: str | None
    created_at: datetime
    accounts: int = 0
    posts: int = 0
    media: int = 0
    findings: int = 0
    media_failed: int = 0  # attachments tried and not fetched (a re-run tries them again)
    media_pending: int = 0  # attachments not tried yet (a host unreachable, a run stopped)


@dataclass(frozen=True)
class PlainTarget:
    """A database URL in a plain form this module can connect to with the driver alone."""

    backend: str  # "sqlite" or "postgresql"
    database: str  # SQLite: the file, as SQLAlchemy would open it
    connect_args: dict[str, Any] = field(default_factory=dict)  # PostgreSQL: psycopg.connect()


class DatabaseUnreachable(Exception):
    """The PostgreSQL server refused or timed out; ``args[0]`` is the driver's first line."""


# SQLAlchemy's own URL pattern (sqlalchemy/engine/url.py), for the backends osint runs on.
_URL = re.compile(
    r"""(?P<name>[\w+]+)://
        (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
        (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
        (?:/(?P<database>[^?]*))?
        (?:\?(?P<query>.*))?$""",
    re.X | re.S,
)
_SQLITE_NAMES = {"sqlite", "sqlite+pysqlite"}
_PG_NAMES = {"postgresql", "postgres", "postgresql+psycopg"}


def plain_target(url: str) -> PlainTarget | None:
    """The target of a ``sqlite:///FILE`` or ``postgresql://...`` URL; None for anything else.

    Every URL accepted here is one SQLAlchemy parses to the same database (the tests check it);
    in-memory and ``file:`` SQLite URLs, query options on SQLite, other drivers: None.
    """
    m = _URL.match(url)
    if m is None or (m["port"] and not m["port"].isdigit()):
        return None
    name = m["name"]
    if name in _SQLITE_NAMES:
        if m["username"] is not None or m["ipv4host"] or m["ipv6host"] or m["port"]:
            return None
        if m["query"] is not None or not m["database"]:
            return None
        database = unquote(m["database"])
        if database == ":memory:" or database.startswith("file:"):
            return None
        return PlainTarget("sqlite", database)
    if name in _PG_NAMES:
        return _pg_target(m)
    return None


def _pg_target(m: re.Match[str]) -> PlainTarget | None:
    # As SQLAlchemy's psycopg dialect: user, password, host, port, dbname, then the query.
    args: dict[str, Any] = {}
    for key, group in (("user", "username"), ("password", "password"), ("dbname", "database")):
        if m[group]:
            args[key] = unquote(m[group])
    host = m["ipv4host"] or m["ipv6host"]
    if host:
        args["host"] = host
    if m["port"]:
        args["port"] = int(m["port"])
    for key, value in parse_qsl(m["query"] or ""):
        if key in args or key in ("host", "port"):  # clashes, several hosts: SQLAlchemy's
            return None
        args[key] = value
    return PlainTarget("postgresql", args.get("dbname", ""), args)


_REVISION = re.compile(r"^revision\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]*)?=\s*(.+)$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def migration_head(versions: Path = VERSIONS_DIR) -> str | None:
    """The one head revision of the migration files, read as text; None if not exactly one."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in versions.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN_REVISION.search(text)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


CASE_LIST_SQL = """
SELECT c.id, c.name, c.title, c.description, c.created_at,
  (SELECT count(*) FROM accounts a WHERE a.case_id = c.id),
  (SELECT count(*) FROM posts p WHERE p.case_id = c.id),
  (SELECT count(*) FROM (
      SELECT pm.media_id FROM post_media pm JOIN posts p ON p.id = pm.post_id
      WHERE p.case_id = c.id AND pm.media_id IS NOT NULL
      UNION
      SELECT s.avatar_media_id FROM account_snapshots s JOIN accounts a ON a.id = s.account_id
      WHERE a.case_id = c.id AND s.avatar_media_id IS NOT NULL
  ) AS m),
  (SELECT count(*) FROM findings f WHERE f.case_id = c.id)
FROM cases c
ORDER BY c.created_at, c.id
"""
_HAS_VERSION_TABLE_SQL = "SELECT to_regclass('alembic_version') IS NOT NULL"


def read_case_list(target: PlainTarget, head: str | None = None) -> list[CaseSummary] | None:
    """The cases, oldest first, if the database is at ``head``; None if the full store must."""
    head = head or migration_head()
    if head is None:
        return None
    if target.backend == "sqlite":
        return _read_sqlite(target.database, head)
    return _read_postgres(target.connect_args, head)


def _read_sqlite(database: str, head: str) -> list[CaseSummary] | None:
    if not Path(database).is_file():
        return None  # to be created (and migrated) by the full store
    try:
        conn = sqlite3.connect(
            f"file:{quote(database)}?mode=rw", uri=True, timeout=SQLITE_TIMEOUT_S
        )
    except sqlite3.Error:
        return None
    try:
        has_version = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        if not has_version or _versions(
            conn.execute("SELECT version_num FROM alembic_version")
        ) != [head]:
            return None
        return [_summary(row) for row in conn.execute(CASE_LIST_SQL)]
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def _read_postgres(connect_args: dict[str, Any], head: str) -> list[CaseSummary] | None:
    try:
        import psycopg2  # ~25 ms of imports where psycopg costs ~90 ms
    except ImportError:
        return _read_over_psycopg(connect_args, head)
    try:
        conn = _connect_psycopg2(psycopg2, connect_args)
    except (psycopg2.Error, ValueError):
        # Refused, unknown host, bad login, an option this libpq does not know: psycopg tries
        # again and says why in its own words, the words the full store would use.
        return _read_over_psycopg(connect_args, head)
    try:
        with conn.cursor() as cur:
            return _read_over_cursor(cur, head)
    except psycopg2.Error:
        return None
    finally:
        conn.close()  # the read-only transaction is rolled back


def connect_timeout(params: Mapping[str, Any]) -> int:
    """The seconds psycopg allows each attempt (``psycopg.conninfo.timeout_from_conninfo``):
    ``connect_timeout`` or ``PGCONNECT_TIMEOUT``, 130 when unset or not positive, at least 2."""
    value = params.get("connect_timeout", os.environ.get("PGCONNECT_TIMEOUT"))
    if value is None:
        return DEFAULT_CONNECT_TIMEOUT
    timeout = int(float(value))  # ValueError on a bad value: psycopg reports it
    if timeout <= 0:
        return DEFAULT_CONNECT_TIMEOUT
    return max(timeout, 2)


def _connect_psycopg2(psycopg2: Any, params: Mapping[str, Any]) -> Any:
    """``psycopg2.connect`` with psycopg's timeout, in a thread so that Ctrl-C is not held up.

    libpq tries each host and address in turn, each within ``connect_timeout`` seconds, as
    psycopg does; but while it waits it ignores signals, so the wait runs in a daemon thread and
    this one waits for it, interruptibly. A timeout raises :class:`DatabaseUnreachable` with
    psycopg's message, so that a dead server is not waited for twice.
    """
    import threading

    args = {**params, "connect_timeout": connect_timeout(params)}
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            outcome["conn"] = psycopg2.connect(**args)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc

    worker = threading.Thread(target=attempt, name="osint-case-list-connect", daemon=True)
    worker.start()
    worker.join()  # KeyboardInterrupt here leaves the daemon thread to the process's exit
    error = outcome.get("error")
    if error is None:
        return outcome["conn"]
    if isinstance(error, psycopg2.OperationalError) and _timed_out(error):
        raise DatabaseUnreachable("connection timeout expired") from error
    raise error


def _timed_out(error: BaseException) -> bool:
    # libpq's message has one line per attempt; psycopg reports the last attempt's failure.
    lines = [line for line in str(error).splitlines() if line.strip()]
    return bool(lines) and lines[-1].rstrip().endswith("timeout expired")


def _read_over_psycopg(connect_args: dict[str, Any], head: str) -> list[CaseSummary] | None:
    import psycopg  # only here: its import alone costs more than the rest of `case list`

    try:
        conn = psycopg.connect(**connect_args)
    except psycopg.OperationalError as exc:
        raise DatabaseUnreachable(_first_line(exc)) from exc
    except psycopg.Error:
        return None
    try:
        with conn.cursor() as cur:
            return _read_over_cursor(cur, head)
    except psycopg.Error:
        return None
    finally:
        conn.close()


def _read_over_cursor(cur: Any, head: str) -> list[CaseSummary] | None:
    """The case list over a DB-API cursor (psycopg2 or psycopg), if the schema is at ``head``."""
    cur.execute(_HAS_VERSION_TABLE_SQL)
    row = cur.fetchone()
    if not row or not row[0]:
        return None
    cur.execute("SELECT version_num FROM alembic_version")
    if _versions(cur.fetchall()) != [head]:
        return None
    cur.execute(CASE_LIST_SQL)
    return [_summary(r) for r in cur.fetchall()]


def _versions(rows: Any) -> list[str]:
    return [str(r[0]) for r in rows]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _summary(row: Any) -> CaseSummary:
    case_id, name, title, description, created, accounts, posts, media, findings = row
    return CaseSummary(
        id=int(case_id),
        name=name,
        title=title,
        description=description,
        created_at=_utc(created),
        accounts=int(accounts),
        posts=int(posts),
        media=int(media),
        findings=int(findings),
    )


def _utc(value: datetime | str) -> datetime:
    # As storage.types.UTCDateTime: SQLite keeps naive UTC text, PostgreSQL an aware time.
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
