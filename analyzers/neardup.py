"""Near-duplicate search over 64-bit hashes: every pair within a Hamming radius, and single lookups.

Multi-index hashing with the generalised pigeonhole principle: the 64 bits are split into m
blocks (m >= 3 so each block is <= 22 bits and indexes a dense table), and each block i gets
a threshold t_i with sum(t_i + 1) = radius + 1. If two hashes differ in more than t_i bits in
every block they differ in more than ``radius`` bits overall, so every pair within the radius
agrees to within t_i bits on at least one block. For each block we enumerate the keys within
t_i bits of a hash's block value, look the buckets up, and verify the candidates with numpy
XOR + popcount. m and the t_i are chosen per search by a cost model (keys enumerated plus
expected candidates); e.g. for 1,000,000 hashes: radius 4 uses 3 blocks of 21-22 bits with
t = (1, 1, 0); radius 8 uses t = (2, 2, 2).

Real hashes cluster (near-blank pictures, screenshots, a viral image in 500 copies), so
identical values are folded first and expanded at the end (groups above ``max_group``
entries contribute their first entry only to cross pairs and are expanded as a star), and a
bucket holding more than ``bucket_cap`` distinct values is not expanded: the result counts
those (``skipped_buckets``) so a caller knows it may be incomplete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, partial
from itertools import combinations
from math import comb
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

HASH_BITS = 64
MIN_BLOCKS = 3
MAX_BLOCKS = 12
THREADS = min(2, os.cpu_count() or 1)  # this tool targets 2-core machines

# (owner positions, member positions, buckets skipped as over-full)
Candidates = tuple[NDArray[np.int32], NDArray[np.int32], int]


@dataclass(frozen=True)
class PairResult:
    """Pairs ``(left[k], right[k])`` at Hamming distance ``distance[k]`` (indices into inputs)."""

    left: NDArray[np.int64]
    right: NDArray[np.int64]
    distance: NDArray[np.uint8]
    skipped_buckets: int = 0  # over-full buckets not expanded: pairs there may be missing
    capped_groups: int = 0  # groups of identical hashes larger than max_group

    def __len__(self) -> int:
        return len(self.left)


def as_hash_array(hashes: ArrayLike | Sequence[str]) -> NDArray[np.uint64]:
    """Python ints, hex strings or an integer array -> uint64 array."""
    if isinstance(hashes, np.ndarray):
        return hashes if hashes.dtype == np.uint64 else hashes.astype(np.uint64)
    items: list[Any] = list(hashes)  # type: ignore[arg-type]
    if items and isinstance(items[0], str):
        items = [int(item, 16) for item in items]
    return np.array(items, dtype=np.uint64)


def popcount(values: NDArray[np.uint64]) -> NDArray[np.uint8]:
    return np.bitwise_count(values)


@cache
def _flip_masks(width: int, max_flips: int) -> NDArray[np.int32]:
    """All ``width``-bit masks with at most ``max_flips`` bits set (0 first)."""
    masks = [0]
    for flips in range(1, max_flips + 1):
        masks += [sum(1 << bit for bit in bits) for bits in combinations(range(width), flips)]
    return np.array(masks, dtype=np.int32)


def plan_blocks(n_targets: int, radius: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(block widths, per-block thresholds) minimising keys enumerated + expected candidates."""
    best: tuple[float, tuple[int, ...], tuple[int, ...]] | None = None
    for blocks in range(MIN_BLOCKS, min(MAX_BLOCKS, max(MIN_BLOCKS, radius + 1)) + 1):
        widths = tuple(HASH_BITS // blocks + (i < HASH_BITS % blocks) for i in range(blocks))
        thresholds = _spread(radius + 1, blocks)
        cost = 0.0
        for width, threshold in zip(widths, thresholds, strict=True):
            if threshold >= 0:
                keys = sum(comb(width, k) for k in range(threshold + 1))
                cost += keys * (1.0 + n_targets / 2.0**width)
        if best is None or cost < best[0]:
            best = (cost, widths, thresholds)
    assert best is not None
    return best[1], best[2]


def _spread(total: int, blocks: int) -> tuple[int, ...]:
    """Thresholds t_i >= -1 with sum(t_i + 1) == total, as even as possible."""
    base, extra = divmod(total, blocks)
    return tuple(base + (i < extra) - 1 for i in range(blocks))


class _BlockTable:
    """One block of the index: a dense table of buckets (start, count), members sorted by key."""

    def __init__(self, values: NDArray[np.uint64], shift: int, width: int) -> None:
        self.shift, self.width = shift, width
        self.mask = np.uint64((1 << width) - 1)
        self.keys = self.keys_of(values)
        # Sorting (key << 32 | position) is a stable counting sort at int64 sort speed.
        order = np.sort((self.keys.astype(np.int64) << 32) | np.arange(len(values)))
        self.members = (order & 0xFFFFFFFF).astype(np.int32)
        self.sorted_keys = (order >> 32).astype(np.int32)
        counts = np.bincount(self.keys, minlength=1 << width)
        # Per bucket: start << 32 | count, so a lookup is one gather.
        self.buckets = ((np.cumsum(counts) - counts) << 32) | counts

    def keys_of(self, values: NDArray[np.uint64]) -> NDArray[np.int32]:
        return ((values >> np.uint64(self.shift)) & self.mask).astype(np.int32)

    def lookup(
        self, owners: NDArray[np.int32], keys: NDArray[np.int32], bucket_cap: int
    ) -> Candidates:
        """(owner, member) for every member of the buckets ``keys`` (one per owner)."""
        packed = self.buckets[keys]
        hits = np.flatnonzero(packed & 0xFFFFFFFF)
        packed, owners = packed[hits], owners[hits]
        lengths, starts = packed & 0xFFFFFFFF, packed >> 32
        over = lengths > bucket_cap
        skipped = int(np.count_nonzero(over))
        if skipped:
            lengths = np.where(over, 0, lengths)
        ends = np.cumsum(lengths)
        run_starts = np.repeat(starts - (ends - lengths), lengths)
        total = int(ends[-1]) if len(ends) else 0
        members = self.members[np.arange(total, dtype=np.int32) + run_starts]
        return np.repeat(owners, lengths), members, skipped

    def one_way_lookups(self, bit: int, flips: list[int], bucket_cap: int) -> Candidates:
        """Lookups for flip masks whose highest bit is ``bit``, from keys with a 0 there.

        A pair whose keys differ by mask m is then enumerated once, not twice. Owners come in
        key order, so the neighbour keys rise almost monotonically and the bucket gathers walk
        memory instead of jumping.
        """
        zero = (self.sorted_keys & (1 << bit)) == 0
        owners, keys = self.members[zero], self.sorted_keys[zero]
        found = [self.lookup(owners, keys ^ flip, bucket_cap) for flip in flips]
        return (
            np.concatenate([part[0] for part in found]),
            np.concatenate([part[1] for part in found]),
            sum(part[2] for part in found),
        )

    def same_bucket_pairs(self, bucket_cap: int) -> Candidates:
        """Pairs of members sharing a bucket (exact block match), each pair once."""
        crowded = np.flatnonzero((self.buckets & 0xFFFFFFFF) > 1)
        counts = self.buckets[crowded] & 0xFFFFFFFF
        over = counts > bucket_cap
        lefts, rights = [np.empty(0, np.int32)], [np.empty(0, np.int32)]
        for size in np.unique(counts[~over]):
            starts = self.buckets[crowded[counts == size]] >> 32
            i, j = np.triu_indices(int(size), 1)
            lefts.append(self.members[(starts[:, None] + i[None, :]).ravel()])
            rights.append(self.members[(starts[:, None] + j[None, :]).ravel()])
        return np.concatenate(lefts), np.concatenate(rights), int(np.count_nonzero(over))


class HashIndex:
    """Multi-index over 64-bit hashes for radius queries and pair searches.

    >>> index = HashIndex([0x0F, 0xFF, 0x0E])
    >>> sorted(index.query(0x0F, 1)[0].tolist())
    [0, 2]
    """

    def __init__(
        self, hashes: ArrayLike, *, blocks: int = 3, bucket_cap: int | None = None
    ) -> None:
        self.values = as_hash_array(hashes)
        self.blocks = blocks
        widths = tuple(HASH_BITS // blocks + (i < HASH_BITS % blocks) for i in range(blocks))
        shifts = np.cumsum((0, *widths[:-1]))
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            self.tables = list(
                pool.map(
                    lambda block: _BlockTable(self.values, *block),
                    [(int(HASH_BITS - s - w), w) for s, w in zip(shifts, widths, strict=True)],
                )
            )
        expected = len(self.values) / 2.0 ** min(widths)
        self.bucket_cap = bucket_cap or max(1024, int(64 * expected))

    def __len__(self) -> int:
        return len(self.values)

    def thresholds(self, radius: int) -> tuple[int, ...]:
        return _spread(radius + 1, self.blocks)

    def query(self, value: int, radius: int) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
        """Indices of the hashes within ``radius`` bits of ``value``, and their distances."""
        query = np.array([value], dtype=np.uint64)
        found: list[NDArray[np.int32]] = []
        for table, threshold in zip(self.tables, self.thresholds(radius), strict=True):
            if threshold < 0:
                continue
            keys = table.keys_of(query)[0] ^ _flip_masks(table.width, threshold)
            _, members, _ = table.lookup(np.zeros(len(keys), np.int32), keys, len(self.values))
            found.append(members)
        candidates = np.unique(np.concatenate(found)).astype(np.int64)
        distances = popcount(self.values[candidates] ^ query[0])
        keep = distances <= radius
        return candidates[keep], distances[keep]

    def search(
        self, queries: NDArray[np.uint64], radius: int, *, self_join: bool = False
    ) -> PairResult:
        """Pairs (query position, index position) within ``radius``; for a self-join, i < j.

        Jobs (per block: exact-bucket pairs, then lookups grouped by flip mask) run on
        ``THREADS`` threads: numpy releases the GIL in the gathers, sorts and popcounts.
        """
        verify = partial(
            _verified, queries=queries, values=self.values, radius=radius, self_join=self_join
        )
        jobs: list[Callable[[], Candidates]] = []
        for table, threshold in zip(self.tables, self.thresholds(radius), strict=True):
            if threshold < 0:
                continue
            flips = [int(flip) for flip in _flip_masks(table.width, threshold)]
            if self_join:
                jobs.append(partial(table.same_bucket_pairs, self.bucket_cap))
                by_bit: dict[int, list[int]] = {}
                for flip in flips[1:]:
                    by_bit.setdefault(flip.bit_length() - 1, []).append(flip)
                jobs += [
                    partial(table.one_way_lookups, bit, masks, self.bucket_cap)
                    for bit, masks in sorted(by_bit.items(), key=lambda item: -len(item[1]))
                ]
            else:
                owners = np.arange(len(queries), dtype=np.int32)
                query_keys = table.keys_of(queries)
                jobs += [
                    partial(_flip_lookup, table, owners, query_keys, flip, self.bucket_cap)
                    for flip in flips
                ]
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            parts = list(pool.map(lambda job: verify(job()), jobs))
        skipped = sum(part[3] for part in parts)
        return _unique_pairs([part[:3] for part in parts], len(self.values), skipped)


def _flip_lookup(
    table: _BlockTable,
    owners: NDArray[np.int32],
    keys: NDArray[np.int32],
    flip: int,
    bucket_cap: int,
) -> Candidates:
    return table.lookup(owners, keys ^ flip, bucket_cap)


def _verified(
    candidates: Candidates,
    *,
    queries: NDArray[np.uint64],
    values: NDArray[np.uint64],
    radius: int,
    self_join: bool,
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.uint8], int]:
    """Keep the candidates within ``radius`` (XOR + popcount); pass the skip count on."""
    owners, members, skipped = candidates
    distance = popcount(queries[owners] ^ values[members])
    close = distance <= radius
    left, right = owners[close].astype(np.int64), members[close].astype(np.int64)
    if self_join:
        left, right = np.minimum(left, right), np.maximum(left, right)
    return left, right, distance[close], skipped


def _unique_pairs(
    parts: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.uint8]]],
    n_right: int,
    skipped: int,
) -> PairResult:
    """Merge per-block finds; a pair found through several blocks is kept once."""
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return PairResult(empty, empty, np.empty(0, dtype=np.uint8), skipped)
    left = np.concatenate([part[0] for part in parts])
    right = np.concatenate([part[1] for part in parts])
    distance = np.concatenate([part[2] for part in parts]).astype(np.uint8)
    _, first = np.unique(left * np.int64(n_right) + right, return_index=True)
    return PairResult(left[first], right[first], distance[first], skipped)


