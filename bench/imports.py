"""Import speed: 1 million generated posts through the real command line, SQLite and PostgreSQL.

Formats: shares CSV, twarc2 JSONL and a release of X's information-operations archive
(``bench/_io_archive.py``).

Each run is ``osint import ...`` in a child process (what an investigator runs), timed from start
to exit, with the child's peak resident memory. The baseline, measured in the same run, is the
rate of only *reading* the same file into records (the importer's parser, no database): it is
the ceiling no import can pass, so the ratio says how much of the time the store costs. A second
reference line shows a bare ``executemany`` of the same post rows into an unindexed table.

PostgreSQL runs in a schema of its own (``osint_bench_<random>``) on ``OSINT_BENCH_PG``
(default ``postgresql://postgres@127.0.0.1:5432/test``); the schema is dropped at the end.

Run: ``python -m bench imports`` (``OSINT_BENCH_POSTS=200000`` for a shorter run,
``OSINT_BENCH_POSTS=10000000`` for the 10M-post run; peak memory is printed on every line;
``OSINT_BENCH_FORMATS=io`` runs one format: ``shares``, ``twarc``, ``io``, comma-separated;
``OSINT_BENCH_STORES=sqlite`` leaves PostgreSQL out, for the long 10M-post runs). A last line says
what reading in a child process costs and from where it pays.

The generated files are the same for the same size (a fixed seed); ``OSINT_BENCH_DATA=DIR`` keeps
them in DIR and reuses them in later runs (writing 10M posts takes minutes).
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

from bench._io_archive import write_io_tweets_csv
from osint.collectors.importers.shares import read_shares
from osint.collectors.importers.twarc import read_twarc
from osint.collectors.importers.x_io import read_io_file
from osint.imports import fewer_gc_pauses
from osint.synth.twarc import write_twarc_jsonl

POSTS = int(os.environ.get("OSINT_BENCH_POSTS", "1000000"))
PG_URL = os.environ.get("OSINT_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SEED = 20220421
# Which formats to run, by short name (comma-separated): shares, twarc, io; all by default.
FORMATS = {
    f.strip() for f in os.environ.get("OSINT_BENCH_FORMATS", "shares,twarc,io").split(",") if f
}
# Which stores: sqlite, postgresql (both by default).
STORES = {
    s.strip() for s in os.environ.get("OSINT_BENCH_STORES", "sqlite,postgresql").split(",") if s
}
DATA = os.environ.get("OSINT_BENCH_DATA")  # a folder keeping the generated files between runs


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
    """Records per second of only reading the file (same GC settings as an import)."""
    with fewer_gc_pauses():
        started = time.perf_counter()
        count = sum(1 for _ in reader(path))
        return count / (time.perf_counter() - started)


def _read_shares(path: Path) -> Iterator[object]:
    with path.open("rb") as fh:
        yield from read_shares(fh, modality="repost")


def _read_twarc(path: Path) -> Iterator[object]:
    with path.open("rb") as fh:
        yield from read_twarc(fh)


def child_reader_cost(path: Path, work: Path) -> str:
    """What reading in a child costs and saves, measured here: the line the import chooses by.

    The child's start-up is timed on an empty file (process start, imports, first frame); its
    saving is the reading time the writing process no longer spends, less what receiving the
    records costs it. Both per second of reading give the break-even the import uses
    (``osint.import_reader.CHILD_PAYS_AFTER_SECONDS``).
    """
    from osint import import_reader

    empty = work / "empty.jsonl"
    empty.write_bytes(b"")
    starts = []
    for _ in range(3):
        started = time.perf_counter()
        list(import_reader.read_ahead("twarc", empty))
        starts.append(time.perf_counter() - started)
    start = sorted(starts)[1]
    sample = work / "sample.jsonl"
    write_twarc_jsonl(sample, 20_000)
    with fewer_gc_pauses():
        began = time.process_time()
        here = sum(1 for _ in import_reader.read_keyed("twarc", sample, in_child=False))
        reading = time.process_time() - began
        began = time.process_time()
        there = sum(1 for _ in import_reader.read_keyed("twarc", sample, in_child=True))
        receiving = time.process_time() - began
    assert here == there
    saved = max(reading - receiving, 1e-9) / reading  # of each second of reading
    break_even = start / saved
    per_mb = reading / (sample.stat().st_size / 1e6)
    return (
        f"  reading in a child: starts in {start:.2f} s; receiving its records costs the writer "
        f"{receiving / reading:.2f} s per second of reading it saves, so it pays past "
        f"{break_even:.1f} s of reading (about {break_even / per_mb:,.0f} MB of twarc2 JSONL); "
        f"the import hands over past {import_reader.CHILD_PAYS_AFTER_SECONDS:.1f} s"
    )


def _read_io(path: Path) -> Iterator[object]:
    yield from read_io_file(path)


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


def measure_format(
    name: str,
    work: Path,
    path: Path,
    command: list[str],
    reader: Callable[[Path], Iterator[object]],
) -> tuple[ImportRun, ImportRun | None, float]:
    """One file into SQLite, then PostgreSQL (unless left out), then only parsed: the rates."""
    sqlite_run = import_run(
        f"{name} -> SQLite", work, f"sqlite:///{work / f'{name}.db'}", command, POSTS
    )
    print(sqlite_run.line(), flush=True)
    pg_run = None
    if "postgresql" in STORES:
        with PgSchema(PG_URL) as pg_url:
            pg_run = import_run(f"{name} -> PostgreSQL", work, pg_url, command, POSTS)
        ratio = pg_run.seconds / sqlite_run.seconds
        print(f"{pg_run.line()}; {ratio:.2f}x SQLite's time", flush=True)
    parsed = parse_rate(path, reader)
    print(f"  baseline, {name} parsed into records only: {parsed:,.0f} posts/s", flush=True)
    return sqlite_run, pg_run, parsed


def run() -> str:
    work = Path(tempfile.mkdtemp(prefix="osint-bench-imports-"))
    try:
        summaries = [measure(name, work) for name in ("shares", "io", "twarc") if name in FORMATS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not summaries:
        raise SystemExit(f"OSINT_BENCH_FORMATS names none of shares, twarc, io: {FORMATS}")
    print("\n".join(summaries[:-1]))
    return summaries[-1]  # with every format, the last line is twarc's


def measure(name: str, work: Path) -> str:
    """One format's runs (``shares``, ``io`` or ``twarc``): its summary line."""
    if name == "shares":
        shares = generated(work, "shares.csv", write_shares_csv)
        runs = measure_format(
            "shares CSV",
            work,
            shares,
            ["shares", str(shares), "--modality", "repost"],
            _read_shares,
        )
        bare = bare_executemany_rate(shares, work)
        print(f"  reference, bare executemany into an unindexed table: {bare:,.0f} posts/s")
        (work / "shares CSV.db").unlink(missing_ok=True)
        _discard(shares)
        return _summary("shares CSV", *runs)
    if name == "twarc":
        twarc = generated(work, "twarc.jsonl", write_twarc_jsonl)
        runs = measure_format("twarc2 JSONL", work, twarc, ["twarc", str(twarc)], _read_twarc)
        print(child_reader_cost(twarc, work), flush=True)
        (work / "twarc2 JSONL.db").unlink(missing_ok=True)
        _discard(twarc)
        return _summary("twarc2 JSONL", *runs)
    # a release of X's information-operations archive, named as X names them
    io_archive = generated(work, "sahel_042022_tweets_csv_hashed.csv", write_io_tweets_csv)
    runs = measure_format("IO archive CSV", work, io_archive, ["x-io", str(io_archive)], _read_io)
    (work / "IO archive CSV.db").unlink(missing_ok=True)
    _discard(io_archive)
    return _summary("IO archive CSV", *runs)


