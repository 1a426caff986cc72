"""twarc2 output: X API v2 data investigators already collected, read through the X normaliser.

Two layouts, told apart line by line:

- ``twarc2 search/timeline ... out.jsonl``: one API response page per line (``data``,
  ``includes``, ``meta``) plus twarc's ``__twarc`` provenance (request URL, version, time);
- ``twarc2 flatten``: one tweet per line, expansions in-line (``author``, ``attachments.media``,
  expanded ``referenced_tweets``), also stamped with ``__twarc``.

The file is read line by line (a 1 GB file never sits in memory). A line that is not JSON, or
not one of these shapes, becomes an :class:`ImportProblem` with its line number; the rest is
imported. twarc's provenance is kept in each post's ``extra["twarc"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TextIO

import orjson

from osint.collectors.importers import ImportProblem
from osint.collectors.x import page_from_flat_tweet, posts_from_page
from osint.storage.records import PostRecord

PROVENANCE_KEYS = ("url", "version", "retrieved_at")


def _is_user(item: Any) -> bool:
    return isinstance(item, dict) and "username" in item and "text" not in item


def read_twarc(stream: TextIO) -> Iterator[PostRecord | ImportProblem]:
    """Yield the posts of each line (or a problem per bad line), in file order."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)  # a JSON parser several times faster than json's
        except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
            yield ImportProblem(number, f"not JSON ({exc})")
            continue
        if not isinstance(item, dict):
            yield ImportProblem(number, "not a JSON object")
            continue
        provenance = {k: v for k, v in (item.get("__twarc") or {}).items() if k in PROVENANCE_KEYS}
        data = item.get("data")
        if "data" in item:
            if isinstance(data, list) and data and all(_is_user(d) for d in data):
                yield ImportProblem(number, "a page of users, not tweets: skipped")
                continue
            page = item
        elif item.get("id") and "text" in item:
            page = page_from_flat_tweet(item)
        elif "errors" in item or item.get("meta", {}).get("result_count") == 0:
            continue  # an empty page or an error-only page holds no tweets
        else:
            yield ImportProblem(number, "neither a twarc2 page nor a flattened tweet")
            continue
        normalized = posts_from_page(page)
        for problem in normalized.problems:
            yield ImportProblem(number, problem)
        for post in normalized.posts:
            if provenance:
                post.extra["twarc"] = provenance
            yield post
