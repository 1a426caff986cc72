"""The replay server's world: platform-neutral accounts, posts and media, mutable between runs.

Tests, the demo and monitoring build a :class:`World`, serve it with
:class:`~osint.demo.replay.server.ReplayServer`, and change it between collection runs (a new post, an
edit, a deletion, a rename, a suspension). Each platform module (``osint/demo/replay/x.py``, ...)
renders the same world in its own API shapes; nothing here knows a platform's JSON.

Ids: accounts get numeric ids; posts get ids from the platform's id scheme
(:attr:`World.post_id_schemes`; a platform module registers its default in
``DEFAULT_ID_SCHEMES``: Telegram ``channel/N`` counters, Bluesky ``at://`` URIs with TIDs; the
fallback is X-style snowflakes that sort by creation time, which also suits Mastodon); media get
numeric ids. All methods take the world's lock, so a test may
change the world while the server threads read it.
"""

from __future__ import annotations

import io
import itertools
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

X_EPOCH_MS = 1288834974657
START = datetime(2022, 4, 1, 8, 0, tzinfo=UTC)
FAULT_KINDS = frozenset(
    {
        "rate_limit",
        "status",
        "drop",
        "slow",
        "truncated",
        "html",
        "endless",
        "missing_fields",
        "slowloris",
        "body",
        "duplicate_key",
        "repeat_cursor",
        "bad_cursor",
        "echo_token",
    }
)


@dataclass
class WorldAccount:
    platform: str
    id: str
    handle: str
    display_name: str = ""
    bio: str = ""
    location: str = ""
    url: str = ""
    created_at: datetime = START
    avatar: str | None = None  # media id
    banner: str | None = None  # media id
    followers: int = 0
    following: int = 0
    listed: int = 0
    verified: bool = False
    status: str = "active"  # active | suspended | protected | deleted (| no_preview, ...)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class WorldPost:
    platform: str
    id: str
    account_id: str
    created_at: datetime
    text: str = ""
    kind: str = "post"  # post | repost | reply | quote
    repost_of: str | None = None  # post ids in the same world
    reply_to: str | None = None
    quote_of: str | None = None
    media: list[str] = field(default_factory=list)  # media ids
    links: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    mentions: list[str] = field(default_factory=list)  # handles
    lang: str = "en"
    metrics: dict[str, int] = field(default_factory=dict)
    deleted: bool = False
    edits: list[str] = field(default_factory=list)  # earlier texts, oldest first
    extra: dict[str, Any] = field(default_factory=dict)

    def client_text(self, text: str | None = None, *, links: bool = True) -> str:
        """``text`` (the post's own by default) as a client posts it: mentions it lacks put in
        front, hashtags and (with ``links``) links it lacks appended. A remote Mastodon handle
        (user@domain) counts as present when its @user is."""
        text = self.text if text is None else text
        for handle in self.mentions:
            if f"@{handle.split('@')[0]}" not in text:
                text = f"@{handle} {text}"
        for tag in self.hashtags:
            if f"#{tag}" not in text:
                text += f" #{tag}"
        for link in self.links if links else ():
            if link not in text:
                text += f" {link}"
        return text


@dataclass
class WorldMedia:
    id: str
    data: bytes
    content_type: str = "image/jpeg"
    kind: str = "photo"  # photo | video | gif (for video and gif, ``data`` is the poster)
    width: int | None = None
    height: int | None = None
    alt_text: str | None = None
    url: str | None = None  # handed out instead of the media host's URL (a hostile server)
    redirect: str | None = None  # the media host answers 302 to this URL


@dataclass
class Fault:
    """A misbehaviour served instead of (or on top of) the normal answer, ``times`` times.

    ``kind``: ``rate_limit`` (429 with reset headers; X ``shape`` ``v1`` or ``v2``), ``status``
    (``status`` 500/503 ..., with ``headers``), ``drop`` (connection closed mid-body), ``slow``
    (``delay`` seconds before answering), ``truncated`` (a complete HTTP message whose JSON is
    cut), ``html`` (an HTML page instead of JSON or an image), ``endless`` (a body that never
    ends, declaring ``length`` bytes or none), ``missing_fields`` (the platform leaves out fields
    it documents), ``slowloris`` (the normal answer, its body one byte every ``delay`` seconds),
    ``body`` (200 with ``body`` as it is: ``b"null"``), ``duplicate_key`` (the normal JSON with
    ``key`` repeated at the end, empty), ``repeat_cursor`` (the next-page cursor is the one
    asked with: a cursor that repeats forever), ``bad_cursor`` (the next-page cursor is one the
    platform never issued and refuses), ``echo_token`` (the platform writes the caller's token
    into what it answers: an error message when ``status`` is 400 or more, else media URLs).
    ``path`` is a regular expression searched in the request path after the platform prefix
    (``"/tweets"``, ``"^/12[.]jpg$"``); ``platform`` ``None`` matches any (``media`` is the
    media host); the first ``after`` matching requests are answered normally (a fault on the
    second page).
    """

    kind: str
    path: str = ""
    platform: str | None = None
    times: int = 1
    status: int = 503
    shape: str = "v2"
    reset_in: float = 1.0
    delay: float = 2.0
    length: int | None = 10 * 1024**3
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b"null"
    key: str = "data"
    after: int = 0
    hits: int = 0
    passed: int = 0


class FaultPlan:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, kind: str, **options: Any) -> Fault:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        fault = Fault(kind, **options)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, platform: str, path: str) -> Fault | None:
        """The first pending fault matching this request, used up by one."""
        with self._lock:
            for fault in self._faults:
                if fault.times <= fault.hits:
                    continue
                if fault.platform not in (None, platform) or not re.search(fault.path, path):
                    continue
                if fault.passed < fault.after:
                    fault.passed += 1
                    return None
                fault.hits += 1
                return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.hits < f.times]


