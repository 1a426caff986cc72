"""Bluesky's public AppView (XRPC), rendered from the replay world in the lexicon's shapes.

Methods: ``GET /xrpc/app.bsky.actor.getProfile?actor=`` (handle or DID: a
``profileViewDetailed``), ``GET /xrpc/app.bsky.feed.getAuthorFeed?actor=&limit=&cursor=``
(``{feed: [{post, reply?, reason?}], cursor?}``, newest first) and
``GET /xrpc/app.bsky.feed.getPosts?uris=&uris=`` (at most 25; gone posts are left out). Posts
carry ``record`` (text, ``createdAt``, ``langs``, byte-offset ``facets``, ``reply`` refs,
``embed``) and the ``embed`` view (``images#view`` with ``fullsize``, ``video#view``,
``external#view``, ``record#view`` for quotes, ``recordWithMedia#view``). A repost is an item
whose ``reason`` is ``#reasonRepost`` (``by``, ``uri``, ``cid``, ``indexedAt``); a reply whose
parent is gone gets ``#notFoundPost``.

Errors: 400 ``{"error": "InvalidRequest", "message": "Profile not found"}``,
``AccountTakedown`` (``suspended`` accounts), ``AccountDeactivated`` (``deactivated``); every
answer has ``ratelimit-limit/remaining/reset/policy`` headers and a 429 adds ``Retry-After``.
Post ids are ``at://DID/app.bsky.feed.post/TID`` (:data:`DEFAULT_ID_SCHEMES`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from osint.demo.replay.quota import QuotaState
from osint.demo.replay.server import PlatformApp, ReplayRequest, Reply, json_reply
from osint.demo.replay.world import DEFAULT_ID_SCHEMES, Fault, WorldAccount, WorldPost

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
POST = "app.bsky.feed.post"
WINDOW = 300.0
LIMIT = 3000
_EXT = {"image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def did_of(account: WorldAccount) -> str:
    """The account's DID: ``extra["did"]`` or a stable ``did:plc:`` made from its id."""
    if account.extra.get("did"):
        return str(account.extra["did"])
    digest = base64.b32encode(hashlib.sha256(account.id.encode()).digest()).decode().lower()
    return f"did:plc:{digest[:24]}"


def tid(when: datetime, clock: int) -> str:
    """A TID record key: microseconds since the epoch and a clock id, base32-sortable."""
    value = (int(when.timestamp() * 1_000_000) << 10) | (clock % 1024)
    chars = []
    for _ in range(13):
        chars.append(TID_ALPHABET[value % 32])
        value //= 32
    return "".join(reversed(chars))


def post_uris() -> Callable[[WorldAccount, datetime], str]:
    clocks = itertools.count()

    def make(account: WorldAccount, created_at: datetime) -> str:
        return f"at://{did_of(account)}/{POST}/{tid(created_at, next(clocks))}"

    return make


DEFAULT_ID_SCHEMES["bluesky"] = post_uris


def cid(*parts: str) -> str:
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


def bsky_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _error(name: str, message: str, status: int = 400) -> Reply:
    return json_reply({"error": name, "message": message}, status)


