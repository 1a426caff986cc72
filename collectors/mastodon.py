"""Mastodon through an instance's public REST API: the normaliser (JSON -> records), then the client.

Endpoints (no login needed on most instances): ``GET /api/v1/accounts/lookup?acct=``,
``GET /api/v1/accounts/:id/statuses`` (``limit`` up to 40, ``max_id``/``since_id``; the next
page is the ``Link: <...>; rel="next"`` URL, absent on the last page) and
``GET /api/v1/statuses/:id``. Errors: 404 ``{"error": "Record not found"}``, 410 for a suspended
account, 429 with ``X-RateLimit-Reset`` as an ISO-8601 time (the HTTP layer waits it out).

A status's ``content`` is HTML written by whoever posted it: it is kept as it came
(``PostRecord.text_html``) and turned into plain text with a real HTML parser
(:mod:`collectors.htmltext`) for analysis; ``<script>`` and ``javascript:`` links end up as inert
text or nowhere, never as markup osint emits. A reblog is a ``repost`` whose ``reblog`` holds the
boosted status; ``media_attachments[].url`` are the images (video and GIF posters from
``preview_url``).

Ids: the instance comes from USER@INSTANCE (or ``--instance-url``, to read through another
instance). Status ids are the reading instance's own, so a post is ``<instance host>/<id>``,
which also tells a later look-up where to ask; an account is its full ``user@domain`` (Mastodon
usernames cannot change). A boost or quote points at the boosted status's ActivityPub ``uri``,
the same on every instance, so boosts of one status from accounts on different instances share
their key.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from osint.collectors.base import (
    Collector,
    PageQuery,
    PostLookup,
    PostPage,
    ProfileResult,
    created_time,
    newest_numbered,
    parse_post_ids,
    parse_time,
)
from osint.collectors.htmltext import anchors, html_to_text, parse_fragment
from osint.collectors.http import HttpClient, Response
from osint.config import Settings
from osint.errors import AccountNotFound, AccountUnavailable, CollectError
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, MediaRef, PostRecord, ProfileRecord

PLATFORM = "mastodon"
PAGE_SIZE = 40
MAX_REF = 255  # the store's column width for repost_of/quote_of
_ACCT = r"[a-z0-9_][a-z0-9_.-]*@(?:[a-z0-9-]+\.)+[a-z0-9-]+(?::\d+)?"
_PROFILE_URL = re.compile(r"^https?://([^/?#]+)/@([^/?#@]+)(?:@([^/?#]+))?/?$", re.I)
_LINK = re.compile(r"<([^>]+)>\s*;\s*rel=\"?([^\";]+)\"?")
_KINDS = {"image": "photo", "gifv": "gif", "video": "video", "audio": "other"}


# == normaliser =============================================================================
def id_time(status_id: str) -> datetime | None:
    """The time a Mastodon snowflake id encodes (milliseconds in the bits above 16)."""
    if not status_id.isdigit() or int(status_id) < 1 << 40:
        return None
    return datetime.fromtimestamp((int(status_id) >> 16) / 1000, UTC)


def full_acct(acct: str, local_domain: str) -> str:
    """``user`` (local to the instance) or ``user@domain``, always as ``user@domain``."""
    acct = acct.lstrip("@").lower()
    return acct if "@" in acct else f"{acct}@{local_domain.lower()}"


def post_id(host: str, status_id: Any) -> str:
    return f"{host}/{status_id}"


def split_post_id(value: str) -> tuple[str, str]:
    host, _, status_id = value.rpartition("/")
    if not host or not status_id.isdigit():
        raise ValueError(f"not a Mastodon post id (instance/id): {value!r}")
    return host, status_id


def next_max_id(link_header: str | None) -> str | None:
    """The ``max_id`` of the ``rel="next"`` URL of a ``Link`` header (None on the last page)."""
    for url, rel in _LINK.findall(link_header or ""):
        if rel.strip() == "next":
            values = parse_qs(urlsplit(url).query).get("max_id")
            return values[0] if values else None
    return None


def account_record(account: dict[str, Any], local_domain: str) -> AccountRecord:
    acct = full_acct(str(account.get("acct") or account.get("username") or ""), local_domain)
    return AccountRecord(
        platform=PLATFORM,
        platform_id=acct,
        handle=acct,
        display_name=account.get("display_name") or None,
        created_at=parse_time(account.get("created_at")),
    )


def profile_from(account: dict[str, Any], local_domain: str, instance: str) -> ProfileRecord:
    """The profile of a Mastodon Account entity (``note`` and ``fields`` are HTML)."""
    fields = []
    website = None
    for item in account.get("fields") or []:
        value_html = str(item.get("value") or "")
        value_links = [a.href for a in anchors(parse_fragment(value_html)) if a.is_web_link]
        website = website or (value_links[0] if value_links else None)
        fields.append(
            {
                "name": item.get("name"),
                "value": html_to_text(value_html),
                "verified_at": item.get("verified_at"),
            }
        )
    extra: dict[str, Any] = {"id": str(account.get("id")), "instance": instance, "fields": fields}
    extra["note_html"] = account.get("note")
    for key in ("bot", "group", "discoverable", "limited", "noindex", "url", "uri"):
        if account.get(key) is not None:
            extra[key] = account[key]
    if isinstance(account.get("moved"), dict):
        extra["moved_to"] = account["moved"].get("acct")
    return ProfileRecord(
        account=account_record(account, local_domain),
        bio=html_to_text(account.get("note")) or None,
        url=website,
        avatar_url=account.get("avatar") or None,
        banner_url=account.get("header") or None,
        followers_count=account.get("followers_count"),
        following_count=account.get("following_count"),
        posts_count=account.get("statuses_count"),
        protected=account.get("locked"),
        extra=extra,
    )


def media_refs(status: dict[str, Any]) -> list[MediaRef]:
    refs = []
    for position, item in enumerate(status.get("media_attachments") or []):
        kind = _KINDS.get(str(item.get("type")), "other")
        if kind == "photo":
            source = item.get("url") or item.get("remote_url")
        else:
            source = item.get("preview_url")
        refs.append(
            MediaRef(
                source or None,
                position=position,
                kind=kind,
                preview_url=item.get("preview_url"),
                alt_text=item.get("description"),
                platform_key=str(item.get("id")) if item.get("id") else None,
                error=None if source else f"no URL for its {item.get('type')} in the response",
            )
        )
    return refs


def _ref(status: dict[str, Any], host: str) -> str | None:
    """The global reference of a boosted or quoted status: its ``uri``, else its local id."""
    uri = status.get("uri")
    if isinstance(uri, str) and uri and len(uri) <= MAX_REF:
        return uri
    return post_id(host, status["id"]) if status.get("id") else None


def _links(content: str, card: Any) -> list[str]:
    links = [
        a.href
        for a in anchors(parse_fragment(content))
        if a.is_web_link and "mention" not in a.classes and "hashtag" not in a.classes
    ]
    if isinstance(card, dict) and str(card.get("url", "")).startswith(("http://", "https://")):
        links.append(str(card["url"]))
    return list(dict.fromkeys(links))


def _quoted(status: dict[str, Any]) -> dict[str, Any] | None:
    quote = status.get("quote")
    quoted = quote.get("quoted_status") if isinstance(quote, dict) else None
    return quoted if isinstance(quoted, dict) else None


def _status_extra(status: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {"uri": status.get("uri")}
    for key in ("visibility", "sensitive", "spoiler_text", "edited_at", "in_reply_to_account_id"):
        if status.get(key) not in (None, ""):
            extra[key] = status[key]
    if isinstance(status.get("card"), dict):
        extra["card"] = {k: status["card"].get(k) for k in ("url", "title", "description")}
    return extra


def _poll(status: dict[str, Any]) -> list[dict[str, Any]]:
    """A status's Poll entity as structured content (options with their vote counts)."""
    poll = status.get("poll")
    if not isinstance(poll, dict):
        return []
    options = [
        {"text": o.get("title"), "votes": o.get("votes_count")}
        for o in poll.get("options") or []
        if isinstance(o, dict)
    ]
    item: dict[str, Any] = {"type": "poll", "id": str(poll.get("id")), "options": options}
    for key in ("expires_at", "expired", "multiple", "votes_count", "voters_count"):
        if poll.get(key) is not None:
            item[key] = poll[key]
    return [item]