def near_duplicate_pairs(
    hashes: ArrayLike, radius: int, *, max_group: int = 1000, bucket_cap: int | None = None
) -> PairResult:
    """Every pair i < j of ``hashes`` within ``radius`` bits, without comparing every pair."""
    values = as_hash_array(hashes)
    blocks = len(plan_blocks(len(values), radius)[0])
    ordered = np.sort(values)
    if not np.any(ordered[1:] == ordered[:-1]):  # all distinct: skip the costly np.unique
        index = HashIndex(values, blocks=blocks, bucket_cap=bucket_cap)
        return index.search(values, radius, self_join=True)
    unique, first, inverse, counts = np.unique(
        values, return_index=True, return_inverse=True, return_counts=True
    )
    index = HashIndex(unique, blocks=blocks, bucket_cap=bucket_cap)
    found = index.search(unique, radius, self_join=True)
    return _expand_groups(found, first, inverse, counts, max_group)


def pairs_between(
    left: ArrayLike, right: ArrayLike, radius: int, *, bucket_cap: int | None = None
) -> PairResult:
    """Every (i, j) with ``left[i]`` within ``radius`` bits of ``right[j]``."""
    queries, targets = as_hash_array(left), as_hash_array(right)
    blocks = len(plan_blocks(len(targets), radius)[0])
    index = HashIndex(targets, blocks=blocks, bucket_cap=bucket_cap)
    return index.search(queries, radius)


