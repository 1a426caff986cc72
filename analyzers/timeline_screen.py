"""The timeline signals of every account at once, in numpy, to find the few worth a closer look.

``analyzers.timeline`` scores one account at a time (a few hundred microseconds each: 50,000
accounts took most of a minute). Here each per-account score is computed for all accounts
together from posts sorted by (account, time), with group sums instead of loops; only the
accounts whose screened score comes within ``MARGIN`` of the bar are handed to the exact
per-account functions, which write the findings. The screen computes the same formulas, so
it can only differ from them by rounding: the margin covers that.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from osint.analyzers.findings import FindingDraft
from osint.analyzers.places import claimed_offset
from osint.analyzers.timeline import (
    _FITS,
    DAY,
    FLAG_SCORE,
    HOUR,
    MIN_POSTS_FOR_RHYTHM,
    TEMPLATES,
    AccountProfile,
    AccountTimeline,
    _fit_matrix,
    _log_template_cached,
    account_signals,
    creation_burst_signal,
    signal_finding,
)

MARGIN = 0.05


@dataclass(frozen=True)
class PostsByAccount:
    """Posts sorted by (account, time): ``starts[i]:starts[i + 1]`` are account ``i``'s."""

    accounts: np.ndarray  # account id of each account index
    post_ids: np.ndarray
    times: np.ndarray
    starts: np.ndarray

    @classmethod
    def build(
        cls, account_ids: np.ndarray, post_ids: np.ndarray, times: np.ndarray
    ) -> PostsByAccount:
        account_ids = np.asarray(account_ids, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        accounts, codes = np.unique(account_ids, return_inverse=True)
        if times.size == 0:
            return cls(accounts, np.asarray(post_ids), times, np.zeros(1, dtype=np.int64))
        span = int(times.max()) - int(times.min()) + 1
        if accounts.size * span < 2**62:  # one sort of packed (account, time) keys
            order = np.argsort(codes.astype(np.int64) * span + (times - times.min()), kind="stable")
        else:
            order = np.lexsort((times, codes))
        counts = np.bincount(codes, minlength=accounts.size)
        starts = np.concatenate(([0], np.cumsum(counts)))
        return cls(accounts, np.asarray(post_ids)[order], times[order], starts)

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.starts)

    @functools.cached_property
    def index(self) -> np.ndarray:
        """Account index of each post."""
        return np.repeat(np.arange(self.accounts.size), self.counts)

    def timeline(self, i: int, profile: AccountProfile) -> AccountTimeline:
        part = slice(self.starts[i], self.starts[i + 1])
        return AccountTimeline(profile, self.post_ids[part], self.times[part])


def _clip(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0.0, 1.0)


