"""Planted coordination scenarios: organic accounts plus coordinated groups we know the truth of.

Organic accounts share popular objects at Poisson times on a human daily rhythm in their own
(claimed) timezone; viral objects are shared by many of them over hours. Planted groups share
their campaign objects within seconds to minutes of each other, not every member every object;
some groups were created in a burst of days, some post on another timezone's schedule than
their claimed location, one behaves like a scheduler (fixed seconds), one is repurposed
(handle changes). Organic accounts also reshare the groups' content hours later.

Used by tests (``tests/analyzers``) and benchmarks (``bench/``): import it from
``osint.synth.planted``, do not copy it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from osint.analyzers.share_table import ShareTable
from osint.analyzers.timeline import AccountProfile, AccountTimeline, NameObservation

DAY = 86_400
HOUR = 3_600
START = int(datetime(2022, 4, 10, tzinfo=UTC).timestamp())

# Relative posting intensity by local hour: asleep 1-7, peaks at lunch and evening.
HUMAN_RHYTHM = np.array(
    [
        0.35,
        0.12,
        0.04,
        0.02,
        0.02,
        0.03,
        0.08,
        0.3,
        0.6,
        0.75,
        0.8,
        0.85,
        0.95,
        0.9,
        0.8,
        0.8,
        0.85,
        0.9,
        1.0,
        1.0,
        1.0,
        0.95,
        0.8,
        0.6,
    ]
)
# An operator's shift: weekdays 09-18 local.
OFFICE_RHYTHM = np.array([0.0] * 9 + [1.0] * 9 + [0.0] * 6)

# (place name, UTC offset in hours) organic accounts claim and live in.
ORGANIC_PLACES = (
    ("Bamako", 0),
    ("Dakar", 0),
    ("Abidjan", 0),
    ("Paris", 2),
    ("Lagos", 1),
    ("Ouagadougou", 0),
    ("Niamey", 1),
    ("Conakry", 0),
    ("Nouakchott", 0),
    ("Brussels", 2),
)


@dataclass(frozen=True)
class PlantedAccount:
    """One account of a scenario and the truth about it."""

    account_id: int
    handle: str
    created_at: int
    location: str
    true_utc_offset: float
    group: int | None = None
    name_history: tuple[tuple[int, str, str], ...] = ()


@dataclass(frozen=True)
class ScenarioConfig:
    n_accounts: int = 10_000
    n_groups: int = 10
    group_size: tuple[int, int] = (12, 60)
    days: int = 14
    n_objects: int = 6_000
    n_viral: int = 40
    organic_posts_per_day: float = 2.0
    campaign_objects: tuple[int, int] = (15, 35)
    participation: float = 0.8
    campaign_spread_seconds: float = 40.0
    organic_reshare_fraction: float = 0.03
    seed: int = 7


@dataclass
class Scenario:
    config: ScenarioConfig
    accounts: list[PlantedAccount]
    object_id: np.ndarray
    account_id: np.ndarray
    post_id: np.ndarray
    timestamp: np.ndarray
    groups: dict[int, np.ndarray] = field(default_factory=dict)
    campaign_objects: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def coordinated_accounts(self) -> set[int]:
        return {int(a) for members in self.groups.values() for a in members}

    def timelines(self) -> list[AccountTimeline]:
        """Each account's posts (the share rows) with its profile."""
        order = np.argsort(self.account_id, kind="stable")
        bounds = np.searchsorted(
            self.account_id[order], [a.account_id for a in self.accounts] + [np.iinfo(np.int64).max]
        )
        timelines = []
        for index, account in enumerate(self.accounts):
            rows = order[bounds[index] : bounds[index + 1]]
            history = tuple(
                NameObservation(when, handle, name) for when, handle, name in account.name_history
            )
            current = NameObservation(
                START, account.handle, history[-1].display_name if history else ""
            )
            profile = AccountProfile(
                account.account_id,
                account.handle,
                account.created_at,
                account.location,
                (*history, current) if history else (),
            )
            timelines.append(
                AccountTimeline.build(profile, self.post_id[rows], self.timestamp[rows])
            )
        return timelines

    def share_table(self) -> ShareTable:
        return ShareTable.from_codes(self.object_id, self.account_id, self.post_id, self.timestamp)


