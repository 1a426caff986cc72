"""Co-share detection with CooRTweet's semantics, vectorised for millions of shares.

A *share* is one post (``content``) by one ``account`` that carries one ``object`` (the
reposted post, a URL, a hashtag, a text ...) at one time. Two shares of the same object by
different accounts whose times differ by at most ``time_window`` seconds are a *co-share pair*.

``detect_groups`` and ``generate_coordinated_network`` reproduce CooRTweet 2.x (Righetti &
Balluff): same pre-filter, same loop removal, same OR in ``filter_min_participation``, same
edge attributes and quantile threshold (R's default quantile type 7 = numpy "linear").
What differs is cost: rows are sorted once by (object, time) and each row is paired only with
the later rows inside its window (a binary search), so work grows with the pairs actually in
the window; aggregation sorts packed 64-bit keys instead of grouping rows.

Objects shared by so many accounts at once that their pairs would not fit in memory (a viral
post) are capped: each of their shares is paired with its nearest later shares only, and a
warning names the object. Nothing here touches a database; see ``osint/analysis``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from osint.analyzers.coordination_network import (
    CoordinationNetwork,
    generate_coordinated_network,
    r_quantile,
)
from osint.analyzers.share_table import CoordinationInputError, InvalidParameterError, ShareTable

__all__ = [
    "DEFAULT_MAX_PAIRS",
    "DEFAULT_MAX_PAIRS_PER_OBJECT",
    "CappedObject",
    "CoSharePairs",
    "CoordinationInputError",
    "CoordinationNetwork",
    "InvalidParameterError",
    "ShareTable",
    "check_parameters",
    "describe_caps",
    "detect_groups",
    "generate_coordinated_network",
    "r_quantile",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PAIRS_PER_OBJECT = 2_000_000
DEFAULT_MAX_PAIRS = 60_000_000
_MAX_NAMED_WARNINGS = 5


@dataclass(frozen=True)
class CoSharePairs:
    """CooRTweet's ``detect_groups`` table, held as positions into the sorted share rows.

    ``order`` lists share rows sorted by (modality, object, time); each pair is two positions
    in it, the older share first (``position_x``). The pairs of modality ``i`` are
    ``pair_bounds[i]:pair_bounds[i + 1]``. Row ids, accounts and time deltas are derived
    on demand. ``capped`` lists the viral objects whose pairs were capped; ``warnings`` says
    it in words (``describe_caps`` words it with other object names).
    """

    shares: ShareTable
    order: np.ndarray
    position_x: np.ndarray
    position_y: np.ndarray
    pair_bounds: tuple[int, ...]
    time_window: int
    min_participation: int
    capped: tuple[CappedObject, ...] = ()

    @property
    def warnings(self) -> tuple[str, ...]:
        return describe_caps(
            self.capped, lambda code: str(_plain(self.shares.object_labels_of(np.array([code]))[0]))
        )

    def __len__(self) -> int:
        return int(self.position_x.size)

    @cached_property
    def _sorted_accounts(self) -> np.ndarray:
        return _narrow(self.shares.account_code[self.order])

    @cached_property
    def _sorted_contents(self) -> np.ndarray:
        return _narrow(self.shares.content_code[self.order])

    @cached_property
    def _sorted_times(self) -> np.ndarray:
        return self.shares.timestamp[self.order]

    @cached_property
    def row_x(self) -> np.ndarray:
        return self.order[self.position_x]

    @cached_property
    def row_y(self) -> np.ndarray:
        return self.order[self.position_y]

    @property
    def account_x(self) -> np.ndarray:
        return self._sorted_accounts[self.position_x]

    @property
    def account_y(self) -> np.ndarray:
        return self._sorted_accounts[self.position_y]

    @property
    def content_x(self) -> np.ndarray:
        return self._sorted_contents[self.position_x]

    @property
    def content_y(self) -> np.ndarray:
        return self._sorted_contents[self.position_y]

    @cached_property
    def time_delta(self) -> np.ndarray:
        """Seconds between the two shares of each pair (>= 0)."""
        return self._sorted_times[self.position_y] - self._sorted_times[self.position_x]

    @property
    def object_code(self) -> np.ndarray:
        return self.shares.object_code[self.row_x]

    @cached_property
    def modality(self) -> np.ndarray:
        """Index into ``shares.modality_names`` of each pair."""
        counts = np.diff(np.asarray(self.pair_bounds))
        return np.repeat(np.arange(counts.size, dtype=np.int8), counts)

    def for_modality(self, name: str) -> CoSharePairs:
        """The pairs of one modality (a slice: pairs are stored modality by modality)."""
        if name not in self.shares.modality_names:
            known = ", ".join(self.shares.modality_names)
            raise InvalidParameterError(f"unknown modality {name!r}; this table has: {known}")
        index = self.shares.modality_names.index(name)
        start, stop = self.pair_bounds[index], self.pair_bounds[index + 1]
        bounds = tuple(min(max(b, start), stop) - start for b in self.pair_bounds)
        return CoSharePairs(
            self.shares,
            self.order,
            self.position_x[start:stop],
            self.position_y[start:stop],
            bounds,
            self.time_window,
            self.min_participation,
            self.capped,
        )

    def iter_records(self) -> Iterator[dict[str, object]]:
        """One dict per pair with CooRTweet's columns, ids as they were given."""
        table = self.shares
        columns = {
            "object_id": table.object_labels_of(table.object_code[self.row_x]),
            "account_id": table.account_labels_of(table.account_code[self.row_x]),
            "account_id_y": table.account_labels_of(table.account_code[self.row_y]),
            "content_id": table.content_labels_of(table.content_code[self.row_x]),
            "content_id_y": table.content_labels_of(table.content_code[self.row_y]),
            "time_delta": self.time_delta,
        }
        names = np.array(table.modality_names, dtype=object)[self.modality]
        for index in range(len(self)):
            record = {name: _plain(values[index]) for name, values in columns.items()}
            record["modality"] = names[index]
            yield record


