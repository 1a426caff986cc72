"""X (Twitter) through the API v2: the normaliser (raw JSON -> records), then the API client.

The normaliser is shared with the twarc2 importer (:mod:`collectors.importers.twarc`): it reads a
v2 response page (``data`` + ``includes``) and never does I/O. The client knows the endpoints,
their parameters and X's error shapes; paging, storage and media downloads are the engine's.

Shapes: https://docs.x.com/x-api/users/user-lookup-by-username and .../posts/user-posts-timeline.
An unknown account is HTTP 200 with ``errors: [{"title": "Not Found Error", ...}]`` and no
``data``; a suspended one says ``"User has been suspended: [name]."``; a protected timeline
answers ``"Authorization Error"``. Rate limits (``x-rate-limit-*``) are handled by the HTTP layer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

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
from osint.collectors.http import HttpClient, Response
from osint.config import Settings
from osint.errors import AccountNotFound, AccountUnavailable, AuthError, CollectError
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, MediaRef, PostRecord, ProfileRecord

PLATFORM = "x"
WEB = "https://x.com"
X_EPOCH_MS = 1288834974657  # snowflake epoch: ids carry their creation time
USER_FIELDS = (
    "created_at,description,entities,location,pinned_tweet_id,profile_image_url,protected,"
    "public_metrics,url,verified,verified_type,withheld"
)
TWEET_FIELDS = (
    "attachments,author_id,context_annotations,conversation_id,created_at,"
    "edit_history_tweet_ids,entities,geo,in_reply_to_user_id,lang,note_tweet,possibly_sensitive,"
    "public_metrics,referenced_tweets,reply_settings,source,withheld"
)
EXPANSIONS = (
    "attachments.media_keys,attachments.poll_ids,author_id,geo.place_id,referenced_tweets.id,"
    "referenced_tweets.id.author_id,entities.mentions.username"
)
MEDIA_FIELDS = "url,preview_image_url,type,variants,width,height,alt_text"
PLACE_FIELDS = "contained_within,country,country_code,full_name,geo,id,name,place_type"
POLL_FIELDS = "duration_minutes,end_datetime,id,options,voting_status"
# what every request for tweets (a timeline page, a look-up) asks to be expanded and filled in
_TWEET_PARAMS = {
    "tweet.fields": TWEET_FIELDS,
    "expansions": EXPANSIONS,
    "media.fields": MEDIA_FIELDS,
    "user.fields": USER_FIELDS,
    "place.fields": PLACE_FIELDS,
    "poll.fields": POLL_FIELDS,
}
PAGE_SIZE = 100  # the endpoint's maximum; it refuses fewer than 5
_OWN_MEDIA_LINK = re.compile(r"^https?://(x|twitter)\.com/[^/]+/status/\d+/(photo|video)/\d+$")


# == normaliser =============================================================================
def snowflake_time(tweet_id: str) -> datetime | None:
    """The creation time an X id encodes (ids after late 2010 are snowflakes)."""
    if not tweet_id.isdigit() or int(tweet_id) < 1 << 32:
        return None
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + X_EPOCH_MS) / 1000, UTC)


def tweet_url(username: str | None, tweet_id: str) -> str:
    return f"{WEB}/{username}/status/{tweet_id}" if username else f"{WEB}/i/web/status/{tweet_id}"


def avatar_original(url: str | None) -> str | None:
    """The full-size avatar behind the 48x48 ``_normal`` URL the API returns."""
    if not url:
        return None
    return re.sub(r"_normal(\.\w+)$", r"\1", url)


@dataclass
class Includes:
    """A page's ``includes``, indexed."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)
    places: dict[str, dict[str, Any]] = field(default_factory=dict)
    polls: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, page: dict[str, Any]) -> Includes:
        raw = page.get("includes")
        if not isinstance(raw, dict):
            raw = {}

        def index(items: Any, key: str) -> dict[str, dict[str, Any]]:
            if not isinstance(items, list):
                return {}
            return {str(i[key]): i for i in items if isinstance(i, dict) and key in i}

        return cls(
            users=index(raw.get("users"), "id"),
            media=index(raw.get("media"), "media_key"),
            tweets=index(raw.get("tweets"), "id"),
            places=index(raw.get("places"), "id"),
            polls=index(raw.get("polls"), "id"),
        )


