"""X API v2, as documented, rendered from the replay world.

Endpoints: ``GET /2/users/by/username/:username``, ``GET /2/users/:id``,
``GET /2/users/:id/tweets`` (``max_results`` 5-100, ``pagination_token`` from
``meta.next_token``, ``since_id``, ``until_id``, ``start_time``, ``end_time``), ``GET /2/tweets``
(``ids``) and ``GET /2/tweets/:id``. Objects carry their default fields plus the requested
``user.fields`` / ``tweet.fields`` / ``media.fields``; ``expansions`` fill ``includes``. Texts
carry t.co links, ``#tags`` and ``@mentions`` with entity offsets, and are HTML-escaped as X does.
Every answer has ``x-rate-limit-*`` headers; quotas per endpoint can be set with
:meth:`XApp.set_rate_limit`. Errors use X's shapes: 200 with ``errors`` for unknown, suspended
and protected accounts, 401 for a bad token, 400 for bad parameters, and both 429 bodies.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import time
from datetime import UTC, datetime
from typing import Any, ClassVar

from osint.demo.replay.server import PlatformApp, ReplayRequest, Reply, echo_in_media, json_reply
from osint.demo.replay.world import Fault, World, WorldAccount, WorldMedia, WorldPost

PROBLEM = "https://api.twitter.com/2/problems/"
DEFAULT_LIMITS = {"users_by_username": 900, "users_by_id": 900, "user_tweets": 1500, "tweets": 900}
WINDOW = 900.0
_MEDIA_PREFIX = {"photo": "3", "video": "7", "gif": "16"}
_MEDIA_TYPE = {"photo": "photo", "video": "video", "gif": "animated_gif"}


def x_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _fields(request: ReplayRequest, name: str) -> set[str]:
    return {f for f in request.query.get(name, "").split(",") if f}


def _problem(title: str, detail: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": PROBLEM + kind, **extra}


def _resource_error(
    title: str, detail: str, kind: str, resource: str, parameter: str, value: str, **extra: Any
) -> dict[str, Any]:
    return {
        "value": value,
        "detail": detail,
        "title": title,
        "resource_type": resource,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEM + kind,
        **extra,
    }


def _token(before_id: int) -> str:
    return base64.b32encode(f"older:{before_id}".encode()).decode().rstrip("=").lower()


def _untoken(token: str) -> int | None:
    try:
        padded = token.upper() + "=" * (-len(token) % 8)
        kind, _, value = base64.b32decode(padded).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return int(value) if kind == "older" and value.isdigit() else None


class XApp(PlatformApp):
    name = "x"
    setting = "x_api_url"
    _ROUTES = (
        (re.compile(r"^/2/users/by/username/([^/]+)$"), "user_by_username", "users_by_username"),
        (re.compile(r"^/2/users/(\d+)$"), "user_by_id", "users_by_id"),
        (re.compile(r"^/2/users/(\d+)/tweets$"), "user_tweets", "user_tweets"),
        (re.compile(r"^/2/tweets$"), "tweets_lookup", "tweets"),
        (re.compile(r"^/2/tweets/(\d+)$"), "tweet_by_id", "tweets"),
    )

    quota_limits: ClassVar[dict[str, tuple[int, float]]] = {
        k: (v, WINDOW) for k, v in DEFAULT_LIMITS.items()
    }
    quota_fallback = (900, WINDOW)

    def __init__(self, world: World) -> None:
        super().__init__(world)
        self._default_avatar_id = ""

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, request: ReplayRequest) -> Reply:
        if request.method != "GET":
            return json_reply(_problem("Method Not Allowed", "GET only", "invalid-request"), 405)
        if not self._authorized(request):
            return json_reply(
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
                401,
            )
        for pattern, method, endpoint in self._ROUTES:
            match = pattern.match(request.path)
            if match:
                quota = self.quotas.take(endpoint)
                if not quota.allowed:
                    return self._429(quota.reset_at, quota.limit, "v2")
                reply: Reply = getattr(self, method)(request, *match.groups())
                reply.headers.extend(
                    [
                        ("x-rate-limit-limit", str(quota.limit)),
                        ("x-rate-limit-remaining", str(quota.remaining)),
                        ("x-rate-limit-reset", str(quota.reset_at)),
                    ]
                )
                return reply
        return json_reply(
            {"errors": [{"message": "Sorry, that page does not exist", "code": 34}]}, 404
        )

    def _authorized(self, request: ReplayRequest) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            return False
        accepted = self.world.tokens.get(self.name)
        return not accepted or header[7:] in accepted

    # -- rate limits --------------------------------------------------------------------------
    def rate_limited(self, request: ReplayRequest, fault: Fault) -> Reply:
        return self._429(int(time.time() + fault.reset_in + 0.999), 900, fault.shape)

    @staticmethod
    def _429(reset: int, limit: int, shape: str) -> Reply:
        body: dict[str, Any] = (
            {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
            if shape == "v1"
            else {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            }
        )
        headers = [
            ("x-rate-limit-limit", str(limit)),
            ("x-rate-limit-remaining", "0"),
            ("x-rate-limit-reset", str(reset)),
        ]
        return json_reply(body, 429, headers)

    def error(self, request: ReplayRequest, status: int) -> Reply:
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        title = titles.get(status, "Error")
        return json_reply(
            {"title": title, "detail": title, "type": "about:blank", "status": status}, status
        )

    # -- users --------------------------------------------------------------------------------
    def _account_errors(self, acc: WorldAccount | None, parameter: str, value: str) -> Any:
        if acc is None or acc.status == "deleted":
            what = "username" if parameter == "username" else "id"
            return _resource_error(
                "Not Found Error",
                f"Could not find user with {what}: [{value}].",
                "resource-not-found",
                "user",
                parameter,
                value,
            )
        if acc.status == "suspended":
            return _resource_error(
                "Forbidden",
                f"User has been suspended: [{value}].",
                "resource-not-found",
                "user",
                parameter,
                value,
            )
        return None

    def user_by_username(self, request: ReplayRequest, username: str) -> Reply:
        acc = self.world.account_by_handle(self.name, username)
        error = self._account_errors(acc, "username", username)
        if error or acc is None:
            return json_reply({"errors": [error]})
        return json_reply({"data": self.user(acc, request)})

    def user_by_id(self, request: ReplayRequest, user_id: str) -> Reply:
        acc = self.world.account(self.name, user_id)
        error = self._account_errors(acc, "id", user_id)
        if error or acc is None:
            return json_reply({"errors": [error]})
        return json_reply({"data": self.user(acc, request)})

    def _default_avatar(self) -> WorldMedia:
        """X's grey default picture, added to the world the first time an account lacks one."""
        if self._default_avatar_id not in self.world.media:
            self._default_avatar_id = self.world.add_image(48, 48, (160, 160, 160), fmt="PNG").id
        return self.world.media[self._default_avatar_id]

    def user(self, acc: WorldAccount, request: ReplayRequest) -> dict[str, Any]:
        avatar = acc.avatar or self._default_avatar().id
        posts = self.world.timeline(acc)
        full: dict[str, Any] = {
            "id": acc.id,
            "name": acc.display_name,
            "username": acc.handle,
            "created_at": x_time(acc.created_at),
            "description": acc.bio,
            "profile_image_url": f"{request.media_base}/profile_images/{avatar}_normal.jpg",
            "protected": acc.status == "protected",
            "public_metrics": {
                "followers_count": acc.followers,
                "following_count": acc.following,
                "tweet_count": len(posts),
                "listed_count": acc.listed,
                "like_count": 0,
            },
            "url": f"https://t.co/{_code(acc.url)}" if acc.url else "",
            "verified": acc.verified,
            "verified_type": "blue" if acc.verified else "none",
        }
        if acc.location:
            full["location"] = acc.location
        if acc.url:
            tco = full["url"]
            full["entities"] = {
                "url": {
                    "urls": [
                        {
                            "start": 0,
                            "end": len(tco),
                            "url": tco,
                            "expanded_url": acc.url,
                            "display_url": re.sub(r"^https?://", "", acc.url)[:30],
                        }
                    ]
                }
            }
        wanted = {"id", "name", "username"} | _fields(request, "user.fields")
        return {k: v for k, v in full.items() if k in wanted}

    # -- timelines ----------------------------------------------------------------------------
    def _bad_param(self, name: str, value: str, message: str) -> Reply:
        return json_reply(
            {
                "errors": [{"parameters": {name: [value]}, "message": message}],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": PROBLEM + "invalid-request",
            },
            400,
        )

    def user_tweets(self, request: ReplayRequest, user_id: str) -> Reply:
        acc = self.world.account(self.name, user_id)
        error = self._account_errors(acc, "id", user_id)
        if error is None and acc is not None and acc.status == "protected":
            error = _resource_error(
                "Authorization Error",
                f"Sorry, you are not authorized to see the user with id: [{user_id}].",
                "not-authorized-for-resource",
                "user",
                "id",
                user_id,
            )
        if error or acc is None:
            return json_reply({"errors": [error]})
        raw_max = request.query.get("max_results", "10")
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            return self._bad_param(
                "max_results",
                raw_max,
                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100",
            )
        posts = sorted(self.world.timeline(acc), key=lambda p: int(p.id), reverse=True)
        token = request.query.get("pagination_token")
        if token is not None:
            before = _untoken(token)
            if before is None:
                return self._bad_param(
                    "pagination_token",
                    token,
                    f"The `pagination_token` query parameter value [{token}] is invalid",
                )
            posts = [p for p in posts if int(p.id) < before]
        windowed = self._window(posts, request)
        if isinstance(windowed, Reply):
            return windowed
        posts = windowed
        page = posts[: int(raw_max)]
        if not page:
            return json_reply({"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0].id,
            "oldest_id": page[-1].id,
        }
        if len(posts) > len(page):
            meta["next_token"] = _token(int(page[-1].id))
            fault = request.fault
            if fault is not None and fault.kind == "repeat_cursor" and token:
                meta["next_token"] = token
            if fault is not None and fault.kind == "bad_cursor":
                meta["next_token"] = "neverissued0"  # noqa: S105 (not base32: refused, HTTP 400)
        if token is not None:
            meta["previous_token"] = base64.b32encode(f"newer:{page[0].id}".encode()).decode()
        body = self.render_tweets(page, request)
        body["meta"] = meta
        return json_reply(body)

    def _window(self, posts: list[WorldPost], request: ReplayRequest) -> list[WorldPost] | Reply:
        query = request.query
        for name in ("since_id", "until_id"):
            if name in query and not query[name].isdigit():
                return self._bad_param(
                    name, query[name], f"The `{name}` query parameter value is not a valid id"
                )
        if "since_id" in query:
            posts = [p for p in posts if int(p.id) > int(query["since_id"])]
        if "until_id" in query:
            posts = [p for p in posts if int(p.id) < int(query["until_id"])]
        for name in ("start_time", "end_time"):
            if name not in query:
                continue
            try:
                when = datetime.fromisoformat(query[name].replace("Z", "+00:00"))
            except ValueError:
                return self._bad_param(
                    name, query[name], f"The `{name}` query parameter value is not a valid time"
                )
            if name == "start_time":
                posts = [p for p in posts if p.created_at >= when]
            else:
                posts = [p for p in posts if p.created_at < when]
        return posts

    # -- tweets -------------------------------------------------------------------------------
    def _tweet_error(self, post_id: str, parameter: str) -> dict[str, Any] | None:
        post = self.world.post(self.name, post_id)
        author = self.world.account(self.name, post.account_id) if post else None
        if post is None or post.deleted or author is None or author.status == "deleted":
            return _resource_error(
                "Not Found Error",
                f"Could not find tweet with {parameter}: [{post_id}].",
                "resource-not-found",
                "tweet",
                parameter,
                post_id,
            )
        if author.status in ("suspended", "protected"):
            return _resource_error(
                "Authorization Error",
                f"Sorry, you are not authorized to see the Tweet with {parameter}: [{post_id}].",
                "not-authorized-for-resource",
                "tweet",
                parameter,
                post_id,
            )
        return None

    def tweets_lookup(self, request: ReplayRequest) -> Reply:
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if not ids or len(ids) > 100 or not all(i.isdigit() for i in ids):
            value = request.query.get("ids", "")
            return self._bad_param("ids", value, "The `ids` query parameter must hold 1-100 ids")
        found, errors = [], []
        for post_id in ids:
            error = self._tweet_error(post_id, "ids")
            if error:
                errors.append(error)
            else:
                post = self.world.post(self.name, post_id)
                assert post is not None
                found.append(post)
        body: dict[str, Any] = self.render_tweets(found, request) if found else {}
        if errors:
            body["errors"] = errors + body.get("errors", [])
        return json_reply(body)

    def tweet_by_id(self, request: ReplayRequest, post_id: str) -> Reply:
        error = self._tweet_error(post_id, "id")
        post = self.world.post(self.name, post_id)
        if error or post is None:
            return json_reply({"errors": [error]})
        body = self.render_tweets([post], request)
        body["data"] = body["data"][0]
        return json_reply(body)

    # -- rendering ----------------------------------------------------------------------------
    def render_tweets(self, posts: list[WorldPost], request: ReplayRequest) -> dict[str, Any]:
        """``data`` and ``includes`` (and include ``errors``) for these posts."""
        expansions = _fields(request, "expansions")
        data = [self.tweet(p, request, expansions) for p in posts]
        users: dict[str, WorldAccount] = {}
        tweets: dict[str, WorldPost] = {}
        media: dict[str, WorldMedia] = {}
        errors: list[dict[str, Any]] = []
        for post in posts:
            self._expand(post, expansions, users, tweets, media, errors)
        includes: dict[str, Any] = {}
        if users:
            includes["users"] = [self.user(u, request) for u in users.values()]
        if tweets:
            includes["tweets"] = [self.tweet(t, request, expansions) for t in tweets.values()]
        if media:
            includes["media"] = [self.media_object(m, request) for m in media.values()]
        fault = request.fault
        if fault is not None and fault.kind == "missing_fields":
            for item in data:
                item.pop("created_at", None)
            data[-1].pop("id", None)
        body: dict[str, Any] = {"data": data}
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        return body

    def _expand(
        self,
        post: WorldPost,
        expansions: set[str],
        users: dict[str, WorldAccount],
        tweets: dict[str, WorldPost],
        media: dict[str, WorldMedia],
        errors: list[dict[str, Any]],
    ) -> None:
        world = self.world
        if "author_id" in expansions and (author := world.account(self.name, post.account_id)):
            users.setdefault(author.id, author)
        if "attachments.media_keys" in expansions:
            for media_id in post.media:
                if media_id in world.media:
                    media.setdefault(media_id, world.media[media_id])
        if "entities.mentions.username" in expansions:
            for handle in self._mentions(post):
                if (acc := world.account_by_handle(self.name, handle)) and acc.status == "active":
                    users.setdefault(acc.id, acc)
        for _, target_id in self._references(post):
            if "referenced_tweets.id" not in expansions:
                break
            error = self._tweet_error(target_id, "referenced_tweets.id")
            target = world.post(self.name, target_id)
            if error:
                errors.append({**error, "section": "includes"})
            if error or target is None:
                continue
            tweets.setdefault(target.id, target)
            author = world.account(self.name, target.account_id)
            if "referenced_tweets.id.author_id" in expansions and author:
                users.setdefault(author.id, author)

    @staticmethod
    def _references(post: WorldPost) -> list[tuple[str, str]]:
        pairs = [("retweeted", post.repost_of), ("replied_to", post.reply_to)]
        pairs.append(("quoted", post.quote_of))
        return [(kind, target) for kind, target in pairs if target]

    def _mentions(self, post: WorldPost) -> list[str]:
        handles = list(post.mentions)
        if post.repost_of and (original := self.world.post(self.name, post.repost_of)):
            author = self.world.account(self.name, original.account_id)
            if author:
                handles.insert(0, author.handle)
        return list(dict.fromkeys(handles))

    def _text(self, post: WorldPost) -> tuple[str, list[dict[str, Any]]]:
        """The tweet text as X shows it (t.co links appended) and its URL entities."""
        text = post.text
        if post.repost_of and not text and (original := self.world.post(self.name, post.repost_of)):
            author = self.world.account(self.name, original.account_id)
            text = f"RT @{author.handle if author else 'unknown'}: {original.text}"
        text = post.client_text(text, links=False)  # links go in as t.co URLs below
        urls = []
        author = self.world.account(self.name, post.account_id)
        handle = author.handle if author else "i"
        targets: list[tuple[str, str | None]] = [(link, None) for link in post.links]
        targets += [
            (f"https://x.com/{handle}/status/{post.id}/photo/1", f"{m}") for m in post.media[:1]
        ]
        for link, media_id in targets:
            # a t.co code is fixed when the post is made: it never follows a later rename
            tco = f"https://t.co/{_code((link if media_id is None else media_id) + post.id)}"
            text = f"{text} {tco}".strip()
            entity = {
                "start": len(text) - len(tco),
                "end": len(text),
                "url": tco,
                "expanded_url": link,
                "display_url": re.sub(r"^https?://", "", link)[:30],
            }
            if media_id is not None:
                media = self.world.media.get(media_id)
                entity["media_key"] = (
                    f"{_MEDIA_PREFIX.get(media.kind, '3') if media else '3'}_{media_id}"
                )
            urls.append(entity)
        return text, urls

    def tweet(
        self, post: WorldPost, request: ReplayRequest, expansions: set[str]
    ) -> dict[str, Any]:
        text, urls = self._text(post)
        entities: dict[str, Any] = {}
        if urls:
            entities["urls"] = urls
        tags = [
            {"start": m.start(), "end": m.end(), "tag": m.group(1)}
            for m in re.finditer(r"#(\w+)", text)
        ]
        if tags:
            entities["hashtags"] = tags
        mentions = []
        for m in re.finditer(r"@(\w+)", text):
            acc = self.world.account_by_handle(self.name, m.group(1))
            item = {"start": m.start(), "end": m.end(), "username": m.group(1)}
            if acc:
                item["id"] = acc.id
            mentions.append(item)
        if mentions:
            entities["mentions"] = mentions
        refs = self._references(post)
        full: dict[str, Any] = {
            "id": post.id,
            "text": html.escape(text, quote=False),
            "edit_history_tweet_ids": [post.id],
            "author_id": post.account_id,
            "created_at": x_time(post.created_at),
            "conversation_id": self.world.thread_root(self.name, post),
            "lang": post.lang,
            "possibly_sensitive": False,
            "reply_settings": "everyone",
            "public_metrics": {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
                **post.metrics,
            },
        }
        if entities:
            full["entities"] = entities
        if post.media:
            full["attachments"] = {"media_keys": [self._media_key(m) for m in post.media]}
        if refs:
            full["referenced_tweets"] = [{"type": kind, "id": tid} for kind, tid in refs]
        if post.reply_to and (target := self.world.post(self.name, post.reply_to)):
            full["in_reply_to_user_id"] = target.account_id
        wanted = {"id", "text", "edit_history_tweet_ids"} | _fields(request, "tweet.fields")
        wanted |= {"author_id"} if "author_id" in expansions else set()
        wanted |= {"attachments"} if "attachments.media_keys" in expansions else set()
        wanted |= {"referenced_tweets"} if "referenced_tweets.id" in expansions else set()
        return {k: v for k, v in full.items() if k in wanted}

    def _media_key(self, media_id: str) -> str:
        media = self.world.media.get(media_id)
        return f"{_MEDIA_PREFIX.get(media.kind if media else 'photo', '3')}_{media_id}"

    def media_object(self, media: WorldMedia, request: ReplayRequest) -> dict[str, Any]:
        ext = {"image/png": "png", "image/gif": "gif", "image/webp": "webp"}.get(
            media.content_type, "jpg"
        )
        full: dict[str, Any] = {
            "media_key": self._media_key(media.id),
            "type": _MEDIA_TYPE.get(media.kind, "photo"),
            "width": media.width,
            "height": media.height,
        }
        if media.kind == "photo":
            full["url"] = echo_in_media(request, f"{request.media_base}/{media.id}.{ext}")
        else:
            full["preview_image_url"] = f"{request.media_base}/{media.id}.{ext}"
            full["variants"] = [
                {
                    "bit_rate": 832000,
                    "content_type": "video/mp4",
                    "url": f"{request.media_base}/{media.id}.mp4",
                }
            ]
        if media.alt_text:
            full["alt_text"] = media.alt_text
        wanted = {"media_key", "type"} | _fields(request, "media.fields")
        return {k: v for k, v in full.items() if k in wanted and v is not None}


def _code(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:10]
