"""twarc2 output: X API v2 data investigators already collected, read through the X normaliser.

Two layouts, told apart line by line:

- ``twarc2 search/timeline ... out.jsonl``: one API response page per line (``data``,
  ``includes``, ``meta``) plus twarc's ``__twarc`` provenance (request URL, version, time);
- ``twarc2 flatten``: one tweet per line, expansions in-line (``author``, ``attachments.media``,
  expanded ``referenced_tweets``), also stamped with ``__twarc``.

The file is read line by line as bytes (:mod:`collectors.importers.lines`: a 1 GB file never
sits in memory, a huge or undecodable line is one problem). What cannot be read is reported with
its line number and the rest is imported, as finely as the damage allows:

- a page of something else than tweets (users, lists, tweet counts, compliance results) is one
  problem that says what the page holds;
- a lone UTF-16 surrogate (``"\\ud83d"`` without its pair) or bytes that are not UTF-8 are
  replaced by U+FFFD and the page's tweets are imported, with a note;
- a tweet with a field of the wrong JSON type is imported without that field, with a note; a
  tweet that still cannot be read is skipped alone, not its page;
- JSON nested more than 1,024 levels deep refuses its line.

twarc's provenance is kept in each post's ``extra["twarc"]``. A page's ``includes.tweets`` (the
retweeted, quoted and replied-to tweets) are yielded too, as posts of their own authors marked
``seen_via="reference"`` (what was amplified, as the X collector stores it); they are not rows of
the file, and the importer counts them apart.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson

from osint.collectors.importers import ImportProblem, checked
from osint.collectors.importers.lines import BadLine, Handover, Line, iter_lines
from osint.collectors.x import Includes, page_from_flat_tweet, posts_from_page, referenced_posts
from osint.storage.records import SEEN_VIA_REFERENCE, PostRecord

PROVENANCE_KEYS = ("url", "version", "retrieved_at")
_SURROGATE = re.compile("[\ud800-\udfff]")
# The documented JSON types of a tweet's fields: a field of another type is left out.
_DICT_FIELDS = (
    "entities",
    "attachments",
    "public_metrics",
    "geo",
    "withheld",
    "note_tweet",
    "edit_controls",
    "author",
    "in_reply_to_user",
)
_LIST_FIELDS = ("referenced_tweets", "context_annotations", "edit_history_tweet_ids")
_TEXT_FIELDS = ("created_at", "lang", "author_id", "conversation_id", "in_reply_to_user_id")


class _Refused(Exception):
    """The line cannot be read; the message says why."""


def read_twarc(
    stream: BinaryIO,
    *,
    start_line: int = 1,
    start_offset: int = 0,
    handover: Handover | None = None,
) -> Iterator[PostRecord | ImportProblem]:
    """Yield the posts of each line (or the problems of a line), in file order.

    ``start_line`` and ``start_offset`` name where ``stream`` stands in the file, for line
    numbers and byte offsets when reading starts part-way (a child reader takes over);
    ``handover`` stops the reading at a line boundary when asked.
    """
    lines = iter_lines(stream, start_line=start_line, start_offset=start_offset, handover=handover)
    for line in lines:
        if isinstance(line, BadLine):
            yield ImportProblem(line.number, line.message)
        elif line.data.strip():
            yield from _read_line(line)


def _read_line(line: Line) -> Iterator[PostRecord | ImportProblem]:
    number = line.number
    try:
        item, notes = _parse(line)
        page, kind = _page_of(item)
    except _Refused as exc:
        yield ImportProblem(number, str(exc))
        return
    for note in notes:
        yield ImportProblem(number, note, kept=True)
    if page is None:
        if kind:
            yield ImportProblem(number, kind)
        return
    provenance = _provenance(item)
    posts, problems = _normalise(page)
    for message, dropped in problems:
        yield ImportProblem(number, message, kept=not dropped)
    for post in posts:
        if provenance:
            post.extra["twarc"] = provenance
        yield from checked(post, number, label=f"tweet {post.platform_id}")
    own = {post.platform_id for post in posts}
    for ref in _referenced(page):
        if ref.platform_id in own:
            continue
        ref.seen_via = SEEN_VIA_REFERENCE
        for fitted in checked(ref, number, label=f"referenced tweet {ref.platform_id}"):
            if isinstance(fitted, PostRecord):  # a reference that does not fit is left out
                yield fitted


def _referenced(page: dict[str, Any]) -> list[PostRecord]:
    """The page's ``includes.tweets`` as posts of their authors; none if they cannot be read
    (the referencing tweets keep their ids either way)."""
    try:
        return referenced_posts(Includes.of(page))
    except Exception:
        return []


def _parse(line: Line) -> tuple[Any, list[str]]:
    """The line's JSON, and notes of what had to be replaced to read it."""
    try:
        return orjson.loads(line.data), []  # a JSON parser several times faster than json's
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise _Refused("JSON nested more than 1,024 levels deep: skipped") from exc
        first = exc
    # orjson takes neither bytes that are not UTF-8 nor lone surrogates: json takes both
    notes = []
    try:
        text = line.data.decode("utf-8")
    except UnicodeDecodeError as bad:
        notes.append(
            f"not UTF-8 at byte offset {line.offset + bad.start:,} ({bad.reason}): "
            "read with U+FFFD in place of the bad bytes"
        )
        text = line.data.decode("utf-8", "replace")
    try:
        item = json.loads(text)
    except RecursionError as exc:
        raise _Refused("JSON nested too deep to read: skipped") from exc
    except ValueError:
        raise _Refused(f"not JSON ({first})") from first
    item, replaced = _without_surrogates(item)
    if replaced:
        notes.append(f"{replaced} lone UTF-16 surrogate(s) replaced by U+FFFD")
    return item, notes