class BlueskyApp(PlatformApp):
    name = "bluesky"
    setting = "bluesky_api_url"

    quota_fallback = (LIMIT, WINDOW)  # counted per XRPC method (app.bsky.feed.getAuthorFeed)

    # -- dispatch and limits ------------------------------------------------------------------
    def handle(self, request: ReplayRequest) -> Reply:
        method = request.path.removeprefix("/xrpc/")
        handlers: dict[str, Callable[[ReplayRequest], Reply]] = {
            "app.bsky.actor.getProfile": self.get_profile,
            "app.bsky.feed.getAuthorFeed": self.get_author_feed,
            "app.bsky.feed.getPosts": self.get_posts,
        }
        if method not in handlers or not request.path.startswith("/xrpc/"):
            return _error("MethodNotImplemented", "Method Not Implemented", 501)
        quota = self.quotas.take(method)
        if not quota.allowed:
            return self._429(quota, max(quota.reset_at - time.time(), 0.0))
        reply = handlers[method](request)
        reply.headers.extend(self._headers(quota))
        return reply

    @staticmethod
    def _headers(quota: QuotaState) -> list[tuple[str, str]]:
        return [
            ("ratelimit-limit", str(quota.limit)),
            ("ratelimit-remaining", str(quota.remaining)),
            ("ratelimit-reset", str(quota.reset_at)),
            ("ratelimit-policy", f"{quota.limit};w={int(quota.window)}"),
        ]

    def _429(self, quota: QuotaState, wait: float) -> Reply:
        headers = [*self._headers(quota), ("Retry-After", str(max(int(wait + 0.999), 0)))]
        return json_reply(
            {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, 429, headers
        )

    def rate_limited(self, request: ReplayRequest, fault: Fault) -> Reply:
        reset = int(time.time() + fault.reset_in + 0.999)
        return self._429(QuotaState(False, LIMIT, 0, reset, WINDOW), fault.reset_in)

    def error(self, request: ReplayRequest, status: int) -> Reply:
        names = {502: "UpstreamFailure", 503: "NotEnoughResources"}
        return _error(names.get(status, "InternalServerError"), "Internal Server Error", status)

    # -- actors -------------------------------------------------------------------------------
    def _actor(self, actor: str) -> tuple[WorldAccount | None, Reply | None]:
        if not actor:
            return None, _error("InvalidRequest", 'Error: Params must have the property "actor"')
        wanted = actor.lower()
        if wanted.startswith("did:"):
            account = next(
                (
                    a
                    for (p, _), a in self.world.accounts.items()
                    if p == self.name and did_of(a) == wanted
                ),
                None,
            )
        else:
            account = self.world.account_by_handle(self.name, wanted)
        if account is None or account.status == "deleted":
            return None, _error("InvalidRequest", "Profile not found")
        if account.status == "suspended":
            return None, _error("AccountTakedown", "Account has been suspended")
        if account.status == "deactivated":
            return None, _error("AccountDeactivated", "Account is deactivated")
        return account, None

    def _media_url(self, media_id: str, request: ReplayRequest) -> str:
        media = self.world.media.get(media_id)
        ext = _EXT.get(media.content_type, "jpg") if media else "jpg"
        return f"{request.media_base}/{media_id}.{ext}"

    def basic(self, account: WorldAccount, request: ReplayRequest) -> dict[str, Any]:
        view: dict[str, Any] = {
            "did": did_of(account),
            "handle": account.handle,
            "displayName": account.display_name,
            "associated": {"chat": {"allowIncoming": "following"}},
            "labels": [],
            "createdAt": bsky_time(account.created_at),
        }
        if account.avatar:
            view["avatar"] = self._media_url(account.avatar, request)
        return view

    def get_profile(self, request: ReplayRequest) -> Reply:
        account, error = self._actor(request.query.get("actor", ""))
        if error or account is None:
            return error or _error("InvalidRequest", "Profile not found")
        view = self.basic(account, request)
        view.update(
            {
                "description": account.bio,
                "followersCount": account.followers,
                "followsCount": account.following,
                "postsCount": len(self.world.timeline(account)),
                "indexedAt": bsky_time(account.created_at),
                "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
            }
        )
        if account.banner:
            view["banner"] = self._media_url(account.banner, request)
        return json_reply(view)

    # -- feeds --------------------------------------------------------------------------------
    def get_author_feed(self, request: ReplayRequest) -> Reply:
        account, error = self._actor(request.query.get("actor", ""))
        if error or account is None:
            return error or _error("InvalidRequest", "Profile not found")
        raw = request.query.get("limit", "50")
        if not raw.isdigit() or not 1 <= int(raw) <= 100:
            return _error("InvalidRequest", "Error: limit must be <= 100 and >= 1")
        items = [p for p in self.world.timeline(account) if self._shown(p)]
        items.sort(key=lambda p: (p.created_at, p.id), reverse=True)
        cursor = request.query.get("cursor")
        if cursor:
            try:
                after = _uncursor(cursor)
            except ValueError:
                return _error("InvalidRequest", "Malformed cursor")
            items = [p for p in items if (p.created_at.timestamp(), p.id) < after]
        page = items[: int(raw)]
        feed = [self.feed_item(p, account, request) for p in page]
        if request.fault is not None and request.fault.kind == "missing_fields" and feed:
            for item in feed:
                item["post"]["record"].pop("createdAt", None)
            feed[-1]["post"].pop("uri", None)
        body: dict[str, Any] = {"feed": feed}
        if len(items) > len(page):
            body["cursor"] = _cursor(page[-1])
            fault = request.fault
            if fault is not None and fault.kind == "repeat_cursor" and cursor:
                body["cursor"] = cursor
            if fault is not None and fault.kind == "bad_cursor":
                body["cursor"] = "not-a-cursor!"  # refused: "Malformed cursor"
        return json_reply(body)

    def _shown(self, post: WorldPost) -> bool:
        """A repost of a post that is gone is left out of the feed."""
        if post.kind != "repost":
            return True
        original = self.world.post(self.name, post.repost_of or "")
        return original is not None and not original.deleted

    def feed_item(
        self, post: WorldPost, account: WorldAccount, request: ReplayRequest
    ) -> dict[str, Any]:
        if post.kind == "repost":
            original = self.world.post(self.name, post.repost_of or "")
            assert original is not None
            return {
                "post": self.post_view(original, request),
                "reason": {
                    "$type": "app.bsky.feed.defs#reasonRepost",
                    "by": self.basic(account, request),
                    "uri": post.id.replace(f"/{POST}/", "/app.bsky.feed.repost/"),
                    "cid": cid(post.id, "repost"),
                    "indexedAt": bsky_time(post.created_at),
                },
            }
        item: dict[str, Any] = {"post": self.post_view(post, request)}
        if post.reply_to:
            parent = self._view_or_gone(post.reply_to, request)
            root_id = self.world.thread_root(self.name, post)
            item["reply"] = {"root": self._view_or_gone(root_id, request), "parent": parent}
        return item

    def _view_or_gone(self, post_id: str, request: ReplayRequest) -> dict[str, Any]:
        target = self.world.post(self.name, post_id)
        if target is None or target.deleted:
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": post_id, "notFound": True}
        return {"$type": "app.bsky.feed.defs#postView", **self.post_view(target, request)}

    def get_posts(self, request: ReplayRequest) -> Reply:
        uris = [v for k, v in request.query_items if k == "uris"]
        if not uris or len(uris) > 25:
            return _error("InvalidRequest", "Error: uris must not have more than 25 elements")
        views = []
        for uri in uris:
            post = self.world.post(self.name, uri)
            author = self.world.account(self.name, post.account_id) if post else None
            if post and author and not post.deleted and author.status == "active":
                views.append(self.post_view(post, request))
        return json_reply({"posts": views})

    # -- posts --------------------------------------------------------------------------------
    def post_view(self, post: WorldPost, request: ReplayRequest) -> dict[str, Any]:
        author = self.world.account(self.name, post.account_id)
        assert author is not None
        record, view_embed = self.record(post, request)
        view: dict[str, Any] = {
            "uri": post.id,
            "cid": cid(post.id, post.text),
            "author": self.basic(author, request),
            "record": record,
            "replyCount": int(post.metrics.get("reply_count", 0)),
            "repostCount": int(post.metrics.get("repost_count", 0)),
            "likeCount": int(post.metrics.get("like_count", 0)),
            "quoteCount": int(post.metrics.get("quote_count", 0)),
            "indexedAt": bsky_time(post.created_at),
            "labels": [],
        }
        if view_embed:
            view["embed"] = view_embed
        return view

    def record(
        self, post: WorldPost, request: ReplayRequest
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        text, facets = self._text(post)
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": bsky_time(post.created_at),
            "langs": [post.lang],
        }
        if facets:
            record["facets"] = facets
        if post.reply_to:
            root = self.world.thread_root(self.name, post)
            record["reply"] = {
                "root": {"uri": root, "cid": cid(root)},
                "parent": {"uri": post.reply_to, "cid": cid(post.reply_to)},
            }
        media_view = self._media_view(post, request)
        view = media_view
        if post.quote_of:
            quoted = self._quoted(post.quote_of, request)
            if media_view:
                view = {
                    "$type": "app.bsky.embed.recordWithMedia#view",
                    "record": quoted,
                    "media": media_view,
                }
            else:
                view = quoted
        elif not media_view and post.links:
            view = {
                "$type": "app.bsky.embed.external#view",
                "external": {
                    "uri": post.links[0],
                    "title": str(post.extra.get("link_title", post.links[0])),
                    "description": str(post.extra.get("link_description", "")),
                },
            }
        if view:
            record["embed"] = {"$type": str(view["$type"]).removesuffix("#view")}
        return record, view

    def _media_view(self, post: WorldPost, request: ReplayRequest) -> dict[str, Any] | None:
        items = [self.world.media[m] for m in post.media if m in self.world.media]
        if not items:
            return None
        video = next((m for m in items if m.kind in ("video", "gif")), None)
        if video is not None:
            return {
                "$type": "app.bsky.embed.video#view",
                "cid": cid(video.id),
                "playlist": f"{request.media_base}/{video.id}.m3u8",
                "thumbnail": self._media_url(video.id, request),
                "aspectRatio": {"width": video.width or 1, "height": video.height or 1},
            }
        images = []
        for media in items[:4]:
            url = self._media_url(media.id, request)
            image: dict[str, Any] = {"thumb": url, "fullsize": url, "alt": media.alt_text or ""}
            if media.width and media.height:
                image["aspectRatio"] = {"width": media.width, "height": media.height}
            images.append(image)
        return {"$type": "app.bsky.embed.images#view", "images": images}

    def _quoted(self, uri: str, request: ReplayRequest) -> dict[str, Any]:
        target = self.world.post(self.name, uri)
        author = self.world.account(self.name, target.account_id) if target else None
        if target is None or target.deleted or author is None:
            record: dict[str, Any] = {
                "$type": "app.bsky.embed.record#viewNotFound",
                "uri": uri,
                "notFound": True,
            }
        else:
            value, _ = self.record(target, request)
            record = {
                "$type": "app.bsky.embed.record#viewRecord",
                "uri": uri,
                "cid": cid(uri, target.text),
                "author": self.basic(author, request),
                "value": value,
                "labels": [],
                "indexedAt": bsky_time(target.created_at),
            }
        return {"$type": "app.bsky.embed.record#view", "record": record}

    def _text(self, post: WorldPost) -> tuple[str, list[dict[str, Any]]]:
        """The post text (tags, mentions and links added as a client would) and its facets."""
        text = post.client_text()
        facets = []
        spans: list[tuple[str, dict[str, Any]]] = [
            (f"#{tag}", {"$type": "app.bsky.richtext.facet#tag", "tag": tag})
            for tag in post.hashtags
        ]
        spans += [
            (link, {"$type": "app.bsky.richtext.facet#link", "uri": link}) for link in post.links
        ]
        for handle in post.mentions:
            if target := self.world.account_by_handle(self.name, handle):
                feature = {"$type": "app.bsky.richtext.facet#mention", "did": did_of(target)}
                spans.append((f"@{handle}", feature))
        encoded = text.encode("utf-8")
        for span, feature in spans:
            start = encoded.find(span.encode("utf-8"))
            if start >= 0:
                index = {"byteStart": start, "byteEnd": start + len(span.encode("utf-8"))}
                facets.append({"index": index, "features": [feature]})
        return text, facets


def _cursor(post: WorldPost) -> str:
    return base64.urlsafe_b64encode(f"{post.created_at.timestamp()!r}::{post.id}".encode()).decode()


def _uncursor(cursor: str) -> tuple[float, str]:
    try:
        stamp, _, post_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("::")
        return float(stamp), post_id
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(cursor) from exc
