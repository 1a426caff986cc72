"""The fixed vocabularies of the store, one StrEnum each.

Each member is the very string stored in its column (a StrEnum compares equal to its value),
so old rows read as before and no migration is needed; code names the member, never the
literal, so a typo fails at import rather than matching nothing.
"""

from __future__ import annotations

from enum import StrEnum

# What a finding flags is named by the analyzers, which never import storage; it is one of the
# store's vocabularies all the same, so it is listed here with the others.
from osint.analyzers.findings import FindingKind

__all__ = ["AnalysisStatus", "FindingKind", "PostKind", "RunKind", "RunStatus"]


class PostKind(StrEnum):
    """What a post is to its author's timeline."""

    POST = "post"
    REPOST = "repost"
    REPLY = "reply"
    QUOTE = "quote"
    SHARE = "share"


class RunKind(StrEnum):
    """What started a collection run."""

    COLLECT = "collect"
    IMPORT = "import"
    MONITOR = "monitor"


class RunStatus(StrEnum):
    """Where a collection run (or a monitoring job's last run) ended."""

    RUNNING = "running"
    COMPLETED = "completed"
    UNAVAILABLE = "unavailable"  # the account is gone, suspended or private
    INTERRUPTED = "interrupted"  # stopped by the operator; resumable
    FAILED = "failed"  # an error; resumable
    ABANDONED = "abandoned"  # its process died and a later run took over


class AnalysisStatus(StrEnum):
    """Where a stored analysis run stands: exports and the report read only finished ones."""

    RUNNING = "running"  # being written (its transaction not yet committed)
    DONE = "done"
