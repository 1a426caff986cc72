"""Zeeschuimer's NDJSON: what a researcher's browser saw on X and TikTok, item by item.

Zeeschuimer (the Digital Methods Initiative's browser extension) keeps each post the platform's
web app loaded, and exports one JSON object per line: ``nav_index, item_id,
timestamp_collected`` (milliseconds), ``last_updated, source_platform`` (the module:
``twitter.com``, ``tiktok.com``, ...), ``source_platform_url`` (the page), ``source_url`` (the
request), ``user_agent`` and ``data``, the item as the platform sent it:

- X: a GraphQL ``Tweet`` (``rest_id``, ``legacy`` with ``full_text``, ``created_at``,
  ``entities``, ``retweeted_status_result``..., ``core.user_results.result`` for the author,
  ``source`` for the client), or the older "adaptive" shape (``type: adaptive``, ``legacy``
  and ``user``). Accounts and posts keep X's own ids, so they meet what ``osint collect x``
  stores.
- TikTok: an item of ``itemList`` (``id, desc, createTime, author, authorStats, stats, music,
  textExtra, challenges, video, stickersOnItem``); ``author`` is an object, or a name when the
  item came from the page's embedded state. Sticker texts (text laid over the video) are kept in
  ``extra["image_text"]``, which the importer keys like CrowdTangle's image texts.

Each post keeps where and when it was seen in ``extra["zeeschuimer"]``. Items of other
platforms are reported and skipped; a line that is not JSON (a file cut short) is reported.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.files import TextMember, TruncatedFile
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, MediaRef, PostRecord, ProfileRecord

ITEM_KEYS = ("item_id", "source_platform", "data")
X_MODULES = frozenset(("twitter.com", "x.com"))
TIKTOK_MODULES = frozenset(("tiktok.com",))
_TAG = re.compile(r"<[^>]+>")
_MEDIA_KINDS = {"photo": "photo", "video": "video", "animated_gif": "gif"}


def read_zeeschuimer(member: TextMember) -> Iterator[PostRecord | ProfileRecord | ImportProblem]:
    """The posts of X and TikTok items (and each author's profile once), in file order."""
    seen: set[tuple[str, str]] = set()
    number = 0
    try:
        for number, line in enumerate(member.stream, start=1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield ImportProblem(number, f"not JSON ({exc}; a file cut short?)")
                continue
            if not isinstance(item, dict) or not all(k in item for k in ITEM_KEYS):
                yield ImportProblem(
                    number, "not a Zeeschuimer item (no item_id/source_platform/data)"
                )
                continue
            try:
                records = _records(item, number)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                yield ImportProblem(
                    number, f"{item.get('source_platform')} item not readable ({exc!r})"
                )
                continue
            for record in records:
                if isinstance(record, ProfileRecord):
                    key = (record.account.platform, record.account.platform_id)
                    if key in seen:
                        continue
                    if len(seen) < 1_000_000:
                        seen.add(key)
                yield record
    except TruncatedFile as exc:
        yield ImportProblem(number + 1, f"the file breaks off here ({exc})")


def _records(item: dict[str, Any], line: int) -> list[PostRecord | ProfileRecord | ImportProblem]:
    platform = str(item.get("source_platform") or "").lower()
    data = item["data"]
    if not isinstance(data, dict):
        raise ValueError("data is not an object")
    if platform in X_MODULES:
        post, profile = x_post(data)
    elif platform in TIKTOK_MODULES:
        post, profile = tiktok_post(data)
    else:
        return [
            ImportProblem(line, f"a {platform or 'unnamed'} item: osint reads X and TikTok items")
        ]
    post.extra["zeeschuimer"] = _provenance(item, line)
    return [*([profile] if profile else []), post]


def _provenance(item: dict[str, Any], line: int) -> dict[str, Any]:
    seen = item.get("timestamp_collected")
    found: dict[str, Any] = {"line": line}
    if isinstance(seen, int | float):
        found["collected_at"] = datetime.fromtimestamp(seen / 1000, UTC).isoformat()
    for key in ("source_platform_url", "source_url", "nav_index", "user_agent"):
        if item.get(key):
            found[key] = item[key]
    return found


# -- X ---------------------------------------------------------------------------------------
def _unwrap(result: Any) -> dict[str, Any]:
    """A GraphQL tweet result, unwrapped from ``TweetWithVisibilityResults``."""
    if isinstance(result, dict) and "tweet" in result and "legacy" not in result:
        result = result["tweet"]
    return result if isinstance(result, dict) else {}


def x_time(value: str) -> datetime:
    return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y").astimezone(UTC)


def _x_user(tweet: dict[str, Any]) -> tuple[AccountRecord, ProfileRecord | None]:
    legacy = tweet["legacy"]
    result = ((tweet.get("core") or {}).get("user_results") or {}).get("result")
    if not isinstance(result, dict):  # the adaptive shape: the user beside the tweet
        user = tweet.get("user") or {}
        result = {"rest_id": user.get("id_str") or legacy.get("user_id_str"), "legacy": user}
    user_legacy = result.get("legacy") or {}
    core = result.get("core") or {}  # since 2025 names and dates moved here
    user_id = str(result.get("rest_id") or legacy.get("user_id_str") or "")
    if not user_id:
        raise ValueError("no author id")
    created = core.get("created_at") or user_legacy.get("created_at")
    account = AccountRecord(
        "x",
        user_id,
        handle=core.get("screen_name") or user_legacy.get("screen_name"),
        display_name=core.get("name") or user_legacy.get("name"),
        created_at=x_time(created) if created else None,
    )
    if not user_legacy and not core:
        return account, None
    location = (result.get("location") or {}).get("location") or user_legacy.get("location")
    profile = ProfileRecord(
        account=account,
        bio=user_legacy.get("description") or (result.get("profile_bio") or {}).get("description"),
        location=location or None,
        avatar_url=(result.get("avatar") or {}).get("image_url")
        or user_legacy.get("profile_image_url_https"),
        banner_url=user_legacy.get("profile_banner_url"),
        followers_count=user_legacy.get("followers_count"),
        following_count=user_legacy.get("friends_count"),
        posts_count=user_legacy.get("statuses_count"),
        listed_count=user_legacy.get("listed_count"),
        verified=result.get("is_blue_verified"),
        protected=user_legacy.get("protected"),
        extra={"source": "zeeschuimer"},
    )
    return account, profile


def x_post(data: dict[str, Any]) -> tuple[PostRecord, ProfileRecord | None]:
    """One X web-app tweet as a post (and its author's profile as the page showed it)."""
    tweet = _unwrap(data)
    legacy = tweet["legacy"]
    tweet_id = str(tweet.get("rest_id") or legacy.get("id_str") or tweet.get("id"))
    account, profile = _x_user(tweet)
    retweeted = _unwrap((legacy.get("retweeted_status_result") or {}).get("result"))
    quoted = _unwrap((tweet.get("quoted_status_result") or {}).get("result"))
    repost_of = retweeted.get("rest_id") or None
    quote_of = legacy.get("quoted_status_id_str") or quoted.get("rest_id") or None
    reply_to = legacy.get("in_reply_to_status_id_str") or None
    entities = legacy.get("entities") or {}
    note = ((tweet.get("note_tweet") or {}).get("note_tweet_results") or {}).get("result") or {}
    metrics = {
        name: legacy[key]
        for name, key in (
            ("like_count", "favorite_count"), ("retweet_count", "retweet_count"),
            ("reply_count", "reply_count"), ("quote_count", "quote_count"),
            ("bookmark_count", "bookmark_count"),
        )
        if isinstance(legacy.get(key), int)
    }  # fmt: skip
    views = (tweet.get("views") or {}).get("count")
    if isinstance(views, str) and views.isdigit():
        metrics["impression_count"] = int(views)
    extra: dict[str, Any] = {}
    if legacy.get("conversation_id_str"):
        extra["conversation_id"] = legacy["conversation_id_str"]
    if data.get("promoted"):
        extra["promoted"] = True
    post = PostRecord(
        platform="x",
        platform_id=tweet_id,
        account=account,
        created_at=x_time(legacy["created_at"]),
        kind=PostKind.REPOST
        if repost_of
        else PostKind.REPLY
        if reply_to
        else PostKind.QUOTE
        if quote_of
        else PostKind.POST,
        text=html.unescape(note.get("text") or legacy.get("full_text") or ""),
        url=f"https://x.com/{account.handle}/status/{tweet_id}"
        if account.handle
        else f"https://x.com/i/web/status/{tweet_id}",
        lang=legacy.get("lang"),
        repost_of=repost_of,
        reply_to=reply_to,
        quote_of=quote_of,
        links=[u["expanded_url"] for u in entities.get("urls") or [] if u.get("expanded_url")],
        hashtags=[h["text"] for h in entities.get("hashtags") or [] if h.get("text")],
        mentions=[
            m["screen_name"] for m in entities.get("user_mentions") or [] if m.get("screen_name")
        ],
        metrics=metrics,
        extra=extra,
        media=_x_media(legacy),
        client=_TAG.sub("", tweet.get("source") or legacy.get("source") or "").strip()[:255]
        or None,
    )
    return post, profile


def _x_media(legacy: dict[str, Any]) -> list[MediaRef]:
    media = (legacy.get("extended_entities") or legacy.get("entities") or {}).get("media") or []
    refs = []
    for position, item in enumerate(media):
        if not isinstance(item, dict) or not item.get("media_url_https"):
            continue
        kind = _MEDIA_KINDS.get(item.get("type", ""), "other")
        source = item["media_url_https"]
        if kind in ("video", "gif"):
            variants = [
                v for v in (item.get("video_info") or {}).get("variants") or []
                if str(v.get("content_type", "")).startswith("video/")
            ]  # fmt: skip
            if variants:
                source = max(variants, key=lambda v: v.get("bitrate") or 0)["url"]
        refs.append(
            MediaRef(
                source,
                position=position,
                kind=kind,
                preview_url=item["media_url_https"] if source != item["media_url_https"] else None,
                alt_text=item.get("ext_alt_text"),
                platform_key=item.get("media_key"),
            )
        )
    return refs


# -- TikTok ----------------------------------------------------------------------------------
def tiktok_post(data: dict[str, Any]) -> tuple[PostRecord, ProfileRecord | None]:
    """One TikTok item as a post (and its author's profile, when the item carries it)."""
    video_id = str(data["id"])
    author = data.get("author")
    if isinstance(author, dict):
        handle, name = author.get("uniqueId"), author.get("nickname")
        author_id = str(author.get("id") or "") or None
    else:
        handle, name, author_id = author, data.get("nickname"), data.get("authorId")
    if not handle and not author_id:
        raise ValueError("no author")
    account = AccountRecord(
        "tiktok", str(author_id or f"@{str(handle).lower()}"), handle=handle, display_name=name
    )
    stats = data.get("stats") or {}
    metrics = {
        name: stats[key]
        for name, key in (
            ("like_count", "diggCount"), ("comment_count", "commentCount"),
            ("share_count", "shareCount"), ("play_count", "playCount"),
            ("collect_count", "collectCount"),
        )
        if isinstance(stats.get(key), int)
    }  # fmt: skip
    tags = [t.get("hashtagName") for t in data.get("textExtra") or [] if isinstance(t, dict)]
    tags += [c.get("title") for c in data.get("challenges") or [] if isinstance(c, dict)]
    music = data.get("music") or {}
    extra: dict[str, Any] = {}
    if music:
        extra["music"] = {
            k: music[k] for k in ("id", "title", "authorName", "original") if k in music
        }
    for key in ("locationCreated", "isAd", "duetInfo"):
        if data.get(key):
            extra[key] = data[key]
    stickers = [
        " ".join(str(t) for t in s.get("stickerText") or [])
        for s in data.get("stickersOnItem") or []
        if isinstance(s, dict)
    ]
    if any(stickers):  # text laid over the video: what a meme spread by many accounts shares
        extra["image_text"] = " ".join(t for t in stickers if t)
    video = data.get("video") or {}
    cover = video.get("cover") or video.get("originCover")
    post = PostRecord(
        platform="tiktok",
        platform_id=video_id,
        account=account,
        created_at=datetime.fromtimestamp(int(data["createTime"]), UTC),
        text=data.get("desc") or "",
        url=f"https://www.tiktok.com/@{handle}/video/{video_id}" if handle else None,
        hashtags=list(dict.fromkeys(t for t in tags if t)),
        mentions=[
            t["userUniqueId"]
            for t in data.get("textExtra") or []
            if isinstance(t, dict) and t.get("userUniqueId")
        ],
        metrics=metrics,
        extra=extra,
        media=[MediaRef(cover, kind="photo", platform_key="cover")] if cover else [],
    )
    return post, _tiktok_profile(account, author, data.get("authorStats") or {})


def _tiktok_profile(
    account: AccountRecord, author: Any, stats: dict[str, Any]
) -> ProfileRecord | None:
    if not isinstance(author, dict) and not stats:
        return None
    details = author if isinstance(author, dict) else {}
    return ProfileRecord(
        account=account,
        bio=details.get("signature") or None,
        url=f"https://www.tiktok.com/@{account.handle}" if account.handle else None,
        avatar_url=details.get("avatarLarger") or details.get("avatarMedium"),
        followers_count=stats.get("followerCount"),
        following_count=stats.get("followingCount"),
        posts_count=stats.get("videoCount"),
        verified=details.get("verified"),
        protected=details.get("privateAccount"),
        extra={
            "source": "zeeschuimer",
            **({"likes": stats["heartCount"]} if "heartCount" in stats else {}),
        },
    )