def account_from_user(user: dict[str, Any]) -> AccountRecord:
    return AccountRecord(
        platform=PLATFORM,
        platform_id=str(user["id"]),
        handle=user.get("username"),
        display_name=user.get("name"),
        created_at=parse_time(user.get("created_at")),
    )


def profile_from_user(user: dict[str, Any]) -> ProfileRecord:
    """The profile of a v2 user object (requested with ``USER_FIELDS``)."""
    metrics = user.get("public_metrics") or {}
    url_entities = ((user.get("entities") or {}).get("url") or {}).get("urls") or [{}]
    extra: dict[str, Any] = {
        k: user[k] for k in ("verified_type", "pinned_tweet_id", "withheld") if k in user
    }
    if user.get("profile_image_url"):
        extra["profile_image_url"] = user["profile_image_url"]
    return ProfileRecord(
        account=account_from_user(user),
        bio=user.get("description"),
        location=user.get("location"),
        url=url_entities[0].get("expanded_url") or user.get("url") or None,
        avatar_url=avatar_original(user.get("profile_image_url")),
        followers_count=metrics.get("followers_count"),
        following_count=metrics.get("following_count"),
        posts_count=metrics.get("tweet_count"),
        listed_count=metrics.get("listed_count"),
        verified=user.get("verified"),
        protected=user.get("protected"),
        extra=extra,
    )


def media_refs(tweet: dict[str, Any], includes: Includes) -> list[MediaRef]:
    """Photos by ``url``; videos and GIFs by their poster (``preview_image_url``)."""
    keys = (tweet.get("attachments") or {}).get("media_keys") or []
    refs = []
    for position, key in enumerate(keys):
        media = includes.media.get(str(key))
        if media is None:
            refs.append(
                MediaRef(None, position, platform_key=str(key), error="not in the response")
            )
            continue
        kind = {"photo": "photo", "video": "video", "animated_gif": "gif"}.get(
            media.get("type", ""), "other"
        )
        source = media.get("url") if kind == "photo" else media.get("preview_image_url")
        refs.append(
            MediaRef(
                source_url=source,
                position=position,
                kind=kind,
                preview_url=media.get("preview_image_url"),
                alt_text=media.get("alt_text"),
                platform_key=str(key),
                error=None if source else "no URL in the response",
            )
        )
    return refs


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def structured_content(tweet: dict[str, Any], includes: Includes) -> list[dict[str, Any]]:
    """A tweet's polls (``attachments.poll_ids`` + ``includes.polls``), place (``geo`` +
    ``includes.places``) and withheld notice, one typed item each (``PostRecord.content``)."""
    items: list[dict[str, Any]] = []
    attachments = _object(tweet.get("attachments"))
    for poll_id in attachments.get("poll_ids") or []:
        poll = includes.polls.get(str(poll_id)) or {"id": str(poll_id)}
        options = [
            {"position": o.get("position"), "label": o.get("label"), "votes": o.get("votes")}
            for o in poll.get("options") or []
            if isinstance(o, dict)
        ]
        item: dict[str, Any] = {"type": "poll", "id": str(poll_id), "options": options}
        for key in ("voting_status", "end_datetime", "duration_minutes"):
            if poll.get(key) is not None:
                item[key] = poll[key]
        items.append(item)
    geo = _object(tweet.get("geo"))
    if geo:
        place = includes.places.get(str(geo.get("place_id"))) or {}
        item = {"type": "place", "place_id": geo.get("place_id")}
        for key in ("name", "full_name", "country", "country_code", "place_type"):
            if place.get(key):
                item[key] = place[key]
        if isinstance(place.get("geo"), dict) and place["geo"].get("bbox"):
            item["bbox"] = place["geo"]["bbox"]
        coordinates = geo.get("coordinates")
        if isinstance(coordinates, dict) and coordinates.get("coordinates"):
            lon, lat = coordinates["coordinates"][:2]
            item.update(lat=lat, lon=lon)
        items.append(item)
    withheld = tweet.get("withheld")
    if isinstance(withheld, dict) and withheld:
        items.append(
            {
                "type": "withheld",
                "country_codes": list(withheld.get("country_codes") or []),
                **({"copyright": True} if withheld.get("copyright") else {}),
                **({"scope": withheld["scope"]} if withheld.get("scope") else {}),
            }
        )
    return items


