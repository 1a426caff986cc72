"""Rate limits as each platform states them, and the budget that makes the client wait.

Headers: X ``x-rate-limit-remaining/reset`` (epoch seconds), Mastodon ``X-RateLimit-*`` (reset
as ISO-8601), Bluesky ``ratelimit-*`` (epoch seconds), and ``Retry-After`` (seconds or an HTTP
date) everywhere. A :class:`RateBudget` remembers, per API bucket, when the window resets and,
per host, when the last request went out; share one between runs of the same platform.
"""

from __future__ import annotations

import email.utils
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

# A reset or Retry-After further ahead than this is not believed (a hostile or broken server:
# hundreds of digits, a year away): the client falls back to its own back-off instead.
MAX_AHEAD = 24 * 3600.0
EPOCH_SECONDS = 1e9  # numbers from here on are epoch seconds (2001-09-09), smaller ones deltas
EPOCH_MS = 1e12


def _plausible(epoch: float, now: float) -> float | None:
    """``epoch`` if it is a time a server could mean (not past a day ahead), else None."""
    if not math.isfinite(epoch) or epoch - now > MAX_AHEAD:
        return None
    return max(epoch, 0.0)


def parse_reset(value: str, now: float) -> float | None:
    """Epoch seconds of a reset given as epoch seconds/ms, delta seconds, ISO-8601 or HTTP date.

    Defensive: ``inf``, ``nan``, hundreds of digits, or a time more than a day ahead give None
    (the caller backs off on its own); an epoch in the past means the window has reset already.
    """
    value = value.strip()[:64]
    if not value:
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        pass
    else:
        if not math.isfinite(number):
            return None
        if number >= EPOCH_MS:  # epoch milliseconds
            return _plausible(number / 1000, now)
        if number >= EPOCH_SECONDS:
            return _plausible(number, now)
        return _plausible(now + max(number, 0.0), now)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return _plausible(parsed.timestamp(), now)
    except (OverflowError, ValueError, OSError):
        return None


def parse_retry_after(value: str, now: float) -> float | None:
    """``Retry-After``: delta seconds (RFC 9110: digits are always a delta) or an HTTP date."""
    value = value.strip()
    if value.isdigit():
        if len(value) > 9:  # more than ~30 years of seconds: not believed
            return None
        return _plausible(now + int(value), now)
    return parse_reset(value, now)


@dataclass(frozen=True)
class RateInfo:
    remaining: int | None = None
    reset_at: float | None = None  # epoch seconds when the window resets
    retry_at: float | None = None  # epoch seconds from Retry-After


_REMAINING = ("x-rate-limit-remaining", "x-ratelimit-remaining", "ratelimit-remaining")
_RESET = ("x-rate-limit-reset", "x-ratelimit-reset", "ratelimit-reset")


def parse_rate_limit(headers: httpx.Headers, now: float) -> RateInfo:
    """What the platform's headers say about its rate limit (X, Mastodon, Bluesky, Retry-After)."""
    remaining = None
    for name in _REMAINING:
        if name in headers:
            try:
                number = float(headers[name][:64])
            except ValueError:
                continue
            if not math.isfinite(number):
                continue
            remaining = int(number)
            break
    reset_at = next(
        (r for n in _RESET if n in headers and (r := parse_reset(headers[n], now)) is not None),
        None,
    )
    retry_at = parse_retry_after(headers["retry-after"], now) if "retry-after" in headers else None
    return RateInfo(remaining, reset_at, retry_at)


class RateBudget:
    """When each host and API bucket may be asked again; share one across clients of a platform."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._not_before: dict[str, float] = {}  # bucket -> epoch seconds
        self._last_request: dict[str, float] = {}  # host -> monotonic seconds

    def delay(self, bucket: str, host: str, min_interval: float) -> tuple[float, float]:
        """(seconds until the bucket's window resets, seconds until the host's pace allows)."""
        with self._lock:
            reset_wait = self._not_before.get(bucket, 0.0) - time.time()
            pace_wait = self._last_request.get(host, -1e9) + min_interval - time.monotonic()
        return max(reset_wait, 0.0), max(pace_wait, 0.0)

    def requested(self, host: str) -> None:
        with self._lock:
            self._last_request[host] = time.monotonic()

    def block_until(self, bucket: str, epoch: float) -> None:
        with self._lock:
            self._not_before[bucket] = max(self._not_before.get(bucket, 0.0), epoch)