def _reblog(post: PostRecord, reblog: dict[str, Any], host: str) -> PostRecord:
    """``post`` made the boost of ``reblog``: no text or media of its own. Its text is the
    boosted text, as a reader of the timeline sees it (the boosted status itself is stored as a
    post of its own author, see :func:`referenced_statuses`)."""
    boosted_text = html_to_text(reblog.get("content"))
    post.extra["reposted"] = {
        "url": reblog.get("url"),
        "account": (reblog.get("account") or {}).get("acct"),
        "text": boosted_text,
    }
    post.kind, post.text, post.text_html = PostKind.REPOST, boosted_text, None
    post.url = reblog.get("url") or reblog.get("uri")
    post.repost_of = _ref(reblog, host)
    post.links, post.hashtags, post.mentions, post.media = [], [], [], []
    post.reply_to = post.quote_of = None
    return post


def post_from_status(status: dict[str, Any], host: str, local_domain: str) -> PostRecord:
    """One Status entity as a post; ValueError when it cannot be one."""
    if not status.get("id"):
        raise ValueError("a status without an id")
    status_id = str(status["id"])
    extra = _status_extra(status)
    created = created_time(
        status.get("created_at"), lambda: id_time(status_id), extra, f"status {status_id}"
    )
    account = account_record(status.get("account") or {}, local_domain)
    if not account.platform_id.split("@")[0]:
        raise ValueError(f"status {status_id} has no account")
    content = str(status.get("content") or "")
    reply_to = post_id(host, status["in_reply_to_id"]) if status.get("in_reply_to_id") else None
    quoted = _quoted(status)
    if quoted is not None:
        extra["quoted"] = {"url": quoted.get("url"), "text": html_to_text(quoted.get("content"))}
    post = PostRecord(
        platform=PLATFORM,
        platform_id=post_id(host, status_id),
        account=account,
        created_at=created,
        kind=PostKind.REPLY
        if reply_to
        else PostKind.QUOTE
        if quoted is not None
        else PostKind.POST,
        text=html_to_text(content),
        text_html=content or None,
        url=status.get("url") or status.get("uri"),
        lang=status.get("language"),
        reply_to=reply_to,
        quote_of=_ref(quoted, host) if quoted is not None else None,
        links=_links(content, status.get("card")),
        hashtags=[str(t["name"]) for t in status.get("tags") or [] if t.get("name")],
        mentions=[str(m["acct"]) for m in status.get("mentions") or [] if m.get("acct")],
        metrics={
            name: status[name]
            for name in ("replies_count", "reblogs_count", "favourites_count")
            if isinstance(status.get(name), int)
        },
        extra=extra,
        media=media_refs(status),
        content=_poll(status),
    )
    reblog = status.get("reblog")
    return _reblog(post, reblog, host) if isinstance(reblog, dict) else post