def _entities(tweet: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    entities = tweet.get("entities") or {}
    links = []
    for item in entities.get("urls") or []:
        link = item.get("unwound_url") or item.get("expanded_url") or item.get("url")
        if link and not item.get("media_key") and not _OWN_MEDIA_LINK.match(link):
            links.append(link)
    hashtags = [h["tag"] for h in entities.get("hashtags") or [] if h.get("tag")]
    mentions = [m["username"] for m in entities.get("mentions") or [] if m.get("username")]
    return list(dict.fromkeys(links)), hashtags, mentions


def _referenced(tweet: dict[str, Any], includes: Includes) -> list[dict[str, Any]]:
    out = []
    for ref in tweet.get("referenced_tweets") or []:
        target = includes.tweets.get(str(ref.get("id")), {})
        author = includes.users.get(str(target.get("author_id")), {})
        out.append(
            {
                "type": ref.get("type"),
                "id": str(ref.get("id")),
                "author_id": target.get("author_id"),
                "author_username": author.get("username"),
                "text": html.unescape(target["text"]) if target.get("text") else None,
            }
        )
    return out


def post_from_tweet(
    tweet: dict[str, Any], includes: Includes, default_author: AccountRecord | None = None
) -> PostRecord:
    """One v2 tweet object as a post; ValueError when it cannot be one."""
    if not tweet.get("id"):
        raise ValueError("a tweet without an id")
    tweet_id = str(tweet["id"])
    extra: dict[str, Any] = {}
    created = created_time(
        tweet.get("created_at"), lambda: snowflake_time(tweet_id), extra, f"tweet {tweet_id}"
    )
    author_id = str(
        tweet.get("author_id") or (default_author.platform_id if default_author else "")
    )
    if not author_id:
        raise ValueError(f"tweet {tweet_id} has no author_id")
    user = includes.users.get(author_id)
    if user is not None:
        account = account_from_user(user)
    elif default_author is not None and default_author.platform_id == author_id:
        account = default_author
    else:
        account = AccountRecord(PLATFORM, author_id)
    refs = {r.get("type"): str(r.get("id")) for r in tweet.get("referenced_tweets") or []}
    kind = (
        PostKind.REPOST
        if "retweeted" in refs
        else PostKind.REPLY
        if "replied_to" in refs
        else PostKind.QUOTE
        if "quoted" in refs
        else PostKind.POST
    )
    note = (tweet.get("note_tweet") or {}).get("text")
    links, hashtags, mentions = _entities(tweet)
    for key in ("conversation_id", "in_reply_to_user_id", "edit_history_tweet_ids", "source"):
        if tweet.get(key):
            extra[key] = tweet[key]
    if "possibly_sensitive" in tweet:
        extra["possibly_sensitive"] = tweet["possibly_sensitive"]
    for key in ("withheld", "context_annotations", "geo"):
        if tweet.get(key):
            extra[key] = tweet[key]
    if refs:
        extra["referenced_tweets"] = _referenced(tweet, includes)
    return PostRecord(
        platform=PLATFORM,
        platform_id=tweet_id,
        account=account,
        created_at=created,
        kind=kind,
        text=html.unescape(note or tweet.get("text") or ""),
        url=tweet_url(account.handle, tweet_id),
        lang=tweet.get("lang"),
        repost_of=refs.get("retweeted"),
        reply_to=refs.get("replied_to"),
        quote_of=refs.get("quoted"),
        links=links,
        hashtags=hashtags,
        mentions=mentions,
        metrics=dict(tweet.get("public_metrics") or {}),
        extra=extra,
        media=media_refs(tweet, includes),
        content=structured_content(tweet, includes),
    )


@dataclass
class NormalizedPage:
    posts: list[PostRecord]
    problems: list[str]
    # the retweeted, quoted and replied-to tweets of ``includes.tweets``, as posts of their own
    # authors (seen through the reference, not collected from those accounts)
    referenced: list[PostRecord] = field(default_factory=list)


def posts_from_page(
    page: dict[str, Any], *, default_author: AccountRecord | None = None
) -> NormalizedPage:
    """The tweets of a v2 response page; unusable tweets become problems, the rest records."""
    data = page.get("data")
    tweets = [data] if isinstance(data, dict) else data if isinstance(data, list) else []
    includes = Includes.of(page)
    posts, problems = [], []
    for tweet in tweets:
        if not isinstance(tweet, dict):
            problems.append(f"not a tweet object: {str(tweet)[:80]!r}")
            continue
        try:
            posts.append(post_from_tweet(tweet, includes, default_author))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"skipped a tweet: {exc}")
    return NormalizedPage(posts, problems, referenced_posts(includes))


