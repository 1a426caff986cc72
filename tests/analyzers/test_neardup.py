"""Multi-index near-duplicate search agrees with brute force, on random and clustered hashes."""

from __future__ import annotations

import numpy as np
import pytest

from osint.analyzers import neardup
from osint.analyzers.neardup import HashIndex, naive_pairs, near_duplicate_pairs, pairs_between


def clustered_hashes(seed: int, families: int = 150) -> np.ndarray:
    """Families of hashes a few bits apart, plus exact repeats: how real hashes look."""
    rng = np.random.default_rng(seed)
    values: list[int] = []
    for base in rng.integers(0, 2**63, size=families, dtype=np.uint64):
        values.append(int(base))
        for _ in range(int(rng.integers(0, 6))):
            bits = rng.choice(64, size=int(rng.integers(0, 11)), replace=False)
            values.append(int(base) ^ sum(1 << int(bit) for bit in bits))
    values += values[:40]  # exact duplicates
    return np.array(values, dtype=np.uint64)


def as_set(result: neardup.PairResult) -> set[tuple[int, int, int]]:
    return set(
        zip(result.left.tolist(), result.right.tolist(), result.distance.tolist(), strict=True)
    )


@pytest.mark.parametrize("radius", [0, 1, 2, 4, 6, 8, 10, 12])
def test_all_pairs_equal_brute_force(radius: int) -> None:
    values = clustered_hashes(radius)
    found = near_duplicate_pairs(values, radius)
    assert as_set(found) == as_set(naive_pairs(values, radius))
    assert found.skipped_buckets == 0 and len(found) > 0


def test_random_hashes_and_hex_input() -> None:
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2**64 - 1, size=5000, dtype=np.uint64, endpoint=True)
    values[10] = values[20] ^ np.uint64(0b1011)  # plant one pair at distance 3
    as_hex = [format(int(v), "016x") for v in values]
    found = near_duplicate_pairs(as_hex, 3)
    assert as_set(found) == {(10, 20, 3)}


def test_query_matches_a_scan() -> None:
    values = clustered_hashes(3)
    index = HashIndex(values)
    for position in (0, 17, 111):
        for radius in (0, 3, 9):
            found, distances = index.query(int(values[position]), radius)
            scan = np.bitwise_count(values ^ values[position])
            assert sorted(found.tolist()) == np.flatnonzero(scan <= radius).tolist()
            assert (distances == scan[found]).all()


def test_pairs_between_two_sets() -> None:
    left, right = clustered_hashes(5)[:200], clustered_hashes(5)[150:]
    found = pairs_between(left, right, 6)
    expected = {
        (i, j, int(np.bitwise_count(left[i] ^ right[j])))
        for i in range(len(left))
        for j in range(len(right))
        if np.bitwise_count(left[i] ^ right[j]) <= 6
    }
    assert as_set(found) == expected


def test_pathological_bucket_is_capped_and_reported() -> None:
    rng = np.random.default_rng(1)
    # 3,000 distinct hashes sharing their first 22 bits: one bucket holds them all.
    crowd = (np.uint64(0x3FFFFF) << np.uint64(42)) | rng.integers(0, 2**42, 3000, dtype=np.uint64)
    found = near_duplicate_pairs(crowd, 2, bucket_cap=500)
    assert found.skipped_buckets > 0


def test_huge_group_of_identical_hashes_is_a_star() -> None:
    values = np.array([5] * 50 + [4], dtype=np.uint64)
    found = near_duplicate_pairs(values, 1, max_group=10)
    assert found.capped_groups == 1
    pairs = as_set(found)
    assert len([p for p in pairs if p[2] == 0]) == 49  # star, not 50*49/2
    assert (0, 50, 1) in pairs and not any(p[1] == 50 and p[0] > 0 for p in pairs)


def test_plan_prefers_three_blocks_for_a_million() -> None:
    assert neardup.plan_blocks(1_000_000, 8) == ((22, 21, 21), (2, 2, 2))
    assert neardup.plan_blocks(1_000_000, 4) == ((22, 21, 21), (1, 1, 0))
