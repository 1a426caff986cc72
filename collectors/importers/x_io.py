"""X's information-operations archive: the tweets and users files of each transparency release.

Twitter (now X) published the networks it removed as state-backed information operations, one
release per campaign: ``<campaign>_<MMYYYY>_tweets_csv_hashed[_N].csv`` (split into parts
``_1``, ``_2``, ... when large) and ``<campaign>_<MMYYYY>_users_csv_hashed.csv``; the first
releases are named ``ira_tweets_csv_hashed.csv``, ``russia_201901_1_tweets_csv_hashed.csv``.

- ``userid`` (and the screen and display names of accounts with fewer than 5,000 followers) are
  hashed with a salt of the release: equal hashes in two releases say nothing. Accounts are kept
  as ``<release>:<userid>`` so that two releases never merge accounts; tweet ids are X's own
  and stay as they are (a tweet in two releases is one post).
- ``tweet_time`` is UTC with minute resolution (``2017-08-19 15:13``). A tweet id after
  November 2010 is a snowflake that encodes the time to the millisecond; when it agrees with
  ``tweet_time`` it is used (the file's ``tweet_time`` kept in ``extra["tweet_time"]``),
  otherwise the post keeps the minute and says so (``time_precision = "minute"``).
- ``hashtags``, ``urls``, ``user_mentions`` are Python list literals, read by
  :mod:`collectors.importers.literals` (never evaluated); one that is not a list is reported
  and the tweet is imported without it (the cell kept in ``extra["unread"]``).
- ``user_reported_location`` (the claimed place), ``account_creation_date`` and the profile go
  into a profile snapshot per account, which the timeline analysis reads; ``tweet_client_name``
  is the post's ``client``.

Some releases drop the ``user_`` prefix of the profile columns; both spellings are read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

from osint.collectors.importers import ImportFormatError, ImportProblem, checked
from osint.collectors.importers.csvrows import (
    ColumnsError,
    describe_columns,
    parse_count,
    parse_day,
    read_header,
    rows,
)
from osint.collectors.importers.files import TextMember, open_members
from osint.collectors.importers.literals import LiteralError, parse_list
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, PostRecord, ProfileRecord

PLATFORM = "x"
WEB = "https://x.com"
TWEETS_COLUMNS = (
    "tweetid", "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language", "tweet_language", "tweet_text", "tweet_time",
    "tweet_client_name", "in_reply_to_userid", "in_reply_to_tweetid", "quoted_tweet_tweetid",
    "is_retweet", "retweet_userid", "retweet_tweetid", "latitude", "longitude", "quote_count",
    "reply_count", "like_count", "retweet_count", "hashtags", "urls", "user_mentions",
    "poll_choices",
)  # fmt: skip
USERS_COLUMNS = (
    "userid", "user_display_name", "user_screen_name", "user_reported_location",
    "user_profile_description", "user_profile_url", "follower_count", "following_count",
    "account_creation_date", "account_language",
)  # fmt: skip
TWEETS_REQUIRED = ("tweetid", "userid", "tweet_time")
USERS_REQUIRED = ("userid",)
X_EPOCH_MS = 1288834974657
SNOWFLAKE_START = datetime(2010, 11, 5, tzinfo=UTC)  # ids before this are not snowflakes
_MINUTE = timedelta(minutes=1)
_TWO_MINUTES = 2 * _MINUTE
_LIST_COLUMNS = ("hashtags", "urls", "user_mentions")
_COUNT_COLUMNS = ("quote_count", "reply_count", "like_count", "retweet_count")
_POST_CELLS = (
    "retweet_tweetid", "is_retweet", "in_reply_to_tweetid", "quoted_tweet_tweetid",
    "in_reply_to_userid", "retweet_userid", "latitude", "longitude", "poll_choices",
    "tweet_text", "tweet_language", "tweet_client_name", *_COUNT_COLUMNS,
)  # fmt: skip
_FILE_NAME = re.compile(
    r"^(?P<release>[a-z0-9][a-z0-9_-]*?)(?:_(?P<part1>\d{1,3}))?_(?P<kind>tweets|users)"
    r"_csv_(?:un)?hashed(?:_(?P<part2>\d{1,3}))?$"
)
_RELEASE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_SEEN_LIMIT = 500_000  # accounts remembered per file (their profile is emitted once)
_TRUE = frozenset(("true", "1", "yes", "t"))


@dataclass(frozen=True)
class ReleaseFile:
    """What a file's name says: the release, tweets or users, and the part of a split file."""

    release: str
    kind: str  # tweets | users
    part: int | None = None