def referenced_statuses(statuses: Any, host: str, local_domain: str) -> list[PostRecord]:
    """The boosted and quoted statuses of a page, as posts of their own authors."""
    found = []
    for status in statuses if isinstance(statuses, list) else []:
        if not isinstance(status, dict):
            continue
        for inner in (status.get("reblog"), _quoted(status)):
            if not isinstance(inner, dict):
                continue
            try:
                found.append(post_from_status(inner, host, local_domain))
            except (ValueError, KeyError, TypeError):
                continue  # the boost itself says what it can; the raw page keeps the rest
    return found


def statuses_shape(body: Any) -> None:
    """ValueError unless ``body`` is a list of statuses (``null`` or an object is not a page)."""
    if not isinstance(body, list):
        raise ValueError(f"a page of statuses is a JSON list, this is {json_kind(body)}")


def json_kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def posts_from_statuses(
    statuses: Any, host: str, local_domain: str
) -> tuple[list[PostRecord], list[str]]:
    posts, problems = [], []
    for status in statuses if isinstance(statuses, list) else []:
        try:
            if not isinstance(status, dict):
                raise ValueError(f"not a status: {str(status)[:80]!r}")
            posts.append(post_from_status(status, host, local_domain))
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"skipped a Mastodon status: {exc}")
    return posts, problems


# == API client =============================================================================
def _home_domain(status: Any, host: str) -> str:
    """The domain of a local account's ``acct``, from its profile URL (no target to ask)."""
    account = status.get("account") if isinstance(status, dict) else None
    url = account.get("url") if isinstance(account, dict) else None
    home = urlsplit(url).hostname if isinstance(url, str) else None
    return home or host.partition(":")[0]


def _error_text(response: Response) -> str:
    body = response.json_or_none()
    return str(body.get("error") or "no detail") if isinstance(body, dict) else "no detail"


