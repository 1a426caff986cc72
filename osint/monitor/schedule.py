"""When a monitoring job runs: every N seconds, minutes, hours or days, or on a cron expression.

``15m``, ``1h``, ``1d`` (also ``30s``, ``2h``, ...) repeat at a fixed interval from the job's first
due time, so a job keeps its phase; ``"0 */6 * * *"`` is a five-field cron expression, read in UTC.
Periods missed while no worker ran are skipped, not caught up: a job runs once, then waits for its
next slot after the present.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

from osint.errors import InputError

_EVERY = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_NAMES = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
SCHEDULE_HINT = 'use e.g. --every 15m, 1h, 1d, or a cron expression such as "0 */6 * * *" (UTC)'


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule; ``text`` is what the job stores."""

    text: str
    interval: timedelta | None = None  # fixed interval, or None for a cron expression
    cron: str | None = None

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``15m`` / ``1h`` / ``1d`` / ``30s`` or a five-field cron expression; InputError if bad."""
        cleaned = " ".join(text.strip().lower().split())
        match = _EVERY.match(cleaned)
        if match:
            count, unit = int(match.group(1)), match.group(2)
            if count < 1:
                raise InputError(f"schedule {text!r} has a zero interval", hint=SCHEDULE_HINT)
            return cls(f"{count}{unit}", interval=timedelta(seconds=count * _UNIT_SECONDS[unit]))
        if len(cleaned.split()) == 5 and croniter.is_valid(cleaned):
            return cls(cleaned, cron=cleaned)
        raise InputError(f"not a schedule: {text!r}", hint=SCHEDULE_HINT)

    def next_run(self, due: datetime, now: datetime) -> datetime:
        """The first slot after ``now`` for a job that was due at ``due``."""
        if self.interval is not None:
            if due > now:
                return due
            missed = (now - due) // self.interval
            return due + (missed + 1) * self.interval
        assert self.cron is not None
        upcoming: datetime = croniter(self.cron, now).get_next(datetime)
        return upcoming

    def describe(self) -> str:
        if self.interval is None:
            return f"cron {self.text} (UTC)"
        match = _EVERY.match(self.text)
        assert match is not None
        count, unit = int(match.group(1)), _UNIT_NAMES[match.group(2)]
        return f"every {unit}" if count == 1 else f"every {count} {unit}s"