def _summary(name: str, sqlite_run: ImportRun, pg_run: ImportRun | None, parsed: float) -> str:
    pg = (
        f"{pg_run.rate:,.0f} on PostgreSQL ({pg_run.seconds / sqlite_run.seconds:.2f}x its time)"
        if pg_run
        else "PostgreSQL not run"
    )
    return (
        f"imports: {sqlite_run.rate:,.0f} posts/s {name} into SQLite, {pg}, "
        f"{POSTS:,} posts, peak RSS {sqlite_run.peak_rss_mb:.0f} MB "
        f"({sqlite_run.rate / parsed:.2f}x parse-only {parsed:,.0f} posts/s)"
    )


def generated(work: Path, name: str, write: Callable[[Path, int], None]) -> Path:
    """The bench's file ``name`` of :data:`POSTS` posts: written now, or kept from an earlier
    run in :data:`DATA` (written whole under a temporary name first, so a killed run leaves
    no half file to be reused)."""
    if not DATA:
        path = work / name
        write(path, POSTS)
        return path
    folder = Path(DATA) / f"{POSTS}-{SEED}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if not path.exists():
        part = folder / f".{name}.part"
        write(part, POSTS)
        part.rename(path)
    return path


def _discard(path: Path) -> None:
    if not DATA:
        path.unlink()


if __name__ == "__main__":
    print(run())
