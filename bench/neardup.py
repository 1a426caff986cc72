"""Near-duplicate search on 1,000,000 64-bit hashes: multi-index join vs numpy scan vs BK-tree.

Two sets of 1M hashes: uniformly random, and "real" hashes of sub-windows of the photographs
in scikit-image's wheel (flipped, rotated, gamma-shifted, windows 3% apart: they cluster the
way re-posted pictures do) plus 5% near-blank pictures (5,000 identical all-grey ones, the rest
gradients with noise). For each: all pairs within 4 and within 8 bits, and single queries.
The naive scan (numpy XOR + popcount of one hash against all) is timed on 100 queries and
extrapolated to all pairs (n scans of n/2 on average); the BK-tree (pybktree) is built on
100,000 hashes and its query time extrapolated the same way (a lower bound: its queries get
slower as the tree grows). Short timings are the best of 3 (the machine is shared).
Run: ``python -m bench neardup``.
"""

from __future__ import annotations

import time

import numpy as np
import pybktree
from PIL import Image

from osint.analyzers import neardup, perceptual
from osint.synth import photos

N = 1_000_000
BK_SUBSET = 100_000
SCAN_QUERIES = 100


def random_hashes(count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**64 - 1, size=count, dtype=np.uint64, endpoint=True)


def _window_hashes(thumb: np.ndarray, side: int, step: int) -> np.ndarray:
    starts = range(0, thumb.shape[0] - side + 1, step)
    stack = np.stack([thumb[t : t + side, s : s + side] for t in starts for s in starts])
    return perceptual._window_phashes(stack, side)