def referenced_posts(includes: Includes) -> list[PostRecord]:
    """``includes.tweets`` as posts of their authors; a tweet that cannot be one is left out
    (it stays in the raw page, and the referencing post keeps its id)."""
    found = []
    for tweet in includes.tweets.values():
        if not tweet.get("author_id"):
            continue  # X sends the author with the tweet; without it, no account to file under
        try:
            found.append(post_from_tweet(tweet, includes))
        except (ValueError, KeyError, TypeError):
            continue
    return found


def timeline_shape(body: Any) -> None:
    """ValueError unless ``body`` is a documented v2 timeline page (posts, or none with a
    ``result_count`` of 0 or ``errors``): a page that silently lost its ``data`` is an error."""
    if not isinstance(body, dict):
        raise ValueError(f"a page is a JSON object, this is {type(body).__name__}")
    data = body.get("data")
    if "data" in body and not isinstance(data, list):
        raise ValueError(f"'data' is {type(data).__name__}, not a list of tweets")
    meta = body.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise ValueError("'meta' is not an object")
    count = (meta or {}).get("result_count")
    if not isinstance(count, int) or isinstance(count, bool):
        count = None
    if "data" not in body and not body.get("errors") and count != 0:
        raise ValueError("no 'data', no 'errors' and no result_count of 0")
    if count and not data:
        raise ValueError(f"meta.result_count says {count} tweets, 'data' holds none")


