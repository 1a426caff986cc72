"""A Mastodon instance's public REST API, rendered from the replay world as Mastodon documents it.

Methods: ``GET /api/v1/accounts/lookup?acct=``, ``GET /api/v1/accounts/:id``,
``GET /api/v1/accounts/:id/statuses`` (``limit`` default 20, at most 40; ``max_id``,
``since_id``, ``min_id``; a ``Link`` header with ``rel="next"`` (``max_id``) while a page is full
and ``rel="prev"``), and ``GET /api/v1/statuses/:id``. Statuses carry HTML ``content`` (``<p>``,
``<br />``, hashtag and mention links as Mastodon marks them; a post's
``extra["content_html"]`` is served verbatim, for hostile markup), ``media_attachments``,
``mentions``, ``tags``, ``reblog`` for boosts and Mastodon 4.5's ``quote``.

World handles are full accounts (``user@domain``); accounts of :attr:`MastodonApp.local_domain`
are local (``acct`` without domain), others remote. Errors: 404 ``{"error": "Record not
found"}`` (unknown or ``deleted``), 410 for ``suspended`` accounts; every answer carries
``X-RateLimit-Limit/Remaining/Reset`` (the reset as ISO-8601) and a 429 says
``{"error": "Too many requests"}``. Status ids are Mastodon snowflakes (milliseconds << 16).
"""

from __future__ import annotations

import html
import itertools
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from osint.demo.replay.quota import QuotaState
from osint.demo.replay.server import PlatformApp, ReplayRequest, Reply, echo_in_media, json_reply
from osint.demo.replay.world import DEFAULT_ID_SCHEMES, Fault, WorldAccount, WorldPost

LIMIT = 300
WINDOW = 300.0
_EXT = {"image/png": "png", "image/gif": "gif", "image/webp": "webp"}
_MEDIA_TYPES = {"photo": "image", "video": "video", "gif": "gifv"}


def mastodon_ids() -> Callable[[WorldAccount, datetime], str]:
    """Mastodon's snowflakes: milliseconds since the epoch above 16 bits of sequence."""
    sequence = itertools.count()

    def make(_account: WorldAccount, created_at: datetime) -> str:
        return str((int(created_at.timestamp() * 1000) << 16) | (next(sequence) % 65536))

    return make


DEFAULT_ID_SCHEMES["mastodon"] = mastodon_ids


def iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def not_found() -> Reply:
    return json_reply({"error": "Record not found"}, 404)


