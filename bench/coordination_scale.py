"""10 million shares through co-share detection and the network: time and peak memory.

The shares are generated (``tests/scenarios.generate_share_arrays``): Zipf-popular objects
shared over hours across 30 days by a million accounts, groups pushing objects within two
minutes, and three viral bursts of 100,000 accounts each within five minutes (the viral cap
path: their pairs are capped with a warning). The measurement runs in a child process so its
peak resident memory is its own: load the shares, ``detect_groups(60, 2)``,
``generate_coordinated_network(0.5)``. The baseline is the budget: 30 s and 4 GB on this
2-core machine.

Run: ``python -m bench coordination_scale``; ``BENCH_SHARES=2000000`` for a quicker look.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from tests.scenarios import generate_share_arrays

BUDGET_SECONDS = 30.0
BUDGET_GB = 4.0
COLUMNS = ("object_code", "account_code", "content_code", "timestamp")

_CHILD = """
import json, logging, resource, sys, time
import numpy as np
from analyzers.coordination import ShareTable, detect_groups, generate_coordinated_network
logging.disable(logging.WARNING)
folder = sys.argv[1]
started = time.perf_counter()
columns = [np.load(f"{folder}/{name}.npy") for name in ("object_code", "account_code", "content_code", "timestamp")]
table = ShareTable.from_codes(*columns)
loaded = time.perf_counter()
pairs = detect_groups(table, 60, 2)
detected = time.perf_counter()
network = generate_coordinated_network(pairs, 0.5)
done = time.perf_counter()
print(json.dumps({
    "load": loaded - started, "detect": detected - loaded, "network": done - detected,
    "pairs": len(pairs), "edges": network.n_edges, "warnings": len(pairs.warnings),
    "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
}))
"""


def measure(folder: Path) -> dict[str, float]:
    repo = Path(__file__).resolve().parent.parent
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder)], check=True, capture_output=True, text=True, cwd=repo
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def run() -> str:
    n_shares = int(os.environ.get("BENCH_SHARES", "10000000"))
    table = generate_share_arrays(n_shares, seed=11)
    with tempfile.TemporaryDirectory(prefix="osint-scale-") as tmp:
        folder = Path(tmp)
        for name in COLUMNS:
            np.save(folder / f"{name}.npy", getattr(table, name))
        del table
        report = measure(folder)
    seconds = report["detect"] + report["network"]
    print(
        f"   load {report['load']:.1f} s, detect {report['detect']:.1f} s, network {report['network']:.1f} s; "
        f"{report['pairs']:,} pairs, {report['edges']:,} edges, {report['warnings']} viral warnings; "
        f"peak {report['peak_gb']:.2f} GB",
        flush=True,
    )
    if report["peak_gb"] > BUDGET_GB:
        print(f"   WARNING: peak memory above the {BUDGET_GB:.0f} GB budget")
    return (
        f"coordination_scale: {seconds:.1f} s and {report['peak_gb']:.2f} GB peak for "
        f"{n_shares:,} shares to network ({BUDGET_SECONDS / seconds:.1f}x {BUDGET_SECONDS:.0f} s budget)"
    )


if __name__ == "__main__":
    print(run())
