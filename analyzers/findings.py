"""The one shape every analyzer returns: a finding draft, with its evidence as store ids.

Analyzers are pure: they never touch the database. The service layer (``osint/analysis``)
loads the data, calls an analyzer, and stores each draft as a Finding with its evidence rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FindingDraft:
    """One flag raised by an analyzer, explained in plain language, with the evidence behind it.

    ``kind`` is a stable machine name (``"image_reuse"``, ``"coordinated_group"``,
    ``"timezone_mismatch"`` ...); ``score`` is in [0, 1], higher is stronger;
    ``explanation`` is one paragraph a reader can check against the cited evidence.
    ``accounts``, ``posts`` and ``media`` are primary keys of the case store's rows.
    ``roles`` optionally names the part an item played, keyed ``"post:<id>"``,
    ``"account:<id>"`` or ``"media:<id>"`` (e.g. ``"first_poster"``).
    """

    kind: str
    score: float
    title: str
    explanation: str
    accounts: tuple[int, ...] = ()
    posts: tuple[int, ...] = ()
    media: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"finding score must be in [0, 1], got {self.score!r}")