class MastodonCollector(Collector):
    """An instance's REST API: ``accounts/lookup``, ``accounts/:id/statuses``, ``statuses/:id``."""

    platform = PLATFORM
    title = "Mastodon"
    base_url_setting = "mastodon_instance_url"
    base_url_from_target = True
    target_pattern = re.compile(_ACCT)
    example_target = "dia_diarra@mastodon.social"
    target_label = "USER@INSTANCE"

    def __init__(self, http: HttpClient, settings: Settings) -> None:
        super().__init__(http, settings)
        self._instance: str | None = None  # base URL of the instance a run reads through

    @classmethod
    def normalize_target(cls, target: str) -> str:
        match = _PROFILE_URL.match(target.strip())
        if match:  # https://instance/@user or https://instance/@user@home
            target = f"{match.group(2)}@{match.group(3) or match.group(1)}"
        return super().normalize_target(target)

    def instance_for(self, domain: str) -> str:
        """The base URL to read an account of ``domain`` through (the setting wins)."""
        base = self.base_url or f"https://{domain}"
        self.http.guard.allow_network_of(base)  # the instance the user asked for
        return base

    def _get(
        self,
        base: str,
        path: str,
        params: dict[str, str | int],
        bucket: str,
        shape: Any = None,
    ) -> Response:
        host = urlsplit(base).netloc
        return self.http.get(
            f"{base}/{path}",
            params=params,
            bucket=f"mastodon:{host}:{bucket}",
            expect_json=True,
            shape=shape,
        )

    def _refused(self, response: Response, what: str) -> CollectError:
        status, detail = response.status_code, _error_text(response)
        if status == 404:
            return AccountNotFound(
                f"Mastodon has no account {what} ({detail})",
                hint="check USER@INSTANCE; an account that moved or was deleted is not found",
            )
        if status == 410:
            return AccountUnavailable(
                f"Mastodon account {what} is suspended (HTTP 410: {detail})", status="suspended"
            )
        if status in (401, 403):
            return CollectError(
                f"the instance refused to show {what} without a login (HTTP {status}: {detail})",
                hint="this instance keeps its API private; try --instance-url with another "
                "instance that federates with it",
            )
        return CollectError(f"Mastodon answered HTTP {status} about {what}: {detail}")

    def fetch_profile(self, target: str, *, known_id: str | None = None) -> ProfileResult:
        domain = target.partition("@")[2]
        base = self._instance = self.instance_for(domain)
        response = self._get(base, "api/v1/accounts/lookup", {"acct": target}, "lookup")
        body = response.json() if response.status_code == 200 else None
        if not isinstance(body, dict) or not body.get("id"):
            if response.status_code == 200:
                raise CollectError(f"{base} sent no account for @{target}")
            raise self._refused(response, f"@{target}")
        if body.get("suspended"):
            raise AccountUnavailable(
                f"Mastodon account @{target} is suspended (the instance says so)",
                status="suspended",
            )
        return ProfileResult(profile_from(body, domain, base), response.capture)

    def fetch_page(self, profile: ProfileRecord, query: PageQuery) -> PostPage:
        domain = profile.account.platform_id.partition("@")[2]
        base = self._instance or self.instance_for(domain)
        host = urlsplit(base).netloc
        size = PAGE_SIZE if query.limit is None else min(PAGE_SIZE, max(1, query.limit))
        params: dict[str, str | int] = {"limit": size}
        if query.cursor:
            params["max_id"] = query.cursor
        since = split_post_id(query.since_id)[1] if query.since_id else None
        if since:
            params["since_id"] = since
        account_id = profile.extra.get("id")
        if not account_id:
            raise CollectError(f"no Mastodon account id for @{profile.account.platform_id}")
        path = f"api/v1/accounts/{account_id}/statuses"
        response = self._get(base, path, params, "statuses", shape=statuses_shape)
        if response.status_code != 200:
            raise self._refused(response, f"@{profile.account.platform_id}")
        body = response.json()
        posts, problems = posts_from_statuses(body, host, domain)
        referenced = referenced_statuses(body, host, domain)
        cursor = next_max_id(response.headers.get("link"))
        if since:  # the next link does not carry since_id: stop at the last run's newest
            newer = [p for p in posts if int(split_post_id(p.platform_id)[1]) > int(since)]
            cursor = None if len(newer) < len(posts) else cursor
            posts = newer
        return PostPage(posts, cursor, response.capture, problems, referenced)

    def lookup_posts(self, post_ids: list[str]) -> PostLookup:
        """``GET /api/v1/statuses/:id`` on the instance the id came from: 404 or 410 = gone."""
        lookup = PostLookup()
        for wanted, (host, status_id) in parse_post_ids(post_ids, split_post_id):
            base = self.instance_for(host)
            response = self._get(base, f"api/v1/statuses/{status_id}", {}, "status")
            lookup.answered([wanted], response.capture)
            if response.status_code == 200:
                body = response.json()
                found, _ = posts_from_statuses([body], host, _home_domain(body, host))
                lookup.found.extend(found)
            elif response.status_code in (404, 410):
                reason = _error_text(response)
                lookup.missing[wanted] = f"HTTP {response.status_code}: {reason}"
            else:
                raise CollectError(
                    f"Mastodon answered HTTP {response.status_code} for status {wanted}: "
                    f"{_error_text(response)}"
                )
        return lookup

    @staticmethod
    def newest_id(ids: list[str]) -> str | None:
        return newest_numbered(ids, lambda value: int(split_post_id(value)[1]))
