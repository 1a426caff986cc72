"""Co-share detection: CooRTweet's published results, a brute-force reference, bad input."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import random
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from osint.analyzers import coordination_network
from osint.analyzers.coordination import (
    CoordinationInputError,
    InvalidParameterError,
    ShareTable,
    _sorted_by_key,
    detect_groups,
    generate_coordinated_network,
)
from osint.analyzers.coordination_network import _edge_runs, _repeats, _sorted_values
from osint.analyzers.share_table import InvalidSharesError


@pytest.fixture(scope="module")
def russian(shared_data: Path) -> ShareTable:
    with (shared_data / "russian_coord_tweets.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return ShareTable.from_columns(
        [r["object_id"] for r in rows],
        [r["account_id"] for r in rows],
        [r["content_id"] for r in rows],
        [int(r["timestamp_share"]) for r in rows],
    )


def _weights(network) -> dict[int, int]:
    values, counts = np.unique(network.weight, return_counts=True)
    return dict(zip(values.tolist(), counts.tolist(), strict=True))


def test_reproduces_coortweet_window_60(russian: ShareTable) -> None:
    pairs = detect_groups(russian, time_window=60, min_participation=2)
    network = generate_coordinated_network(pairs, edge_weight=0.5)
    assert len(pairs) == 3791
    assert network.accounts().size == 2110
    assert network.n_edges == 3721
    assert _weights(network) == {1: 3661, 2: 51, 3: 8, 4: 1}
    strong = network.above_threshold()
    assert (strong.accounts().size, strong.n_edges) == (94, 60)


def test_reproduces_coortweet_window_10_min_5_with_and_without_loops(russian: ShareTable) -> None:
    pairs = detect_groups(russian, time_window=10, min_participation=5)
    network = generate_coordinated_network(pairs)
    assert len(pairs) == 22
    assert (network.accounts().size, network.n_edges) == (23, 20)
    with_loops = detect_groups(russian, time_window=10, min_participation=5, remove_loops=False)
    assert len(with_loops) == 60
    assert int((with_loops.account_x == with_loops.account_y).sum()) == 33


def _reference(rows: list[tuple[str, str, str, int]], window: int, minimum: int, loops: bool):
    """CooRTweet's detect_groups written out plainly, all pairs of every object."""
    counts = Counter(account for _, account, _, _ in rows)
    first_seen = {account: index for index, (_, account, _, _) in reversed(list(enumerate(rows)))}
    kept = sorted(
        (row for row in rows if counts[row[1]] >= minimum), key=lambda row: first_seen[row[1]]
    )  # R's table grouped by account, accounts by first appearance, rows in input order
    by_object: dict[str, list[tuple[str, str, str, int]]] = defaultdict(list)
    for row in kept:
        by_object[row[0]].append(row)
    pairs = []
    for obj, group in by_object.items():
        for (_, acc_x, con_x, t_x), (_, acc_y, con_y, t_y) in itertools.combinations(group, 2):
            if abs(t_x - t_y) <= window:
                pairs.append([obj, acc_x, acc_y, con_x, con_y, t_x - t_y])
    if loops:
        pairs = [
            p for p in pairs if p[0] != p[3] and p[0] != p[4] and p[3] != p[4] and p[1] != p[2]
        ]
    if minimum >= 1:
        paired = {p[3] for p in pairs} | {p[4] for p in pairs}
        per_account = Counter(row[1] for row in kept if row[2] in paired)
        good = {row[2] for row in kept if row[2] in paired and per_account[row[1]] >= minimum}
        pairs = [p for p in pairs if p[3] in good or p[4] in good]
    for p in pairs:
        if p[5] > 0:
            p[1], p[2], p[3], p[4] = p[2], p[1], p[4], p[3]
        p[5] = abs(p[5])
    return sorted(tuple(p) for p in pairs)


