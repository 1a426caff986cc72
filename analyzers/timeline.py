"""Timeline signals per account: when it was created, when it sleeps, how regularly it posts.

Each signal is a score in [0, 1] with a sentence a reader can check against the cited posts:
accounts of one group created within days of each other; a sleep gap that fits another
timezone than the claimed location; office hours with quiet weekends; machine regularity
(evenly spaced posts, posts at a fixed second); days far above the account's baseline;
handle and display-name changes; a young account posting at a high rate. Pure functions:
profiles and post times in, ``FindingDraft``s out.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from osint.analyzers.findings import FindingDraft, FindingKind
from osint.analyzers.places import claimed_offset

HOUR, DAY = 3_600, 86_400
MIN_POSTS_FOR_RHYTHM = 24
FLAG_SCORE = 0.5
MAX_EVIDENCE_POSTS = 50


@dataclass(frozen=True)
class NameObservation:
    """A handle / display name seen at a time (from a profile snapshot or collection)."""

    observed_at: int
    handle: str
    display_name: str = ""


@dataclass(frozen=True)
class AccountProfile:
    """What the store knows of an account; ``created_at`` is the platform's, epoch seconds."""

    account_id: int | str
    handle: str = ""
    created_at: int | None = None
    location: str | None = None
    name_history: tuple[NameObservation, ...] = ()


@dataclass(frozen=True)
class AccountTimeline:
    """An account with the ids and times (epoch seconds) of its posts in the case."""

    profile: AccountProfile
    post_ids: np.ndarray
    post_times: np.ndarray

    @classmethod
    def build(
        cls,
        profile: AccountProfile,
        post_ids: Sequence[int] | np.ndarray,
        post_times: Sequence[int] | np.ndarray,
    ) -> AccountTimeline:
        times = np.asarray(post_times, dtype=np.int64)
        order = np.argsort(times, kind="stable")
        return cls(profile, np.asarray(post_ids)[order], times[order])

    @functools.cached_property
    def circadian(self) -> Circadian | None:
        return circadian_profile(self.post_times)

    @property
    def name(self) -> str:
        return (
            f"@{self.profile.handle}"
            if self.profile.handle
            else f"account {self.profile.account_id}"
        )


@dataclass(frozen=True)
class Signal:
    """One timeline signal of one account (or group): a score and why."""

    kind: FindingKind
    score: float
    explanation: str
    accounts: tuple[int | str, ...]
    posts: tuple[int | str, ...] = ()
    details: dict[str, object] = field(default_factory=dict)


