"""osint's co-share detection against the coordination-network-toolkit 1.5.2 (co_retweet).

One generated file of 1 million retweets (Zipf-popular tweets shared over hours, groups of
accounts retweeting within two minutes, two viral bursts), written in the toolkit's CSV format.
Each tool first puts the shares in its own SQLite database (not timed for the ratio), then
builds the co-retweet network with a 60 s window from that database (timed):

- the toolkit (in its own venv under ``bench/.venvs/``, created on first run): ``preprocess``
  the CSV, then ``compute_co_retweet_parallel`` on the machine's cores;
- osint: the same shares written into a case store (``bench/_store.py``), then what
  ``osint analyze coordination`` does before grouping: ``load_share_table`` from the store,
  ``detect_groups(60, min_participation=1)`` (the toolkit has no pre-filter) and
  ``generate_coordinated_network``.

The two networks are checked to have the same account pairs (the toolkit also links each
account to itself; those are ignored). osint reading the CSV file directly is timed too.

Run: ``python -m bench coordination``; ``BENCH_SHARES=200000`` for a quicker look.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from osint.analysis.shares import load_share_table
from osint.analyzers.coordination import ShareTable, detect_groups, generate_coordinated_network
from osint.synth.planted import generate_share_arrays
from osint.synth.sharestore import bulk_load, open_bench_store

WINDOW = 60
REPEATS = 3  # osint takes seconds, the machine is shared: best of 3 (the toolkit runs once)
TOOLKIT = "coordination-network-toolkit==1.5.2"
VENV = Path(__file__).parent / ".venvs" / "cnt"

_TOOLKIT_RUN = """
import json, sqlite3, sys, time
import coordination_network_toolkit as cnt
db, csv_path, window, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
started = time.perf_counter()
cnt.preprocess.preprocess_csv_files(db, [csv_path])
loaded = time.perf_counter()
cnt.compute_networks.compute_co_retweet_parallel(db, window, n_threads=threads)
done = time.perf_counter()
pairs = sqlite3.connect(db).execute(
    "select count(*) from (select distinct min(user_1, user_2), max(user_1, user_2) "
    "from co_retweet_network where user_1 != user_2)").fetchone()[0]
print(json.dumps({"preprocess": loaded - started, "compute": done - loaded, "pairs": pairs}))
"""


def _toolkit_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"   creating {VENV} with {TOOLKIT} (first run only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", TOOLKIT], check=True)
    return python


def write_toolkit_csv(table: ShareTable, path: Path) -> None:
    """The toolkit's CSV: message_id, user_id, username, repost_id, reply_id, message, timestamp, urls."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "message_id",
                "user_id",
                "username",
                "repost_id",
                "reply_id",
                "message",
                "timestamp",
                "urls",
            ]
        )
        for message, user, tweet, when in zip(
            table.content_code.tolist(),
            table.account_code.tolist(),
            table.object_code.tolist(),
            table.timestamp.tolist(),
            strict=True,
        ):
            writer.writerow([message, user, f"u{user}", tweet, "", "", when, ""])


def read_retweets_csv(path: Path) -> ShareTable:
    """osint's side of the file: the retweeted id is the object, the retweet the content."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        messages, users, tweets, times = zip(
            *((r[0], r[1], r[3], r[6]) for r in reader), strict=True
        )
    return ShareTable.from_columns(tweets, users, messages, np.array(times, dtype=np.int64))


def _network(table: ShareTable) -> tuple[int, int]:
    pairs = detect_groups(table, WINDOW, 1, max_pairs_per_object=10**9, max_pairs=10**9)
    return generate_coordinated_network(pairs).n_edges, len(pairs)


def _run_osint_file(path: Path) -> float:
    started = time.perf_counter()
    _network(read_retweets_csv(path))
    return time.perf_counter() - started


def _run_osint_store(table: ShareTable, workdir: Path) -> tuple[float, float, int, int]:
    """Fill a store (once), then the best of ``REPEATS`` runs from the store to the network."""
    store = open_bench_store(f"sqlite:///{workdir / 'osint.db'}", workdir / "home")
    started = time.perf_counter()
    case_id = bulk_load(store, "bench", table)
    fill = time.perf_counter() - started
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        with store.reader() as session:
            edges, pairs = _network(load_share_table(session, case_id))
        best = min(best, time.perf_counter() - started)
    store.dispose()
    return fill, best, edges, pairs


def _run_toolkit(path: Path, workdir: Path) -> dict[str, float]:
    command = [
        str(_toolkit_python()),
        "-c",
        _TOOLKIT_RUN,
        str(workdir / "cnt.db"),
        str(path),
        str(WINDOW),
    ]
    command.append(str(os.cpu_count() or 2))
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def run() -> str:
    n_shares = int(os.environ.get("BENCH_SHARES", "1000000"))
    table = generate_share_arrays(n_shares, seed=5, n_viral_bursts=2, viral_burst_accounts=3_000)
    with tempfile.TemporaryDirectory(prefix="osint-bench-") as tmp:
        workdir = Path(tmp)
        path = workdir / "retweets.csv"
        write_toolkit_csv(table, path)
        fill, osint_seconds, osint_edges, osint_pairs = _run_osint_store(table, workdir)
        print(
            f"   osint: {osint_seconds:.2f} s store to network, best of {REPEATS} ({osint_pairs:,} "
            f"co-share pairs, {osint_edges:,} edges; filling the store took {fill:.1f} s)",
            flush=True,
        )
        print(f"   osint: {_run_osint_file(path):.2f} s straight from the CSV file", flush=True)
        toolkit = _run_toolkit(path, workdir)
    print(
        f"   toolkit: {toolkit['compute']:.2f} s database to network on {os.cpu_count()} processes, "
        f"{toolkit['pairs']:,} edges "
        f"(preprocessing the CSV took {toolkit['preprocess']:.1f} s)",
        flush=True,
    )
    if toolkit["pairs"] != osint_edges:
        print(
            f"   WARNING: networks differ: osint {osint_edges:,} edges, toolkit {toolkit['pairs']:,}"
        )
    ratio = toolkit["compute"] / osint_seconds
    return (
        f"coordination: {osint_seconds:.1f} s for {n_shares:,} shares from the store to the network "
        f"({ratio:.1f}x coordination-network-toolkit 1.5.2 co_retweet)"
    )
