"""The options of a monitoring job: how each run collects and which changes are worth an event."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from osint.errors import InputError

_THRESHOLD = re.compile(r"^(\d+(?:\.\d+)?)(%?)$")


@dataclass(frozen=True)
class JobOptions:
    """How each run of a job collects and what it reports."""

    full: bool = False  # re-read the whole timeline every run (finds edits of old posts)
    recheck: int = 100  # newest known posts looked up directly each run, plus as many older ones
    follower_threshold: str = "10%"  # follower/following change worth an event: "10%" or "50"

    def __post_init__(self) -> None:
        if self.recheck < 0:
            raise InputError(f"--recheck must be 0 or more, not {self.recheck}")
        parse_threshold(self.follower_threshold)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobOptions:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_threshold(text: str) -> tuple[float, bool]:
    """``"10%"`` -> (0.10, relative); ``"50"`` -> (50, absolute)."""
    match = _THRESHOLD.match(text.strip())
    if not match:
        raise InputError(
            f"not a follower threshold: {text!r}",
            hint="give a share of the count such as 10% or a number of followers such as 50",
        )
    value, relative = float(match.group(1)), bool(match.group(2))
    return (value / 100, True) if relative else (value, False)
