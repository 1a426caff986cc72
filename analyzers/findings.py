"""The one shape every analyzer returns: a finding draft, with its evidence as store ids.

Analyzers are pure: they never touch the database. The service layer (``osint/analysis``)
loads the data, calls an analyzer, and stores each draft as a Finding with its evidence rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple


class FindingKind(StrEnum):
    """What a finding flags: the stable machine name stored in ``findings.kind``.

    Each member is the very string stored (a StrEnum compares equal to its value), so old rows
    read as before; ``storage.kinds`` lists it with the store's other vocabularies.
    """

    COORDINATED_GROUP = "coordinated_group"
    COORDINATED_GROUP_CANDIDATE = "coordinated_group_candidate"  # exported, never stored
    IMAGE_REUSE = "image_reuse"
    AVATAR_REUSE = "avatar_reuse"
    IMAGE_RECYCLED = "image_recycled"
    HASHLIST_MATCH = "hashlist_match"
    TIMEZONE_MISMATCH = "timezone_mismatch"
    OFFICE_HOURS = "office_hours"
    MACHINE_REGULARITY = "machine_regularity"
    ACTIVITY_BURST = "activity_burst"
    NAME_CHANGE = "name_change"
    YOUNG_PROLIFIC = "young_prolific"
    CREATION_BURST = "creation_burst"


class EvidenceKind(StrEnum):
    """Which store table a piece of evidence is a row of."""

    ACCOUNT = "account"
    POST = "post"
    MEDIA = "media"


@dataclass(frozen=True)
class EvidenceRef:
    """One cited row: an account, a post or a media file, by store id."""

    kind: EvidenceKind
    id: int

    @classmethod
    def account(cls, id: int) -> EvidenceRef:
        return cls(EvidenceKind.ACCOUNT, id)

    @classmethod
    def post(cls, id: int) -> EvidenceRef:
        return cls(EvidenceKind.POST, id)

    @classmethod
    def media(cls, id: int) -> EvidenceRef:
        return cls(EvidenceKind.MEDIA, id)


@dataclass(frozen=True)
class FindingDraft:
    """One flag raised by an analyzer, explained in plain language, with the evidence behind it.

    ``kind`` is a stable machine name (a :class:`FindingKind`); ``score`` is in [0, 1], higher
    is stronger; ``explanation`` is one paragraph a reader can check against the cited evidence.
    ``accounts``, ``posts`` and ``media`` are primary keys of the case store's rows.
    ``roles`` optionally names the part a cited item played (e.g. ``"first_poster"``).
    """

    kind: FindingKind
    score: float
    title: str
    explanation: str
    accounts: tuple[int, ...] = ()
    posts: tuple[int, ...] = ()
    media: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    roles: dict[EvidenceRef, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"finding score must be in [0, 1], got {self.score!r}")

    def evidence(self) -> list[tuple[EvidenceRef, str | None]]:
        """Every cited item once (accounts, then posts, then media, each in citing order),
        with its role when it has one."""
        cited = [
            *(EvidenceRef.account(a) for a in dict.fromkeys(self.accounts)),
            *(EvidenceRef.post(p) for p in dict.fromkeys(self.posts)),
            *(EvidenceRef.media(m) for m in dict.fromkeys(self.media)),
        ]
        return [(ref, self.roles.get(ref)) for ref in cited]


class GroupEdge(NamedTuple):
    """Two accounts of a group and how often they co-shared (the weight the report draws)."""

    a: int | str
    b: int | str
    weight: float = 1.0


def edges_to_details(edges: Iterable[GroupEdge]) -> list[list[object]]:
    """Edges as stored in a finding's ``details["edges"]``: ``[a, b, weight]`` lists."""
    return [[edge.a, edge.b, edge.weight] for edge in edges]


def edges_from_details(raw: Any) -> list[GroupEdge]:
    """The edges of ``details["edges"]`` with integer account ids; what cannot be read is
    passed over. Besides ``[a, b, weight]`` it reads ``[a, b]`` and
    ``{"source": a, "target": b, "weight": w}`` (or ``a``/``b`` keys)."""
    edges: list[GroupEdge] = []
    if not isinstance(raw, list):
        return edges
    a: Any
    b: Any
    for item in raw:
        try:
            if isinstance(item, dict):
                a, b = item.get("source", item.get("a")), item.get("target", item.get("b"))
                weight = item.get("weight", 1.0)
            else:
                a, b = item[0], item[1]
                weight = item[2] if len(item) > 2 else 1.0
            edges.append(GroupEdge(int(a), int(b), float(weight)))
        except (TypeError, ValueError, IndexError, KeyError):
            continue
    return edges
