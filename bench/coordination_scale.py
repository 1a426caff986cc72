"""10 million shares through co-share detection and the network: time and peak memory.

The shares are generated (``osint.synth.planted.generate_share_arrays``): Zipf-popular objects
shared over hours across 30 days by a million accounts, groups pushing objects within two
minutes, and three viral bursts of 100,000 accounts each within five minutes (the viral cap
path: their pairs are capped with a warning). They are written into a case store (not timed:
``bench/_store.py``), on the PostgreSQL server of the test suite in a schema named after the
data, kept for the next run because filling it takes minutes (``BENCH_DB`` for another
database URL, ``BENCH_DB=sqlite`` for a SQLite file; drop ``osint_bench_scale_*`` schemas to
reclaim the space). The
measurement runs in a child process so its peak resident memory is its own: what
``osint analyze coordination`` does before storing: ``load_share_table`` from the store,
``detect_groups(60, 2)``, ``generate_coordinated_network(0.5)``, the candidate groups and
their significance (``find_candidate_groups``) and the findings. The baseline is the
budget: 60 s and 4 GB on this 2-core machine.

Run: ``python -m bench coordination_scale``; ``BENCH_SHARES=2000000`` for a quicker look.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from osint.storage.db import Store
from osint.storage.models import Case, PostObject
from osint.synth.planted import generate_share_arrays
from osint.synth.sharestore import bulk_load, open_bench_store

BUDGET_SECONDS = 60.0
BUDGET_GB = 4.0
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
SEED = 11
DATA_VERSION = "v1"  # bump when generate_share_arrays changes

_CHILD = """
import json, logging, resource, sys, time
from pathlib import Path
from osint.analyzers.coordination import detect_groups, generate_coordinated_network
from osint.analyzers.coordination_groups import find_candidate_groups, group_findings
from osint.synth.sharestore import open_bench_store
from osint.analysis.shares import load_share_table
logging.disable(logging.WARNING)
store = open_bench_store(sys.argv[1], Path(sys.argv[2]))
started = time.perf_counter()
with store.reader() as session:
    table = load_share_table(session, int(sys.argv[3]))
loaded = time.perf_counter()
pairs = detect_groups(table, 60, 2)
detected = time.perf_counter()
network = generate_coordinated_network(pairs, 0.5)
networked = time.perf_counter()
groups, notes = find_candidate_groups(pairs)
findings = group_findings(pairs, groups)
done = time.perf_counter()
print(json.dumps({
    "load": loaded - started, "detect": detected - loaded, "network": networked - detected,
    "groups": done - networked, "findings": len(findings), "candidates": len(groups),
    "pairs": len(pairs), "edges": network.n_edges, "warnings": len(pairs.warnings),
    "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
}))
"""


def measure(url: str, home: Path, case_id: int) -> dict[str, float]:
    repo = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-c", _CHILD, url, str(home), str(case_id)]
    result = subprocess.run(command, check=True, capture_output=True, text=True, cwd=repo)
    return json.loads(result.stdout.strip().splitlines()[-1])


def bench_database(folder: Path, n_shares: int) -> str:
    """The store's URL: a schema of its own on PostgreSQL, named after the data and kept
    between runs (filling 10 million shares takes minutes), or a SQLite file."""
    wanted = os.environ.get("BENCH_DB", DEFAULT_PG)
    if wanted == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    schema = f"osint_bench_scale_{n_shares}_s{SEED}_{DATA_VERSION}"
    base = make_url(wanted).set(drivername="postgresql+psycopg")
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def _filled_case(store: Store, n_shares: int) -> int | None:
    """The case of an earlier run on the same data, if it is complete."""
    with store.reader() as session:
        case_id = session.scalar(select(Case.id).where(Case.name == "scale"))
        if case_id is None:
            return None
        rows = session.scalar(
            select(func.count()).select_from(PostObject).where(PostObject.case_id == case_id)
        )
    return case_id if rows == n_shares else None


def run() -> str:
    n_shares = int(os.environ.get("BENCH_SHARES", "10000000"))
    with tempfile.TemporaryDirectory(prefix="osint-scale-") as tmp:
        url, home = bench_database(Path(tmp), n_shares), Path(tmp) / "home"
        store = open_bench_store(url, home)
        case_id = _filled_case(store, n_shares)
        if case_id is None:
            started = time.perf_counter()
            case_id = bulk_load(
                store, f"scale-{uuid.uuid4().hex[:6]}", generate_share_arrays(n_shares, seed=SEED)
            )
            with store.session() as session:  # only a complete fill is found again
                session.execute(update(Case).where(Case.id == case_id).values(name="scale"))
            print(
                f"   filled the {store.dialect} store in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
        else:
            print(f"   reusing the {store.dialect} store filled by an earlier run", flush=True)
        store.dispose()
        report = measure(url, home, case_id)
    seconds = report["load"] + report["detect"] + report["network"] + report["groups"]
    print(
        f"   load {report['load']:.1f} s, detect {report['detect']:.1f} s, network {report['network']:.1f} s, "
        f"groups and significance {report['groups']:.1f} s ({report['candidates']} candidates, "
        f"{report['findings']} flagged); "
        f"{report['pairs']:,} pairs, {report['edges']:,} edges, {report['warnings']} viral warnings; "
        f"peak {report['peak_gb']:.2f} GB",
        flush=True,
    )
    if report["peak_gb"] > BUDGET_GB:
        print(f"   WARNING: peak memory above the {BUDGET_GB:.0f} GB budget")
    return (
        f"coordination_scale: {seconds:.1f} s and {report['peak_gb']:.2f} GB peak for "
        f"{n_shares:,} shares from the store to findings ({BUDGET_SECONDS / seconds:.1f}x "
        f"{BUDGET_SECONDS:.0f} s budget)"
    )


if __name__ == "__main__":
    print(run())
