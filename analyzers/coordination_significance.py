"""How unlikely a group's co-sharing is by chance, under a null that keeps what is organic.

The null model keeps each object's popularity and time profile and each account's choice of
objects: under it, the accounts that shared an object hold its share times in a random order
(a permutation of times within the object). Two sharers of an object then fall within the
window ``W`` of each other with probability ``q``, the share of the object's pairs of shares
that are within ``W``. Fans of a source and sharers of a viral post or a breaking-news link
are within ``W`` of each other about as often as ``q`` says: chance. A coordinated group is
within ``W`` of each other far more often, object after object.

For a candidate group, ``q`` of an object is measured on the shares of accounts *outside* the
group (the group must not explain itself); an object shared by few outsiders (the group's own
content) leans on a prior: ``q`` of all its shares, but at most ``prior_cap``, as no organic
object has every pair of its sharers within the window.

Each member's evidence: over the K objects it shares with other members, the fraction of
those members within ``W`` of it (``f``, in [0, 1]) against ``q``. The Chernoff bound for
independent [0, 1] variables, ``P(sum f >= F) <= exp(-K * KL(F/K || Q/K))``, needs no
independence between the members of one object. Members above ``alpha`` over the number of
accounts tested (Bonferroni) are dropped and the rest tested again, until stable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from osint.analyzers.share_table import CoordinationInputError, ShareTable


@dataclass(frozen=True)
class ObjectProfile:
    """Every share sorted by (object, time), with each object's count of within-window pairs."""

    window: int
    keys: np.ndarray  # object * stride + (time - t_min), sorted
    stride: int
    t_min: int
    shares: np.ndarray  # shares per object code
    close_pairs: np.ndarray  # pairs of shares within the window, per object code

    @property
    def q_all(self) -> np.ndarray:
        """Share of each object's pairs of shares that fall within the window (1 below 2)."""
        possible = self.shares * (self.shares - 1) / 2.0
        return np.where(possible > 0, self.close_pairs / np.maximum(possible, 1.0), 1.0)

    def key_of(self, objects: np.ndarray, times: np.ndarray) -> np.ndarray:
        return objects.astype(np.int64) * self.stride + (times - self.t_min)

    def near_counts(self, objects: np.ndarray, times: np.ndarray) -> np.ndarray:
        """How many shares of each given object lie within the window of the given time
        (the share itself included when it is one of them)."""
        keys = self.key_of(objects, times)
        high = np.searchsorted(self.keys, keys + self.window, side="right")
        low = np.searchsorted(self.keys, keys - self.window, side="left")
        return high - low


def object_profile(table: ShareTable, window: int) -> ObjectProfile:
    """One sort of every share by (object, time) and a binary search per share."""
    times = table.timestamp
    t_min = int(times.min())
    stride = int(times.max()) - t_min + 2 * window + 1
    if (table.n_objects + 1) * stride >= 2**62:
        raise CoordinationInputError(
            f"timestamps span {stride} s across {table.n_objects} objects, too wide to index: "
            "give times in epoch seconds (not milliseconds) or split the data by period"
        )
    keys = table.object_code.astype(np.int64) * stride + (times - t_min)
    keys.sort()
    ends = np.searchsorted(keys, keys + window, side="right")
    partners = ends - np.arange(1, keys.size + 1)
    objects = keys // stride
    shares = np.bincount(objects, minlength=table.n_objects)
    close = np.bincount(objects, weights=partners, minlength=table.n_objects)
    return ObjectProfile(window, keys, stride, t_min, shares, close)


