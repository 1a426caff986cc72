"""Benchmark: how fast the command line answers, beside ``python -c "import click"``.

Times the installed ``osint`` script for ``--version``, ``--help`` and ``case list`` (a ready
SQLite store holding three cases), interleaved round by round with the baseline (the same
interpreter importing click, the least a click program can do) and with ``python -c pass``
(the interpreter's own start, for reference). Medians of the rounds, after one warm-up round
(byte-code cached as in an installed wheel, even under PYTHONDONTWRITEBYTECODE). When the PostgreSQL server
of the tests answers (``OSINT_BENCH_PG``, default the local ``test`` database), ``case list``
is timed there too, in a schema of its own that is dropped afterwards.
Goals (issue 17): ``--version`` and ``--help`` within 2x the baseline, ``case list`` within 4x.
Last line: ``cli_start: --version <ms>, --help <ms>, case list <ms>[, case list (PostgreSQL) <ms>]
(<ratios>x import click <ms>)``.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROUNDS = 15
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _osint_exe() -> str:
    beside = Path(sys.executable).with_name("osint")
    found = str(beside) if beside.is_file() else shutil.which("osint")
    if not found:
        raise SystemExit("the osint script is not installed: pip install -e .")
    return found


def _env() -> dict[str, str]:
    # As a user's shell: no OSINT_ settings, and byte-code caching on (an installed wheel ships
    # compiled modules; PYTHONDONTWRITEBYTECODE would make every run compile cli.py again).
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OSINT_") and k != "PYTHONDONTWRITEBYTECODE"
    }


def _timed(cmd: list[str], env: dict[str, str], expect: str) -> float:
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or expect not in result.stdout:
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr[-500:]}")
    return elapsed


def _prepare(exe: str, env: dict[str, str], db_args: list[str]) -> None:
    for name, title in (("mali-2022", "Gossi grave"), ("ru-2016", "IRA shares"), ("scratch", "")):
        args = [exe, *db_args, "case", "new", name] + (["--title", title] if title else [])
        subprocess.run(args, capture_output=True, env=env, check=True)


@contextmanager
def _pg_schema() -> Iterator[str | None]:
    """A fresh PostgreSQL schema's URL, or None when the server does not answer."""
    base = os.environ.get("OSINT_BENCH_PG", DEFAULT_PG)
    try:
        import psycopg

        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except Exception as exc:  # no server: the SQLite figures stand alone
        print(f"   (PostgreSQL at {base} not used: {type(exc).__name__})", flush=True)
        yield None
        return
    schema = f"osint_bench_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def _medians(runs: dict[str, Callable[[], float]]) -> dict[str, float]:
    for action in runs.values():  # warm-up: byte-code written, files in the page cache
        action()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, action in runs.items():
            times[name].append(action())
    return {name: statistics.median(values) for name, values in times.items()}


def run() -> str:
    exe, env = _osint_exe(), _env()
    py = sys.executable
    home = Path(tempfile.mkdtemp(prefix="osint-bench-cli-"))
    try:
        sqlite_args = ["--home", str(home)]
        _prepare(exe, env, sqlite_args)
        with _pg_schema() as pg_url:
            pg_args = ["--home", str(home), "--db", pg_url] if pg_url else []
            if pg_url:
                _prepare(exe, env, pg_args)
            runs: dict[str, Callable[[], float]] = {
                "python -c pass": lambda: _timed([py, "-c", "pass"], env, ""),
                "import click": lambda: _timed([py, "-c", "import click"], env, ""),
                "--version": lambda: _timed([exe, "--version"], env, "osint"),
                "--help": lambda: _timed([exe, "--help"], env, "Usage"),
                "case list": lambda: _timed([exe, *sqlite_args, "case", "list"], env, "mali"),
            }
            if pg_url:
                runs["case list (PostgreSQL)"] = lambda: _timed(
                    [exe, *pg_args, "case", "list"], env, "mali"
                )
            medians = _medians(runs)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    base = medians["import click"]
    goals = {"--version": 2, "--help": 2, "case list": 4, "case list (PostgreSQL)": 4}
    for name, seconds in medians.items():
        goal = f" (goal {goals[name]}x)" if name in goals else ""
        print(f"   {name:<24} {seconds * 1000:6.0f} ms  {seconds / base:4.2f}x{goal}", flush=True)
    shown_names = ("--version", "--help", "case list", "case list (PostgreSQL)")
    figures = [(n, medians[n]) for n in shown_names if n in medians]
    shown = ", ".join(f"{n} {s * 1000:.0f} ms" for n, s in figures)
    ratios = "/".join(f"{s / base:.2f}" for _, s in figures)
    return f'cli_start: {shown} ({ratios}x python -c "import click" {base * 1000:.0f} ms)'


if __name__ == "__main__":
    print(run())