def photo_window_hashes(count: int, seed: int = 2) -> np.ndarray:
    """pHashes of overlapping windows of real photos, and near-blank pictures (5%)."""
    rng = np.random.default_rng(seed)
    blanks = max(0, count // 20)
    found: list[np.ndarray] = []
    total = 0
    for name in photos.PHOTO_NAMES:
        base = photos.load_photo(name).convert("L").resize((128, 128), Image.Resampling.LANCZOS)
        for turn in (0, 90, 180):
            for flip in (False, True):
                for gamma in (0.7, 1.0, 1.4):
                    image = base.rotate(turn) if turn else base
                    pixels = np.asarray(image, dtype=np.float64) / 255.0
                    pixels = (pixels[:, ::-1] if flip else pixels) ** gamma * 255.0
                    for side in range(40, 129, 4):
                        found.append(_window_hashes(pixels, side, 4))
                        total += len(found[-1])
    real = np.concatenate(found)
    real = rng.permutation(real)[: count - blanks]
    grey = perceptual._window_phashes(np.full((1, 64, 64), 128.0), 64)
    ramps = np.linspace(0, 1, 64)
    gradients = []
    for _ in range(blanks - 5_000):
        angle, low, high = rng.uniform(0, np.pi), rng.uniform(0, 128), rng.uniform(128, 255)
        field = np.cos(angle) * ramps[None, :] + np.sin(angle) * ramps[:, None]
        gradients.append(low + (high - low) * field / 2 + rng.normal(0, 2, (64, 64)))
    ramp_hashes = perceptual._window_phashes(np.stack(gradients), 64) if gradients else []
    return np.concatenate([real, np.repeat(grey, 5_000), ramp_hashes]).astype(np.uint64)


def _timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def naive_scan_seconds(values: np.ndarray, radius: int) -> float:
    """Seconds per query of a full numpy XOR + popcount scan (best of 3 batches)."""
    best = float("inf")
    for batch in range(3):
        queries = values[batch * SCAN_QUERIES : (batch + 1) * SCAN_QUERIES]
        started = time.perf_counter()
        for query in queries:
            np.flatnonzero(np.bitwise_count(values ^ query) <= radius)
        best = min(best, (time.perf_counter() - started) / len(queries))
    return best


def bktree_seconds(values: np.ndarray, radii: tuple[int, ...]) -> tuple[float, dict[int, float]]:
    """(build seconds, {radius: seconds per query}) of pybktree on BK_SUBSET hashes."""
    subset = [int(v) for v in values[:BK_SUBSET]]
    tree, build = _timed(pybktree.BKTree, lambda a, b: (a ^ b).bit_count(), subset)
    per_query = {}
    for radius in radii:
        started = time.perf_counter()
        for query in subset[:SCAN_QUERIES]:
            tree.find(query, radius)
        per_query[radius] = (time.perf_counter() - started) / SCAN_QUERIES
    return build, per_query


def query_seconds(values: np.ndarray, radius: int, count: int = 300) -> float:
    """Seconds per single query on a built index (best of 3 batches)."""
    index = neardup.HashIndex(values)
    rng = np.random.default_rng(3)
    best = float("inf")
    for _ in range(3):
        queries = values[rng.integers(0, len(values), count)]
        started = time.perf_counter()
        for query in queries:
            index.query(int(query), radius)
        best = min(best, (time.perf_counter() - started) / count)
    return best


def all_pairs_seconds(values: np.ndarray, radius: int) -> tuple[neardup.PairResult, float, float]:
    """(pairs, wall seconds, CPU seconds of that run): best of 3 when a run is short."""
    best = cpu = float("inf")
    found = None
    for _ in range(3):
        started_cpu = time.process_time()
        found, elapsed = _timed(neardup.near_duplicate_pairs, values, radius)
        if elapsed < best:
            best, cpu = elapsed, time.process_time() - started_cpu
        if elapsed >= 10:
            break
    assert found is not None
    return found, best, cpu


def measure(label: str, values: np.ndarray) -> dict[int, tuple[float, float]]:
    """{radius: (our all-pairs seconds, extrapolated numpy-scan all-pairs seconds)}."""
    seconds = {}
    for radius in (4, 8):
        found, elapsed, cpu = all_pairs_seconds(values, radius)
        scan = naive_scan_seconds(values, radius) * len(values) / 2
        seconds[radius] = (elapsed, scan)
        print(
            f"{label}: all pairs within {radius} bits: {elapsed:.2f} s (CPU {cpu:.2f} s on "
            f"{neardup.THREADS} threads), {len(found):,} pairs "
            f"(skipped buckets {found.skipped_buckets}, capped groups {found.capped_groups}); "
            f"numpy scan ~{scan:.0f} s ({scan / elapsed:.0f}x)"
        )
    for radius in (4, 8):
        ours, scan = query_seconds(values, radius), naive_scan_seconds(values, radius)
        print(
            f"{label}: one query within {radius} bits: {ours * 1e3:.3f} ms "
            f"(numpy scan {scan * 1e3:.2f} ms, {scan / ours:.0f}x)"
        )
    return seconds


def run() -> str:
    uniform = random_hashes(N)
    seconds = measure("random 1M", uniform)
    real, made = _timed(photo_window_hashes, N)
    print(
        f"photo-derived set: {len(real):,} hashes ({len(np.unique(real)):,} distinct), "
        f"made in {made:.0f} s"
    )
    measure("photo 1M", real)
    build, per_query = bktree_seconds(uniform, (4, 8))
    for radius, query_time in per_query.items():
        all_pairs = query_time * N
        print(
            f"BK-tree (pybktree) on {BK_SUBSET:,} random: build {build:.1f} s, "
            f"{1 / query_time:.0f} queries/s within {radius} bits; 1M all pairs >= "
            f"{all_pairs:.0f} s ({all_pairs / seconds[radius][0]:.0f}x ours)"
        )
    (ours_8, scan_8), (ours_4, scan_4) = seconds[8], seconds[4]
    line = (
        f"neardup: 1M hashes, all pairs within 8 bits in {ours_8:.1f} s ({scan_8 / ours_8:.0f}x "
        f"numpy scan), within 4 bits in {ours_4:.2f} s ({scan_4 / ours_4:.0f}x numpy scan)"
    )
    print(line)
    return line


if __name__ == "__main__":
    run()
