"""A request quota per endpoint, as the platforms keep them: so many requests per window."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class QuotaState:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int  # epoch seconds when the window starts again
    window: float


class Quotas:
    """Windows per endpoint name; ``set`` changes one (tests make them small)."""

    def __init__(self, defaults: dict[str, tuple[int, float]], fallback: tuple[int, float]):
        self.limits = dict(defaults)
        self.fallback = fallback
        self._windows: dict[str, tuple[float, int]] = {}

    def set(self, endpoint: str, limit: int, window: float) -> None:
        self.limits[endpoint] = (limit, window)
        self._windows.pop(endpoint, None)

    def take(self, endpoint: str) -> QuotaState:
        """Count one request; ``allowed`` is False once the window's quota is used up."""
        limit, window = self.limits.get(endpoint, self.fallback)
        now = time.time()
        start, used = self._windows.get(endpoint, (now, 0))
        if now >= start + window:
            start, used = now, 0
        reset = int(start + window + 0.999)
        if used >= limit:
            self._windows[endpoint] = (start, used)
            return QuotaState(False, limit, 0, reset, window)
        self._windows[endpoint] = (start, used + 1)
        return QuotaState(True, limit, limit - used - 1, reset, window)