def _draw_times(
    rng: np.random.Generator,
    base: np.ndarray,
    scale: float,
    offsets: np.ndarray,
    rhythm: np.ndarray,
    horizon: tuple[int, int],
    weekdays_only: bool = False,
) -> np.ndarray:
    """``base + Exp(scale)`` per row, redrawn until it falls in an active local hour
    (and on a local weekday when ``weekdays_only``); later draws may wait up to four days
    longer, so a base at night or on a weekend still finds the next active hours."""
    times = np.empty(base.size, dtype=np.int64)
    pending = np.arange(base.size)
    for attempt in range(400):
        if not pending.size:
            break
        wait = rng.uniform(0, min(attempt, 96) * HOUR, pending.size)
        draft = base[pending] + (rng.exponential(scale, pending.size) + wait).astype(np.int64)
        draft = np.where(draft >= horizon[1], draft - 7 * DAY, draft)  # wrap back one week
        local = draft + (offsets[pending] * HOUR).astype(np.int64)
        accepted = rng.random(pending.size) < rhythm[(local // HOUR) % 24]
        if weekdays_only:  # 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays
            accepted &= ((local // DAY) + 3) % 7 < 5
        times[pending[accepted]] = draft[accepted]
        pending = pending[~accepted]
    times[pending] = base[pending]
    return times


def _organic_accounts(rng: np.random.Generator, ids: np.ndarray) -> list[PlantedAccount]:
    places = rng.integers(0, len(ORGANIC_PLACES), ids.size)
    created = START - rng.integers(60 * DAY, 12 * 365 * DAY, ids.size)
    accounts = []
    for account, place, created_at in zip(
        ids.tolist(), places.tolist(), created.tolist(), strict=True
    ):
        name, offset = ORGANIC_PLACES[place]
        history: tuple[tuple[int, str, str], ...] = ()
        if rng.random() < 0.05:  # people do rename themselves, once in a while
            history = (
                (created_at + int(rng.integers(DAY, 30 * DAY)), f"old_user{account}", "Old name"),
            )
        accounts.append(
            PlantedAccount(account, f"user{account}", created_at, name, offset, None, history)
        )
    return accounts


def _organic_shares(
    rng: np.random.Generator,
    config: ScenarioConfig,
    accounts: list[PlantedAccount],
    offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Popularity-weighted objects, each born at a random time and shared over hours."""
    n_organic = len(accounts)
    horizon = (START, START + config.days * DAY)
    total = int(n_organic * config.organic_posts_per_day * config.days)
    popularity = 1.0 / np.arange(1, config.n_objects + 1) ** 0.9
    popularity[: config.n_viral] *= 3  # viral objects: shared by a large share of accounts
    objects = rng.choice(config.n_objects, size=total, p=popularity / popularity.sum())
    activity = rng.lognormal(0.0, 0.9, n_organic)
    sharers = rng.choice(n_organic, size=total, p=activity / activity.sum())
    # An account shares an object once.
    _, first = np.unique(objects.astype(np.int64) * n_organic + sharers, return_index=True)
    objects, sharers = objects[first], sharers[first]
    birth = rng.integers(horizon[0], horizon[1] - DAY // 2, config.n_objects)
    times = _draw_times(rng, birth[objects], 6 * HOUR, offsets[sharers], HUMAN_RHYTHM, horizon)
    return objects, sharers, times


def _group_accounts(rng: np.random.Generator, group: int, ids: np.ndarray) -> list[PlantedAccount]:
    """Members of planted group ``group``; its flavour depends on ``group % 4``."""
    flavour = group % 4
    burst_start = START - int(rng.integers(10, 40)) * DAY
    accounts = []
    for account in ids.tolist():
        if flavour in (0, 2):  # created in a burst of three days
            created = burst_start + int(rng.integers(0, 3 * DAY))
        else:
            created = START - int(rng.integers(200 * DAY, 8 * 365 * DAY))
        history: tuple[tuple[int, str, str], ...] = ()
        handle = f"acct{account}"
        if flavour == 3:  # repurposed: bought accounts renamed just before the campaign
            handle = f"ml_patriote{account}"
            history = (
                (START - int(rng.integers(15, 25)) * DAY, f"crypto_deals{account}", "Crypto Deals"),
                (START - int(rng.integers(2, 9)) * DAY, handle, "Patriote Malien"),
            )
        location = "Bamako" if flavour in (0, 1) else ORGANIC_PLACES[group % len(ORGANIC_PLACES)][0]
        accounts.append(PlantedAccount(account, handle, created, location, 3.0, group, history))
    return accounts


def _campaign_shares(
    rng: np.random.Generator,
    config: ScenarioConfig,
    members: np.ndarray,
    objects: np.ndarray,
    flavour: int,
) -> tuple[np.ndarray, ...]:
    """Each campaign object pushed by most members within seconds-minutes, on Moscow office time."""
    horizon = (START, START + config.days * DAY)
    pushes = _draw_times(
        rng,
        np.full(objects.size, START),
        config.days * DAY / 3,
        np.full(objects.size, 3.0),
        OFFICE_RHYTHM,
        horizon,
        True,
    )
    takes = rng.random((objects.size, members.size)) < config.participation
    object_index, member_index = np.nonzero(takes)
    delays = rng.exponential(config.campaign_spread_seconds, object_index.size)
    times = pushes[object_index] + np.minimum(delays, 300).astype(np.int64)
    if flavour == 2:  # a scheduler: posts land on the minute
        times = times - times % 60
    return objects[object_index], members[member_index], times


def _cover_shares(
    rng: np.random.Generator, config: ScenarioConfig, members: np.ndarray, flavour: int
) -> tuple[np.ndarray, ...]:
    """Ordinary-looking posts of group members, on their operators' (UTC+3) working day."""
    per_member = int(config.days * 1.5)
    accounts = np.repeat(members, per_member)
    objects = rng.integers(config.n_viral, config.n_objects, accounts.size)
    base = rng.integers(START, START + config.days * DAY, accounts.size)
    times = _draw_times(
        rng,
        base,
        HOUR,
        np.full(accounts.size, 3.0),
        OFFICE_RHYTHM,
        (START, START + config.days * DAY),
        True,
    )
    if flavour == 2:
        times = times - times % 60
    return objects, accounts, times


def generate_scenario(config: ScenarioConfig | None = None) -> Scenario:
    """A reproducible scenario; ``Scenario.groups`` is the truth to score detection against."""
    settings = config or ScenarioConfig()
    rng = np.random.default_rng(settings.seed)
    sizes = rng.integers(settings.group_size[0], settings.group_size[1] + 1, settings.n_groups)
    n_coordinated = int(sizes.sum())
    ids = rng.permutation(settings.n_accounts) + 1
    organic_ids, coordinated_ids = ids[n_coordinated:], ids[:n_coordinated]
    accounts = _organic_accounts(rng, organic_ids)
    offsets = np.array([a.true_utc_offset for a in accounts])
    objects, sharers, times = _organic_shares(rng, settings, accounts, offsets)
    parts: list[tuple[np.ndarray, ...]] = [(objects, organic_ids[sharers], times)]
    groups: dict[int, np.ndarray] = {}
    campaigns: dict[int, np.ndarray] = {}
    next_object = settings.n_objects
    for group, members in enumerate(np.split(coordinated_ids, np.cumsum(sizes)[:-1])):
        groups[group] = members
        accounts.extend(_group_accounts(rng, group, members))
        count = int(rng.integers(settings.campaign_objects[0], settings.campaign_objects[1] + 1))
        campaigns[group] = np.arange(next_object, next_object + count)
        next_object += count
        pushed = _campaign_shares(rng, settings, members, campaigns[group], group % 4)
        parts.extend([pushed, _cover_shares(rng, settings, members, group % 4)])
        parts.append(_organic_reshares(rng, settings, organic_ids, offsets, pushed))
    object_id, account_id, timestamp = (np.concatenate(c) for c in zip(*parts, strict=True))
    order = np.argsort(timestamp, kind="stable")
    post_id = np.arange(1, order.size + 1, dtype=np.int64)
    return Scenario(
        settings,
        sorted(accounts, key=lambda a: a.account_id),
        object_id[order],
        account_id[order],
        post_id,
        timestamp[order],
        groups,
        campaigns,
    )


def _organic_reshares(
    rng: np.random.Generator,
    config: ScenarioConfig,
    organic_ids: np.ndarray,
    offsets: np.ndarray,
    pushed: tuple[np.ndarray, ...],
) -> tuple[np.ndarray, ...]:
    """Campaign content goes viral: organic accounts reshare it hours later."""
    objects, _, times = pushed
    first_push: dict[int, int] = {}
    for obj, when in zip(objects.tolist(), times.tolist(), strict=True):
        first_push[obj] = min(when, first_push.get(obj, when))
    campaign_objects = np.array(sorted(first_push))
    per_object = max(1, int(config.organic_reshare_fraction * organic_ids.size))
    object_rows = np.repeat(campaign_objects, per_object)
    sharers = rng.integers(0, organic_ids.size, object_rows.size)
    base = np.array([first_push[o] for o in object_rows.tolist()], dtype=np.int64) + 2 * HOUR
    horizon = (START, START + (config.days + 3) * DAY)
    reshare_times = _draw_times(rng, base, 8 * HOUR, offsets[sharers], HUMAN_RHYTHM, horizon)
    return object_rows, organic_ids[sharers], reshare_times


def generate_share_arrays(
    n_shares: int, seed: int = 11, n_viral_bursts: int = 3, viral_burst_accounts: int = 100_000
) -> ShareTable:
    """A large share table for benchmarks, vectorised: Zipf-popular objects shared over hours
    across 30 days by ``n_shares / 10`` accounts, groups of 40 accounts pushing objects within
    two minutes, and ``n_viral_bursts`` objects each shared by ``viral_burst_accounts``
    accounts within five minutes (the viral cap path)."""
    rng = np.random.default_rng(seed)
    n_accounts, n_objects, horizon = max(100, n_shares // 10), max(50, n_shares // 8), 30 * DAY
    per_burst = min(viral_burst_accounts, n_shares // (4 * max(1, n_viral_bursts)))
    burst_objects = np.repeat(n_objects + np.arange(n_viral_bursts), per_burst)
    burst_start = rng.integers(0, horizon, max(1, n_viral_bursts))
    burst_times = burst_start[burst_objects - n_objects] + rng.integers(0, 300, burst_objects.size)
    n_groups, group_rows = max(1, n_shares // 20_000), n_shares // 50
    members = rng.integers(0, n_accounts, (n_groups, 40))
    group_of_row = rng.integers(0, n_groups, group_rows)
    campaign = rng.integers(0, max(1, group_rows // 30), group_rows)
    group_objects = n_objects + n_viral_bursts + group_of_row * (group_rows // 30 + 1) + campaign
    group_accounts = members[group_of_row, rng.integers(0, 40, group_rows)]
    group_times = (group_objects * 7919) % horizon + rng.integers(0, 120, group_rows)
    organic_rows = n_shares - burst_objects.size - group_rows
    popularity = 1.0 / np.arange(1, n_objects + 1) ** 0.75
    objects = rng.choice(n_objects, size=organic_rows, p=popularity / popularity.sum())
    birth = rng.integers(0, horizon, n_objects)
    times = birth[objects] + rng.exponential(8 * HOUR, organic_rows).astype(np.int64)
    accounts = rng.integers(0, n_accounts, organic_rows)
    object_code = np.concatenate([objects, burst_objects, group_objects])
    account_code = np.concatenate(
        [accounts, rng.integers(0, n_accounts, burst_objects.size), group_accounts]
    )
    timestamp = START + np.concatenate([times, burst_times, group_times])
    content_code = np.arange(object_code.size, dtype=np.int64)
    return ShareTable.from_codes(object_code, account_code, content_code, timestamp)