class MastodonApp(PlatformApp):
    name = "mastodon"
    setting = "mastodon_instance_url"
    local_domain = "mastodon.example"

    quota_fallback = (LIMIT, WINDOW)  # lookup, account, statuses, status (Mastodon's is per IP)

    # -- dispatch and limits ------------------------------------------------------------------
    def handle(self, request: ReplayRequest) -> Reply:
        routes: list[tuple[str, str, Callable[..., Reply]]] = [
            (r"^/api/v1/accounts/lookup$", "lookup", self.lookup),
            (r"^/api/v1/accounts/(\d+)/statuses$", "statuses", self.statuses),
            (r"^/api/v1/accounts/(\d+)$", "account", self.account_by_id),
            (r"^/api/v1/statuses/(\d+)$", "status", self.status_by_id),
        ]
        for pattern, endpoint, method in routes:
            match = re.match(pattern, request.path)
            if match:
                quota = self.quotas.take(endpoint)
                if not quota.allowed:
                    return self._429(quota)
                reply: Reply = method(request, *match.groups())
                reply.headers.extend(self._headers(quota))
                return reply
        return not_found()

    @staticmethod
    def _headers(quota: QuotaState) -> list[tuple[str, str]]:
        reset = datetime.fromtimestamp(quota.reset_at, UTC)
        return [
            ("X-RateLimit-Limit", str(quota.limit)),
            ("X-RateLimit-Remaining", str(quota.remaining)),
            ("X-RateLimit-Reset", reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
        ]

    def _429(self, quota: QuotaState) -> Reply:
        return json_reply({"error": "Too many requests"}, 429, self._headers(quota))

    def rate_limited(self, request: ReplayRequest, fault: Fault) -> Reply:
        reset = time.time() + fault.reset_in
        return self._429(QuotaState(False, LIMIT, 0, int(reset + 0.999), WINDOW))

    def error(self, request: ReplayRequest, status: int) -> Reply:
        messages = {500: "We're sorry, but something went wrong.", 503: "Service Unavailable"}
        return json_reply({"error": messages.get(status, f"HTTP {status}")}, status)

    # -- accounts -----------------------------------------------------------------------------
    def _find(self, acct: str) -> WorldAccount | None:
        acct = acct.lstrip("@").lower()
        full = acct if "@" in acct else f"{acct}@{self.local_domain}"
        return self.world.account_by_handle(self.name, full)

    def _refusal(self, account: WorldAccount | None) -> Reply | None:
        if account is None or account.status == "deleted":
            return not_found()
        if account.status == "suspended":
            return json_reply({"error": "Gone"}, 410)
        return None

    def lookup(self, request: ReplayRequest) -> Reply:
        account = self._find(request.query.get("acct", ""))
        return self._refusal(account) or json_reply(self.account_entity(account, request))

    def account_by_id(self, request: ReplayRequest, account_id: str) -> Reply:
        account = self.world.account(self.name, account_id)
        return self._refusal(account) or json_reply(self.account_entity(account, request))

    def _names(self, account: WorldAccount) -> tuple[str, str, str]:
        """(username, domain, acct as this instance shows it)."""
        username, _, domain = account.handle.partition("@")
        domain = domain or self.local_domain
        acct = username if domain == self.local_domain else f"{username}@{domain}"
        return username, domain, acct

    def _media_url(self, media_id: str, request: ReplayRequest) -> str:
        media = self.world.media.get(media_id)
        if media is not None and media.url:
            return media.url
        ext = _EXT.get(media.content_type, "jpg") if media else "jpg"
        return f"{request.media_base}/{media_id}.{ext}"

    def account_entity(self, account: WorldAccount | None, request: ReplayRequest) -> Any:
        assert account is not None
        username, domain, acct = self._names(account)
        avatar = (
            self._media_url(account.avatar, request)
            if account.avatar
            else f"https://{domain}/avatars/original/missing.png"
        )
        fields = []
        if account.url:
            link = html.escape(account.url)
            value = f'<a href="{link}" target="_blank" rel="nofollow noopener me">{link}</a>'
            fields.append({"name": "Website", "value": value, "verified_at": None})
        posts = self.world.timeline(account)
        return {
            "id": account.id,
            "username": username,
            "acct": acct,
            "display_name": account.display_name,
            "locked": account.status == "protected",
            "bot": bool(account.extra.get("bot", False)),
            "discoverable": True,
            "group": False,
            "created_at": iso(account.created_at.replace(hour=0, minute=0, second=0)),
            "note": account.extra.get("note_html") or _paragraphs(account.bio, domain),
            "url": f"https://{domain}/@{username}",
            "uri": f"https://{domain}/users/{username}",
            "avatar": avatar,
            "avatar_static": avatar,
            "header": self._media_url(account.banner, request) if account.banner else "",
            "header_static": self._media_url(account.banner, request) if account.banner else "",
            "followers_count": account.followers,
            "following_count": account.following,
            "statuses_count": len(posts),
            "last_status_at": posts[0].created_at.date().isoformat() if posts else None,
            "emojis": [],
            "fields": fields,
        }

    # -- statuses -----------------------------------------------------------------------------
    def statuses(self, request: ReplayRequest, account_id: str) -> Reply:
        account = self.world.account(self.name, account_id)
        refused = self._refusal(account)
        if refused or account is None:
            return refused or not_found()
        query = request.query
        raw = query.get("limit", "20")
        limit = min(max(int(raw), 1), 40) if raw.isdigit() else 20
        posts = sorted(self.world.timeline(account), key=lambda p: int(p.id), reverse=True)
        if query.get("max_id", "").isdigit():
            posts = [p for p in posts if int(p.id) < int(query["max_id"])]
        if query.get("since_id", "").isdigit():
            posts = [p for p in posts if int(p.id) > int(query["since_id"])]
        if query.get("min_id", "").isdigit():
            posts = [p for p in posts if int(p.id) > int(query["min_id"])][-limit:]
        page = posts[:limit]
        body = [self.status(p, request) for p in page]
        if request.fault is not None and request.fault.kind == "missing_fields" and body:
            for item in body:
                item.pop("created_at", None)
            body[-1].pop("id", None)
        links = []
        base = f"{request.base_url}/api/v1/accounts/{account_id}/statuses?limit={limit}"
        if len(page) == limit:
            next_id = page[-1].id
            fault = request.fault
            if fault is not None and fault.kind == "repeat_cursor" and query.get("max_id"):
                next_id = query["max_id"]
            links.append(f'<{base}&max_id={next_id}>; rel="next"')
        if page:
            links.append(f'<{base}&min_id={page[0].id}>; rel="prev"')
        return json_reply(body, headers=[("Link", ", ".join(links))] if links else [])

    def status_by_id(self, request: ReplayRequest, status_id: str) -> Reply:
        post = self.world.post(self.name, status_id)
        author = self.world.account(self.name, post.account_id) if post else None
        if post is None or post.deleted or author is None or author.status != "active":
            return not_found()
        return json_reply(self.status(post, request))

    def status(self, post: WorldPost, request: ReplayRequest) -> dict[str, Any]:
        author = self.world.account(self.name, post.account_id)
        assert author is not None
        username, domain, _ = self._names(author)
        uri = f"https://{domain}/users/{username}/statuses/{post.id}"
        entity: dict[str, Any] = {
            "id": post.id,
            "created_at": iso(post.created_at),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": post.lang,
            "uri": uri,
            "url": f"https://{domain}/@{username}/{post.id}",
            "replies_count": int(post.metrics.get("replies_count", 0)),
            "reblogs_count": int(post.metrics.get("reblogs_count", 0)),
            "favourites_count": int(post.metrics.get("favourites_count", 0)),
            "edited_at": iso(post.created_at) if post.edits else None,
            "content": "",
            "reblog": None,
            "account": self.account_entity(author, request),
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        original = self.world.post(self.name, post.repost_of) if post.repost_of else None
        if post.kind == "repost" and original is not None and not original.deleted:
            entity["uri"] = f"{uri}/activity"
            entity["url"] = None
            entity["reblog"] = self.status(original, request)
            return entity
        entity["content"] = post.extra.get("content_html") or self._content(post, domain)
        entity["media_attachments"] = self._attachments(post, request)
        entity["mentions"] = self._mentions(post)
        entity["tags"] = [
            {"name": t.lower(), "url": f"https://{domain}/tags/{t.lower()}"} for t in post.hashtags
        ]
        self._relations(entity, post, request)
        return entity

    def _relations(self, entity: dict[str, Any], post: WorldPost, request: ReplayRequest) -> None:
        """``in_reply_to_*`` and Mastodon 4.5's ``quote`` of a status."""
        if post.reply_to and (parent := self.world.post(self.name, post.reply_to)):
            entity["in_reply_to_id"] = parent.id
            entity["in_reply_to_account_id"] = parent.account_id
        elif post.reply_to:
            entity["in_reply_to_id"] = post.reply_to
        if post.quote_of:
            quoted = self.world.post(self.name, post.quote_of)
            gone = quoted is None or quoted.deleted
            entity["quote"] = {
                "state": "deleted" if gone else "accepted",
                "quoted_status": None if gone or quoted is None else self.status(quoted, request),
            }

    def _mentions(self, post: WorldPost) -> list[dict[str, Any]]:
        out = []
        for handle in post.mentions:
            target = self._find(handle)
            if target is not None:
                username, domain, acct = self._names(target)
                out.append(
                    {
                        "id": target.id,
                        "username": username,
                        "acct": acct,
                        "url": f"https://{domain}/@{username}",
                    }
                )
        return out

    def _attachments(self, post: WorldPost, request: ReplayRequest) -> list[dict[str, Any]]:
        out = []
        for media_id in post.media:
            media = self.world.media.get(media_id)
            if media is None:
                continue
            url = echo_in_media(request, self._media_url(media.id, request))
            kind = _MEDIA_TYPES.get(media.kind, "unknown")
            out.append(
                {
                    "id": media.id,
                    "type": kind,
                    "url": url if kind == "image" else f"{request.media_base}/{media.id}.mp4",
                    "preview_url": url,
                    "remote_url": None,
                    "description": media.alt_text,
                    "meta": {"original": {"width": media.width, "height": media.height}},
                    "blurhash": "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH",
                }
            )
        return out

    def _content(self, post: WorldPost, domain: str) -> str:
        """The status HTML as Mastodon writes it: paragraphs, tag and mention links, URLs."""
        return _paragraphs(post.client_text(), domain)


def _paragraphs(text: str, domain: str) -> str:
    if not text:
        return ""
    paragraphs = []
    for block in text.split("\n\n"):
        escaped = html.escape(block, quote=False)
        escaped = re.sub(r"https?://[^\s<]+", _link, escaped)
        escaped = re.sub(
            r"(?<![\w/&])#(\w+)",
            lambda m: (
                f'<a href="https://{domain}/tags/{m.group(1).lower()}" '
                f'class="mention hashtag" rel="tag">#<span>{m.group(1)}</span></a>'
            ),
            escaped,
        )
        escaped = re.sub(
            r"(?<![\w/])@(\w+)(?:@[\w.-]+)?",
            lambda m: (
                '<span class="h-card" translate="no">'
                f'<a href="https://{domain}/@{m.group(1)}" class="u-url mention">'
                f"@<span>{m.group(1)}</span></a></span>"
            ),
            escaped,
        )
        paragraphs.append("<p>" + escaped.replace("\n", "<br />") + "</p>")
    return "".join(paragraphs)


def _link(match: re.Match[str]) -> str:
    url = match.group(0)
    scheme, _, rest = url.partition("://")
    return (
        f'<a href="{url}" target="_blank" rel="nofollow noopener" translate="no">'
        f'<span class="invisible">{scheme}://</span><span class="">{rest}</span>'
        '<span class="invisible"></span></a>'
    )