def page_from_flat_tweet(tweet: dict[str, Any]) -> dict[str, Any]:
    """A twarc2 ``flatten`` line (expansions in-line) turned back into a v2 page."""
    users: dict[str, dict[str, Any]] = {}
    media: dict[str, dict[str, Any]] = {}
    tweets: dict[str, dict[str, Any]] = {}
    places: dict[str, dict[str, Any]] = {}
    polls: dict[str, dict[str, Any]] = {}

    def collect_user(user: Any) -> None:
        if isinstance(user, dict) and user.get("id"):
            users.setdefault(str(user["id"]), user)

    def collect(item: dict[str, Any]) -> dict[str, Any]:
        collect_user(item.get("author"))
        collect_user(item.get("in_reply_to_user"))
        for mention in (item.get("entities") or {}).get("mentions") or []:
            collect_user(mention)
        attachments = _object(item.get("attachments"))
        for m in attachments.get("media") or []:
            if isinstance(m, dict) and m.get("media_key"):
                media.setdefault(str(m["media_key"]), m)
        inline = attachments.get("poll") or attachments.get("polls") or []
        for poll in inline if isinstance(inline, list) else [inline]:  # twarc inlines polls
            if isinstance(poll, dict) and poll.get("id"):
                polls.setdefault(str(poll["id"]), poll)
        geo = _object(item.get("geo"))
        if isinstance(geo.get("place"), dict) and geo["place"].get("id"):  # and the place
            places.setdefault(str(geo["place"]["id"]), geo["place"])
        refs = []
        for ref in item.get("referenced_tweets") or []:
            if isinstance(ref, dict) and ref.get("id"):
                if ref.get("text") is not None:
                    tweets.setdefault(str(ref["id"]), collect(ref))
                refs.append({"type": ref.get("type"), "id": str(ref["id"])})
        plain = {k: v for k, v in item.items() if k not in ("author", "in_reply_to_user")}
        if refs:
            plain["referenced_tweets"] = refs
        return plain

    data = collect(tweet)
    return {
        "data": [data],
        "includes": {
            "users": list(users.values()),
            "media": list(media.values()),
            "tweets": list(tweets.values()),
            "places": list(places.values()),
            "polls": list(polls.values()),
        },
    }


def error_kind(error: dict[str, Any]) -> str:
    """``suspended``, ``not_found``, ``protected`` or ``other`` for one v2 ``errors`` item."""
    detail = str(error.get("detail") or error.get("message") or "")
    title = str(error.get("title") or "")
    kind = str(error.get("type") or "")
    if "suspended" in detail.lower():
        return "suspended"
    if title == "Authorization Error" or kind.endswith("not-authorized-for-resource"):
        return "protected"
    if title == "Not Found Error" or kind.endswith("resource-not-found"):
        return "not_found"
    return "other"