def _regularity(posts: PostsByAccount) -> np.ndarray:
    counts, index, times = posts.counts, posts.index, posts.times
    gaps = np.diff(times).astype(np.float64)
    inside = index[1:] == index[:-1]
    n_gaps = np.maximum(counts - 1, 1)
    mean = np.bincount(index[1:][inside], weights=gaps[inside], minlength=counts.size) / n_gaps
    square = np.bincount(index[1:][inside], weights=gaps[inside] ** 2, minlength=counts.size)
    spread = np.sqrt(np.maximum(square / n_gaps - mean**2, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        burstiness = np.where(spread + mean > 0, (spread - mean) / (spread + mean), 0.0)
    seconds = np.bincount(index * 60 + times % 60, minlength=counts.size * 60).reshape(-1, 60)
    fixed = seconds.max(axis=1) / np.maximum(counts, 1)
    score = np.maximum(_clip((fixed - 0.2) / 0.5), _clip((-burstiness - 0.5) / 0.4))
    return np.where(counts >= 10, score * np.minimum(1.0, counts / 20), 0.0)


def _burst(posts: PostsByAccount) -> np.ndarray:
    counts = posts.counts
    if posts.times.size == 0:
        return np.zeros(counts.size)
    days = posts.times // DAY
    span = int(days.max() - days.min()) + 1
    key = posts.index.astype(np.int64) * span + (days - days.min())
    new = np.concatenate(([True], key[1:] != key[:-1]))
    run_starts = np.flatnonzero(new)
    per_day = np.diff(np.append(run_starts, key.size))
    owner = posts.index[run_starts]
    active_days = np.bincount(owner, minlength=counts.size)
    peak = np.zeros(counts.size)
    np.maximum.at(peak, owner, per_day)
    order = np.lexsort((per_day, owner))
    first = np.concatenate(([0], np.cumsum(active_days)))[:-1]
    low = order[first + np.maximum(active_days - 1, 0) // 2]
    high = order[first + active_days // 2]
    median = np.where(active_days > 0, (per_day[low] + per_day[high]) / 2.0, 0.0)
    ratio = peak / np.maximum(median, 1.0)
    score = _clip((ratio - 4.0) / 6.0) * np.minimum(1.0, peak / 20)
    return np.where((counts >= 20) & (active_days >= 4), score, 0.0)


def _young(posts: PostsByAccount, created: np.ndarray) -> np.ndarray:
    counts = np.maximum(posts.counts, 1)
    first, last = posts.times[posts.starts[:-1]], posts.times[posts.starts[1:] - 1]
    age = np.maximum((first - created) / DAY, 0.0)
    rate = counts / np.maximum((last - first) / DAY, 1.0)
    score = _clip(1 - age / 90) * _clip(rate / 24.0)
    return np.where((posts.counts >= 10) & (created > np.iinfo(np.int64).min), score, 0.0)


def _rhythm(posts: PostsByAccount) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly profiles (UTC), the best fit's offset and its log-likelihood, per account."""
    hours = (posts.times // HOUR) % 24
    hourly = np.bincount(posts.index * 24 + hours, minlength=posts.accounts.size * 24)
    hourly = hourly.reshape(-1, 24).astype(np.float64)
    likelihoods = hourly @ _fit_matrix().T
    best = likelihoods.argmax(axis=1)
    offsets = np.array([offset for _, offset in _FITS], dtype=np.float64)[best]
    return hourly, offsets, likelihoods[np.arange(best.size), best]


def _timezone(
    posts: PostsByAccount,
    hourly: np.ndarray,
    best: np.ndarray,
    best_ll: np.ndarray,
    locations: Sequence[str | None],
) -> np.ndarray:
    score = np.zeros(posts.accounts.size)
    eligible = np.flatnonzero(posts.counts >= MIN_POSTS_FOR_RHYTHM)
    for i in eligible.tolist():
        location = locations[i]
        if not location:
            continue
        part = posts.times[posts.starts[i] : posts.starts[i + 1]]
        claim = claimed_offset(location, int(np.median(part)))
        if claim is None:
            continue
        offset = claim[1]
        at_claim = max(float(hourly[i] @ _log_template_cached(name, offset)) for name in TEMPLATES)
        wrapped = (
            ((best[i] - offset + 12) % 24) - 12 if ((best[i] - offset + 12) % 24) != 0 else 12.0
        )
        ratio = best_ll[i] - at_claim
        score[i] = min(max((ratio - 6.0) / 12.0, 0.0), 1.0) * min(
            max((abs(wrapped) - 1.5) / 1.5, 0.0), 1.0
        )
    return score


def _office(posts: PostsByAccount, best: np.ndarray) -> np.ndarray:
    counts, index = posts.counts, posts.index
    local = posts.times + (best[index] * HOUR).astype(np.int64)
    weekday = ((local // DAY) + 3) % 7
    hour = (local // HOUR) % 24
    working = (weekday < 5) & (hour >= 8) & (hour < 19)
    n = np.maximum(counts, 1)
    weekend = np.bincount(index, weights=weekday >= 5, minlength=counts.size) / n
    work = np.bincount(index, weights=working, minlength=counts.size) / n
    span = (posts.times[posts.starts[1:] - 1] - posts.times[posts.starts[:-1]]) / DAY
    score = _clip((work - 0.7) / 0.25) * _clip(1 - weekend / 0.2)
    return np.where((counts >= 30) & (counts >= MIN_POSTS_FOR_RHYTHM) & (span >= 7), score, 0.0)


def screen(posts: PostsByAccount, profiles: Sequence[AccountProfile]) -> np.ndarray:
    """The highest screened score of each account (``profiles[i]`` is account ``i``'s)."""
    created = np.array(
        [p.created_at if p.created_at is not None else np.iinfo(np.int64).min for p in profiles],
        dtype=np.int64,
    )
    hourly, best, best_ll = _rhythm(posts)
    scores = np.maximum.reduce(
        [
            _regularity(posts),
            _burst(posts),
            _young(posts, created),
            _office(posts, best),
            _timezone(posts, hourly, best, best_ll, [p.location for p in profiles]),
        ]
    )
    renamed = np.array([len(p.name_history) >= 2 for p in profiles], dtype=bool)
    scores[renamed] = 1.0  # renames are checked one by one (few accounts have a history)
    return scores


def timeline_findings_at_scale(
    posts: PostsByAccount,
    profiles: Mapping[int | str, AccountProfile],
    groups: Mapping[str, Sequence[int | str]] | None = None,
    *,
    flag_score: float = FLAG_SCORE,
) -> list[FindingDraft]:
    """``analyzers.timeline.timeline_findings`` for many accounts: the same findings, with the
    exact per-account functions run only on the accounts the screen points at. Accounts of
    ``profiles`` without posts are checked too (a rename needs no post)."""
    ordered = [profiles.get(int(a)) or AccountProfile(int(a)) for a in posts.accounts.tolist()]
    scores = screen(posts, ordered)
    drafts = []
    for i in np.flatnonzero(scores >= flag_score - MARGIN).tolist():
        timeline = posts.timeline(i, ordered[i])
        drafts += [signal_finding(s) for s in account_signals(timeline) if s.score >= flag_score]
    with_posts = set(posts.accounts.tolist())
    empty = np.empty(0, dtype=np.int64)
    for account_id, profile in profiles.items():
        if account_id not in with_posts and len(profile.name_history) >= 2:
            timeline = AccountTimeline(profile, empty, empty)
            drafts += [
                signal_finding(s) for s in account_signals(timeline) if s.score >= flag_score
            ]
    for label, members in (groups or {}).items():
        group_profiles = [profiles[m] for m in members if m in profiles]
        if (
            signal := creation_burst_signal(group_profiles, label)
        ) is not None and signal.score >= flag_score:
            drafts.append(signal_finding(signal))
    return drafts