def _without_surrogates(item: Any) -> tuple[Any, int]:
    """``item`` with lone surrogates replaced in every string (iteratively: depth is no limit)."""
    count = 0

    def clean(value: str) -> str:
        nonlocal count
        fixed, n = _SURROGATE.subn("\ufffd", value)
        count += n
        return fixed

    root: list[Any] = [item]
    stack: list[Any] = [root]
    while stack:
        container = stack.pop()
        keys = range(len(container)) if isinstance(container, list) else list(container)
        for key in keys:
            value = container[key]
            if isinstance(value, str):
                container[key] = clean(value)
            elif isinstance(value, list | dict):
                stack.append(value)
        if isinstance(container, dict) and any(_SURROGATE.search(k) for k in container):
            fixed = {clean(k): v for k, v in container.items()}
            container.clear()
            container.update(fixed)
    return root[0], count


def _page_of(item: Any) -> tuple[dict[str, Any] | None, str | None]:
    """The v2 page to normalise, or None and why the line holds no tweets (None: say nothing)."""
    if not isinstance(item, dict):
        raise _Refused("not a JSON object")
    if "data" in item:
        data = item["data"]
        items = data if isinstance(data, list) else [data]
        if items and not any(isinstance(d, dict) and "text" in d for d in items):
            return None, f"a page of {_what(items)}, not tweets: skipped"
        return item, None
    if item.get("id") and "text" in item:
        return _flat_page(item), None
    if "action" in item and "id" in item:
        return None, (
            f"a compliance result ({item.get('action')}, {item.get('reason')}) for "
            f"{str(item.get('id'))[:40]}, not a tweet: skipped"
        )
    meta = item.get("meta")
    if "errors" in item or (isinstance(meta, dict) and meta.get("result_count") == 0):
        return None, None  # an empty page or an error-only page holds no tweets
    raise _Refused("neither a twarc2 page nor a flattened tweet")


def _what(items: list[Any]) -> str:
    first = next((d for d in items if isinstance(d, dict)), {})
    count = f"{len(items):,} "
    if "tweet_count" in first:
        return count + "tweet counts (twarc2 counts)"
    if "username" in first:
        return count + "users"
    if "member_count" in first or "follower_count" in first or "owner_id" in first:
        return count + "lists"
    if "action" in first:
        return count + "compliance results"
    return count + "items without a text"