def _narrow(codes: np.ndarray) -> np.ndarray:
    """int32 when the values fit: halves memory traffic on the pair-sized arrays."""
    if codes.size and int(codes.max()) < 2**31 and int(codes.min()) >= -(2**31):
        return codes.astype(np.int32)
    return codes


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def check_parameters(time_window: float, min_participation: int, edge_weight: float = 0.5) -> None:
    """Raise ``InvalidParameterError`` for a window, participation or quantile out of range."""
    if time_window is None or not math.isfinite(time_window) or time_window < 0:
        raise InvalidParameterError(
            f"time window must be a number of seconds >= 0, got {time_window!r} "
            "(CooRTweet's default is 10; 60 is common for retweets)"
        )
    if int(min_participation) != min_participation or min_participation < 1:
        raise InvalidParameterError(
            f"min_participation must be a whole number >= 1, got {min_participation!r} (default 2)"
        )
    if edge_weight is None or not 0.0 <= edge_weight <= 1.0:  # NaN fails too
        raise InvalidParameterError(
            f"edge_weight is a quantile and must be between 0 and 1, got {edge_weight!r} "
            "(0.5 keeps edges heavier than the median, 0.99 only the top 1%)"
        )


def _rows_of_active_accounts(accounts: np.ndarray, rows: np.ndarray, minimum: int) -> np.ndarray:
    """CooRTweet's pre-filter: keep rows of accounts with at least ``minimum`` rows."""
    if minimum <= 1:
        return rows
    counts = np.bincount(accounts[rows])
    return rows[counts[accounts[rows]] >= minimum]