IdScheme = Callable[[WorldAccount, datetime], str]
# platform -> factory of its id scheme; each platform module of the replay server registers its own
DEFAULT_ID_SCHEMES: dict[str, Callable[[], IdScheme]] = {}


def snowflake_ids() -> Callable[[WorldAccount, datetime], str]:
    """X-style ids: creation time in the high bits, so ids sort like their posts."""
    sequence = itertools.count()

    def make(_account: WorldAccount, created_at: datetime) -> str:
        ms = int(created_at.timestamp() * 1000) - X_EPOCH_MS
        return str((ms << 22) | (next(sequence) % (1 << 22)))

    return make


class World:
    """Accounts, posts and media of every platform; what the replay server serves."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.accounts: dict[tuple[str, str], WorldAccount] = {}
        self.posts: dict[tuple[str, str], WorldPost] = {}
        self.media: dict[str, WorldMedia] = {}
        self.tokens: dict[str, set[str]] = {}  # platform -> accepted API tokens (empty: any)
        self.media_base: str | None = None  # media URLs under another host (a CDN), if set
        self.faults = FaultPlan()
        self.post_id_schemes: dict[str, Callable[[WorldAccount, datetime], str]] = {}
        self._ids = itertools.count(1)
        self._clock = START

    # -- building -----------------------------------------------------------------------------
    def add_account(self, platform: str, handle: str, **fields: Any) -> WorldAccount:
        with self.lock:
            account_id = str(fields.pop("id", None) or 1_000_000 + next(self._ids))
            account = WorldAccount(platform, account_id, handle, **fields)
            if not account.display_name:
                account.display_name = handle
            self.accounts[(platform, account_id)] = account
            return account

    def add_media(self, data: bytes, content_type: str = "image/jpeg", **fields: Any) -> WorldMedia:
        with self.lock:
            media = WorldMedia(str(next(self._ids)), data, content_type, **fields)
            self.media[media.id] = media
            return media

    def add_image(
        self,
        width: int = 64,
        height: int = 48,
        color: tuple[int, int, int] = (200, 80, 40),
        *,
        fmt: str = "JPEG",
        **fields: Any,
    ) -> WorldMedia:
        """A small generated picture (a gradient in ``color``), so worlds need no files."""
        from PIL import Image

        image = Image.new("RGB", (width, height), color)
        for x in range(0, width, 4):
            for y in range(0, height, 4):
                image.putpixel((x, y), ((x * 4) % 256, (y * 4) % 256, color[2]))
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        mime = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}.get(fmt, "image/jpeg")
        return self.add_media(buffer.getvalue(), mime, width=width, height=height, **fields)

    def add_post(
        self,
        account: WorldAccount,
        text: str = "",
        *,
        created_at: datetime | None = None,
        media: Iterable[WorldMedia | str] = (),
        **fields: Any,
    ) -> WorldPost:
        with self.lock:
            if created_at is None:
                self._clock += timedelta(minutes=1)
                created_at = self._clock
            else:
                self._clock = max(self._clock, created_at)
            scheme = self.post_id_schemes.get(account.platform)
            if scheme is None:
                factory = DEFAULT_ID_SCHEMES.get(account.platform, snowflake_ids)
                scheme = self.post_id_schemes[account.platform] = factory()
            post_id = str(fields.pop("id", None) or scheme(account, created_at))
            media_ids = [m.id if isinstance(m, WorldMedia) else str(m) for m in media]
            post = WorldPost(
                account.platform, post_id, account.id, created_at, text, media=media_ids, **fields
            )
            self.posts[(account.platform, post_id)] = post
            return post

    # -- changing -----------------------------------------------------------------------------
    def edit_post(self, post: WorldPost, text: str) -> None:
        with self.lock:
            post.edits.append(post.text)
            post.text = text

    def delete_post(self, post: WorldPost) -> None:
        with self.lock:
            post.deleted = True

    def update_account(self, account: WorldAccount, **changes: Any) -> None:
        with self.lock:
            for name, value in changes.items():
                if not hasattr(account, name):
                    raise AttributeError(f"accounts have no field {name!r}")
                setattr(account, name, value)

    # -- reading (the platform modules) -------------------------------------------------------
    def account_by_handle(self, platform: str, handle: str) -> WorldAccount | None:
        wanted = handle.lower()
        with self.lock:
            return next(
                (
                    a
                    for (p, _), a in self.accounts.items()
                    if p == platform and a.handle.lower() == wanted
                ),
                None,
            )

    def account(self, platform: str, account_id: str) -> WorldAccount | None:
        with self.lock:
            return self.accounts.get((platform, account_id))

    def post(self, platform: str, post_id: str) -> WorldPost | None:
        with self.lock:
            return self.posts.get((platform, post_id))

    def thread_root(self, platform: str, post: WorldPost) -> str:
        """The id of the post that starts ``post``'s reply thread (X's conversation_id, Bluesky's
        reply root); the parent's id when the thread's start is not in the world."""
        seen = {post.id}
        while post.reply_to and (parent := self.post(platform, post.reply_to)):
            if parent.id in seen:
                break
            seen.add(parent.id)
            post = parent
        return post.reply_to or post.id

    def timeline(self, account: WorldAccount) -> list[WorldPost]:
        """The account's visible posts, newest first."""
        with self.lock:
            posts = [
                p
                for (platform, _), p in self.posts.items()
                if platform == account.platform and p.account_id == account.id and not p.deleted
            ]
        return sorted(posts, key=lambda p: (p.created_at, p.id), reverse=True)