# == API client =============================================================================
def _api_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _detail(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors") if isinstance(body.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return str(body.get("detail") or first.get("detail") or first.get("message") or "")


def _about(body: Any, parameter: str) -> bool:
    """Whether an X 400 body names ``parameter`` among the invalid ones."""
    if not isinstance(body, dict):
        return False
    for error in body.get("errors") or []:
        if isinstance(error, dict):
            named = error.get("parameters") or {}
            if parameter in named or parameter in str(error.get("message", "")):
                return True
    return False


class XCollector(Collector):
    """X API v2: ``users/by/username``, ``users/:id/tweets``, ``tweets?ids=``."""

    platform = PLATFORM
    title = "X"
    base_url_setting = "x_api_url"
    token_setting = "x_bearer_token"  # noqa: S105 (a setting's name, not a secret)
    token_env = "OSINT_X_BEARER_TOKEN"  # noqa: S105
    target_pattern = re.compile(r"[a-z0-9_]{1,50}")
    example_target = "dia_diarra"

    def __init__(self, http: HttpClient, settings: Settings) -> None:
        super().__init__(http, settings)
        token = self.token(settings) or ""
        if token not in http.secrets:
            http.secrets.append(token)
        self._auth = {"Authorization": f"Bearer {token}"}

    @classmethod
    def normalize_target(cls, target: str) -> str:
        match = re.match(r"^(?:https?://)?(?:www\.|mobile\.)?(?:x|twitter)\.com/([^/?#]+)", target)
        return super().normalize_target(match.group(1) if match else target)

    def _call(
        self,
        path: str,
        params: dict[str, str | int],
        bucket: str,
        shape: Any = None,
    ) -> tuple[Any, Response]:
        response = self.http.get(
            self.url(path),
            params=params,
            headers=self._auth,
            bucket=f"x:{bucket}",
            expect_json=True,
            shape=shape,
        )
        body = response.json_or_none()
        status = response.status_code
        if status in (401, 403):
            raise AuthError(
                f"X refused the request (HTTP {status}: {_detail(body) or 'no detail'})",
                hint="check OSINT_X_BEARER_TOKEN: a valid app bearer token with access to the v2 API",
            )
        if status == 400 and "pagination_token" in params and _about(body, "pagination_token"):
            raise CursorRejected(
                f"X refused the page cursor (HTTP 400: {_detail(body) or 'no detail'})"
            )
        if not 200 <= status < 300:
            raise CollectError(
                f"X answered HTTP {status} to /{path}: {_detail(body) or 'no detail'}",
                hint="check OSINT_X_API_URL and the account name",
            )
        if not isinstance(body, dict):
            raise CollectError(f"X sent an unexpected response to /{path} (not a JSON object)")
        return body, response

    def fetch_profile(self, target: str, *, known_id: str | None = None) -> ProfileResult:
        if known_id and known_id.isdigit():  # by id: follows a renamed account
            path, bucket = f"2/users/{known_id}", "users_by_id"
        else:
            path, bucket = f"2/users/by/username/{target}", "users_by_username"
        body, response = self._call(path, {"user.fields": USER_FIELDS}, bucket)
        user = body.get("data")
        if not isinstance(user, dict) or not user.get("id"):
            raise self._account_error(body.get("errors"), f"@{target}")
        return ProfileResult(profile_from_user(user), response.capture)

    def fetch_page(self, profile: ProfileRecord, query: PageQuery) -> PostPage:
        size = PAGE_SIZE if query.limit is None else min(PAGE_SIZE, max(5, query.limit))
        params: dict[str, str | int] = {"max_results": size, **_TWEET_PARAMS}
        if query.cursor:
            params["pagination_token"] = query.cursor
        if query.since_id:
            params["since_id"] = query.since_id
        if query.since:
            params["start_time"] = _api_time(query.since)
        if query.until:
            params["end_time"] = _api_time(query.until)
        user_id = profile.account.platform_id
        body, response = self._call(
            f"2/users/{user_id}/tweets", params, "user_tweets", shape=timeline_shape
        )
        if "data" not in body and body.get("errors"):
            raise self._account_error(body["errors"], f"@{profile.account.handle or user_id}")
        page = posts_from_page(body, default_author=profile.account)
        meta = body.get("meta") or {}
        token = meta.get("next_token") if isinstance(meta, dict) else None
        return PostPage(
            posts=page.posts,
            next_cursor=token if isinstance(token, str) and token else None,
            capture=response.capture,
            problems=page.problems,
            referenced=page.referenced,
        )

    def lookup_posts(self, post_ids: list[str]) -> PostLookup:
        """``GET /2/tweets?ids=``: found posts, and the reason X gives for each missing one."""
        lookup = PostLookup()
        for start in range(0, len(post_ids), 100):
            chunk = post_ids[start : start + 100]
            params: dict[str, str | int] = {"ids": ",".join(chunk), **_TWEET_PARAMS}
            body, response = self._call("2/tweets", params, "tweets_lookup")
            lookup.answered(chunk, response.capture)
            lookup.found.extend(posts_from_page(body).posts)
            for error in body.get("errors") or []:
                if isinstance(error, dict) and error.get("parameter") == "ids":
                    lookup.missing[str(error.get("resource_id") or error.get("value"))] = str(
                        error.get("detail") or error.get("title") or "missing"
                    )
        return lookup

    @staticmethod
    def _account_error(errors: Iterable[Any] | None, who: str) -> Exception:
        items = [e for e in errors or [] if isinstance(e, dict)]
        kinds = [error_kind(e) for e in items]
        detail = _detail({"errors": items}) or "no data and no error"
        if "suspended" in kinds:
            return AccountUnavailable(
                f"X account {who} is suspended ({detail})", status="suspended"
            )
        if "protected" in kinds:
            return AccountUnavailable(
                f"X account {who} is protected: its posts are not public ({detail})",
                status="protected",
                hint="only followers approved by the account can see them",
            )
        if "not_found" in kinds:
            return AccountNotFound(
                f"X has no account {who} ({detail})",
                hint="check the spelling; a deleted or renamed account is not found either",
            )
        return CollectError(f"X could not give {who}: {detail}")