def _random_rows(seed: int) -> list[tuple[str, str, str, int]]:
    """Posts by 12 accounts with many equal timestamps; some posts carry two objects, some
    rows are duplicated, one post is the object it shares (all of CooRTweet's loop kinds)."""
    rng = random.Random(seed)
    rows = []
    for post in range(90):
        account, when = f"a{rng.randrange(12)}", rng.randrange(60)
        for obj in rng.sample(range(6), rng.choice([1, 1, 2])):
            rows.append((f"o{obj}", account, f"c{post}", when))
    rows += [rows[3], rows[10], ("o2", "a1", "o2", 5), ("o2", "a1", "c999", 6)]
    rng.shuffle(rows)
    return rows


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    ("window", "minimum", "loops"), [(0, 2, True), (5, 1, True), (20, 3, False), (60, 1, True)]
)
def test_matches_brute_force_reference(seed: int, window: int, minimum: int, loops: bool) -> None:
    rows = _random_rows(seed)
    table = ShareTable.from_columns(*zip(*rows, strict=True))
    pairs = detect_groups(table, window, minimum, remove_loops=loops)
    got = sorted(
        (
            r["object_id"],
            r["account_id"],
            r["account_id_y"],
            r["content_id"],
            r["content_id_y"],
            r["time_delta"],
        )
        for r in pairs.iter_records()
    )
    expected = _reference(rows, window, minimum, loops)
    assert got == expected
    assert len(expected) > 0


@pytest.mark.parametrize("seed", range(3))
def test_network_matches_plain_aggregation(seed: int) -> None:
    rows = _random_rows(seed)
    table = ShareTable.from_columns(*zip(*rows, strict=True))
    pairs = detect_groups(table, 30, 2)
    network = generate_coordinated_network(pairs, edge_weight=0.5)
    edges: dict[tuple[str, str], list[tuple[str, str, int]]] = defaultdict(list)
    for r in pairs.iter_records():
        key = tuple(sorted((r["account_id"], r["account_id_y"])))
        edges[key].append((r["content_id"], r["content_id_y"], r["time_delta"]))
    labels_a = table.account_labels_of(network.account_a)
    labels_b = table.account_labels_of(network.account_b)
    got = {}
    for i in range(network.n_edges):
        key = tuple(sorted((labels_a[i], labels_b[i])))
        got[key] = (
            int(network.weight[i]),
            round(float(network.avg_time_delta[i]), 9),
            int(network.n_content_id[i]),
            int(network.n_content_id_y[i]),
        )
    expected = {
        key: (
            len(v),
            round(sum(d for _, _, d in v) / len(v), 9),
            len({c for c, _, _ in v}),
            len({c for _, c, _ in v}),
        )
        for key, v in edges.items()
    }
    assert got == expected
    threshold = float(np.quantile([w for w, *_ in expected.values()], 0.5))
    assert network.threshold == threshold
    assert network.weight_threshold.tolist() == (network.weight > threshold).astype(int).tolist()
    low = np.minimum(network.n_content_id, network.n_content_id_y)
    assert np.allclose(
        network.edge_symmetry_score, low / np.maximum(network.n_content_id, network.n_content_id_y)
    )


def test_edge_sort_fallbacks_agree_with_the_packed_path() -> None:
    rng = np.random.default_rng(3)
    edge_keys = rng.integers(0, 50, 2_000).astype(np.uint64)
    payload = rng.integers(0, 40, 2_000) * 1_000  # 16 bits of values, 40 distinct ones
    results = []
    for bits in (6, 56, 64):  # packed; payload re-ranked to fit (6 bits); lexsort
        runs, repeats = _edge_runs(edge_keys, bits, payload)
        results.append(
            (
                runs,
                repeats,
                _repeats(edge_keys, bits, payload),
                _sorted_values(edge_keys, bits, payload),
            )
        )
    packed = results[0]
    for other in results[1:]:
        assert np.array_equal(packed[0].starts, other[0].starts)
        assert np.array_equal(packed[0].run_edges, other[0].run_edges)
        assert np.array_equal(packed[1], other[1]) and np.array_equal(packed[2], other[2])
        assert np.array_equal(packed[3], other[3])
    assert np.array_equal(packed[0].run_edges, np.unique(edge_keys))
    assert packed[0].lengths.sum() == 2_000
    assert set(packed[3].tolist()) == set(payload.tolist())


