"""Schedules and job options: parsing, next slots, thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from osint.errors import InputError
from osint.monitor import JobOptions, Schedule
from osint.monitor.options import parse_threshold

T = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,seconds,described",
    [
        ("15m", 900, "every 15 minutes"),
        ("1h", 3600, "every hour"),
        ("1d", 86400, "every day"),
        (" 30S ", 30, "every 30 seconds"),
    ],
)
def test_intervals(text: str, seconds: int, described: str) -> None:
    schedule = Schedule.parse(text)
    assert schedule.interval == timedelta(seconds=seconds) and schedule.cron is None
    assert schedule.describe() == described


def test_cron_expression_in_utc() -> None:
    schedule = Schedule.parse("0  */6 * * *")
    assert schedule.text == "0 */6 * * *" and schedule.interval is None
    assert schedule.next_run(T, T) == datetime(2024, 5, 1, 18, 0, tzinfo=UTC)
    assert schedule.next_run(T, T + timedelta(hours=7)) == datetime(2024, 5, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "0m", "15", "every hour", "61 * * * *", "* * * *", "1w"])
def test_bad_schedules_say_what_to_write(text: str) -> None:
    with pytest.raises(InputError, match="--every 15m"):
        Schedule.parse(text)


def test_intervals_keep_their_phase_and_skip_missed_periods() -> None:
    every = Schedule.parse("15m")
    assert every.next_run(T, T + timedelta(seconds=20)) == T + timedelta(minutes=15)
    # a worker that was down for 50 minutes runs once, then waits for the next slot
    assert every.next_run(T, T + timedelta(minutes=50)) == T + timedelta(minutes=60)
    assert every.next_run(T, T + timedelta(minutes=15)) == T + timedelta(minutes=30)
    assert every.next_run(T + timedelta(hours=1), T) == T + timedelta(hours=1)


def test_thresholds_and_options() -> None:
    assert parse_threshold("10%") == (0.1, True)
    assert parse_threshold("50") == (50.0, False)
    with pytest.raises(InputError, match="follower threshold"):
        JobOptions(follower_threshold="ten")
    with pytest.raises(InputError, match="--recheck"):
        JobOptions(recheck=-1)
    options = JobOptions(full=True, recheck=20, follower_threshold="5%")
    assert JobOptions.from_json({**options.to_json(), "unknown": 1}) == options
