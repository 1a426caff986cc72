"""Coordination windows against the precision of the post times they compare.

X's information-operations archive gives ``tweet_time`` to the minute (the importer uses the
exact time a tweet id encodes when it can; older tweets keep the minute, ``time_precision =
"minute"``). Two such posts 59 seconds apart can show the same minute, and two 1 second apart
can show consecutive minutes: a co-share window shorter than a minute cannot be honoured on
them. :func:`window_notes` refuses such a window when every post of the case has minute times
and warns when some have; for longer windows it notes the uncertainty.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from osint.errors import InputError
from osint.storage.models import CollectionRun, Post

MINUTE = 60
# Import sources that can write minute-resolution times; a case without them needs no count.
MINUTE_SOURCES = ("x-io",)


def window_notes(session: Session, case_id: int, window: float) -> list[str]:
    """Warnings about ``window`` on this case's post times; InputError when it cannot work."""
    source = session.scalar(
        select(CollectionRun.id)
        .where(CollectionRun.case_id == case_id, CollectionRun.platform.in_(MINUTE_SOURCES))
        .limit(1)
    )
    if source is None:
        return []
    total, minute = session.execute(
        select(func.count(), func.count(Post.time_precision)).where(Post.case_id == case_id)
    ).one()
    if not minute:
        return []
    if window < MINUTE:
        if minute == total:
            raise InputError(
                f"a --window of {window:g} s is shorter than the minute resolution of this "
                f"case's post times ({minute:,} posts from X's information-operations archive "
                "give tweet_time to the minute)",
                hint="use --window 60 or more",
            )
        return [
            f"{minute:,} of the case's {total:,} posts have minute-resolution times (X's "
            f"information-operations archive): co-shares among them cannot be told apart "
            f"within {window:g} s; their pairs may be up to 59 s further apart than the window"
        ]
    return [
        f"{minute:,} of the case's {total:,} posts have minute-resolution times: pairs among "
        f"them may be up to 59 s further apart than the {window:g} s window"
    ]
