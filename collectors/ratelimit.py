"""Rate limits as each platform states them, and the budget that makes the client wait.

Headers: X ``x-rate-limit-remaining/reset`` (epoch seconds), Mastodon ``X-RateLimit-*`` (reset
as ISO-8601), Bluesky ``ratelimit-*`` (epoch seconds), and ``Retry-After`` (seconds or an HTTP
date) everywhere. A :class:`RateBudget` remembers, per API bucket, when the window resets and,
per host, when the last request went out; share one between runs of the same platform.
"""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx


def parse_reset(value: str, now: float) -> float | None:
    """Epoch seconds of a reset given as epoch seconds/ms, delta seconds, ISO-8601 or HTTP date."""
    value = value.strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if number > 1e12:  # epoch milliseconds
            return number / 1000
        return number if number > 1e9 else now + max(number, 0.0)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


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
                remaining = int(float(headers[name]))
            except ValueError:
                continue
            break
    reset_at = next(
        (r for n in _RESET if n in headers and (r := parse_reset(headers[n], now)) is not None),
        None,
    )
    retry_at = parse_reset(headers["retry-after"], now) if "retry-after" in headers else None
    if retry_at is not None and "retry-after" in headers and headers["retry-after"].isdigit():
        retry_at = now + int(headers["retry-after"])  # Retry-After digits are always a delta
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