def test_modalities_are_detected_separately_and_combined() -> None:
    rows = [
        ("u1", "a", "p1", 0, "url"),
        ("u1", "b", "p2", 5, "url"),
        ("u2", "a", "p3", 100, "url"),
        ("u2", "b", "p4", 101, "url"),
        ("h1", "a", "p1", 0, "hashtag"),
        ("h1", "b", "p2", 5, "hashtag"),
        ("h1", "c", "p5", 7, "hashtag"),
        ("u1", "c", "p6", 3, "url"),
    ]
    table = ShareTable.from_columns(*zip(*rows, strict=True))
    pairs = detect_groups(table, 10, 1)
    assert set(table.modality_names) == {"url", "hashtag"}
    assert len(pairs.for_modality("url")) == 4 and len(pairs.for_modality("hashtag")) == 3
    combined = generate_coordinated_network(pairs)
    labels = {
        tuple(sorted((a, b))): combined.modality_names_of(int(mask))
        for a, b, mask in zip(
            table.account_labels_of(combined.account_a),
            table.account_labels_of(combined.account_b),
            combined.modalities,
            strict=True,
        )
    }
    assert sorted(labels[("a", "b")]) == ["hashtag", "url"]
    assert int(combined.weight[np.flatnonzero(combined.modalities == 3)].max()) == 3
    url_only = generate_coordinated_network(pairs, modality="url")
    assert url_only.weight.sum() == 4
    with pytest.raises(InvalidParameterError, match="unknown modality"):
        pairs.for_modality("image")


def test_participation_counted_per_modality_or_across_them() -> None:
    rows = [
        ("u1", "a", "p1", 0, "url"), ("u1", "c", "p2", 5, "url"), ("u2", "a", "p3", 50, "url"),
        ("h1", "a", "p4", 0, "hashtag"), ("h1", "c", "p5", 3, "hashtag"),
    ]  # fmt: skip
    table = ShareTable.from_columns(*zip(*rows, strict=True))
    per_modality = detect_groups(table, 10, 2)  # c shares once per modality: dropped (CooRTweet)
    across = detect_groups(table, 10, 2, by_modality=False)  # c shares twice in all: kept
    assert len(per_modality) == 0
    assert len(across) == 2
    assert sorted(r["modality"] for r in across.iter_records()) == ["hashtag", "url"]
    assert len(across.for_modality("url")) == 1 and len(across.for_modality("hashtag")) == 1


def test_viral_object_is_capped_with_a_warning_not_out_of_memory() -> None:
    n = 20_000  # one object shared by 20,000 accounts within a minute: 200 million pairs
    rng = np.random.default_rng(0)
    table = ShareTable.from_codes(
        np.zeros(n + 4, dtype=np.int64),
        np.concatenate([np.arange(n), [0, 1, 0, 1]]),
        np.arange(n + 4),
        np.concatenate([rng.integers(0, 60, n), [500, 501, 900, 901]]),
    )
    pairs = detect_groups(table, 60, 1, max_pairs_per_object=50_000)
    assert 0 < len(pairs) <= 50_000 + n
    assert (
        pairs.warnings and "20,004 shares" in pairs.warnings[0] and "nearest" in pairs.warnings[0]
    )
    assert int(pairs.time_delta.max()) <= 60


def test_total_pair_budget_is_shared_between_objects() -> None:
    objects = np.repeat(np.arange(5), 2_000)
    table = ShareTable.from_codes(
        objects, np.arange(objects.size), np.arange(objects.size), np.zeros(objects.size)
    )
    pairs = detect_groups(table, 10, 1, max_pairs=100_000)
    assert len(pairs) <= 100_000 + objects.size
    assert len(pairs) > 50_000
    per_object = np.bincount(pairs.object_code, minlength=5)
    assert per_object.min() > 0.8 * per_object.max()


def test_bad_input_gives_actionable_errors() -> None:
    with pytest.raises(InvalidSharesError, match=r"row\(s\) 2.*Unix seconds or ISO-8601"):
        ShareTable.from_columns(["o", "o"], ["a", "b"], ["c1", "c2"], [10, "yesterday"])
    with pytest.raises(InvalidSharesError, match="missing or unreadable timestamp"):
        ShareTable.from_columns(["o", "o"], ["a", "b"], ["c1", "c2"], [10.0, float("nan")])
    with pytest.raises(InvalidSharesError, match="missing account_id"):
        ShareTable.from_columns(["o", "o"], ["a", ""], ["c1", "c2"], [1, 2])
    table = ShareTable.from_columns(["o", "o"], ["a", "b"], ["c1", "c2"], [1, 2])
    with pytest.raises(InvalidParameterError, match="time window must be"):
        detect_groups(table, -5)
    with pytest.raises(InvalidParameterError, match="min_participation"):
        detect_groups(table, 5, -1)
    with pytest.raises(InvalidParameterError, match="edge_weight"):
        generate_coordinated_network(detect_groups(table, 5, 1), edge_weight=1.5)
    with pytest.raises(CoordinationInputError, match="no shares"):
        detect_groups(ShareTable.from_columns([], [], [], []), 10)
    assert issubclass(InvalidSharesError, ValueError)