def _first_row_of_account(accounts: np.ndarray, rows: np.ndarray) -> np.ndarray:
    first = np.full(int(accounts.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, accounts[rows], rows)
    return first


def _sorted_by_key(rows: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` and ``keys`` (>= 0) ordered by key, ties in any order. Key and position packed
    in one uint64 sort in place (SIMD, several times faster than argsort) when they fit."""
    position_bits = max(1, (rows.size - 1).bit_length())
    if int(keys.max(initial=0)).bit_length() + position_bits > 64:
        order = np.argsort(keys)
        return rows[order], keys[order]
    packed = keys.astype(np.uint64)
    packed <<= np.uint64(position_bits)
    packed |= np.arange(rows.size, dtype=np.uint64)
    packed.sort()
    order = (packed & np.uint64((1 << position_bits) - 1)).astype(np.int64)
    packed >>= np.uint64(position_bits)
    return rows[order], packed.view(np.int64)


def _sort_by_object_time(
    table: ShareTable, rows: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ordered by (object, time), ties in CooRTweet's group order; and the packed keys.

    The key is ``object * stride + (t - t_min)`` with ``stride > span + window``, so one
    binary search per row finds the end of its window without crossing into the next object.
    """
    times = table.timestamp[rows]
    t_min = int(times.min())
    stride = int(times.max()) - t_min + window + 1
    if (int(table.object_code[rows].max()) + 1) * stride >= 2**62:
        raise CoordinationInputError(
            f"timestamps span {stride - window - 1} s across {table.n_objects} objects, too wide "
            "to index: give times in epoch seconds (not milliseconds) or split the data by period"
        )
    keys = table.object_code[rows] * stride + (times - t_min)
    sorted_rows, sorted_keys = _sorted_by_key(rows, keys)
    ties = sorted_keys[1:] == sorted_keys[:-1]
    if ties.any():
        # Equal (object, time): CooRTweet pairs them in the order of its account-grouped table
        # (accounts by first appearance, then input order); the older-first swap keeps it.
        in_run = np.zeros(sorted_rows.size, dtype=bool)
        in_run[1:] |= ties
        in_run[:-1] |= ties
        positions = np.flatnonzero(in_run)
        run_rows = sorted_rows[positions]
        first = _first_row_of_account(table.account_code, rows)
        tie_order = np.lexsort(
            (run_rows, first[table.account_code[run_rows]], sorted_keys[positions])
        )
        sorted_rows[positions] = run_rows[tie_order]
    return sorted_rows, sorted_keys


def _cap_level(pairs_per_object: np.ndarray, per_object: int, total: int) -> float:
    """Largest pairs-per-object level C <= per_object with sum(min(p, C)) <= total."""
    if pairs_per_object.sum() <= total and pairs_per_object.max(initial=0) <= per_object:
        return math.inf
    descending = np.sort(pairs_per_object[pairs_per_object > 0])[::-1].astype(np.float64)
    tail = descending.sum() - np.cumsum(descending)  # pairs of objects below the k capped ones
    capped_count = np.arange(1, descending.size + 1)
    levels = (total - tail) / capped_count
    next_value = np.append(descending[1:], 0.0)
    feasible = np.flatnonzero(levels >= next_value)
    level = levels[feasible[0]] if feasible.size else total / descending.size
    return float(min(max(level, 1.0), per_object))


@dataclass(frozen=True)
class CappedObject:
    """A viral object whose shares were each paired with their nearest later shares only."""

    object_code: int
    shares: int
    pairs_in_window: int
    kept_per_share: int


def describe_caps(capped: Sequence[CappedObject], name_of: Callable[[int], str]) -> tuple[str, ...]:
    """One warning per capped object (the worst first, at most five), naming it with ``name_of``."""
    worst = sorted(capped, key=lambda c: -c.pairs_in_window)
    messages = [
        f"object {name_of(c.object_code)}: {c.shares:,} shares would make {c.pairs_in_window:,} pairs "
        f"within the window; kept each share's {c.kept_per_share:,} nearest later shares "
        "(raise max_pairs_per_object / max_pairs to keep more)"
        for c in worst[:_MAX_NAMED_WARNINGS]
    ]
    if len(worst) > _MAX_NAMED_WARNINGS:
        messages.append(f"... and {len(worst) - _MAX_NAMED_WARNINGS:,} more viral objects capped")
    return tuple(messages)


def _cap_viral_objects(
    table: ShareTable, sorted_rows: np.ndarray, partners: np.ndarray, per_object: int, total: int
) -> tuple[np.ndarray, list[CappedObject]]:
    objects = table.object_code[sorted_rows]
    pairs_per_object = np.bincount(objects, weights=partners)
    level = _cap_level(pairs_per_object, per_object, total)
    if math.isinf(level):
        return partners, []
    shares_per_object = np.bincount(objects)
    capped = np.flatnonzero(pairs_per_object > level)
    per_row_cap = np.full(pairs_per_object.size, np.iinfo(np.int64).max, dtype=np.int64)
    per_row_cap[capped] = np.maximum(1, (level // shares_per_object[capped]).astype(np.int64))
    caps = [
        CappedObject(
            int(c), int(shares_per_object[c]), int(pairs_per_object[c]), int(per_row_cap[c])
        )
        for c in capped.tolist()
    ]
    logger.warning("%d viral object(s) capped: %s", len(caps), "; ".join(describe_caps(caps, str)))
    return np.minimum(partners, per_row_cap[objects]), caps


def _expand_pairs(partners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions (x, y) of every pair: row x with each of its ``partners[x]`` successors."""
    count = int(partners.sum())
    index_type = np.int32 if max(count, partners.size) < 2**31 else np.int64
    position_x = np.repeat(np.arange(partners.size, dtype=index_type), partners)
    # y = x + 1 + rank within x's run = pair index - (start of x's run - x - 1)
    run_shift = np.cumsum(partners) - partners - np.arange(partners.size) - 1
    position_y: np.ndarray = np.arange(count, dtype=index_type)
    np.subtract(position_y, np.repeat(run_shift.astype(index_type), partners), out=position_y)
    return position_x, position_y


def _participation_mask(
    contents: np.ndarray,
    accounts: np.ndarray,
    content_x: np.ndarray,
    content_y: np.ndarray,
    minimum: int,
    n_contents: int,
) -> np.ndarray:
    """CooRTweet's ``filter_min_participation``, an OR over the two posts of each pair.

    ``contents``/``accounts`` are the pre-filtered rows. Among those rows whose post appears
    in some pair, count each account's rows; keep a pair when either of its posts belongs to
    an account with >= ``minimum`` such rows.
    """
    in_some_pair = np.zeros(n_contents, dtype=bool)
    in_some_pair[content_x] = True
    in_some_pair[content_y] = True
    paired = np.flatnonzero(in_some_pair[contents])
    counts = np.bincount(accounts[paired])
    qualifying = np.zeros(n_contents, dtype=bool)
    qualifying[contents[paired[counts[accounts[paired]] >= minimum]]] = True
    return qualifying[content_x] | qualifying[content_y]


def _detect_in_rows(
    table: ShareTable,
    rows: np.ndarray,
    window: int,
    min_participation: int,
    remove_loops: bool,
    per_object: int,
    total: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[CappedObject]]:
    """Sorted rows of one modality and the (x, y) positions of its pairs in them."""
    active = _rows_of_active_accounts(table.account_code, rows, min_participation)
    if active.size < 2:
        empty = np.empty(0, dtype=np.int32)
        return active, empty, empty, []
    sorted_rows, keys = _sort_by_object_time(table, active, window)
    ends = np.searchsorted(keys, keys + window, side="right")
    partners = ends - np.arange(1, keys.size + 1)
    del ends, keys
    partners, capped = _cap_viral_objects(table, sorted_rows, partners, per_object, total)
    position_x, position_y = _expand_pairs(partners)
    del partners
    # Gathered once in sorted order, then read near-sequentially for every pair.
    accounts = _narrow(table.account_code[sorted_rows])
    contents = _narrow(table.content_code[sorted_rows])
    content_x, content_y = contents[position_x], contents[position_y]
    if remove_loops:
        keep = accounts[position_x] != accounts[position_y]
        keep &= content_x != content_y
        if table.self_share is not None:
            self_share = table.self_share[sorted_rows]
            keep &= ~(self_share[position_x] | self_share[position_y])
        position_x, position_y = position_x[keep], position_y[keep]
        content_x, content_y = content_x[keep], content_y[keep]
    # At 1 the filter keeps every pair (each post is in a pair and is its account's own row).
    if min_participation > 1 and position_x.size:
        keep = _participation_mask(
            contents, accounts, content_x, content_y, min_participation, table.n_contents
        )
        position_x, position_y = position_x[keep], position_y[keep]
    return sorted_rows, position_x, position_y, capped


def detect_groups(
    shares: ShareTable,
    time_window: float = 10,
    min_participation: int = 2,
    *,
    remove_loops: bool = True,
    by_modality: bool = True,
    max_pairs_per_object: int = DEFAULT_MAX_PAIRS_PER_OBJECT,
    max_pairs: int = DEFAULT_MAX_PAIRS,
) -> CoSharePairs:
    """Co-share pairs of ``shares``, as CooRTweet's ``detect_groups(time_window, min_participation)``.

    Steps: drop accounts with fewer than ``min_participation`` rows; pair every two shares of
    the same object at most ``time_window`` seconds apart; unless ``remove_loops`` is False,
    drop pairs of one account, of one post, or where a post is the object itself; then keep a
    pair when either post belongs to an account with ``min_participation`` rows among the
    paired posts. With ``by_modality`` (CooRTweet, run once per modality) rows are counted
    within each modality; without it across all of them, so an account that shares one URL
    and one hashtag has two shares. ``max_pairs_per_object`` and ``max_pairs`` bound memory
    for viral objects.
    """
    check_parameters(time_window, min_participation)
    if len(shares) == 0:
        raise CoordinationInputError(
            "no shares to analyse: import or collect posts into the case first"
        )
    window = math.floor(time_window)
    index_type = np.int32 if len(shares) < 2**31 else np.int64
    parts = shares.rows_by_modality() if by_modality else [np.arange(len(shares), dtype=index_type)]
    orders, xs, ys, capped, offset = [], [], [], [], 0
    kinds: list[np.ndarray] = []  # modality code of each part's pairs
    for rows in parts:
        sorted_rows, position_x, position_y, notes = _detect_in_rows(
            shares,
            rows,
            window,
            int(min_participation),
            remove_loops,
            max_pairs_per_object,
            max_pairs,
        )
        orders.append(sorted_rows.astype(index_type, copy=False))
        xs.append((position_x + offset).astype(index_type, copy=False))
        ys.append((position_y + offset).astype(index_type, copy=False))
        offset += sorted_rows.size
        capped.extend(notes)
        if by_modality or shares.modality_code is None:  # one modality per part
            kinds.append(np.full(position_x.size, len(kinds), dtype=np.int8))
        else:
            kinds.append(shares.modality_code[sorted_rows[position_x]])
    order, position_x, position_y = _concat(orders), _concat(xs), _concat(ys)
    modality = _concat(kinds)
    if not by_modality and position_x.size and modality.min() != modality.max():
        regroup = np.argsort(modality, kind="stable")  # pairs are kept modality by modality
        position_x, position_y, modality = (
            position_x[regroup],
            position_y[regroup],
            modality[regroup],
        )
    counts = np.bincount(modality, minlength=len(shares.modality_names))
    pair_bounds = tuple(int(b) for b in np.concatenate(([0], np.cumsum(counts))))
    return CoSharePairs(
        shares,
        order,
        position_x,
        position_y,
        pair_bounds,
        window,
        int(min_participation),
        tuple(capped),
    )


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
