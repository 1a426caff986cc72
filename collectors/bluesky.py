"""Bluesky through the public AppView's XRPC API: the normaliser (JSON -> records), then the client.

Endpoints (no login needed on ``https://public.api.bsky.app``): ``app.bsky.actor.getProfile``
(``actor`` = handle or DID), ``app.bsky.feed.getAuthorFeed`` (``limit`` 1-100, an opaque
``cursor``, ``filter=posts_with_replies``) and ``app.bsky.feed.getPosts`` (up to 25 ``uris``; a
deleted or hidden post is simply absent). Errors are HTTP 400 ``{"error", "message"}``:
``InvalidRequest`` "Profile not found", ``AccountTakedown``, ``AccountDeactivated``; rate limits
come as ``ratelimit-*`` headers and 429 with ``Retry-After`` (handled by the HTTP layer).

A feed item is ``{post, reply?, reason?}``: a ``reason`` of type
``app.bsky.feed.defs#reasonRepost`` makes the item the account's repost of someone's post (its
id is the repost record's ``reason.uri``), otherwise the post is the account's own. Replies carry
``record.reply.parent`` (the parent itself may be a ``notFoundPost``); quotes embed
``app.bsky.embed.record`` (or ``recordWithMedia``); images are ``embed.images[].fullsize``.
Links, mentions and hashtags come from the record's ``facets`` (byte offsets into UTF-8).

Ids: an account is its DID (stable across handle changes: a later run resolves the DID); a
post is its ``at://`` URI, whose record key is a TID carrying its creation time, which is what
orders ids here.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from osint.collectors.base import (
    Collector,
    CursorRejected,
    PageQuery,
    PostLookup,
    PostPage,
    ProfileResult,
    created_time,
    parse_time,
)
from osint.collectors.http import Response
from osint.errors import AccountNotFound, AccountUnavailable, CollectError
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, MediaRef, PostRecord, ProfileRecord

PLATFORM = "bluesky"
WEB = "https://bsky.app"
PAGE_SIZE = 100
LOOKUP_CHUNK = 25
REPOST = "app.bsky.feed.defs#reasonRepost"
POST_COLLECTION = "app.bsky.feed.post"
TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_HANDLE = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?"
_TARGET = re.compile(r"^(?:https?://)?(?:www\.)?bsky\.app/profile/([^/?#]+)", re.I)


# == normaliser =============================================================================
def tid_micros(tid: str) -> int | None:
    """Microseconds since the epoch a TID record key encodes (None if it is not a TID)."""
    if len(tid) != 13 or any(c not in TID_ALPHABET for c in tid):
        return None
    value = 0
    for char in tid:
        value = value * 32 + TID_ALPHABET.index(char)
    return value >> 10


def uri_parts(uri: str) -> tuple[str, str, str]:
    """``at://did/collection/rkey`` -> (did, collection, rkey); ValueError otherwise."""
    if not uri.startswith("at://"):
        raise ValueError(f"not an at:// URI: {uri!r}")
    parts = uri[5:].split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"not an at:// record URI: {uri!r}")
    return parts[0], parts[1], parts[2]


def uri_time(uri: str) -> datetime | None:
    try:
        micros = tid_micros(uri_parts(uri)[2])
    except ValueError:
        return None
    return datetime.fromtimestamp(micros / 1_000_000, UTC) if micros is not None else None


def post_url(author: AccountRecord, uri: str) -> str:
    return f"{WEB}/profile/{author.handle or author.platform_id}/post/{uri_parts(uri)[2]}"


def account_from_actor(actor: dict[str, Any]) -> AccountRecord:
    handle = actor.get("handle")
    return AccountRecord(
        platform=PLATFORM,
        platform_id=str(actor["did"]),
        handle=handle if handle and handle != "handle.invalid" else None,
        display_name=actor.get("displayName") or None,
        created_at=parse_time(actor.get("createdAt")),
    )


def profile_from(profile: dict[str, Any]) -> ProfileRecord:
    """The profile of an ``app.bsky.actor.defs#profileViewDetailed``."""
    labels = [lab.get("val") for lab in profile.get("labels") or [] if isinstance(lab, dict)]
    extra: dict[str, Any] = {"labels": labels} if labels else {}
    for key in ("pinnedPost", "associated", "indexedAt"):
        if profile.get(key):
            extra[key] = profile[key]
    return ProfileRecord(
        account=account_from_actor(profile),
        bio=profile.get("description") or None,
        avatar_url=profile.get("avatar") or None,
        banner_url=profile.get("banner") or None,
        followers_count=profile.get("followersCount"),
        following_count=profile.get("followsCount"),
        posts_count=profile.get("postsCount"),
        extra=extra,
    )


