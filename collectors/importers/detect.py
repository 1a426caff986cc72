"""Which importer reads a file: decided by what the file holds, not by its name.

:func:`detect` reads the start of the file (inflated, for a ``.gz`` or a zip's first member):
a CSV header is matched against the columns each format needs, a JSON line against the keys of
each JSON format. The answer names the format and what gave it away, for the user to see; a
file no format fits is refused with the columns (or keys) found and what each format expects.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import orjson

from osint.collectors.importers import ImportFormatError, crowdtangle, fourcat_telegram, x_io
from osint.collectors.importers.files import TruncatedFile, open_members

HEAD_CHARS = 256 * 1024
FORMATS = {
    "x-io": "X information-operations archive (tweetid, userid, tweet_time ... or userid, "
    "user_screen_name ...)",
    "crowdtangle": "CrowdTangle CSV (Page Name or Group Name, Facebook Id, Post Created ...; "
    "Instagram: Account, User Name, Followers at Posting, Post Created, Photo ...)",
    "zeeschuimer": "Zeeschuimer NDJSON (item_id, source_platform, data ...)",
    "4cat-telegram": "4CAT Telegram CSV (id, thread_id, body, unix_timestamp, "
    "author_forwarded_from_name ...)",
    "twarc": "twarc2 JSONL (data, includes, __twarc ... or a flattened tweet)",
    "shares": "shares CSV (object_id, account_id, content_id, timestamp_share ...)",
    "telegram-export": "Telegram Desktop export (a folder with result.json)",
}


class UnknownFormat(ImportFormatError):
    """No importer recognises the file."""


@dataclass(frozen=True)
class Detected:
    format: str  # a key of FORMATS
    detail: str  # what kind of file of that format, in words
    evidence: str  # what gave it away


def detect(path: Path) -> Detected:
    """The format of the file (or folder) at ``path``."""
    path = Path(path)
    if path.is_dir():
        if (path / "result.json").is_file():
            return Detected("telegram-export", "Telegram Desktop export", "its result.json")
        raise UnknownFormat(f"{path} is a folder without result.json (not a Telegram export)")
    name, head = peek(path)
    text = head.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return _json_format(name, text)
    return _csv_format(name, head)


def peek(path: Path) -> tuple[str, str]:
    """The name of the first text file ``path`` holds, and its first characters."""
    members = open_members(path)
    try:
        for member in members:
            lines: list[str] = []
            size = 0
            try:
                for line in member.stream:  # whole lines: a JSON line is read to its end
                    lines.append(line)
                    size += len(line)
                    if size >= HEAD_CHARS:
                        break
            except TruncatedFile:
                pass  # a file cut short: its start still tells the format
            return member.name, "".join(lines)
    finally:
        members.close()
    raise UnknownFormat(f"{path} holds no text file")


def _json_format(name: str, text: str) -> Detected:
    first = text.split("\n", 1)[0]
    try:
        item = orjson.loads(first)
    except orjson.JSONDecodeError:
        item = None
    if isinstance(item, dict):
        keys = set(item)
        if {"item_id", "source_platform", "data"} <= keys:
            platform = item.get("source_platform")
            return Detected("zeeschuimer", f"Zeeschuimer capture ({platform})",
                            "its item_id, source_platform and data keys")  # fmt: skip
        if "__twarc" in keys or ("data" in keys and ({"includes", "meta"} & keys)):
            return Detected("twarc", "twarc2 output", "its data/includes/__twarc keys")
        if {"id", "text"} <= keys and ("author_id" in keys or "author" in keys):
            return Detected("twarc", "twarc2 flattened tweets", "its id, text and author_id keys")
        shown = ", ".join(sorted(keys)[:20])
    elif item is None and '"messages"' in text[:HEAD_CHARS] and '"type"' in text:
        return Detected("telegram-export", "Telegram Desktop result.json", "its messages list")
    else:
        shown = type(item).__name__
    raise UnknownFormat(
        f"{name}: JSON whose first line has keys {shown or 'none'}; expected one of: "
        + "; ".join(FORMATS[f] for f in ("zeeschuimer", "twarc", "telegram-export"))
    )


def _csv_format(name: str, head: str) -> Detected:
    try:
        header = [h.strip() for h in next(csv.reader(io.StringIO(head, newline="")))]
    except (StopIteration, csv.Error):
        header = []
    canonical = x_io.canonical_header(header)
    kind = x_io.file_kind(canonical)
    if kind is not None:
        named = x_io.release_of(name)
        release = f", release {named.release}" if named else ""
        part = f", part {named.part}" if named and named.part else ""
        shown = "tweetid, userid, tweet_time" if kind == "tweets" else "userid, user_screen_name"
        return Detected("x-io", f"{kind} file{release}{part}", f"its columns {shown}")
    platform = crowdtangle.platform_of(header)
    if platform is not None:
        variant = "historical data" if "Created" in header else f"{len(header)} columns"
        return Detected("crowdtangle", f"{platform.capitalize()} export ({variant})",
                        "its columns " + ("Facebook Id, URL" if platform == "facebook"
                                          else "Account, User Name, Photo"))  # fmt: skip
    if fourcat_telegram.is_fourcat_telegram(header):
        return Detected("4cat-telegram", "4CAT Telegram dataset", "its columns thread_id, "
                        "unix_timestamp, author_forwarded_from_name")  # fmt: skip
    lowered = {h.lower() for h in header}
    if "account_id" in lowered and ({"content_id", "post_id"} & lowered):
        return Detected("shares", "shares CSV", "its columns account_id, content_id/post_id")
    found = ", ".join(header[:40]) if header else "no header"
    raise UnknownFormat(
        f"{name}: no importer knows these columns: {found}; expected one of: "
        + "; ".join(FORMATS[f] for f in ("x-io", "crowdtangle", "4cat-telegram", "shares"))
    )