def _flat_page(item: dict[str, Any]) -> dict[str, Any]:
    try:
        return page_from_flat_tweet(item)
    except Exception:  # a field of the wrong type: read the tweet without it
        repaired, _ = _repaired(item)
        try:
            return page_from_flat_tweet(repaired)
        except Exception as exc:
            raise _Refused(f"a flattened tweet that cannot be read ({_why(exc)})") from exc


def _provenance(item: dict[str, Any]) -> dict[str, Any]:
    twarc = item.get("__twarc")
    if not isinstance(twarc, dict):
        return {}
    return {k: str(v)[:2000] for k, v in twarc.items() if k in PROVENANCE_KEYS}


def _normalise(page: dict[str, Any]) -> tuple[list[PostRecord], list[tuple[str, bool]]]:
    """The page's posts and its problems (message, whether a tweet was lost)."""
    with contextlib.suppress(Exception):  # whatever it was, the slow path below says it
        whole = posts_from_page(page)
        if not whole.problems:
            return whole.posts, []
    # Something in the page is not as documented: tweet by tweet, each repaired if it must be.
    problems: list[tuple[str, bool]] = []
    includes = page.get("includes")
    if includes is not None and not isinstance(includes, dict):
        problems.append(("'includes' is not an object: tweets read without expansions", False))
        includes = None
    data = page.get("data")
    posts = []
    for tweet in data if isinstance(data, list) else [data]:
        found, problem = _one_tweet(tweet, includes)
        posts.extend(found)
        if problem:
            problems.append(problem)
    return posts, problems


def _one_tweet(tweet: Any, includes: Any) -> tuple[list[PostRecord], tuple[str, bool] | None]:
    if not isinstance(tweet, dict):
        return [], (f"not a tweet object: {str(tweet)[:80]!r}: skipped", True)
    label = f"tweet {str(tweet.get('id'))[:40]}"
    first = _try_page({"data": [tweet], "includes": includes or {}})
    if isinstance(first, list):
        return first, None
    repaired, left_out = _repaired(tweet)
    if left_out:
        again = _try_page({"data": [repaired], "includes": includes or {}})
        if isinstance(again, list):
            note = f"{label}: fields of the wrong type left out: {', '.join(left_out)}"
            return again, (note, False)
    return [], (f"{label}: {first}: skipped", True)


def _try_page(page: dict[str, Any]) -> list[PostRecord] | str:
    try:
        normalized = posts_from_page(page)
    except Exception as exc:
        return _why(exc)
    if normalized.problems or not normalized.posts:
        return "; ".join(normalized.problems) or "not a tweet"
    return normalized.posts


def _repaired(tweet: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The tweet without the fields whose JSON type is not the documented one."""
    fixed, left_out = dict(tweet), []
    for names, kind in ((_DICT_FIELDS, dict), (_LIST_FIELDS, list), (_TEXT_FIELDS, str)):
        for name in names:
            if name in fixed and fixed[name] is not None and not isinstance(fixed[name], kind):
                del fixed[name]
                left_out.append(name)
    for name in ("entities", "attachments"):
        part = fixed.get(name)
        if isinstance(part, dict):
            kept = {k: v for k, v in part.items() if isinstance(v, list)}
            kept = {k: [i for i in v if isinstance(i, dict | str)] for k, v in kept.items()}
            if kept != part:
                fixed[name] = kept
                left_out.append(f"{name} (in part)")
    refs = fixed.get("referenced_tweets")
    if isinstance(refs, list) and not all(isinstance(r, dict) for r in refs):
        fixed["referenced_tweets"] = [r for r in refs if isinstance(r, dict)]
        left_out.append("referenced_tweets (in part)")
    return fixed, left_out


def _why(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deep"
    return f"{type(exc).__name__}: {str(exc)[:120]}"
