"""A collection run's resume state: the one typed record behind ``CollectionRun.state``.

Collection, imports and the stale-run check share it. It is stored as the same JSON object as
before (``to_dict``/``from_dict``); a field that is not set is left out rather than written as
null (every reader treats both alike), and keys this version does not know are kept as they
were, so old rows read and write back unchanged.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

_COUNTS = ("pages", "posts", "resumes")


@dataclass
class RunState:
    pid: int | None = None  # the process collecting, on ``host``: a dead one's run is stale
    host: str | None = None
    since_id: str | None = None  # collect only posts newer than this (incremental runs)
    cursor: str | None = None  # the next page to ask for; None when the timeline is done
    newest_id: str | None = None  # the newest post seen, the next run's since_id
    pages: int | None = None
    posts: int | None = None
    complete: bool | None = None  # the run read the timeline to its end (or its since_id)
    resumes: int | None = None
    account: str | None = None  # the platform id the target resolved to
    account_status: str | None = None  # suspended, protected, not found ... when refused
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> RunState:
        raw = dict(raw or {})
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values: dict[str, Any] = {k: raw.pop(k) for k in list(raw) if k in known}
        for name in _COUNTS:
            if isinstance(values.get(name), str | float):  # read as int(...) before, so "3" too
                values[name] = int(values[name])
        return cls(**values, extra=raw)

    def to_dict(self) -> dict[str, Any]:
        stored = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name != "extra" and getattr(self, f.name) is not None
        }
        return {**self.extra, **stored}

    def replace(self, **changes: Any) -> RunState:
        return dataclasses.replace(self, **changes)
