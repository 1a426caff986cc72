"""Telegram Desktop's JSON export ("Export chat history" or "Export Telegram data", as JSON).

A folder holding ``result.json`` and the files it names (``photos/...``, ``files/...``,
``video_files/...``). ``result.json`` is either one chat (``name``, ``type``, ``id``,
``messages``) or a whole account (``chats.list[]`` and ``left_chats.list[]`` of such chats). It is
read incrementally with ijson: a 1 GB export never sits in memory.

What the export says, and what we make of it:

- ``date`` is the *exporting computer's local time* without a zone; ``date_unixtime`` (a string of
  Unix seconds, in exports since 2021) is the real time and the one used. Without it, ``date`` is
  read as UTC and the post says so in ``extra["time_zone"]``.
- ``text`` is a string, or a list of strings and entity objects (``{"type", "text", "href"}``);
  ``text_entities`` is the same as objects only. Links (``link``, ``text_link``), hashtags and
  mentions come from the entities.
- ``from_id`` is ``user123``, ``channel123`` or ``chat123``; accounts are keyed by Telegram's
  "marked" peer id (``123``, ``-100123``, ``-123``), as the Bot API and Telethon write them, so a
  collector working from the API finds the same accounts. A post is ``<chat peer id>/<message id>``.
- ``forwarded_from`` names the source (a name only, in most exports): the post is a ``repost`` of
  that source. The export does not say which of the source's messages it was, so its content key
  is the source plus the SHA-256 of the forwarded text.
- ``reply_to_message_id`` (with ``reply_to_peer_id`` for another chat) makes a ``reply``.
- ``photo`` and ``file`` are paths relative to the export folder, or a note such as
  "(File not included. Change data exporting settings to download.)". A path that is absolute,
  climbs out with ``..`` or leads outside the folder through a symlink is refused: the post is
  imported without that file and the refusal is reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import ijson

from osint.collectors.importers import ImportFormatError, ImportProblem, checked
from osint.collectors.importers.jsonstream import CUT_MARK, CappedStrings
from osint.storage.checks import NUL
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, MediaRef, PostRecord

PLATFORM = "telegram"
RESULT_FILE = "result.json"
_CHAT_PREFIXES = ("", "chats.list.item.", "left_chats.list.item.")
_MESSAGE_PREFIXES = {f"{p}messages.item": p for p in _CHAT_PREFIXES}
_CHAT_FIELDS = {f"{p}{name}": (p, name) for p in _CHAT_PREFIXES for name in ("name", "type", "id")}
_CHANNEL_TYPES = {"public_channel", "private_channel", "public_supergroup", "private_supergroup"}
_FILE_KINDS = {"video_file": "video", "video_message": "video", "animation": "gif"}
MAX_MESSAGE_DEPTH = 32  # exports nest 4 or 5 levels (text entities, reactions)
_TRACKED_DEPTH = 6  # chats and their messages sit within the first five levels
_BUFFER = 1024 * 1024


class TelegramExportError(ImportFormatError):
    """result.json is not a Telegram export, or breaks off (truncated or malformed JSON)."""


@dataclass
class Chat:
    """The chat whose messages are being read."""

    name: str | None = None
    type: str | None = None
    id: int | None = None

    @property
    def peer_id(self) -> str:
        if self.id is None:
            return "unknown"
        if self.type in _CHANNEL_TYPES:
            return f"-100{self.id}"
        if self.type == "private_group":
            return f"-{self.id}"
        return str(self.id)

    def post_url(self, message_id: int) -> str | None:
        if self.type in _CHANNEL_TYPES and self.id is not None:
            return f"https://t.me/c/{self.id}/{message_id}"
        return None


def locate_export(path: Path) -> tuple[Path, Path]:
    """``(result.json, export folder)`` for a folder or for the result.json file itself."""
    path = Path(path)
    if path.is_dir():
        return path / RESULT_FILE, path
    return path, path.parent


def marked_peer_id(from_id: str) -> str:
    """``user123`` -> ``123``, ``channel123`` -> ``-100123``, ``chat123`` -> ``-123``."""
    for prefix, mark in (("user", ""), ("channel", "-100"), ("chat", "-")):
        if from_id.startswith(prefix) and from_id[len(prefix) :].isdigit():
            return f"{mark}{from_id[len(prefix) :]}"
    return from_id


def read_export(stream: BinaryIO, folder: Path) -> Iterator[PostRecord | ImportProblem]:
    """Yield a record per message (service messages skipped) and a problem per refused part.

    Memory and time stay bounded whatever the file holds: strings are cut at
    :data:`~collectors.importers.jsonstream.MAX_STRING_BYTES` before the parser holds them, and
    nesting is followed by a counter (no path strings): a message nested deeper than
    :data:`MAX_MESSAGE_DEPTH` is refused, anything deeper elsewhere is read past.
    """
    folder = folder.resolve()
    reading = _Reading()
    events = ijson.basic_parse(CappedStrings(stream), use_float=True, buf_size=_BUFFER)
    try:
        for event, value in events:
            yield from reading.event(event, value, events, folder)
    except ijson.JSONError as exc:
        last = reading.last_id
        where = f"after message {last}" if last is not None else "before any message"
        raise TelegramExportError(
            f"result.json breaks off {where} (truncated or malformed JSON: {exc}); "
            "the messages before it were imported"
        ) from exc
    if not reading.found_chat:
        raise TelegramExportError(
            "no Telegram chat found (expected 'messages' or 'chats.list' at the top level)"
        )


class _Reading:
    """Where the parse stands: the containers down to the chats, the chats being read.

    Only the first :data:`_TRACKED_DEPTH` levels are named (that is where chats and messages
    are); deeper ones are counted, so a file nested 200,000 levels deep costs a counter.
    """

    def __init__(self) -> None:
        self.frames: list[tuple[bool, str]] = []  # (is an array, its name in the prefix)
        self.deep = 0  # containers open below the tracked levels
        self.key: str | None = None  # the last map key read
        self.chats: dict[str, Chat] = {}  # by prefix: the chat (of a full export) being read
        self.found_chat = False
        self.last_id: int | None = None

    def event(
        self, event: str, value: Any, events: Iterator[tuple[str, Any]], folder: Path
    ) -> Iterator[PostRecord | ImportProblem]:
        if event == "map_key":
            self.key = value
        elif event in ("start_map", "start_array"):
            prefix = self._prefix()
            if event == "start_map" and prefix in _MESSAGE_PREFIXES:
                self.found_chat = True
                chat = self.chats.setdefault(_MESSAGE_PREFIXES[prefix], Chat())
                yield from self._message(events, chat, folder)
            elif self.deep or len(self.frames) >= _TRACKED_DEPTH:
                self.deep += 1
            else:
                self.frames.append((event == "start_array", self._name() or ""))
            self.key = None
        elif event in ("end_map", "end_array"):
            if self.deep:
                self.deep -= 1
            elif self.frames:
                _, name = self.frames.pop()
                ended = ".".join([n for _, n in self.frames[1:]] + [name]) + "."
                if event == "end_map" and ended in _CHAT_PREFIXES[1:]:
                    self.chats.pop(ended, None)  # a chat of a full export ends
            self.key = None
        else:
            prefix = self._prefix()
            if prefix in _CHAT_FIELDS:
                chat_prefix, name = _CHAT_FIELDS[prefix]
                setattr(self.chats.setdefault(chat_prefix, Chat()), name, value)
                self.found_chat = True

    def _name(self) -> str | None:
        """The name (in ijson's prefix notation) of the value about to be read."""
        if not self.frames:
            return None
        return "item" if self.frames[-1][0] else self.key

    def _prefix(self) -> str | None:
        if self.deep:
            return None
        name = self._name()
        if name is None:
            return ""
        return ".".join([n for _, n in self.frames[1:]] + [name])

    def _message(
        self, events: Iterator[tuple[str, Any]], chat: Chat, folder: Path
    ) -> Iterator[PostRecord | ImportProblem]:
        message, too_deep = _build_message(events)
        msg_id = message.get("id")
        number = msg_id if isinstance(msg_id, int) and not isinstance(msg_id, bool) else 0
        if too_deep:
            yield ImportProblem(
                number, f"nested more than {MAX_MESSAGE_DEPTH} levels deep: skipped", "message"
            )
            return
        try:
            items = list(message_records(message, chat, folder))
        except Exception as exc:  # a field of a type no export has: this message only
            what = "nested too deep" if isinstance(exc, RecursionError) else type(exc).__name__
            yield ImportProblem(
                number, f"cannot be read ({what}: {str(exc)[:100]}): skipped", "message"
            )
            return
        yield from items
        if number:
            self.last_id = number


def _build_message(events: Iterator[tuple[str, Any]]) -> tuple[dict[str, Any], bool]:
    """The message whose ``start_map`` was just read; True if it nests too deep to keep.

    A message nested deeper than :data:`MAX_MESSAGE_DEPTH` is read to its end but not built
    further (what was built so far still names its id).
    """
    builder = ijson.ObjectBuilder()
    builder.event("start_map", None)
    depth, too_deep = 1, False
    for event, value in events:
        if event in ("start_map", "start_array"):
            depth += 1
            if depth > MAX_MESSAGE_DEPTH:
                too_deep = True
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                break
        if not too_deep:
            builder.event(event, value)
    value = builder.value
    return (value if isinstance(value, dict) else {}), too_deep


def message_records(
    message: dict[str, Any], chat: Chat, folder: Path
) -> Iterator[PostRecord | ImportProblem]:
    """The post (and any problems) of one message; nothing for service messages."""
    if message.get("type") != "message":
        return
    msg_id = message.get("id")
    if not isinstance(msg_id, int) or isinstance(msg_id, bool):
        yield ImportProblem(0, f"a message without a numeric id: {str(message)[:80]}", "message")
        return
    created, time_note = _message_time(message)
    if created is None:
        yield ImportProblem(msg_id, "no readable date or date_unixtime: skipped", "message")
        return
    entities = _entities(message)
    text = "".join(str(part.get("text", "")) for part in entities)
    if CUT_MARK in text:
        yield ImportProblem(
            msg_id,
            "its text is longer than 1 MiB: imported cut to its first 1 MiB",
            "message",
            kept=True,
        )
    post = PostRecord(
        platform=PLATFORM,
        platform_id=f"{chat.peer_id}/{msg_id}",
        account=_author(message, chat),
        created_at=created,
        text=text or None,
        url=chat.post_url(msg_id),
        links=_links(entities),
        hashtags=[
            str(e.get("text", "")).lstrip("#") for e in entities if e.get("type") == "hashtag"
        ],
        mentions=_mentions(entities),
        metrics=_metrics(message),
        extra=_extra(message, chat, entities, time_note),
    )
    _set_kind(post, message, chat)
    for problem in _attach_files(post, message, folder):
        yield ImportProblem(msg_id, problem, "message", kept=True)
    yield from checked(post, msg_id, "message", label="the message")


def _message_time(message: dict[str, Any]) -> tuple[datetime | None, str | None]:
    raw = message.get("date_unixtime")
    try:
        if raw is not None:
            return datetime.fromtimestamp(int(raw), UTC), None
        local = datetime.fromisoformat(str(message["date"]))
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None, None
    return local.replace(tzinfo=UTC), "unknown: 'date' is the exporting computer's local time"


def _entities(message: dict[str, Any]) -> list[dict[str, Any]]:
    entities = message.get("text_entities")
    if isinstance(entities, list):
        return [e for e in entities if isinstance(e, dict)]
    text = message.get("text")
    if isinstance(text, str):
        return [{"type": "plain", "text": text}] if text else []
    if isinstance(text, list):
        return [
            part if isinstance(part, dict) else {"type": "plain", "text": str(part)}
            for part in text
        ]
    return []


def _links(entities: list[dict[str, Any]]) -> list[str]:
    links = []
    for entity in entities:
        if entity.get("type") == "text_link" and entity.get("href"):
            links.append(str(entity["href"]))
        elif entity.get("type") == "link" and entity.get("text"):
            url = str(entity["text"])
            links.append(url if "://" in url else f"http://{url}")
    return list(dict.fromkeys(links))


def _mentions(entities: list[dict[str, Any]]) -> list[str]:
    found = []
    for entity in entities:
        if entity.get("type") == "mention":
            found.append(str(entity.get("text", "")).lstrip("@"))
        elif entity.get("type") == "mention_name" and entity.get("user_id") is not None:
            found.append(str(entity["user_id"]))
    return [m for m in dict.fromkeys(found) if m]


def _author(message: dict[str, Any], chat: Chat) -> AccountRecord:
    from_id = message.get("from_id")
    if isinstance(from_id, str) and from_id:
        return AccountRecord(PLATFORM, marked_peer_id(from_id), display_name=message.get("from"))
    # A channel post without from_id: the channel itself speaks.
    return AccountRecord(PLATFORM, chat.peer_id, display_name=chat.name)


def _metrics(message: dict[str, Any]) -> dict[str, Any]:
    reactions = message.get("reactions")
    if isinstance(reactions, list):
        counts = [r.get("count") for r in reactions if isinstance(r, dict)]
        return {"reactions": sum(c for c in counts if isinstance(c, int) and c >= 0)}
    return {}


def _extra(
    message: dict[str, Any], chat: Chat, entities: list[dict[str, Any]], time_note: str | None
) -> dict[str, Any]:
    extra: dict[str, Any] = {"chat": {"name": chat.name, "type": chat.type, "id": chat.id}}
    for key in ("from_id", "author", "forwarded_from", "saved_from", "via_bot", "media_type"):
        if message.get(key) is not None:
            extra[key] = message[key]
    if message.get("edited_unixtime"):
        try:
            extra["edited_at"] = datetime.fromtimestamp(
                int(message["edited_unixtime"]), UTC
            ).isoformat()
        except (TypeError, ValueError, OverflowError, OSError):
            extra["edited_unixtime_unreadable"] = str(message["edited_unixtime"])[:100]
    marked = [e for e in entities if e.get("type") not in (None, "plain")]
    if marked:
        extra["entities"] = marked
    if time_note:
        extra["time_zone"] = time_note
    return extra


def _set_kind(post: PostRecord, message: dict[str, Any], chat: Chat) -> None:
    source = message.get("forwarded_from_id") or message.get("forwarded_from")
    if source:
        source = marked_peer_id(str(source))[:255]
        post.kind, post.repost_of = PostKind.REPOST, source
        digest = hashlib.sha256((post.text or "").encode()).hexdigest()[:16]
        post.objects.append(("repost", f"{PLATFORM}:{source}#{digest}"))
        return
    reply_id = message.get("reply_to_message_id")
    if isinstance(reply_id, int):
        peer = message.get("reply_to_peer_id")
        chat_peer = marked_peer_id(str(peer)) if peer else chat.peer_id
        post.kind, post.reply_to = PostKind.REPLY, f"{chat_peer}/{reply_id}"


def _attach_files(post: PostRecord, message: dict[str, Any], folder: Path) -> list[str]:
    """Media refs for the message's photo and file; the problems with their paths."""
    problems = []
    for key in ("photo", "file"):
        value = message.get(key)
        if not isinstance(value, str) or not value:
            continue
        media_type = message.get("media_type")
        kind = (
            "photo"
            if key == "photo"
            else _FILE_KINDS.get(media_type, "other")
            if isinstance(media_type, str)
            else "other"
        )
        ref = MediaRef(source_url=value, position=len(post.media), kind=kind)
        post.media.append(ref)
        if value.startswith("(") and value.endswith(")"):  # "(File not included. ...)"
            ref.source_url, ref.error = None, f"not in the export: {value.strip('()')}"
            continue
        local, refusal = safe_export_path(folder, value)
        if refusal:
            ref.error = refusal
            problems.append(f"imported without its {key} {value[:200]!r}, refused: {refusal}")
        elif local is None or not _is_file(local):
            ref.error = "file missing from the export folder"
            problems.append(
                f"imported without its {key} {value[:200]!r}: file missing from the export folder"
            )
        else:
            ref.local_path = local
    return problems


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def safe_export_path(folder: Path, relative: str) -> tuple[Path | None, str | None]:
    """The file ``relative`` names inside ``folder`` (resolved), or why it is refused."""
    pure = PurePosixPath(relative.replace("\\", "/"))
    if not pure.parts:  # "", "." or "./"
        return None, "not a file path"
    if pure.is_absolute() or relative.startswith(("/", "\\")) or ":" in pure.parts[0]:
        return None, "absolute path (export paths are relative to the export folder)"
    if ".." in pure.parts:
        return None, "path climbs out of the export folder with '..'"
    if NUL in relative:
        return None, "not a file path (a NUL byte)"
    try:
        candidate = (folder / Path(*pure.parts)).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        return (
            None,
            f"path cannot be followed ({exc.strerror if isinstance(exc, OSError) else exc})",
        )
    if not candidate.is_relative_to(folder):
        return None, "path leads outside the export folder (through a symlink)"
    return candidate, None
