"""The long "shares" format of coordination research (CooRTweet and others).

One row per post sharing one object. Two layouts are read:

- CooRTweet's ``object_id, account_id, content_id, timestamp_share``: ``object_id`` is one
  modality, named by the caller (``repost`` when objects are retweeted tweets, ``url``, ...);
- the multi-modal layout ``account_id, post_id, url_id, hashtag_id, domain_id, phash_id,
  timestamp``: every non-empty ``*_id`` column is an object of its own modality.

Timestamps are Unix seconds (integer or decimal) or ISO 8601. The file is read row by row, as
bytes (:mod:`collectors.importers.lines`): a bad row (not UTF-8, a field over the csv module's
limit, a time outside years 1-9999) becomes an :class:`ImportProblem` with its line number and
the rest is imported.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from osint.collectors.importers import ImportFormatError, ImportProblem, checked
from osint.collectors.importers.csvrows import FIELD_LIMIT  # noqa: F401 (sets the cell limit)
from osint.collectors.importers.lines import BadLine, decode_line, iter_lines
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, PostRecord

ACCOUNT_COLUMNS = ("account_id",)
POST_COLUMNS = ("content_id", "post_id")
TIME_COLUMNS = ("timestamp_share", "timestamp", "time", "created_at")
MODALITY_COLUMNS = {
    "url_id": "url",
    "hashtag_id": "hashtag",
    "domain_id": "domain",
    "phash_id": "image",
    "image_id": "image",
    "text_id": "text",
}


_ACCOUNT_CACHE = 100_000


class SharesFormatError(ImportFormatError):
    """The header does not name the columns a shares file needs."""


def parse_timestamp(value: str) -> datetime:
    value = value.strip()
    if not value:
        raise ValueError("empty timestamp")
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _pick(header: list[str], names: tuple[str, ...], what: str) -> str:
    for name in names:
        if name in header:
            return name
    raise SharesFormatError(f"no {what} column (expected one of: {', '.join(names)})")


def read_shares(
    stream: BinaryIO, *, platform: str = "imported", modality: str = "object"
) -> Iterator[PostRecord | ImportProblem]:
    """Yield one record per row (or a problem per bad row), in file order."""
    pending: list[ImportProblem] = []  # lines the csv reader was handed as blank, and why
    reader = csv.reader(_text_lines(stream, pending))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise SharesFormatError(f"the header cannot be read as CSV ({exc})") from exc
    account_col = header.index(_pick(header, ACCOUNT_COLUMNS, "account"))
    post_col = header.index(_pick(header, POST_COLUMNS, "post (content_id or post_id)"))
    time_col = header.index(_pick(header, TIME_COLUMNS, "timestamp"))
    object_cols = [(header.index("object_id"), modality)] if "object_id" in header else []
    object_cols += [(header.index(c), m) for c, m in MODALITY_COLUMNS.items() if c in header]
    if not object_cols:
        raise SharesFormatError(
            "no object column (expected object_id, or url_id/hashtag_id/domain_id/phash_id)"
        )
    width = len(header)
    accounts: dict[str, AccountRecord] = {}  # one record per account, shared by its posts
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield from pending
            pending.clear()
            yield ImportProblem(reader.line_num, f"not readable as CSV ({exc}): skipped")
            continue
        if pending:
            yield from pending
            pending.clear()
        if not row:
            continue
        if len(row) != width:
            if not _blank(row):
                yield ImportProblem(reader.line_num, f"expected {width} columns, found {len(row)}")
            continue
        account_id, post_id = row[account_col].strip(), row[post_col].strip()
        if not account_id or not post_id:
            if not _blank(row):
                yield ImportProblem(reader.line_num, "empty account or post id")
            continue
        try:
            created = parse_timestamp(row[time_col])
        except (ValueError, OverflowError, OSError) as exc:
            yield ImportProblem(reader.line_num, f"unparseable timestamp {row[time_col]!r} ({exc})")
            continue
        objects = [(m, key) for i, m in object_cols if (key := row[i].strip())]
        if not objects:
            yield ImportProblem(reader.line_num, "no object on this row")
            continue
        reposted = _repost_key(objects)
        account = accounts.get(account_id)
        if account is None:
            if len(accounts) >= _ACCOUNT_CACHE:
                accounts.clear()
            account = accounts[account_id] = AccountRecord(platform, account_id)
        yield from checked(
            PostRecord(
                platform=platform,
                platform_id=post_id,
                account=account,
                created_at=created,
                kind=PostKind.REPOST if reposted else PostKind.SHARE,
                repost_of=reposted,
                objects=objects,
            ),
            reader.line_num,
        )
    yield from pending


def read_shares_file(
    path: Path, *, platform: str = "imported", modality: str = "object"
) -> Iterator[PostRecord | ImportProblem]:
    """:func:`read_shares` over the file at ``path`` (what a reading child process runs)."""
    with Path(path).open("rb") as stream:
        yield from read_shares(stream, platform=platform, modality=modality)


def _text_lines(stream: BinaryIO, pending: list[ImportProblem]) -> Iterator[str]:
    """The file's lines as text; a line that cannot be one is handed on blank, its problem noted."""
    for line in iter_lines(stream):
        text = line if isinstance(line, BadLine) else decode_line(line)
        if isinstance(text, BadLine):
            pending.append(ImportProblem(text.number, text.message))
            yield "\n"
        else:
            yield text


def _repost_key(objects: list[tuple[str, str]]) -> str | None:
    for modality, key in objects:
        if modality == "repost":
            return key
    return None


def _blank(row: list[str]) -> bool:
    return all(not cell.strip() for cell in row)
