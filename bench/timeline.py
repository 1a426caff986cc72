"""The timeline analysis of 1M posts from 50,000 accounts, against one numpy groupby pass.

The posts are ``osint.synth.planted.generate_share_arrays`` rows (Zipf-popular objects shared
over hours, groups pushing objects within minutes) with their accounts folded onto 50,000,
written into a SQLite case store (not timed). Timed, in the same run:

- ``osint analyze timeline``'s service (``analyze_timeline``): read every post's account and
  time, every profile and snapshot, compute every signal, store the findings;
- the coordination pass of ``osint analyze`` on the same case (the issue's yardstick: the
  timeline pass must cost no more than it);
- the baseline: the same rows read the same way, then one numpy groupby pass over them
  (per-account count, first and last post, mean gap), the least any per-account analysis does.

Run: ``python -m bench timeline``; ``BENCH_SHARES=200000`` for a quicker look.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from osint.analysis import timeline_pass as timeline_service
from osint.analysis.coordination_pass import analyze_coordination
from osint.analysis.timeline_pass import analyze_timeline
from osint.analyzers.share_table import ShareTable
from osint.cases import get_case
from osint.synth.planted import generate_share_arrays
from osint.synth.sharestore import bulk_load, open_bench_store

ACCOUNTS = 50_000


def _groupby_pass(store, case_name: str) -> float:
    """Read (account, post, time) like the timeline does, then one sort-based groupby."""
    started = time.perf_counter()
    with store.reader() as session:
        posts = timeline_service._post_times(session, get_case(session, case_name).id)
    times, starts = posts.times, posts.starts
    counts = np.diff(starts)
    first, last = times[starts[:-1]], times[starts[1:] - 1]
    mean_gap = (last - first) / np.maximum(counts - 1, 1)
    assert counts.sum() == times.size and mean_gap.size == posts.accounts.size
    return time.perf_counter() - started


def run() -> str:
    n_shares = int(os.environ.get("BENCH_SHARES", "1000000"))
    generated = generate_share_arrays(
        n_shares, seed=13, n_viral_bursts=2, viral_burst_accounts=2_000
    )
    table = ShareTable.from_codes(
        generated.object_code,
        generated.account_code % ACCOUNTS,
        generated.content_code,
        generated.timestamp,
    )
    with tempfile.TemporaryDirectory(prefix="osint-bench-timeline-") as tmp:
        store = open_bench_store(f"sqlite:///{Path(tmp) / 'osint.db'}", Path(tmp) / "home")
        started = time.perf_counter()
        bulk_load(store, "timeline", table)
        print(f"   filled the store in {time.perf_counter() - started:.0f} s", flush=True)
        baseline = min(_groupby_pass(store, "timeline") for _ in range(2))
        started = time.perf_counter()
        coordination = analyze_coordination(store, "timeline")
        coordination_seconds = time.perf_counter() - started
        best = float("inf")
        report = None
        for _ in range(2):
            started = time.perf_counter()
            report = analyze_timeline(store, "timeline")
            best = min(best, time.perf_counter() - started)
        store.dispose()
    assert report is not None
    print(
        f"   timeline {best:.1f} s (best of 2; {report.findings} findings over "
        f"{report.accounts:,} accounts); coordination pass {coordination_seconds:.1f} s "
        f"({coordination.pairs:,} pairs, {coordination.findings} groups); numpy groupby pass "
        f"{baseline:.1f} s",
        flush=True,
    )
    if best > coordination_seconds:
        print("   WARNING: the timeline pass cost more than the coordination pass")
    return (
        f"timeline: {best:.1f} s for {n_shares:,} posts of {ACCOUNTS:,} accounts, coordination "
        f"pass {coordination_seconds:.1f} s ({best / baseline:.1f}x one numpy groupby pass over "
        f"the same rows)"
    )


if __name__ == "__main__":
    print(run())
