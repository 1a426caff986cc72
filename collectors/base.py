"""The small base every platform module plugs into.

A platform module knows its URLs, its response shapes and its normaliser, nothing else: the HTTP
choke point (:class:`~collectors.http.HttpClient`: retries, rate limits, WARC capture) is handed
in, and the engine (:mod:`osint.collect`) drives the paging, stores the records, downloads the
media and keeps the resume cursor. To add a platform: subclass :class:`Collector`, set the class
attributes, implement :meth:`Collector.fetch_profile` and :meth:`Collector.fetch_page`, and add
the class to ``COLLECTORS`` in :mod:`collectors.registry`; the meta-tests then check it.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from osint.collectors.http import HttpClient
from osint.config import Secret, Settings
from osint.errors import AuthError, CollectError, InputError
from osint.storage.records import CaptureRecord, PostRecord, ProfileRecord


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time from a platform's JSON as aware UTC (naive means UTC); None if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def created_time(
    value: Any, from_id: Callable[[], datetime | None], extra: dict[str, Any], what: str
) -> datetime:
    """A post's time: the platform's ISO ``value``, else the time its id encodes (``from_id``),
    marked ``created_at_from_id`` in ``extra``; ValueError (naming ``what``) with neither."""
    created = parse_time(value)
    if created is not None:
        return created
    created = from_id()
    if created is None:
        raise ValueError(f"{what} has no creation time and none in its id")
    extra["created_at_from_id"] = True
    return created


@dataclass
class PageQuery:
    """What the engine asks of one page of an account's posts, newest first."""

    cursor: str | None = None  # the platform's token for the next (older) page; None = newest
    since_id: str | None = None  # newest post already collected: return only newer ones
    since: datetime | None = None  # only posts created at or after this (UTC)
    until: datetime | None = None  # only posts created before this (UTC)
    limit: int | None = None  # posts still wanted in this run; a page may hold fewer


@dataclass
class ProfileResult:
    profile: ProfileRecord
    capture: CaptureRecord | None = None


@dataclass
class PostPage:
    posts: list[PostRecord]
    next_cursor: str | None  # None when this was the last page
    capture: CaptureRecord | None = None  # the response the posts were read from
    problems: list[str] = field(default_factory=list)  # items skipped, each reported
    # the posts these posts repost, quote or reply to, as far as the page shows them (X
    # ``includes.tweets``, a Mastodon ``reblog``, a Bluesky reposted or quoted post or reply
    # parent), each a post of its own author with ``seen_via="reference"``
    referenced: list[PostRecord] = field(default_factory=list)


class CursorRejected(CollectError):
    """The platform refused the page cursor it was given (expired, or one it never issued)."""


T = TypeVar("T")


@dataclass
class PostLookup:
    """Direct look-up of known posts (monitoring's deletion check)."""

    found: list[PostRecord] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # post id -> the platform's reason
    capture: CaptureRecord | None = None  # the (last) response
    # post id -> the response that answered for it, when a look-up takes several requests: the
    # evidence that this post was there, or gone
    captures: dict[str, CaptureRecord] = field(default_factory=dict)

    def capture_for(self, post_id: str) -> CaptureRecord | None:
        return self.captures.get(post_id, self.capture)

    def answered(self, post_ids: Iterable[str], capture: CaptureRecord | None) -> None:
        """Keep ``capture`` as the response that answered for ``post_ids``."""
        self.capture = capture
        if capture is not None:
            self.captures.update(dict.fromkeys(post_ids, capture))


def parse_post_ids(post_ids: Iterable[str], split: Callable[[str], T]) -> Iterator[tuple[str, T]]:
    """Each post id with its parts as ``split`` reads them; a malformed id is InputError."""
    for post_id in post_ids:
        try:
            parts = split(post_id)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
        yield post_id, parts


def newest_numbered(ids: Iterable[str], number: Callable[[str], int]) -> str | None:
    """The id with the highest ``number``; ids it cannot read (ValueError) are passed over."""
    numbered = []
    for value in ids:
        try:
            numbered.append((number(value), value))
        except ValueError:
            continue
    return max(numbered)[1] if numbered else None


class Collector(ABC):
    """One platform: its URLs and response shapes. Never does SQL, never sleeps on its own."""

    platform: ClassVar[str]  # lower-case name used on the command line and in the store
    title: ClassVar[str]  # human name
    base_url_setting: ClassVar[str]  # the Settings field holding the API/web base URL
    # True when the base URL normally comes from the target (Mastodon's USER@INSTANCE) and the
    # setting, unset by default, only overrides it
    base_url_from_target: ClassVar[bool] = False
    token_setting: ClassVar[str | None] = None  # the Settings field holding a required secret
    token_env: ClassVar[str | None] = None  # its environment variable, for messages
    target_pattern: ClassVar[re.Pattern[str]]  # what a normalised target looks like
    # a profile URL given as the target; its group 1 is the account
    profile_url: ClassVar[re.Pattern[str] | None] = None
    example_target: ClassVar[str]
    target_label: ClassVar[str] = "USERNAME"

    def __init__(self, http: HttpClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings
        configured = getattr(settings, self.base_url_setting)
        self.base_url = str(configured).rstrip("/") if configured else ""
        if self.base_url:  # the platform's own network is allowed (tests, demo, a team's LAN)
            http.guard.allow_network_of(self.base_url)

    # -- settings and targets -------------------------------------------------------------
    @classmethod
    def token(cls, settings: Settings) -> str | None:
        """The secret this platform needs, or AuthError saying how to provide it."""
        if cls.token_setting is None:
            return None
        secret = getattr(settings, cls.token_setting)
        if not isinstance(secret, Secret) or not secret.reveal():
            raise AuthError(
                f"no {cls.title} API token configured",
                hint=f"set {cls.token_env or cls.token_setting.upper()} in the environment "
                f"or '{cls.token_setting}' in the config file",
            )
        return secret.reveal()

    @classmethod
    def normalize_target(cls, target: str) -> str:
        """The account as the engine files it (e.g. ``@Name`` -> ``name``); InputError if bad."""
        match = cls.profile_url.match(target.strip()) if cls.profile_url else None
        if match:
            target = match.group(1)
        cleaned = target.strip().lstrip("@").lower()
        if not cls.target_pattern.fullmatch(cleaned):
            raise InputError(
                f"{target!r} is not a {cls.title} {cls.target_label.lower()}",
                hint=f"e.g. osint collect {cls.platform} {cls.example_target} --case C",
            )
        return cleaned

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    # -- what each platform implements ----------------------------------------------------
    @abstractmethod
    def fetch_profile(self, target: str, *, known_id: str | None = None) -> ProfileResult:
        """Resolve the account; AccountNotFound / AccountUnavailable when it cannot be.

        ``known_id`` is the platform id the case already holds for ``target``: resolving by id
        follows a renamed account where the platform allows it.
        """

    @abstractmethod
    def fetch_page(self, profile: ProfileRecord, query: PageQuery) -> PostPage:
        """One page of the account's posts, newest first, honouring ``query``."""

    def lookup_posts(self, post_ids: list[str]) -> PostLookup:
        """Look known posts up directly (deleted ones come back in ``missing``)."""
        raise NotImplementedError(f"{self.title} has no direct post look-up")

    @staticmethod
    def newest_id(ids: list[str]) -> str | None:
        """The newest of these post ids (numeric ids compare as numbers)."""
        if not ids:
            return None
        if all(i.isdigit() for i in ids):
            return max(ids, key=int)
        return max(ids)