@dataclass(frozen=True)
class SignificanceSettings:
    """The null model's prior and the bar a member must pass."""

    alpha: float = 0.01  # family-wise error rate over the accounts tested
    prior_cap: float = 0.15  # the most a prior allows of an object's pairs within the window
    prior_weight: float = 3.0  # outside shares that count as much as the prior
    min_group_size: int = 3
    max_rounds: int = 8
    # A member must be within the window of the others at least this fraction as often as
    # the group's median member: an organic account quick to re-share a source's posts is
    # near the source's amplifiers, but not at their pace.
    homogeneity: float = 0.0

    def __post_init__(self) -> None:
        from osint.analyzers.share_table import InvalidParameterError

        if not 0.0 < self.alpha < 1.0:
            raise InvalidParameterError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if not 0.0 < self.prior_cap <= 1.0:
            raise InvalidParameterError(f"prior_cap must be in (0, 1], got {self.prior_cap!r}")
        if self.min_group_size < 2:
            raise InvalidParameterError("min_group_size must be >= 2")


@dataclass(frozen=True)
class MemberEvidence:
    """Per tested account (codes ascending): its group, what it did and how unlikely that is."""

    account: np.ndarray
    group: np.ndarray  # group id, -1 when dropped
    objects: np.ndarray  # K: objects shared with at least one other member
    close_share: np.ndarray  # F / K: mean share of those members within the window
    expected_share: np.ndarray  # Q / K under the null
    p_value: np.ndarray
    threshold: float  # the Bonferroni bar the p-values were held to
    n_tested: int = 0  # accounts the bar was divided among


