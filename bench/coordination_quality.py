"""Who `osint analyze` names, judged on the scenario family (``osint.synth.family``).

Every family (organic crowds with viral and breaking-news bursts, hyperactive sharers, fans of
popular sources; bot rings, slow campaigns, camouflage, several modalities; and a purely
organic population) for every seed. The defaults were chosen on ``CHOOSING_SEEDS``; the
summary line reports the ``HELD_OUT_SEEDS`` only, never used for choosing (``SEEN_SEEDS``,
held out from a first version and seen since, are listed, not summarised). Precision and
recall are over accounts named in flagged groups; in the organic family any account named is
a false positive (precision 0).

The baseline, in the same run, is what CooRTweet users flag: the accounts of the
``edge_weight`` subgraph of the co-share network, with the same window and participation.

Run: ``python -m bench coordination_quality``; ``BENCH_SEEDS=101`` for one seed.
"""

from __future__ import annotations

import os
import time

from osint.analysis.coordination_pass import CoordinationOptions
from osint.analyzers.coordination import detect_groups, generate_coordinated_network
from osint.analyzers.coordination_groups import find_candidate_groups
from osint.synth.family import (
    CHOOSING_SEEDS,
    FAMILIES,
    HELD_OUT_SEEDS,
    SEEN_SEEDS,
    FamilyScenario,
    generate,
)


def precision_recall(flagged: set[int], truth: set[int]) -> tuple[float, float]:
    """Precision and recall of the accounts named; with no truth, precision is 0 if anyone is
    named (recall is then 1 by convention: there was nobody to find)."""
    if not truth:
        return (0.0 if flagged else 1.0), 1.0
    hits = len(flagged & truth)
    return (hits / len(flagged) if flagged else 1.0), hits / len(truth)


def evaluate(scenario: FamilyScenario, options: CoordinationOptions) -> dict[str, float]:
    table = scenario.table
    started = time.perf_counter()
    pairs = detect_groups(table, options.window, options.min_participation)
    groups, _ = find_candidate_groups(pairs, options.groups)
    seconds = time.perf_counter() - started
    flagged = {int(a) for g in groups if g.flagged for a in g.accounts}
    strong = generate_coordinated_network(pairs, options.edge_weight).above_threshold()
    baseline = {int(a) for a in table.account_labels_of(strong.accounts())}
    precision, recall = precision_recall(flagged, scenario.coordinated)
    base_precision, base_recall = precision_recall(baseline, scenario.coordinated)
    return {
        "shares": len(table),
        "truth": len(scenario.coordinated),
        "flagged": len(flagged),
        "precision": precision,
        "recall": recall,
        "base_flagged": len(baseline),
        "base_precision": base_precision,
        "base_recall": base_recall,
        "seconds": seconds,
    }


def run() -> str:
    seeds = tuple(int(s) for s in os.environ.get("BENCH_SEEDS", "").split(",") if s)
    chosen = seeds or (*CHOOSING_SEEDS, *SEEN_SEEDS, *HELD_OUT_SEEDS)
    options = CoordinationOptions()
    print(
        f"   {'family':12s} {'seed':>5s} {'set':8s} {'shares':>8s} {'truth':>6s} {'named':>6s} "
        f"{'prec':>6s} {'recall':>6s} | {'base named':>10s} {'prec':>6s} {'recall':>6s}  secs",
        flush=True,
    )
    held: list[dict[str, float]] = []
    for seed in chosen:
        kind = (
            "choosing" if seed in CHOOSING_SEEDS else "seen" if seed in SEEN_SEEDS else "held-out"
        )
        for family in FAMILIES:
            row = evaluate(generate(family, seed), options)
            if kind == "held-out":
                held.append(row | {"organic": family == "organic"})
            print(
                f"   {family:12s} {seed:5d} {kind:8s} {row['shares']:8,.0f} {row['truth']:6.0f} "
                f"{row['flagged']:6.0f} {row['precision']:6.3f} {row['recall']:6.3f} | "
                f"{row['base_flagged']:10.0f} {row['base_precision']:6.3f} "
                f"{row['base_recall']:6.3f}  {row['seconds']:4.1f}",
                flush=True,
            )
    rows = held or []
    if not rows:
        return "coordination_quality: no held-out seed given (BENCH_SEEDS)"
    worst_p = min(r["precision"] for r in rows)
    worst_r = min(r["recall"] for r in rows)
    # The baseline names thousands in the organic family (precision 0): its ratio is taken
    # over the families with planted groups.
    base_p = min(r["base_precision"] for r in rows if not r["organic"])
    ratio = worst_p / base_p if base_p else float("inf")
    held_seeds = ", ".join(str(s) for s in chosen if s not in (*CHOOSING_SEEDS, *SEEN_SEEDS))
    return (
        f"coordination_quality: worst precision {worst_p:.3f}, worst recall {worst_r:.3f} over "
        f"{len(rows)} scenarios (defaults; held-out seeds {held_seeds}) ({ratio:.0f}x the worst "
        f"precision of CooRTweet's edge-weight subgraph, {base_p:.3f})"
    )


if __name__ == "__main__":
    print(run())