def test_iso_and_datetime_timestamps_are_read_as_utc_seconds() -> None:
    table = ShareTable.from_columns(
        ["o", "o", "o"],
        ["a", "b", "c"],
        ["1", "2", "3"],
        ["2022-04-21T09:30:00Z", "2022-04-21T09:30:40+00:00", np.datetime64("2022-04-21T09:31:00")],
    )
    assert table.timestamp.tolist() == [1650533400, 1650533440, 1650533460]
    pairs = detect_groups(table, 60, 1)
    assert sorted(pairs.time_delta.tolist()) == [20, 40, 60]


def test_no_pairs_gives_an_empty_network() -> None:
    table = ShareTable.from_columns(["o", "p"], ["a", "b"], ["1", "2"], [0, 0])
    network = generate_coordinated_network(detect_groups(table, 10, 1))
    assert network.n_edges == 0 and network.accounts().size == 0


def _network_columns(table: ShareTable, network) -> dict[str, list]:
    columns = ("weight", "avg_time_delta", "n_content_id", "n_content_id_y", "modalities")
    return {
        "account_a": table.account_labels_of(network.account_a).tolist(),
        "account_b": table.account_labels_of(network.account_b).tolist(),
        **{name: getattr(network, name).tolist() for name in columns},
    }


@pytest.mark.parametrize("seed", range(3))
def test_network_shortcuts_agree_with_the_general_paths(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Times read per post (each post has one) or per pair; account codes as they are or
    ranked (more than a million accounts): the same network."""
    table = ShareTable.from_columns(*zip(*_random_rows(seed), strict=True))
    assert coordination_network._time_of_content(table) is not None
    shortcut = _network_columns(table, generate_coordinated_network(detect_groups(table, 30, 1)))
    assert len(shortcut["weight"]) > 10
    spread = table.account_code * 150_000 + 1  # 12 accounts among 2**21 codes
    labels = np.empty(2**21, dtype=object)
    labels[spread] = table.account_labels_of(table.account_code)
    wide = dataclasses.replace(table, account_code=spread, account_labels=labels)
    assert _network_columns(wide, generate_coordinated_network(detect_groups(wide, 30, 1))) == (
        shortcut
    )
    monkeypatch.setattr(coordination_network, "_time_of_content", lambda shares: None)
    general = _network_columns(table, generate_coordinated_network(detect_groups(table, 30, 1)))
    assert general == shortcut


def test_posts_with_two_times_get_each_pairs_own_delta() -> None:
    rows = [*_random_rows(0), ("o1", "a3", "c5", 59), ("o4", "a7", "c8", 2)]
    table = ShareTable.from_columns(*zip(*rows, strict=True))
    assert coordination_network._time_of_content(table) is None
    pairs = detect_groups(table, 30, 1)
    network = generate_coordinated_network(pairs)
    deltas: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in pairs.iter_records():
        deltas[tuple(sorted((r["account_id"], r["account_id_y"])))].append(r["time_delta"])
    labels_a = table.account_labels_of(network.account_a).tolist()
    labels_b = table.account_labels_of(network.account_b).tolist()
    got = {
        tuple(sorted((a, b))): delta
        for a, b, delta in zip(labels_a, labels_b, network.avg_time_delta.tolist(), strict=True)
    }
    assert got == pytest.approx({key: sum(v) / len(v) for key, v in deltas.items()})


@pytest.mark.parametrize("shift", [0, 54])  # packed with positions in one uint64; argsort
def test_rows_sorted_by_key(shift: int) -> None:
    rng = np.random.default_rng(4)
    rows = rng.permutation(1_000)
    keys = rng.integers(0, 300, rows.size) << shift  # many ties
    sorted_rows, sorted_keys = _sorted_by_key(rows, keys)
    assert np.array_equal(sorted_keys, np.sort(keys))
    key_of_row = dict(zip(rows.tolist(), keys.tolist(), strict=True))
    assert sorted(sorted_rows.tolist()) == sorted(rows.tolist())
    assert [key_of_row[r] for r in sorted_rows.tolist()] == sorted_keys.tolist()