def kl_tail(observed: np.ndarray, expected: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Chernoff bound ``exp(-K * KL(observed || expected))`` on the upper tail of a mean of K
    independent [0, 1] variables whose means average ``expected``; 1 when not above."""
    p = np.clip(observed, 1e-12, 1 - 1e-12)
    q = np.clip(expected, 1e-12, 1 - 1e-12)
    kl = p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))
    bound = np.exp(-trials * np.maximum(kl, 0.0))
    return np.where(observed > expected, bound, 1.0)


@dataclass(frozen=True)
class _MemberRows:
    """Candidate shares (one per account and object), sorted by (group, object, time)."""

    account: np.ndarray
    group: np.ndarray
    object: np.ndarray
    time: np.ndarray
    core: np.ndarray  # the row's account is a current member (not only a candidate)
    slot: np.ndarray  # index of the (group, object) the row belongs to
    slot_start: np.ndarray  # first row of each slot


def _member_rows(table: ShareTable, membership: np.ndarray, core: np.ndarray) -> _MemberRows:
    rows = np.flatnonzero(membership[table.account_code] >= 0)
    accounts = table.account_code[rows]
    groups = membership[accounts]
    objects = table.object_code[rows]
    times = table.timestamp[rows]
    order = np.lexsort((times, accounts, objects, groups))
    accounts, groups, objects, times = (c[order] for c in (accounts, groups, objects, times))
    first = np.ones(accounts.size, dtype=bool)  # an account's first share of an object
    first[1:] = (
        (accounts[1:] != accounts[:-1])
        | (objects[1:] != objects[:-1])
        | (groups[1:] != groups[:-1])
    )
    accounts, groups, objects, times = (c[first] for c in (accounts, groups, objects, times))
    order = np.lexsort((times, objects, groups))
    accounts, groups, objects, times = (c[order] for c in (accounts, groups, objects, times))
    new_slot = np.ones(accounts.size, dtype=bool)
    new_slot[1:] = (groups[1:] != groups[:-1]) | (objects[1:] != objects[:-1])
    slot = np.cumsum(new_slot) - 1
    return _MemberRows(
        accounts, groups, objects, times, core[accounts], slot, np.flatnonzero(new_slot)
    )


def _slot_null(
    profile: ObjectProfile,
    rows: _MemberRows,
    close_core: np.ndarray,
    settings: SignificanceSettings,
) -> np.ndarray:
    """``q`` of each (group, object) slot: the outsiders' share of close pairs, leaning on the
    capped prior when few outsiders shared the object. Outsiders are all but the core."""
    n_slots = rows.slot_start.size
    core = rows.core
    members = np.bincount(rows.slot[core], minlength=n_slots).astype(np.float64)
    objects = rows.object[rows.slot_start]
    near_all = profile.near_counts(rows.object[core], rows.time[core]) - 1
    touching = np.bincount(rows.slot[core], weights=near_all, minlength=n_slots)  # 2 C_mm + C_mo
    member_pairs = np.bincount(rows.slot[core], weights=close_core[core], minlength=n_slots) / 2
    outside = np.maximum(profile.shares[objects] - members, 0.0)
    close_outside = np.maximum(profile.close_pairs[objects] - touching + member_pairs, 0.0)
    possible = outside * (outside - 1) / 2.0
    q_outside = np.where(possible > 0, close_outside / np.maximum(possible, 1.0), 0.0)
    prior = np.minimum(profile.q_all[objects], settings.prior_cap)
    weight = settings.prior_weight
    return (outside * q_outside + weight * prior) / (outside + weight)


def _close_core(rows: _MemberRows, window: int, stride: int, t_min: int) -> np.ndarray:
    """For each row, the core rows of other accounts of its slot within the window."""
    keys = rows.slot.astype(np.int64) * stride + (rows.time - t_min)
    high = np.searchsorted(keys, keys + window, side="right")
    low = np.searchsorted(keys, keys - window, side="left")
    cumulative = np.concatenate(([0], np.cumsum(rows.core)))
    return (cumulative[high] - cumulative[low] - rows.core).astype(np.float64)


def _round(
    table: ShareTable,
    profile: ObjectProfile,
    membership: np.ndarray,
    core: np.ndarray,
    settings: SignificanceSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every candidate against the core of its group: (accounts, K, F/K, Q/K)."""
    tested = np.flatnonzero(membership >= 0)
    rows = _member_rows(table, membership, core)
    if rows.account.size == 0:
        zeros = np.zeros(tested.size)
        return tested, zeros, zeros, zeros
    close = _close_core(rows, profile.window, profile.stride, profile.t_min)
    core_count = np.bincount(rows.slot[rows.core], minlength=rows.slot_start.size)
    others = core_count[rows.slot] - rows.core
    q = _slot_null(profile, rows, close, settings)
    shared = others > 0
    f = np.where(shared, close / np.maximum(others, 1), 0.0)
    n_accounts = membership.size
    k = np.bincount(rows.account[shared], minlength=n_accounts)
    big_f = np.bincount(rows.account[shared], weights=f[shared], minlength=n_accounts)
    big_q = np.bincount(rows.account[shared], weights=q[rows.slot][shared], minlength=n_accounts)
    kk = k[tested].astype(np.float64)
    return tested, kk, big_f[tested] / np.maximum(kk, 1), big_q[tested] / np.maximum(kk, 1)


def _group_median(groups: np.ndarray, values: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """For each entry, the median of ``values`` over the chosen entries of its group."""
    n_groups = int(groups.max()) + 1 if groups.size else 0
    order = np.lexsort((values, groups))
    order = order[chosen[order]]
    sorted_groups = groups[order]
    starts = np.searchsorted(sorted_groups, np.arange(n_groups))
    counts = np.searchsorted(sorted_groups, np.arange(n_groups), side="right") - starts
    median = np.zeros(n_groups)
    has = counts > 0
    low = order[starts[has] + (counts[has] - 1) // 2]
    high = order[starts[has] + counts[has] // 2]
    median[has] = (values[low] + values[high]) / 2
    return median[groups]


def judge_members(
    table: ShareTable,
    profile: ObjectProfile,
    membership: np.ndarray,
    settings: SignificanceSettings | None = None,
    *,
    core: np.ndarray | None = None,
    n_tested: int | None = None,
) -> MemberEvidence:
    """Test every candidate (``membership[code]`` = its group, -1 for none) against the other
    members of its group, keep those that pass, test every candidate again against them, until
    stable: a candidate dropped early comes back when the core it meets is cleaner.
    ``core`` starts from members already known (default: every candidate)."""
    options = settings or SignificanceSettings()
    tested = np.flatnonzero(membership >= 0)
    current = membership >= 0 if core is None else core & (membership >= 0)
    n_tested = max(1, n_tested or tested.size)
    threshold = options.alpha / n_tested
    k = share = expected = np.zeros(tested.size)
    p = np.ones(tested.size)
    for round_number in range(options.max_rounds):
        _, k_now, share_now, expected_now = _round(table, profile, membership, current, options)
        p_now = kl_tail(share_now, expected_now, k_now)
        # An account keeps the figures of the last round in which its group still had a core
        # (an empty core says nothing about it).
        cores = np.bincount(membership[current], minlength=int(membership.max()) + 1)
        met = (cores[membership[tested]] > 0) | (round_number == 0)
        k, share = np.where(met, k_now, k), np.where(met, share_now, share)
        expected, p = np.where(met, expected_now, expected), np.where(met, p_now, p)
        strict = p_now <= threshold
        if options.homogeneity > 0 and strict.any():
            strict &= share_now >= options.homogeneity * _group_median(
                membership[tested], share_now, strict
            )
        passing = np.zeros(membership.size, dtype=bool)
        passing[tested[strict]] = True
        sizes = np.bincount(membership[passing], minlength=int(membership.max()) + 1)
        passing[tested] &= sizes[membership[tested]] >= options.min_group_size
        if np.array_equal(passing, current):
            break
        current = passing
    final = np.where(current[tested], membership[tested], -1)
    return MemberEvidence(tested, final, k, share, expected, p, threshold, n_tested)


@dataclass(frozen=True)
class GroupStats:
    """Per group id: its objects under the null (see ``group_stats``)."""

    objects: np.ndarray  # objects shared by at least two members
    close_objects: np.ndarray  # of them, objects where two members were within the window
    close_pairs: np.ndarray  # pairs of member shares within the window
    expected_pairs: np.ndarray  # what the null gives for those pairs
    close_share: np.ndarray  # mean share of an object's member pairs within the window
    expected_share: np.ndarray
    p_value: np.ndarray  # Chernoff bound over the objects


def group_stats(
    table: ShareTable,
    profile: ObjectProfile,
    membership: np.ndarray,
    settings: SignificanceSettings | None = None,
) -> GroupStats:
    """Every group at once (``membership[code]`` = group id or -1): the group's objects, how
    many pairs of member shares fell within the window, and what chance would give."""
    options = settings or SignificanceSettings()
    n_groups = int(membership.max()) + 1 if membership.size else 0
    rows = _member_rows(table, membership, membership >= 0)
    if rows.account.size == 0 or n_groups == 0:
        zeros = np.zeros(max(n_groups, 0))
        return GroupStats(zeros, zeros, zeros, zeros, zeros, zeros, np.ones(zeros.size))
    keys = rows.slot.astype(np.int64) * profile.stride + (rows.time - profile.t_min)
    later = np.searchsorted(keys, keys + profile.window, side="right")
    close_later = (later - np.arange(1, keys.size + 1)).astype(np.float64)
    close_any = _close_core(rows, profile.window, profile.stride, profile.t_min)
    q = _slot_null(profile, rows, close_any, options)
    n_slots = rows.slot_start.size
    counts = np.bincount(rows.slot, minlength=n_slots).astype(np.float64)
    pairs = counts * (counts - 1) / 2
    close_pairs = np.bincount(rows.slot, weights=close_later, minlength=n_slots)
    used = pairs > 0
    group = rows.group[rows.slot_start]

    def per_group(values: np.ndarray) -> np.ndarray:
        return np.bincount(group[used], weights=values[used], minlength=n_groups)

    objects = per_group(np.ones(n_slots))
    share = per_group(np.where(used, close_pairs / np.maximum(pairs, 1), 0.0))
    expected = per_group(q)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_share = np.where(objects > 0, share / np.maximum(objects, 1), 0.0)
        mean_expected = np.where(objects > 0, expected / np.maximum(objects, 1), 0.0)
    return GroupStats(
        objects=objects,
        close_objects=per_group((close_pairs > 0).astype(np.float64)),
        close_pairs=per_group(close_pairs),
        expected_pairs=per_group(pairs * q),
        close_share=mean_share,
        expected_share=mean_expected,
        p_value=kl_tail(mean_share, mean_expected, objects),
    )
