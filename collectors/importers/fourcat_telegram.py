"""4CAT's CSV of a Telegram dataset (its "Telegram API search" data source, downloaded as CSV).

One row per message: ``id`` (``<chat>-<message id>``; the message id alone in older 4CAT),
``thread_id`` and ``chat`` (the channel's username, or its id), ``author``,
``author_username``, ``author_name``, ``author_is_bot``, ``body``, ``reply_to``, ``views``,
``reactions``, ``timestamp`` and ``unix_timestamp``, ``timestamp_edited`` and
``unix_timestamp_edited``, ``author_forwarded_from_name``/``_username``/``_id``,
``timestamp_forwarded_from`` and ``unix_timestamp_forwarded_from``, ``link_title``,
``link_description``, ``link_attached``, ``attachment_type``, ``attachment_data``,
``attachment_filename`` (newer 4CAT adds ``body_markdown, is_reply, entities_linked,
entities_mentioned, all_connections, restriction_reason, ...``).

The formatted ``timestamp*`` columns are in the 4CAT server's local time, without a zone: only
the ``unix_*`` columns are read. Posts are keyed as the Telegram collector keys them
(``<channel>/<message id>``, the channel in lower case), so a 4CAT dataset and ``osint collect
telegram`` meet. A forward is a ``repost`` of ``telegram:<source>@<original unix time>``: two
channels forwarding the same message share that key (without the original time, the source and
the SHA-256 of the text, as the Telegram Desktop importer does).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.csvrows import read_header, require_columns, rows
from osint.collectors.importers.files import TextMember
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, PostRecord

PLATFORM = "telegram"
COLUMNS = (
    "id", "thread_id", "chat", "author", "author_username", "author_name", "author_is_bot",
    "body", "reply_to", "views", "timestamp", "unix_timestamp", "timestamp_edited",
    "unix_timestamp_edited", "author_forwarded_from_name", "author_forwarded_from_username",
    "timestamp_forwarded_from", "unix_timestamp_forwarded_from", "attachment_type",
    "attachment_data", "attachment_filename",
)  # fmt: skip
REQUIRED = ("id", "thread_id", "body", "unix_timestamp")
TELEGRAM_MARKERS = ("author_forwarded_from_name", "attachment_type", "unix_timestamp_edited")
_URL = re.compile(r"https?://[^\s<>\"']+")
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
_MENTION = re.compile(r"(?<![\w@])@(\w{4,})")


def is_fourcat_telegram(header: list[str]) -> bool:
    names = set(header)
    return all(c in names for c in REQUIRED) and any(c in names for c in TELEGRAM_MARKERS)


def read_fourcat_telegram(member: TextMember) -> Iterator[PostRecord | ImportProblem]:
    """The messages of a 4CAT Telegram CSV as posts, in file order."""
    reader, header = read_header(member)
    require_columns(header, (*REQUIRED, "author_forwarded_from_name"), "4CAT's Telegram CSV",
                    expected=COLUMNS)  # fmt: skip
    col = {name: i for i, name in enumerate(header)}
    for item in rows(member, reader, len(header)):
        if isinstance(item, ImportProblem):
            yield item
            continue
        line, cells = item

        def get(name: str, cells: list[str] = cells) -> str:
            index = col.get(name)
            return cells[index].strip() if index is not None else ""

        try:
            yield _post(get, line)
        except ValueError as exc:
            yield ImportProblem(line, str(exc))


def _unix(value: str, name: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(float(value)), UTC)
    except (ValueError, OverflowError, OSError):
        raise ValueError(f"{name} {value[:30]!r} is not a Unix time") from None


def _post(get: Any, line: int) -> PostRecord:
    chat = (get("thread_id") or get("chat")).lower()
    raw_id = get("id")
    number = raw_id.rpartition("-")[2] if "-" in raw_id else raw_id
    if not chat or not number.isdigit():
        raise ValueError(f"no chat or message id (id {raw_id[:40]!r})")
    created = _unix(get("unix_timestamp"), "unix_timestamp")
    body = get("body")
    author, username = get("author"), get("author_username")
    if username and username.lower() != chat and author:
        account = AccountRecord(
            PLATFORM, author, handle=username, display_name=get("author_name") or None
        )
    else:  # a channel's post: the channel is its author
        account = AccountRecord(PLATFORM, chat, handle=username or get("thread_id") or None,
                                display_name=get("author_name") or None)  # fmt: skip
    extra: dict[str, Any] = {"source": "4cat", "line": line, "chat": chat}
    if edited := get("unix_timestamp_edited"):
        extra["edited_at"] = _unix(edited, "unix_timestamp_edited").isoformat()
    for name in ("attachment_type", "attachment_data", "attachment_filename", "link_title",
                 "link_description", "reactions", "author_is_bot", "restriction_reason"):  # fmt: skip
        if value := get(name):
            extra[name] = value
    post = PostRecord(
        platform=PLATFORM,
        platform_id=f"{chat}/{number}",
        account=account,
        created_at=created,
        text=body,
        url=f"https://t.me/{chat}/{number}" if not chat.lstrip("-").isdigit() else None,
        links=list(dict.fromkeys([*_URL.findall(body), *[u for u in [get("link_attached")] if u]])),
        hashtags=list(dict.fromkeys(_HASHTAG.findall(body))),
        mentions=list(dict.fromkeys(_MENTION.findall(body))),
        metrics={"views": int(views)} if (views := get("views")).isdigit() else {},
        extra=extra,
    )
    if (reply := get("reply_to")).isdigit():
        post.kind, post.reply_to = PostKind.REPLY, f"{chat}/{reply}"
    _forward(post, get)
    return post


def _forward(post: PostRecord, get: Any) -> None:
    source = (
        get("author_forwarded_from_username")
        or get("author_forwarded_from_id")
        or get("author_forwarded_from_name")
    )
    if not source:
        return
    source = source.lower()[:200]
    post.kind, post.repost_of = PostKind.REPOST, source
    when = get("unix_timestamp_forwarded_from")
    post.extra["forwarded_from"] = {"name": get("author_forwarded_from_name"), "source": source}
    if when.isdigit() and int(when) > 0:
        original = _unix(when, "unix_timestamp_forwarded_from")
        post.extra["forwarded_from"]["original_time"] = original.isoformat()
        post.objects.append(("repost", f"{PLATFORM}:{source}@{when}"))
    else:  # as the Telegram Desktop importer keys a forward it cannot date: source and text
        digest = hashlib.sha256((post.text or "").encode()).hexdigest()[:16]
        post.objects.append(("repost", f"{PLATFORM}:{source}#{digest}"))