def format_day(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return f"{moment.day} {moment:%B %Y}"


def format_duration(seconds: float) -> str:
    """``45 seconds``, ``4 minutes``, ``2 hours``, ``3 days``, rounded for reading."""
    for unit, size in (("day", DAY), ("hour", HOUR), ("minute", 60)):
        if seconds >= size:
            value = round(seconds / size)
            return f"{value} {unit}{'s' if value != 1 else ''}"
    value = round(seconds)
    return f"{value} second{'s' if value != 1 else ''}"


def format_offset(hours: float) -> str:
    sign = "+" if hours >= 0 else "-"
    whole, half = divmod(abs(hours), 1)
    return f"UTC{sign}{int(whole)}" + (":30" if half else "")


def _clip(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return float(min(max(value, low), high))


def _wrap_offset(hours: float) -> float:
    """Into (-12, +12]."""
    return ((hours + 12) % 24) - 12 if ((hours + 12) % 24) != 0 else 12.0


# Expected share of a person's posts by local hour (asleep ~01-07, evening peak), and of a
# worker's on shift 09-18; a floor keeps log-likelihoods finite.
HUMAN_DAY = np.array(
    [
        0.30,
        0.14,
        0.06,
        0.03,
        0.03,
        0.04,
        0.10,
        0.30,
        0.55,
        0.70,
        0.78,
        0.85,
        0.92,
        0.88,
        0.80,
        0.80,
        0.85,
        0.90,
        1.00,
        1.00,
        1.00,
        0.95,
        0.80,
        0.55,
    ]
)
OFFICE_DAY = np.array([0.0] * 9 + [1.0] * 9 + [0.0] * 6)
_FLOOR = 0.01
TEMPLATES = {"a person's day": HUMAN_DAY, "an office shift": OFFICE_DAY}


@functools.cache
def _log_template_cached(name: str, offset: float) -> np.ndarray:
    return _log_template(TEMPLATES[name], offset)


def _log_template(template: np.ndarray, offset: float) -> np.ndarray:
    """log P(UTC hour h) for a template in local time shifted by ``offset`` hours."""
    local = (np.arange(24) + offset) % 24
    low = np.floor(local).astype(int)
    weight = local - low
    values = (1 - weight) * template[low % 24] + weight * template[(low + 1) % 24] + _FLOOR
    return np.log(values / values.sum())


@dataclass(frozen=True)
class Circadian:
    """Hourly profile (UTC) and the offset and schedule that explain it best."""

    hourly: np.ndarray
    best_offset: float
    schedule: str
    log_likelihood: float

    def log_likelihood_at(self, offset: float) -> float:
        """Best log-likelihood of the posts at ``offset`` over the schedules."""
        return max(float(self.hourly @ _log_template_cached(name, offset)) for name in TEMPLATES)

    def quiet_hours_utc(self) -> tuple[int, int]:
        """UTC hours when the fitted schedule is quiet (start, end)."""
        template = TEMPLATES[self.schedule]
        local_quiet = (1, 7) if template is HUMAN_DAY else (18, 9)
        start, end = (round(h - self.best_offset) % 24 for h in local_quiet)
        return start, end


_FITS = [(name, offset) for name in TEMPLATES for offset in range(-11, 13)]


@functools.cache
def _fit_matrix() -> np.ndarray:
    return np.stack([_log_template(TEMPLATES[name], offset) for name, offset in _FITS])


def circadian_profile(post_times: np.ndarray) -> Circadian | None:
    """The UTC offset (whole hours) and schedule (a person's day or an office shift) under
    which the posts' hours of day are most likely; None below ``MIN_POSTS_FOR_RHYTHM``."""
    if post_times.size < MIN_POSTS_FOR_RHYTHM:
        return None
    hourly = np.bincount((post_times // HOUR) % 24, minlength=24).astype(np.float64)
    likelihoods = _fit_matrix() @ hourly
    best = int(likelihoods.argmax())
    name, offset = _FITS[best]
    return Circadian(hourly, float(offset), name, float(likelihoods[best]))


def timezone_signal(timeline: AccountTimeline) -> Signal | None:
    """Posting hours that fit a timezone 2+ hours from the claimed location's far better.

    The evidence is a likelihood ratio: how much more likely the posts' hours are under the
    best-fitting offset than under the claimed one (same schedule families for both).
    """
    rhythm = timeline.circadian
    if rhythm is None:
        return None
    claim = claimed_offset(timeline.profile.location, int(np.median(timeline.post_times)))
    if claim is None:
        return None
    place, offset = claim
    distance = abs(_wrap_offset(rhythm.best_offset - offset))
    ratio = rhythm.log_likelihood - rhythm.log_likelihood_at(offset)
    score = float(_clip((ratio - 6.0) / 12.0, 0, 1) * _clip((distance - 1.5) / 1.5, 0, 1))
    quiet_start, quiet_end = rhythm.quiet_hours_utc()
    quiet = _hours_between(timeline.post_times, quiet_start, quiet_end)
    explanation = (
        f"{timeline.name}'s {timeline.post_times.size} posts fall silent from {quiet_start:02d}:00 "
        f"to {quiet_end:02d}:00 UTC ({quiet.mean():.0%} of posts in those hours): as "
        f"{rhythm.schedule} that fits {format_offset(rhythm.best_offset)}, about e^{min(ratio, 99):.0f} "
        f"times likelier than {format_offset(offset)} of the claimed {place}, {distance:g} hours away."
    )
    return Signal(
        FindingKind.TIMEZONE_MISMATCH,
        round(score, 4),
        explanation,
        (timeline.profile.account_id,),
        details={
            "best_offset": rhythm.best_offset,
            "claimed_offset": offset,
            "claimed_place": place,
            "schedule": rhythm.schedule,
            "log_likelihood_ratio": round(ratio, 3),
            "hourly_utc": rhythm.hourly.astype(int).tolist(),
        },
    )


def _hours_between(times: np.ndarray, start: int, end: int) -> np.ndarray:
    hours = (times // HOUR) % 24
    return (hours >= start) & (hours < end) if start < end else (hours >= start) | (hours < end)


def office_hours_signal(timeline: AccountTimeline) -> Signal | None:
    """Posts only on weekdays within a 9-hour working day, quiet weekends."""
    rhythm = timeline.circadian
    if rhythm is None:
        return None
    if timeline.post_times.size < 30:
        return None
    local = timeline.post_times + int(rhythm.best_offset * HOUR)
    weekday = ((local // DAY) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    hour = (local // HOUR) % 24
    working = (weekday < 5) & (hour >= 8) & (hour < 19)
    weekend_share = float((weekday >= 5).mean())
    working_share = float(working.mean())
    span_days = (timeline.post_times[-1] - timeline.post_times[0]) / DAY
    if span_days < 7:
        return None
    score = float(_clip((working_share - 0.7) / 0.25, 0, 1) * _clip(1 - weekend_share / 0.2, 0, 1))
    explanation = (
        f"{working_share:.0%} of {timeline.name}'s {local.size} posts were made on weekdays between "
        f"08:00 and 19:00 ({format_offset(rhythm.best_offset)}), {weekend_share:.0%} on weekends "
        f"(about 29% for a person posting every day): the rhythm of a working shift."
    )
    return Signal(
        FindingKind.OFFICE_HOURS,
        round(score, 4),
        explanation,
        (timeline.profile.account_id,),
        details={"working_share": working_share, "weekend_share": weekend_share},
    )


def regularity_signal(timeline: AccountTimeline) -> Signal | None:
    """Machine-like timing: evenly spaced posts (burstiness near -1) or a fixed second."""
    times = timeline.post_times
    if times.size < 10:
        return None
    gaps = np.diff(times).astype(np.float64)
    mean, spread = float(gaps.mean()), float(gaps.std())
    cv = spread / mean if mean else 0.0
    burstiness = (spread - mean) / (spread + mean) if spread + mean else 0.0
    seconds = times % 60
    common_second = int(np.bincount(seconds, minlength=60).argmax())
    fixed_mask = seconds == common_second
    fixed_share = float(fixed_mask.mean())
    # A person's seconds are uniform (1/60 each): a share well above chance is a scheduler.
    fixed_score = float(_clip((fixed_share - 0.2) / 0.5, 0, 1))
    even_score = float(_clip((-burstiness - 0.5) / 0.4, 0, 1))
    score = max(fixed_score, even_score) * min(1.0, times.size / 20)
    parts = []
    if fixed_score >= even_score:
        parts.append(
            f"{fixed_share:.0%} of {timeline.name}'s {times.size} posts were published at "
            f":{common_second:02d} seconds past the minute (1.7% expected by chance)"
        )
        evidence = timeline.post_ids[fixed_mask]
    else:
        parts.append(
            f"{timeline.name}'s {times.size} posts are evenly spaced: intervals average "
            f"{format_duration(mean)} with a coefficient of variation of {cv:.2f} "
            f"(burstiness {burstiness:.2f}; people are bursty, above 0)"
        )
        evidence = timeline.post_ids
    return Signal(
        FindingKind.MACHINE_REGULARITY,
        round(score, 4),
        "; ".join(parts) + ".",
        (timeline.profile.account_id,),
        tuple(evidence[:MAX_EVIDENCE_POSTS].tolist()),
        {
            "cv": cv,
            "burstiness": burstiness,
            "fixed_second": common_second,
            "fixed_second_share": fixed_share,
        },
    )


def burst_signal(timeline: AccountTimeline) -> Signal | None:
    """A day far above the account's baseline (its median active day)."""
    times = timeline.post_times
    if times.size < 20:
        return None
    days = times // DAY
    day_values, counts = np.unique(days, return_counts=True)
    if day_values.size < 4:
        return None
    baseline = float(np.median(counts))
    peak = int(counts.argmax())
    ratio = counts[peak] / max(baseline, 1.0)
    score = float(_clip((ratio - 4.0) / 6.0, 0, 1) * min(1.0, counts[peak] / 20))
    explanation = (
        f"On {format_day(int(day_values[peak]) * DAY)} {timeline.name} posted {counts[peak]} times, "
        f"{ratio:.1f} times its median active day ({baseline:g} posts)."
    )
    evidence = timeline.post_ids[days == day_values[peak]]
    return Signal(
        FindingKind.ACTIVITY_BURST,
        round(score, 4),
        explanation,
        (timeline.profile.account_id,),
        tuple(evidence[:MAX_EVIDENCE_POSTS].tolist()),
        {"peak_posts": int(counts[peak]), "baseline": baseline},
    )


def name_change_signal(timeline: AccountTimeline) -> Signal | None:
    """Handle / display-name changes between profile observations.

    A change happened between the last sighting of the old name and the first of the new
    one; it counts as recent when the old name was still seen within 30 days of the
    account's first post in the case (a bought or repurposed account).
    """
    history = sorted(timeline.profile.name_history, key=lambda seen: seen.observed_at)
    changes = [
        (before, after)
        for before, after in itertools.pairwise(history)
        if (before.handle, before.display_name) != (after.handle, after.display_name)
    ]
    if not changes:
        return None
    before, after = changes[-1]
    first_post = int(timeline.post_times[0]) if timeline.post_times.size else after.observed_at
    days_before = (first_post - before.observed_at) / DAY
    recency = 1.0 if days_before <= 30 else 0.4
    score = float(min(1.0, 0.35 * len(changes) + 0.2) * recency)
    explanation = (
        f"{timeline.name} changed its name {len(changes)} time{'s' if len(changes) > 1 else ''}: "
        f"still @{before.handle} ({before.display_name!r}) on {format_day(before.observed_at)}, "
        f"@{after.handle} ({after.display_name!r}) by {format_day(after.observed_at)}; the old name "
        f"was last seen {format_duration(max(days_before, 0) * DAY)} before its first post in this case."
    )
    return Signal(
        FindingKind.NAME_CHANGE,
        round(score, 4),
        explanation,
        (timeline.profile.account_id,),
        details={
            "changes": [
                [b.observed_at, b.handle, b.display_name, a.observed_at, a.handle, a.display_name]
                for b, a in changes
            ]
        },
    )


def young_prolific_signal(
    timeline: AccountTimeline, *, max_age_days: int = 90, high_rate_per_day: float = 24.0
) -> Signal | None:
    """A recently created account posting at a high rate."""
    created = timeline.profile.created_at
    times = timeline.post_times
    if created is None or times.size < 10:
        return None
    age_days = max((int(times[0]) - created) / DAY, 0.0)
    active_days = max((int(times[-1]) - int(times[0])) / DAY, 1.0)
    rate = times.size / active_days
    youth = float(_clip(1 - age_days / max_age_days, 0, 1))
    score = youth * float(_clip(rate / high_rate_per_day, 0, 1))
    explanation = (
        f"{timeline.name} was created on {format_day(created)}, {format_duration(age_days * DAY)} "
        f"before its first post in this case, and posted {rate:.1f} times a day."
    )
    return Signal(
        FindingKind.YOUNG_PROLIFIC,
        round(score, 4),
        explanation,
        (timeline.profile.account_id,),
        details={"age_days": age_days, "posts_per_day": rate},
    )


@dataclass(frozen=True)
class CreationBurst:
    count: int
    start: int
    end: int


def creation_burst(
    created: Sequence[int], window_days: float = 7.0, minimum: int = 3
) -> CreationBurst | None:
    """Most creation dates falling within ``window_days`` of each other (None if < minimum)."""
    dates = np.sort(np.asarray([c for c in created if c is not None], dtype=np.int64))
    if dates.size < minimum:
        return None
    ends = np.searchsorted(dates, dates + int(window_days * DAY), side="right")
    counts = ends - np.arange(dates.size)
    best = int(counts.argmax())
    if counts[best] < minimum:
        return None
    return CreationBurst(int(counts[best]), int(dates[best]), int(dates[ends[best] - 1]))


def creation_burst_signal(profiles: Sequence[AccountProfile], label: str) -> Signal | None:
    """Many accounts of one group created within a week of each other."""
    dated = [p for p in profiles if p.created_at is not None]
    burst = creation_burst([p.created_at for p in dated if p.created_at is not None])
    if burst is None or len(dated) < 3:
        return None
    share = burst.count / len(dated)
    score = float(_clip((share - 0.2) / 0.5, 0, 1))
    members = tuple(
        p.account_id
        for p in dated
        if p.created_at is not None and burst.start <= p.created_at <= burst.end
    )
    explanation = (
        f"{burst.count} of the {len(dated)} accounts of {label} were created between "
        f"{format_day(burst.start)} and {format_day(burst.end)}."
    )
    return Signal(
        FindingKind.CREATION_BURST,
        round(score, 4),
        explanation,
        members,
        details={"group_size": len(dated), "burst_start": burst.start, "burst_end": burst.end},
    )


ACCOUNT_SIGNALS = (
    timezone_signal,
    office_hours_signal,
    regularity_signal,
    burst_signal,
    name_change_signal,
    young_prolific_signal,
)


def account_signals(timeline: AccountTimeline) -> list[Signal]:
    """Every per-account signal that has enough data to be computed (any score)."""
    return [signal for check in ACCOUNT_SIGNALS if (signal := check(timeline)) is not None]


def timeline_findings(
    timelines: Iterable[AccountTimeline],
    groups: Mapping[str, Sequence[int | str]] | None = None,
    *,
    flag_score: float = FLAG_SCORE,
) -> list[FindingDraft]:
    """Findings for every signal scoring at least ``flag_score``; ``groups`` (label -> account
    ids, e.g. the coordinated groups) adds a creation-burst check per group."""
    by_id = {timeline.profile.account_id: timeline for timeline in timelines}
    signals = [signal for timeline in by_id.values() for signal in account_signals(timeline)]
    for label, members in (groups or {}).items():
        profiles = [by_id[m].profile for m in members if m in by_id]
        if (signal := creation_burst_signal(profiles, label)) is not None:
            signals.append(signal)
    return [_as_finding(signal) for signal in signals if signal.score >= flag_score]


TITLES = {
    FindingKind.TIMEZONE_MISMATCH: "Sleeps on another timezone than it claims",
    FindingKind.OFFICE_HOURS: "Posts on an office schedule",
    FindingKind.MACHINE_REGULARITY: "Machine-like posting times",
    FindingKind.ACTIVITY_BURST: "Burst of activity far above baseline",
    FindingKind.NAME_CHANGE: "Renamed account",
    FindingKind.YOUNG_PROLIFIC: "Young account posting at a high rate",
    FindingKind.CREATION_BURST: "Accounts created in a burst",
}


def _as_finding(signal: Signal) -> FindingDraft:
    return FindingDraft(
        kind=signal.kind,
        score=signal.score,
        title=TITLES.get(signal.kind, signal.kind),
        explanation=signal.explanation,
        accounts=tuple(a for a in signal.accounts if isinstance(a, int)),
        posts=tuple(p for p in signal.posts if isinstance(p, int)),
        details=_with_labels(signal.accounts, signal.details),
    )


def _with_labels(accounts: tuple[int | str, ...], details: dict[str, object]) -> dict[str, object]:
    """Evidence rows hold store ids; ids of another kind (e.g. from a CSV) go in the details."""
    if all(isinstance(a, int) for a in accounts):
        return dict(details)
    return {"account_ids": list(accounts), **details}


def signal_finding(signal: Signal) -> FindingDraft:
    """The finding of one signal (what ``timeline_findings`` stores for it)."""
    return _as_finding(signal)