def _expand_groups(
    found: PairResult,
    first: NDArray[np.int64],
    inverse: NDArray[np.int64],
    counts: NDArray[np.int64],
    max_group: int,
) -> PairResult:
    """Map pairs of distinct values back to entries, and add the pairs inside identical groups."""
    order = np.argsort(inverse, kind="stable")
    group_start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    used = np.where(counts > max_group, 1, counts)
    sizes = used[found.left] * used[found.right]
    pair_of = np.repeat(np.arange(len(found)), sizes)
    local = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    right_used = used[found.right][pair_of]
    left_entries = order[group_start[found.left][pair_of] + local // right_used]
    right_entries = order[group_start[found.right][pair_of] + local % right_used]
    parts = [(left_entries, right_entries, found.distance[pair_of])]
    for size in np.unique(counts[counts > 1]):
        groups = np.flatnonzero(counts == size)
        if size > max_group:
            members = order[group_start[groups][:, None] + np.arange(size)]
            star = np.repeat(members[:, 0], size - 1)
            parts.append((star, members[:, 1:].ravel(), np.zeros(len(star), np.uint8)))
            continue
        i, j = np.triu_indices(int(size), 1)
        members = order[group_start[groups][:, None] + np.arange(size)]
        lefts = members[:, i].ravel()
        parts.append((lefts, members[:, j].ravel(), np.zeros(len(lefts), np.uint8)))
    left = np.concatenate([p[0] for p in parts]).astype(np.int64)
    right = np.concatenate([p[1] for p in parts]).astype(np.int64)
    distance = np.concatenate([p[2] for p in parts]).astype(np.uint8)
    swap = left > right
    left[swap], right[swap] = right[swap], left[swap]
    capped = int(np.count_nonzero(counts > max_group))
    return PairResult(left, right, distance, found.skipped_buckets, capped)


def naive_pairs(hashes: ArrayLike, radius: int) -> PairResult:
    """Reference: compare every pair with a numpy scan per hash (O(n^2); tests and benches)."""
    values = as_hash_array(hashes)
    parts = []
    for i in range(len(values) - 1):
        distance = popcount(values[i + 1 :] ^ values[i])
        close = np.flatnonzero(distance <= radius)
        parts.append((np.full(len(close), i, dtype=np.int64), close + i + 1, distance[close]))
    return _unique_pairs(parts, len(values), 0)