def facet_entities(record: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(links, mentions, hashtags) of a post record's facets (byte ranges of its UTF-8 text)."""
    text = str(record.get("text") or "").encode("utf-8")
    links, mentions, tags = [], [], []
    for facet in record.get("facets") or []:
        if not isinstance(facet, dict):
            continue
        index = facet.get("index") or {}
        start, end = index.get("byteStart"), index.get("byteEnd")
        span = ""
        if isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= len(text):
            span = text[start:end].decode("utf-8", errors="replace")
        for feature in facet.get("features") or []:
            kind = str((feature or {}).get("$type", ""))
            if kind.endswith("#link") and feature.get("uri"):
                links.append(str(feature["uri"]))
            elif kind.endswith("#mention"):
                mentions.append(span.lstrip("@") or str(feature.get("did", "")))
            elif kind.endswith("#tag") and feature.get("tag"):
                tags.append(str(feature["tag"]))
    return list(dict.fromkeys(links)), list(dict.fromkeys(mentions)), list(dict.fromkeys(tags))


def _record_embed(view: dict[str, Any], extra: dict[str, Any]) -> str | None:
    """The quoted post's URI of an ``app.bsky.embed.record#view`` (None for feeds, lists...)."""
    record = view.get("record") or {}
    uri = str(record.get("uri") or "")
    try:
        if uri_parts(uri)[1] != POST_COLLECTION:
            extra["embedded_record"] = uri
            return None
    except ValueError:
        return None
    kind = str(record.get("$type", ""))
    if kind.endswith("#viewRecord"):
        author = record.get("author") or {}
        value = record.get("value") or {}
        extra["quoted"] = {"uri": uri, "author": author.get("handle"), "text": value.get("text")}
    else:  # viewNotFound, viewBlocked, viewDetached: the quoted post is gone or hidden
        extra["quoted"] = {"uri": uri, "state": kind.rpartition("#")[2] or "unknown"}
    return uri


def embed_parts(embed: Any) -> tuple[list[MediaRef], str | None, list[str], dict[str, Any]]:
    """(media, quoted post URI, links, extra) of a post view's ``embed``."""
    media: list[MediaRef] = []
    extra: dict[str, Any] = {}
    if not isinstance(embed, dict):
        return media, None, [], extra
    kind = str(embed.get("$type", ""))
    quote_of = None
    if kind.startswith("app.bsky.embed.recordWithMedia"):
        quote_of = _record_embed(embed.get("record") or {}, extra)
        embed = embed.get("media") or {}
        kind = str(embed.get("$type", ""))
    elif kind.startswith("app.bsky.embed.record"):
        quote_of = _record_embed(embed, extra)
    links: list[str] = []
    if kind.startswith("app.bsky.embed.images"):
        for image in embed.get("images") or []:
            ratio = image.get("aspectRatio") or {}
            if ratio:
                extra.setdefault("aspect_ratios", []).append(ratio)
            media.append(
                MediaRef(
                    image.get("fullsize") or None,
                    position=len(media),
                    kind="photo",
                    preview_url=image.get("thumb"),
                    alt_text=image.get("alt") or None,
                    error=None if image.get("fullsize") else "no fullsize URL in the response",
                )
            )
    elif kind.startswith("app.bsky.embed.video"):
        poster = embed.get("thumbnail")
        media.append(
            MediaRef(
                poster or None,
                kind="video",
                alt_text=embed.get("alt") or None,
                platform_key=embed.get("cid"),
                error=None if poster else "no thumbnail URL in the response",
            )
        )
        extra["video_playlist"] = embed.get("playlist")
    elif kind.startswith("app.bsky.embed.external"):
        external = embed.get("external") or {}
        if external.get("uri"):
            links.append(str(external["uri"]))
            extra["link_preview"] = {k: external.get(k) for k in ("uri", "title", "description")}
        if external.get("thumb"):
            media.append(MediaRef(external["thumb"], kind="other", platform_key="preview"))
    return media, quote_of, links, extra


def _reply_parent(reply_ref: Any, extra: dict[str, Any]) -> None:
    """Note what the feed says of the replied-to post (a post, ``notFoundPost``, ``blockedPost``)."""
    if not isinstance(reply_ref, dict):
        return
    parent = reply_ref.get("parent") or {}
    kind = str(parent.get("$type", ""))
    if kind.endswith("#notFoundPost") or parent.get("notFound"):
        extra["reply_parent"] = "not_found"
    elif kind.endswith("#blockedPost") or parent.get("blocked"):
        extra["reply_parent"] = "blocked"
    elif parent.get("author"):
        extra["reply_parent_author"] = parent["author"].get("handle")


def post_from_view(view: dict[str, Any], reply_ref: Any = None) -> PostRecord:
    """An ``app.bsky.feed.defs#postView`` as a post; ValueError when it cannot be one."""
    uri = str(view.get("uri") or "")
    uri_parts(uri)
    author = account_from_actor(view.get("author") or {"did": uri_parts(uri)[0]})
    record = view.get("record") or {}
    extra: dict[str, Any] = {"cid": view.get("cid")}
    created = created_time(
        record.get("createdAt"),
        lambda: uri_time(uri) or parse_time(view.get("indexedAt")),
        extra,
        f"post {uri}",
    )
    links, mentions, tags = facet_entities(record)
    media, quote_of, embed_links, embed_extra = embed_parts(view.get("embed"))
    extra.update(embed_extra)
    reply = record.get("reply") or {}
    reply_to = ((reply.get("parent") or {}).get("uri")) or None
    if reply_to:
        extra["reply_root"] = (reply.get("root") or {}).get("uri")
        _reply_parent(reply_ref, extra)
    labels = [lab.get("val") for lab in view.get("labels") or [] if isinstance(lab, dict)]
    if labels:
        extra["labels"] = labels
    langs = record.get("langs") or []
    return PostRecord(
        platform=PLATFORM,
        platform_id=uri,
        account=author,
        created_at=created,
        kind=PostKind.REPLY if reply_to else PostKind.QUOTE if quote_of else PostKind.POST,
        text=str(record.get("text") or ""),
        url=post_url(author, uri),
        lang=str(langs[0]) if langs else None,
        reply_to=reply_to,
        quote_of=quote_of,
        links=list(dict.fromkeys(links + embed_links)),
        hashtags=tags,
        mentions=mentions,
        metrics=_metrics(view),
        extra=extra,
        media=media,
    )


def _metrics(view: dict[str, Any]) -> dict[str, int]:
    names = {
        "replyCount": "reply_count",
        "repostCount": "repost_count",
        "likeCount": "like_count",
        "quoteCount": "quote_count",
    }
    return {name: view[key] for key, name in names.items() if isinstance(view.get(key), int)}


def repost_from_item(item: dict[str, Any]) -> PostRecord:
    """A feed item with a repost ``reason``: the account's repost of someone's post."""
    reason = item["reason"]
    original = item.get("post") or {}
    original_uri = str(original.get("uri") or "")
    uri_parts(original_uri)
    by = account_from_actor(reason.get("by") or {})
    created = parse_time(reason.get("indexedAt"))
    if created is None:
        raise ValueError(f"a repost of {original_uri} without indexedAt")
    repost_uri = reason.get("uri") or f"repost:{by.platform_id}:{original_uri}"
    author = (original.get("author") or {}).get("handle")
    text = (original.get("record") or {}).get("text")
    return PostRecord(
        platform=PLATFORM,
        platform_id=str(repost_uri),
        account=by,
        created_at=created,
        kind=PostKind.REPOST,
        text=str(text or ""),  # what a reader of the feed sees; the post itself is stored too
        url=post_url(AccountRecord(PLATFORM, "", author), original_uri) if author else None,
        repost_of=original_uri,
        extra={"cid": reason.get("cid"), "reposted": {"author": author, "text": text}},
    )


def post_from_embedded(record: dict[str, Any]) -> PostRecord:
    """A quoted post as embedded (``app.bsky.embed.record#viewRecord``: its ``value`` is the
    post record) as a post; ValueError when it cannot be one."""
    view = {
        "uri": record.get("uri"),
        "cid": record.get("cid"),
        "author": record.get("author"),
        "record": record.get("value") or {},
        "indexedAt": record.get("indexedAt"),
        "labels": record.get("labels"),
    }
    embeds = record.get("embeds")
    if isinstance(embeds, list) and embeds and isinstance(embeds[0], dict):
        view["embed"] = embeds[0]
    return post_from_view(view)


def referenced_from_feed(feed: Any) -> list[PostRecord]:
    """The reposted posts, quoted posts and reply parents a feed shows, as their authors' posts."""
    found: list[PostRecord] = []
    for item in feed if isinstance(feed, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
            continue
        post, reason, reply = item["post"], item.get("reason"), item.get("reply")
        others: list[dict[str, Any]] = []  # post views of other posts the item shows
        if isinstance(reason, dict) and reason.get("$type") == REPOST:
            others.append(post)
        if isinstance(reply, dict):
            others += [
                v
                for v in (reply.get("parent"), reply.get("root"))
                if isinstance(v, dict) and str(v.get("$type", "")).endswith("#postView")
            ]
        for view in others:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found.append(post_from_view(view))
        for view in (post, *others):
            quoted = _quoted_record(view.get("embed"))
            if quoted is not None:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    found.append(post_from_embedded(quoted))
    return list({p.platform_id: p for p in found}.values())


def _quoted_record(embed: Any) -> dict[str, Any] | None:
    """The ``#viewRecord`` of a post embed quoting another post (None for anything else)."""
    if not isinstance(embed, dict):
        return None
    if str(embed.get("$type", "")).startswith("app.bsky.embed.recordWithMedia"):
        embed = embed.get("record") or {}
    record = embed.get("record") if isinstance(embed, dict) else None
    if not isinstance(record, dict) or not str(record.get("$type", "")).endswith("#viewRecord"):
        return None
    return record if _is_post_uri(str(record.get("uri") or "")) else None


def feed_shape(body: Any) -> None:
    """ValueError unless ``body`` is an author feed page: an object whose ``feed`` is a list."""
    if not isinstance(body, dict) or not isinstance(body.get("feed"), list):
        raise ValueError("an author feed page is an object with a 'feed' list")
    if body.get("cursor") is not None and not isinstance(body["cursor"], str):
        raise ValueError("its 'cursor' is not a string")


def posts_from_feed(feed: Any) -> tuple[list[PostRecord], list[str]]:
    """The feed items as records (newest first, as sent) and a problem per unusable item."""
    posts, problems = [], []
    for item in feed if isinstance(feed, list) else []:
        try:
            if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
                raise ValueError(f"not a feed item: {str(item)[:80]!r}")
            reason = item.get("reason")
            if isinstance(reason, dict) and reason.get("$type") == REPOST:
                posts.append(repost_from_item(item))
            elif isinstance(reason, dict) and reason:
                continue  # a pinned post (#reasonPin) repeats a post of the feed
            else:
                posts.append(post_from_view(item["post"], item.get("reply")))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"skipped a Bluesky feed item: {exc}")
    return posts, problems


def id_order(post_id: str) -> int:
    """How recent an id is: the microseconds of its TID record key (-1 when it has none)."""
    try:
        micros = tid_micros(uri_parts(post_id)[2])
    except ValueError:
        return -1
    return micros if micros is not None else -1


# == API client =============================================================================
class BlueskyCollector(Collector):
    """The AppView's XRPC: ``getProfile``, ``getAuthorFeed``, ``getPosts``."""

    platform = PLATFORM
    title = "Bluesky"
    base_url_setting = "bluesky_api_url"
    target_pattern = re.compile(rf"{_HANDLE}|did:(?:plc|web):[a-z0-9._:%-]+")
    profile_url = _TARGET
    example_target = "dia-diarra.bsky.social"
    target_label = "HANDLE"

    def _call(self, method: str, query: str, shape: Any = None) -> tuple[dict[str, Any], Response]:
        response = self.http.get(
            f"{self.url('xrpc/' + method)}?{query}",
            bucket=f"bluesky:{method}",
            expect_json=True,
            shape=shape,
        )
        body = response.json_or_none()
        if response.status_code == 200 and isinstance(body, dict):
            return body, response
        error = body if isinstance(body, dict) else {}
        name, message = str(error.get("error") or ""), str(error.get("message") or "")
        if response.status_code == 400 and name:
            raise XrpcError(name, message)
        raise CollectError(
            f"Bluesky answered HTTP {response.status_code} to {method}: "
            f"{name or 'no error name'} {message}".strip(),
            hint="check OSINT_BLUESKY_API_URL (the public AppView needs no login)",
        )

    def fetch_profile(self, target: str, *, known_id: str | None = None) -> ProfileResult:
        actor = known_id if known_id and known_id.startswith("did:") else target
        try:
            body, response = self._call("app.bsky.actor.getProfile", urlencode({"actor": actor}))
        except XrpcError as exc:
            raise exc.for_account(f"@{target}") from None
        if not body.get("did"):
            raise CollectError(f"Bluesky sent a profile of @{target} without a DID")
        return ProfileResult(profile_from(body), response.capture)

    def fetch_page(self, profile: ProfileRecord, query: PageQuery) -> PostPage:
        size = PAGE_SIZE if query.limit is None else min(PAGE_SIZE, max(1, query.limit))
        params: dict[str, str | int] = {
            "actor": profile.account.platform_id,
            "limit": size,
            "filter": "posts_with_replies",
        }
        if query.cursor:
            params["cursor"] = query.cursor
        who = f"@{profile.account.handle or profile.account.platform_id}"
        try:
            body, response = self._call(
                "app.bsky.feed.getAuthorFeed", urlencode(params), shape=feed_shape
            )
        except XrpcError as exc:
            if query.cursor and exc.name == "InvalidRequest" and "cursor" in exc.detail.lower():
                raise CursorRejected(f"Bluesky refused the page cursor ({exc.detail})") from None
            raise exc.for_account(who) from None
        posts, problems = posts_from_feed(body.get("feed"))
        referenced = referenced_from_feed(body.get("feed"))
        cursor = body.get("cursor") or None
        if not body.get("feed"):
            cursor = None
        if query.since_id:
            newer = self._newer_than(posts, query.since_id)
            cursor = None if len(newer) < len(posts) else cursor
            posts = newer
        return PostPage(posts, cursor, response.capture, problems, referenced)

    @staticmethod
    def _newer_than(posts: list[PostRecord], since_id: str) -> list[PostRecord]:
        """The posts before the first one at or older than ``since_id`` (feed order)."""
        since = id_order(since_id)
        for index, post in enumerate(posts):
            if post.platform_id == since_id or 0 <= id_order(post.platform_id) <= since:
                return posts[:index]
        return posts

    def lookup_posts(self, post_ids: list[str]) -> PostLookup:
        """``getPosts``: an absent post is gone. Repost records cannot be asked for this way;
        they come back neither found nor missing."""
        lookup = PostLookup()
        wanted = [i for i in post_ids if _is_post_uri(i)]
        for start in range(0, len(wanted), LOOKUP_CHUNK):
            chunk = wanted[start : start + LOOKUP_CHUNK]
            body, response = self._call(
                "app.bsky.feed.getPosts", urlencode([("uris", u) for u in chunk])
            )
            lookup.answered(chunk, response.capture)
            found, _ = posts_from_feed([{"post": p} for p in body.get("posts") or []])
            lookup.found.extend(found)
            seen = {p.platform_id for p in found}
            for uri in chunk:
                if uri not in seen:
                    lookup.missing[uri] = (
                        "not returned by app.bsky.feed.getPosts (deleted, taken down, "
                        "or its account deactivated)"
                    )
        return lookup

    @staticmethod
    def newest_id(ids: list[str]) -> str | None:
        return max(ids, key=lambda i: (id_order(i), i)) if ids else None


def _is_post_uri(value: str) -> bool:
    try:
        return uri_parts(value)[1] == POST_COLLECTION
    except ValueError:
        return False


class XrpcError(CollectError):
    """An HTTP 400 ``{"error", "message"}`` answer of the XRPC API."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"Bluesky refused the request ({name}: {message})")
        self.name, self.detail = name, message

    def for_account(self, who: str) -> CollectError:
        """The account error this answer means for ``who``."""
        detail = f"{self.name}: {self.detail}" if self.detail else self.name
        if self.name == "AccountTakedown":
            return AccountUnavailable(
                f"Bluesky account {who} was taken down by its moderators ({detail})",
                status="suspended",
            )
        if self.name == "AccountDeactivated":
            return AccountUnavailable(
                f"Bluesky account {who} is deactivated ({detail})",
                status="deactivated",
                hint="its owner may reactivate it; nothing of it is public meanwhile",
            )
        if "not found" in self.detail.lower() or self.name in ("AccountNotFound", "NotFound"):
            return AccountNotFound(
                f"Bluesky has no account {who} ({detail})",
                hint="check the handle; handles change, the account's DID (did:plc:...) does not",
            )
        return CollectError(f"Bluesky refused {who}: {detail}")
