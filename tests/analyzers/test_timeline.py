"""Timeline signals on hand-made accounts whose truth we know."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from osint.analyzers.timeline import (
    AccountProfile,
    AccountTimeline,
    NameObservation,
    account_signals,
    burst_signal,
    circadian_profile,
    claimed_offset,
    creation_burst,
    creation_burst_signal,
    format_duration,
    name_change_signal,
    office_hours_signal,
    regularity_signal,
    timeline_findings,
    timezone_signal,
    young_prolific_signal,
)

DAY, HOUR = 86_400, 3_600
START = int(datetime(2022, 4, 4, tzinfo=UTC).timestamp())  # a Monday
HUMAN_HOURS = [7, 8, 9, 10, 12, 13, 14, 16, 17, 18, 19, 20, 21, 22, 23]


def _timeline(times: list[int] | np.ndarray, **profile: object) -> AccountTimeline:
    fields = {"account_id": 1, "handle": "someone", **profile}
    times = np.asarray(times, dtype=np.int64)
    return AccountTimeline.build(AccountProfile(**fields), np.arange(100, 100 + times.size), times)  # type: ignore[arg-type]


def _human(offset: float, days: int = 21, per_day: int = 4, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    local_hours = rng.choice(HUMAN_HOURS, size=days * per_day)
    day = np.repeat(np.arange(days), per_day)
    return (
        START
        + day * DAY
        + ((local_hours - offset) * HOUR).astype(np.int64)
        + rng.integers(0, 3600, day.size)
    )


def _office(offset: float, weeks: int = 3, seed: int = 2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    days = np.array([d for d in range(weeks * 7) if d % 7 < 5]).repeat(3)
    hours = rng.integers(9, 18, days.size)
    return (
        START
        + days * DAY
        + ((hours - offset) * HOUR).astype(np.int64)
        + rng.integers(0, 3600, days.size)
    )


def test_places_resolve_with_summer_time() -> None:
    april = int(datetime(2022, 4, 20, tzinfo=UTC).timestamp())
    january = int(datetime(2022, 1, 20, tzinfo=UTC).timestamp())
    assert claimed_offset("Bamako, Mali 🇲🇱", april) == ("Bamako", 0.0)
    assert claimed_offset("Paris", april) == ("Paris", 2.0)
    assert claimed_offset("paris", january) == ("Paris", 1.0)
    assert claimed_offset("Moscow / Москва", april) == ("Moscow", 3.0)
    assert claimed_offset("somewhere nice", april) is None
    assert claimed_offset("Parisian cafe", april) is None


def test_circadian_fit_recovers_the_offset() -> None:
    for offset in (-5, 0, 3, 8):
        assert circadian_profile(_human(offset)).best_offset == offset
    office = circadian_profile(_office(3))
    assert office is not None and office.best_offset == 3 and office.schedule == "an office shift"
    assert circadian_profile(_human(0)[:10]) is None


def test_sleeping_on_moscow_time_while_claiming_bamako_is_flagged() -> None:
    suspect = timezone_signal(_timeline(_human(3), location="Bamako"))
    honest = timezone_signal(_timeline(_human(0), location="Bamako"))
    assert suspect is not None and suspect.score >= 0.8
    assert "UTC+3" in suspect.explanation and "Bamako" in suspect.explanation
    assert honest is not None and honest.score < 0.2
    assert timezone_signal(_timeline(_human(3))) is None  # no claimed location


def test_office_schedule_with_quiet_weekends() -> None:
    office = office_hours_signal(_timeline(_office(3)))
    person = office_hours_signal(_timeline(_human(3, days=28)))
    assert office is not None and office.score >= 0.8 and "weekdays" in office.explanation
    assert person is not None and person.score < 0.3


def test_machine_regularity_fixed_seconds_and_even_spacing() -> None:
    rng = np.random.default_rng(5)
    scheduler = _human(0) // 60 * 60  # always at :00 seconds
    metronome = START + np.arange(60) * 1800 + rng.integers(0, 20, 60)
    person = _human(0)
    fixed = regularity_signal(_timeline(scheduler))
    even = regularity_signal(_timeline(metronome))
    human = regularity_signal(_timeline(person))
    assert fixed is not None and fixed.score >= 0.9 and ":00 seconds" in fixed.explanation
    assert even is not None and even.score >= 0.9 and "evenly spaced" in even.explanation
    assert human is not None and human.score < 0.3


def test_burst_far_above_baseline() -> None:
    calm = _human(0, days=20, per_day=3)
    burst_day = START + 10 * DAY + np.arange(60) * 400
    signal = burst_signal(_timeline(np.concatenate([calm, burst_day])))
    assert signal is not None and signal.score >= 0.9 and "14 April 2022" in signal.explanation
    assert len(signal.posts) == 50  # evidence is capped
    quiet = burst_signal(_timeline(calm))
    assert quiet is not None and quiet.score < 0.2


def test_recent_renames_before_the_campaign() -> None:
    history = (
        NameObservation(START - 40 * DAY, "crypto_deals", "Crypto Deals"),
        NameObservation(START - 20 * DAY, "crypto_deals", "Crypto Deals"),
        NameObservation(START - 5 * DAY, "ml_patriote", "Patriote Malien"),
    )
    renamed = name_change_signal(_timeline(_human(0), name_history=history))
    assert renamed is not None and renamed.score >= 0.5
    assert "@crypto_deals" in renamed.explanation and "@ml_patriote" in renamed.explanation
    old_rename = (
        NameObservation(START - 900 * DAY, "old", "Old"),
        NameObservation(START, "new", "New"),
    )
    once_long_ago = name_change_signal(_timeline(_human(0), name_history=old_rename))
    assert once_long_ago is not None and once_long_ago.score < 0.5
    assert name_change_signal(_timeline(_human(0))) is None


def test_young_account_posting_all_day() -> None:
    times = START + np.arange(400) * 1500
    young = young_prolific_signal(_timeline(times, created_at=START - 3 * DAY))
    old = young_prolific_signal(_timeline(times, created_at=START - 3000 * DAY))
    assert young is not None and young.score >= 0.8 and "created on" in young.explanation
    assert old is not None and old.score == 0


def test_creation_burst_within_a_group() -> None:
    created = [START - 30 * DAY + i * 20_000 for i in range(9)] + [
        START - 900 * DAY,
        START - 2000 * DAY,
        START - 100 * DAY,
    ]
    burst = creation_burst(created)
    assert burst is not None and burst.count == 9
    profiles = [AccountProfile(i, f"a{i}", c) for i, c in enumerate(created)]
    signal = creation_burst_signal(profiles, "group #1")
    assert signal is not None and signal.score >= 0.9 and len(signal.accounts) == 9
    assert (
        "9 of the 12 accounts of group #1 were created between 5 March 2022 and 6 March 2022"
        in signal.explanation
    )
    spread = [AccountProfile(i, "x", START - i * 200 * DAY) for i in range(10)]
    assert creation_burst_signal(spread, "g") is None


def test_findings_only_for_strong_signals_with_evidence_ids() -> None:
    suspect = _timeline(_office(3) // 60 * 60, account_id=7, location="Bamako")
    honest = _timeline(_human(0), account_id=8, handle="honest", location="Dakar")
    findings = timeline_findings([suspect, honest])
    kinds = {f.kind for f in findings}
    assert {"timezone_mismatch", "office_hours", "machine_regularity"} <= kinds
    assert all(f.accounts == (7,) for f in findings)
    assert all(0.5 <= f.score <= 1 for f in findings)
    assert next(f for f in findings if f.kind == "machine_regularity").posts
    assert account_signals(honest) and all(s.score < 0.5 for s in account_signals(honest))


def test_format_duration() -> None:
    assert format_duration(45) == "45 seconds"
    assert format_duration(240) == "4 minutes"
    assert format_duration(3 * 3600) == "3 hours"
    assert format_duration(1) == "1 second"