def release_of(name: str) -> ReleaseFile | None:
    """The release a file's name (or a zip member's) belongs to; None when it says none."""
    stem = name.lower()
    for suffix in (".gz", ".zip", ".csv", ".txt"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    match = _FILE_NAME.match(stem)
    if match is None:
        return None
    part = match.group("part1") or match.group("part2")
    return ReleaseFile(match.group("release"), match.group("kind"), int(part) if part else None)


def check_release(name: str) -> str:
    release = name.strip().lower()
    if not _RELEASE.match(release):
        raise ImportFormatError(
            f"release name {name!r} is not usable: use letters, digits, '_' and '-', "
            "as in the file names (china_052020)"
        )
    return release


def canonical_header(header: list[str]) -> list[str]:
    """Column names in the tweets-file spelling (``display_name`` -> ``user_display_name``)."""
    known = set(TWEETS_COLUMNS)
    names = []
    for raw in header:
        name = raw.strip().lower()
        if name not in known and f"user_{name}" in known:
            name = f"user_{name}"
        names.append(name)
    return names


def file_kind(header: list[str]) -> str | None:
    """``tweets`` or ``users`` from a (canonical) header, None when it is neither."""
    if all(c in header for c in TWEETS_REQUIRED):
        return "tweets"
    if "userid" in header and "tweetid" not in header and "user_screen_name" in header:
        return "users"
    return None


def read_io_archive(
    member: TextMember, *, release: str, exact_times: bool = True
) -> Iterator[PostRecord | ProfileRecord | ImportProblem]:
    """The posts and profiles of a tweets file, or the profiles of a users file, in file order."""
    reader, raw_header = read_header(member)
    header = canonical_header(raw_header)
    kind = file_kind(header)
    if kind is None:
        raise not_io_file(member.name, raw_header)
    parser = _RowReader(header, release, exact_times=exact_times)
    width = len(header)
    for item in rows(member, reader, width):
        if isinstance(item, ImportProblem):
            yield item
            continue
        line, cells = item
        try:
            if kind == "tweets":
                yield from parser.tweet(line, cells)
            else:
                yield from parser.user(line, cells)
        except _RowError as exc:
            yield ImportProblem(line, str(exc))


class _RowError(ValueError):
    """The row cannot become a post (no tweet id, no account, no time)."""


class _RowReader:
    """Turns rows into records; column positions looked up once, accounts shared by their posts.

    Rows are read with plain indexing (a column the file lacks reads the empty cell appended to
    each row): this loop runs tens of millions of times on a release.
    """

    def __init__(self, header: list[str], release: str, *, exact_times: bool) -> None:
        self.release = release
        self.prefix = f"{release}:"
        self.exact_times = exact_times
        col = {name: i for i, name in enumerate(header)}
        self.at = {name: col.get(name, -1) for name in TWEETS_COLUMNS}
        # the cells a post is made of, in _POST_CELLS order, in one C call per row
        self.post_cells = itemgetter(*(self.at[name] for name in _POST_CELLS))
        self.last_time: tuple[str, tuple[datetime, bool] | None] = ("", None)
        self.accounts: dict[str, AccountRecord] = {}
        self.seen: set[str] = set()

    def _get(self, cells: list[str], name: str) -> str:
        return cells[self.at[name]].strip()

    def _account(self, cells: list[str], userid: str) -> tuple[AccountRecord, str | None]:
        """The row's account (one record per account) and what was wrong with its date."""
        account = self.accounts.get(userid)
        problem = None
        if account is None:
            if len(self.accounts) >= 100_000:
                self.accounts.clear()
            try:
                created = parse_day(self._get(cells, "account_creation_date"))
            except ValueError as exc:
                created, problem = None, f"account_creation_date: {exc}; imported without it"
            account = AccountRecord(
                PLATFORM,
                self.prefix + userid,
                handle=self._get(cells, "user_screen_name") or None,
                display_name=self._get(cells, "user_display_name") or None,
                created_at=created,
            )
            self.accounts[userid] = account
        return account, problem

    def _profile(self, cells: list[str], account: AccountRecord, source: str) -> ProfileRecord:
        extra: dict[str, Any] = {"release": self.release, "source": source}
        language = self._get(cells, "account_language")
        if language:
            extra["account_language"] = language
        return ProfileRecord(
            account=account,
            bio=self._get(cells, "user_profile_description") or None,
            location=self._get(cells, "user_reported_location") or None,
            url=self._get(cells, "user_profile_url") or None,
            followers_count=parse_count(self._get(cells, "follower_count")),
            following_count=parse_count(self._get(cells, "following_count")),
            extra=extra,
        )

    def user(self, line: int, cells: list[str]) -> Iterator[ProfileRecord | ImportProblem]:
        cells.append("")
        userid = self._get(cells, "userid")
        if not userid:
            raise _RowError("no userid")
        account, problem = self._account(cells, userid)
        if problem:
            yield ImportProblem(line, problem, kept=True)
        yield self._profile(cells, account, "users file")

    def tweet(
        self, line: int, cells: list[str]
    ) -> Iterator[PostRecord | ProfileRecord | ImportProblem]:
        cells.append("")
        at = self.at
        tweet_id = cells[at["tweetid"]].strip()
        if not tweet_id.isdigit():
            raise _RowError(f"tweetid {tweet_id[:40]!r} is not a tweet id")
        userid = cells[at["userid"]].strip()
        if not userid:
            raise _RowError(f"tweet {tweet_id} has no userid")
        account = self.accounts.get(userid)
        if account is None or userid not in self.seen:
            account, problem = self._account(cells, userid)
            if problem:
                yield ImportProblem(line, problem, kept=True)
            if userid not in self.seen:
                if len(self.seen) < _SEEN_LIMIT:
                    self.seen.add(userid)
                yield self._profile(cells, account, "tweets file")
        extra: dict[str, Any] = {"line": line}
        raw_time = cells[at["tweet_time"]]
        created, precision, time_problem = self._time(tweet_id, raw_time, extra)
        if time_problem:
            yield ImportProblem(line, time_problem, kept=True)
        lists: list[list[str]] = []
        for name in _LIST_COLUMNS:
            cell = cells[at[name]]
            if cell == "[]" or not cell:
                lists.append([])
                continue
            try:
                lists.append(list(_list_cell(cell)))
            except LiteralError as exc:
                lists.append([])
                extra.setdefault("unread", {})[name] = cell[:2000]
                yield ImportProblem(
                    line, f"{name} is not a list ({exc}): imported without it", kept=True
                )
        post = self._post(cells, tweet_id, account, created, lists, extra)
        post.time_precision = precision
        yield from checked(post, line, label=f"tweet {tweet_id}")  # fit here, beside the writer

    def _post(
        self,
        cells: list[str],
        tweet_id: str,
        account: AccountRecord,
        created: datetime,
        lists: list[list[str]],
        extra: dict[str, Any],
    ) -> PostRecord:
        prefix = self.prefix
        (
            retweet_of, retweeted, reply_to, quote_of, reply_user, retweet_user, latitude,
            longitude, poll, text, lang, client, *counts,
        ) = self.post_cells(cells)  # fmt: skip
        retweet_of = retweet_of.strip() or None
        is_retweet = retweet_of is not None or retweeted.strip().lower() in _TRUE
        reply_to = reply_to.strip() or None
        quote_of = quote_of.strip() or None
        kind = (
            PostKind.REPOST
            if is_retweet
            else PostKind.REPLY
            if reply_to
            else PostKind.QUOTE
            if quote_of
            else PostKind.POST
        )
        if value := reply_user.strip():
            extra["in_reply_to_userid"] = prefix + value
        if value := retweet_user.strip():
            extra["retweet_userid"] = prefix + value
        if latitude and latitude != "absent" and longitude and longitude != "absent":
            extra["geo"] = [latitude.strip(), longitude.strip()]
        if poll := poll.strip():
            extra["poll_choices"] = poll
        metrics = {}
        for name, cell in zip(_COUNT_COLUMNS, counts, strict=True):
            if (count := _count(cell)) is not None:
                metrics[name] = count
        hashtags, urls, mentions = lists
        return PostRecord(
            platform=PLATFORM,
            platform_id=tweet_id,
            account=account,
            created_at=created,
            kind=kind,
            text=text,
            url=f"{WEB}/i/web/status/{tweet_id}",
            lang=lang.strip() or None,
            repost_of=retweet_of if is_retweet else None,
            reply_to=reply_to,
            quote_of=quote_of,
            links=urls,
            hashtags=hashtags,
            mentions=[prefix + m for m in mentions] if mentions else [],
            metrics=metrics,
            extra=extra,
            client=client.strip()[:255] or None,
        )

    def _time(
        self, tweet_id: str, raw: str, extra: dict[str, Any]
    ) -> tuple[datetime, str | None, str | None]:
        """(created_at, precision, problem): the snowflake's time when it agrees with tweet_time."""
        stated: datetime | None
        last_raw, parsed = self.last_time
        if raw != last_raw or parsed is None:  # rows of one minute come together: parse once
            try:
                parsed = parse_tweet_time(raw)
            except ValueError:
                parsed = None
            self.last_time = (raw, parsed)
        stated, seconds = parsed if parsed is not None else (None, False)
        encoded = snowflake_time(tweet_id)
        if stated is None:
            if encoded is None:
                raise _RowError(f"tweet_time {raw[:40]!r} is not a time and the id holds none")
            extra["tweet_time"] = raw[:40]
            return encoded, None, f"tweet_time {raw[:40]!r} is not a time: taken from the tweet id"
        if seconds:
            return stated, None, None
        if self.exact_times and encoded is not None:
            if stated - _MINUTE <= encoded < stated + _TWO_MINUTES:
                extra["tweet_time"] = raw
                return encoded, None, None
            if stated >= SNOWFLAKE_START:
                extra["tweet_id_time"] = encoded.isoformat()
                return (
                    stated,
                    "minute",
                    f"tweet {tweet_id}: its id says {encoded:%Y-%m-%d %H:%M:%S}, tweet_time "
                    f"{raw}: tweet_time kept (minute resolution)",
                )
        return stated, "minute", None


@functools.lru_cache(maxsize=16_384)  # hashtags and links repeat across a campaign's tweets
def _list_cell(cell: str) -> tuple[str, ...]:
    """The items of a list cell (:func:`parse_list`; an error is raised again each time)."""
    return tuple(parse_list(cell))


def _count(value: str) -> int | None:
    """A count cell: ``12.0`` as the archive writes them, fast; others by :func:`parse_count`."""
    known = _COUNTS.get(value)
    if known is not None:
        return known
    count = _parse_count_cell(value)
    if count is not None and len(_COUNTS) < 100_000:  # counts repeat: 0.0, 1.0, ...
        _COUNTS[value] = count
    return count


_COUNTS: dict[str, int] = {}


def _parse_count_cell(value: str) -> int | None:
    if value.isdigit():
        return int(value)
    if value.endswith(".0") and value[:-2].isdigit():
        return int(value[:-2])
    return parse_count(value)


def parse_tweet_time(raw: str) -> tuple[datetime, bool]:
    """``YYYY-MM-DD HH:MM`` (or with ``:SS``) as UTC; whether it had seconds."""
    text = raw.strip()
    if len(text) == 16 and text[4] == "-" and text[7] == "-" and text[10] in " T":
        return (
            datetime(
                int(text[0:4]), int(text[5:7]), int(text[8:10]),
                int(text[11:13]), int(text[14:16]), tzinfo=UTC,
            ),
            False,
        )  # fmt: skip
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC), True


