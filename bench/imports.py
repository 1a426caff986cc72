"""Import speed: 1 million generated posts through the real command line, SQLite and PostgreSQL.

Each run is ``osint import ...`` in a child process (what an investigator runs), timed from start
to exit, with the child's peak resident memory. The baseline, measured in the same run, is the
rate of only *reading* the same file into records (the importer's parser, no database): it is
the ceiling no import can pass, so the ratio says how much of the time the store costs. A second
reference line shows a bare ``executemany`` of the same post rows into an unindexed table.

PostgreSQL runs in a schema of its own (``osint_bench_<random>``) on ``OSINT_BENCH_PG``
(default ``postgresql://postgres@127.0.0.1:5432/test``); the schema is dropped at the end.

Run: ``python -m bench imports`` (``OSINT_BENCH_POSTS=200000`` for a shorter run).
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from collectors.importers.shares import read_shares

POSTS = int(os.environ.get("OSINT_BENCH_POSTS", "1000000"))
PG_URL = os.environ.get("OSINT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SEED = 20220421


@dataclass
class ImportRun:
    label: str
    posts: int
    seconds: float
    peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.posts / self.seconds

    def line(self) -> str:
        return (
            f"  {self.label}: {self.rate:,.0f} posts/s ({self.posts:,} posts in "
            f"{self.seconds:.1f} s, peak RSS {self.peak_rss_mb:.0f} MB)"
        )


def write_shares_csv(path: Path, posts: int) -> None:
    """CooRTweet-shaped shares: heavy-tailed accounts and objects, time moving forward."""
    rng = random.Random(SEED)
    accounts = max(posts // 20, 10)
    objects = max(posts // 10, 10)
    t = 1_600_000_000
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["object_id", "account_id", "content_id", "timestamp_share"])
        for i in range(posts):
            t += rng.randint(0, 6)
            account = int(accounts * rng.random() ** 2)  # a few accounts post a lot
            obj = int(objects * rng.random() ** 3)  # a few objects are shared a lot
            out.writerow([f"{obj:08x}", f"acc{account:07x}", f"{i:012x}", t])


def _osint(home: Path, db: str, *args: str) -> tuple[float, float]:
    """Run the osint CLI in a child; its wall time and peak RSS (MB)."""
    code = "import sys, cli; sys.exit(cli.main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "--home", str(home), "--db", db, *args]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"osint {' '.join(args)} failed ({proc.returncode}): {err}")
    return seconds, usage.ru_maxrss / 1024


def import_run(label: str, work: Path, db: str, command: list[str], posts: int) -> ImportRun:
    home = work / f"home-{uuid.uuid4().hex[:6]}"
    _osint(home, db, "case", "new", "bench")  # migrates the schema; not timed
    seconds, rss = _osint(home, db, "import", *command, "--case", "bench")
    return ImportRun(label, posts, seconds, rss)


def parse_rate(path: Path, reader: Callable[[Path], Iterator[object]]) -> float:
    started = time.perf_counter()
    count = sum(1 for _ in reader(path))
    return count / (time.perf_counter() - started)


def _read_shares(path: Path) -> Iterator[object]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        yield from read_shares(fh, modality="repost")


def bare_executemany_rate(path: Path, work: Path) -> float:
    """The same posts as plain rows into a table with no index, one executemany per 5,000."""
    conn = sqlite3.connect(work / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE posts (id INTEGER PRIMARY KEY, account TEXT, platform_id TEXT, "
        "created_at TEXT, repost_of TEXT)"
    )
    started = time.perf_counter()
    batch: list[tuple[str, str, str, str]] = []
    with path.open(newline="") as fh:
        rows = csv.reader(fh)
        next(rows)
        for obj, account, content, ts in rows:
            batch.append((account, content, ts, obj))
            if len(batch) == 5000:
                _bare_write(conn, batch)
                batch = []
    _bare_write(conn, batch)
    seconds = time.perf_counter() - started
    conn.close()
    return POSTS / seconds


def _bare_write(conn: sqlite3.Connection, batch: list[tuple[str, str, str, str]]) -> None:
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO posts (account, platform_id, created_at, repost_of) VALUES (?, ?, ?, ?)",
        batch,
    )
    conn.execute("COMMIT")


class PgSchema:
    """A schema of the bench's own on the PostgreSQL server, dropped on exit."""

    def __init__(self, base_url: str) -> None:
        self.admin = create_engine(make_url(base_url).set(drivername="postgresql+psycopg"))
        self.name = f"osint_bench_{uuid.uuid4().hex[:10]}"

    def __enter__(self) -> str:
        with self.admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        url = make_url(PG_URL).set(drivername="postgresql+psycopg")
        url = url.update_query_dict({"options": f"-csearch_path={self.name}"})
        return url.render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        with self.admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        self.admin.dispose()


def run() -> str:
    work = Path(tempfile.mkdtemp(prefix="osint-bench-imports-"))
    try:
        shares = work / "shares.csv"
        write_shares_csv(shares, POSTS)
        command = ["shares", str(shares), "--modality", "repost"]
        sqlite_run = import_run(
            "shares CSV -> SQLite", work, f"sqlite:///{work / 'bench.db'}", command, POSTS
        )
        print(sqlite_run.line(), flush=True)
        with PgSchema(PG_URL) as pg_url:
            pg_run = import_run("shares CSV -> PostgreSQL", work, pg_url, command, POSTS)
        print(f"{pg_run.line()}; {sqlite_run.rate / pg_run.rate:.2f}x SQLite's time", flush=True)
        parsed = parse_rate(shares, _read_shares)
        print(f"  baseline, parsing the CSV into records only: {parsed:,.0f} posts/s", flush=True)
        bare = bare_executemany_rate(shares, work)
        print(f"  reference, bare executemany into an unindexed table: {bare:,.0f} posts/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return (
        f"imports: {sqlite_run.rate:,.0f} posts/s shares CSV into SQLite, "
        f"{pg_run.rate:,.0f} on PostgreSQL "
        f"({sqlite_run.rate / parsed:.2f}x parse-only {parsed:,.0f} posts/s)"
    )


if __name__ == "__main__":
    print(run())