def snowflake_time(tweet_id: str) -> datetime | None:
    """The time a snowflake id encodes (to the millisecond); None for ids too small to be one."""
    value = int(tweet_id)
    if value < 1 << 42:  # before ~17 minutes after the epoch: a sequential pre-2010 id
        return None
    return datetime.fromtimestamp(((value >> 22) + X_EPOCH_MS) / 1000, UTC)


def release_for(path: Path, member: str, given: str | None) -> str:
    """The release of a file: the one given, else what the member's or the file's name says."""
    if given:
        return check_release(given)
    for name in (member, path.name):
        found = release_of(name)
        if found is not None:
            return found.release
    raise ImportFormatError(
        f"cannot tell the release from the name {member!r}: X names its files "
        "<campaign>_<MMYYYY>_tweets_csv_hashed[_N].csv; pass --release NAME (e.g. china_052020) "
        "so that its hashed ids are kept apart from other releases'"
    )


def read_io_file(
    path: Path, *, release: str | None = None, exact_times: bool = True
) -> Iterator[PostRecord | ProfileRecord | ImportProblem]:
    """Every tweets or users file ``path`` holds (plain, .gz or a zip of them), in order."""
    for member in open_members(Path(path)):
        chosen = release_for(Path(path), member.name, release)
        yield from read_io_archive(member, release=chosen, exact_times=exact_times)


def describe_io_file(path: Path, release: str | None = None) -> list[tuple[str, str, str]]:
    """``(member, release, kind)`` of each file ``path`` holds, from names and headers only."""
    found = []
    members = open_members(Path(path))
    try:
        for member in members:
            _, header = read_header(member)
            kind = file_kind(canonical_header(header))
            if kind is None:
                raise not_io_file(member.name, header)
            found.append((member.name, release_for(Path(path), member.name, release), kind))
    finally:
        members.close()
    return found


def not_io_file(name: str, header: list[str]) -> ColumnsError:
    """The error for a header that is neither a tweets file's nor a users file's."""
    canonical = canonical_header(header)
    tweets = "tweetid" in canonical or "tweet_time" in canonical
    required = TWEETS_REQUIRED if tweets else (*USERS_REQUIRED, "user_screen_name")
    missing = [c for c in required if c not in canonical]
    return ColumnsError(
        f"{name}: not a {'tweets' if tweets else 'users'} file of X's information-operations "
        f"archive: missing column(s) {', '.join(missing) or 'none'}; "
        f"found: {describe_columns(header) or 'no header'}; "
        f"expected: {describe_columns(TWEETS_COLUMNS if tweets else USERS_COLUMNS)}"
    )
