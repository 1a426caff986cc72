"""Telegram public channels through t.me's web pages: the normaliser (HTML -> records), then the client.

No API and no login: ``https://t.me/CHANNEL`` is the channel's card (title, description,
subscribers, avatar), ``https://t.me/s/CHANNEL`` its public preview, twenty-odd messages a page,
oldest at the top, with a "more" link (``a.tme_messages_more[data-before]``) whose
``?before=ID`` gives the older page (``before`` is exclusive), and
``https://t.me/CHANNEL/ID?embed=1`` the single-message widget, which says "Post not found" in
``.tgme_widget_message_error`` once a message is gone.

A message is ``.tgme_widget_message[data-post="Channel/123"]``: its time is the ``datetime`` of
the ``time`` in ``.tgme_widget_message_date``, its text the message's own
``.tgme_widget_message_text`` (reply quotes and link previews reuse that class and are left out),
its photos the ``background-image:url(...)`` of each ``.tgme_widget_message_photo_wrap``, a
video's poster that of ``.tgme_widget_message_video_thumb``. A message whose markup breaks these
rules (no date, a photo style without a URL) is skipped and reported; its raw HTML stays in the
captured page, and the report names that page and its WARC record.

A channel without a public preview (a private channel's invite, a user, a group) answers
``/s/CHANNEL`` with a redirect to ``/CHANNEL``: a clear error. A username nobody holds, and a
channel Telegram deleted or blocked, shows the generic "Contact @name" card without a title.

Ids: the account is the username in lower case (the public pages show no numeric id); a post is
``channel/123`` (message ids count per channel), as in ``data-post``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from osint.collectors.base import (
    Collector,
    PageQuery,
    PostLookup,
    PostPage,
    ProfileResult,
    newest_numbered,
    parse_post_ids,
)
from osint.collectors.htmltext import anchors, node_text
from osint.collectors.http import Response
from osint.errors import AccountNotFound, AccountUnavailable, CollectError
from osint.storage.kinds import PostKind
from osint.storage.records import AccountRecord, CaptureRecord, MediaRef, PostRecord, ProfileRecord

PLATFORM = "telegram"
WEB = "https://t.me"
_STYLE_URL = re.compile(r"""background-image\s*:\s*url\(\s*(['"]?)([^'")]+)\1\s*\)""", re.I)
_POST_LINK = re.compile(r"^(?:https?:)?//(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?(\w{3,})/(\d+)")
_CHANNEL_LINK = re.compile(r"^(?:https?:)?//(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?(\w{3,})/?$")
_HASHTAG = re.compile(r"(?<![\w#])#(\w+)")
_COUNT = re.compile(r"([\d][\d\s.,\u00a0\u202f]*)\s*([KkMm]?)")
_TARGET = re.compile(r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me)/(?:s/)?([^/?#]+)", re.I)
_OUTSIDE = ("tgme_widget_message_reply", "tgme_widget_message_link_preview")


# == normaliser =============================================================================
def style_url(style: str | None) -> str | None:
    """The URL of a ``background-image:url(...)`` in an inline style (``//host`` made https)."""
    match = _STYLE_URL.search(style or "")
    if not match:
        return None
    url = match.group(2).strip()
    return f"https:{url}" if url.startswith("//") else url


def parse_count(text: str | None) -> int | None:
    """``10 612 280`` -> 10612280, ``1.5K`` -> 1500, ``2.1M`` -> 2100000 (as Telegram prints)."""
    match = _COUNT.search(text or "")
    if not match:
        return None
    digits = re.sub(r"[\s\u00a0\u202f]", "", match.group(1))
    scale = {"k": 1_000, "m": 1_000_000}.get(match.group(2).lower(), 1)
    try:
        if scale > 1:
            return int(float(digits.replace(",", ".")) * scale)
        return int(digits.replace(",", "").replace(".", ""))
    except ValueError:
        return None


def _classes(node: LexborNode) -> set[str]:
    return set((node.attributes.get("class") or "").split())


def _inside(node: LexborNode, stop: LexborNode, classes: tuple[str, ...]) -> bool:
    parent = node.parent
    while parent is not None and parent != stop:
        if _classes(parent) & set(classes):
            return True
        parent = parent.parent
    return False


def _own(message: LexborNode, selector: str) -> list[LexborNode]:
    """Nodes matching ``selector`` that belong to the message, not to a quoted reply or preview."""
    return [n for n in message.css(selector) if not _inside(n, message, _OUTSIDE)]


def _text_of(node: LexborNode | None) -> str | None:
    return node_text(node) or None if node is not None else None


def channel_profile(html: str, channel: str) -> ProfileRecord | None:
    """The card of ``t.me/CHANNEL``; None when Telegram shows its card for unknown names."""
    tree = LexborHTMLParser(html)
    title = tree.css_first(".tgme_page_title")
    if title is None:
        return None
    handle = channel
    for link in tree.css("a[href^='tg://resolve']"):
        found = re.search(r"domain=(\w+)", link.attributes.get("href") or "")
        if found and found.group(1).lower() == channel:
            handle = found.group(1)
            break
    extra_text = _text_of(tree.css_first(".tgme_page_extra")) or ""
    kind = (
        "channel"
        if "subscriber" in extra_text
        else "group"
        if "member" in extra_text
        else "user"
        if extra_text.startswith("@")
        else "unknown"
    )
    photo = tree.css_first("img.tgme_page_photo_image")
    extra: dict[str, Any] = {"kind": kind, "counter_text": extra_text or None}
    if tree.css_first("a.tgme_page_context_link") is not None:
        extra["preview_link"] = True
    if title.css_first(".verified-icon") is not None:
        extra["verified"] = True
    account = AccountRecord(PLATFORM, channel, handle=handle, display_name=_text_of(title))
    return ProfileRecord(
        account=account,
        bio=_text_of(tree.css_first(".tgme_page_description")),
        url=f"{WEB}/{handle}",
        avatar_url=(photo.attributes.get("src") or None) if photo is not None else None,
        followers_count=parse_count(extra_text) if kind in ("channel", "group") else None,
        verified=bool(extra.get("verified")),
        extra=extra,
    )


def post_id(channel: str, number: int | str) -> str:
    return f"{channel.lower()}/{number}"


def split_post_id(value: str) -> tuple[str, int]:
    channel, _, number = value.rpartition("/")
    if not channel or not number.isdigit():
        raise ValueError(f"not a Telegram post id (channel/number): {value!r}")
    return channel, int(number)


def _message_time(message: LexborNode) -> datetime:
    node = message.css_first(".tgme_widget_message_date time[datetime]") or message.css_first(
        "time[datetime]"
    )
    if node is None:
        raise ValueError("no time[datetime] (the message has no date)")
    value = node.attributes.get("datetime") or ""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"unreadable datetime {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


_VISUALS = {
    "tgme_widget_message_photo_wrap": ("photo", "photo"),
    "tgme_widget_message_video_thumb": ("video", "video poster"),
    "tgme_widget_message_roundvideo_thumb": ("video", "round video poster"),
}


def _media(message: LexborNode) -> list[MediaRef]:
    """Photos and video posters (round videos' too) in the order the page shows them (an album
    mixes them)."""
    refs: list[MediaRef] = []
    selector = ", ".join(f".{name}" for name in _VISUALS)
    for node in _own(message, selector):
        kind, what = next(v for k, v in _VISUALS.items() if k in _classes(node))
        url = style_url(node.attributes.get("style"))
        if url is None:
            raise ValueError(f"a {what} whose style has no background-image URL")
        round_video = "roundvideo" in (node.attributes.get("class") or "")
        refs.append(
            MediaRef(
                url, position=len(refs), kind=kind, platform_key="round" if round_video else None
            )
        )
    return refs


def _duration(text: str | None) -> int | None:
    """``1:02:03`` / ``3:45`` / ``0:12`` as seconds."""
    parts = (text or "").strip().split(":")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds


def _size(text: str | None) -> int | None:
    """``113.9 KB`` / ``2.4 MB`` as bytes (as t.me prints a file size)."""
    match = re.search(r"([\d.,]+)\s*(B|KB|MB|GB)\b", text or "", re.I)
    if not match:
        return None
    scale = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[match.group(2).lower()]
    try:
        return int(float(match.group(1).replace(",", ".")) * scale)
    except ValueError:
        return None


def _content(message: LexborNode) -> list[dict[str, Any]]:
    """What a message holds besides text and pictures: polls, places, files, voice notes,
    stickers, round videos (``PostRecord.content``), in page order."""
    items: list[dict[str, Any]] = []
    for poll in _own(message, ".tgme_widget_message_poll"):
        options = [
            {
                "text": _text_of(o.css_first(".tgme_widget_message_poll_option_text")),
                "percent": parse_count(
                    _text_of(o.css_first(".tgme_widget_message_poll_option_percent"))
                ),
            }
            for o in poll.css(".tgme_widget_message_poll_option")
        ]
        item: dict[str, Any] = {
            "type": "poll",
            "question": _text_of(poll.css_first(".tgme_widget_message_poll_question")),
            "options": options,
        }
        if (kind := _text_of(poll.css_first(".tgme_widget_message_poll_type"))) is not None:
            item["poll_type"] = kind
        voters = _text_of(message.css_first(".tgme_widget_message_voters"))
        if voters is not None:
            item["voters"] = parse_count(voters)
        items.append(item)
    for place in _own(message, "a.tgme_widget_message_location_wrap"):
        item = {"type": "place", "url": place.attributes.get("href")}
        found = re.search(r"[?&](?:q|ll)=(-?[\d.]+),(-?[\d.]+)", place.attributes.get("href") or "")
        if found:
            item.update(lat=float(found.group(1)), lon=float(found.group(2)))
        title = _text_of(message.css_first(".tgme_widget_message_venue_title"))
        address = _text_of(message.css_first(".tgme_widget_message_venue_address"))
        item.update({k: v for k, v in (("name", title), ("address", address)) if v})
        items.append(item)
    for doc in _own(message, "a.tgme_widget_message_document_wrap"):
        title = _text_of(doc.css_first(".tgme_widget_message_document_title"))
        extra = _text_of(doc.css_first(".tgme_widget_message_document_extra"))
        audio = doc.css_first(".audio") is not None or "audio" in (
            doc.attributes.get("class") or ""
        )
        item = {"type": "audio" if audio else "document", "file_name": title, "extra": extra}
        item.update(
            {k: v for k, v in (("size", _size(extra)), ("duration", _duration(extra))) if v}
        )
        items.append(item)
    for voice in _own(message, ".tgme_widget_message_voice_player"):
        duration = _text_of(voice.css_first(".tgme_widget_message_voice_duration"))
        items.append({"type": "voice", "duration": _duration(duration)})
    for sticker in _own(message, ".tgme_widget_message_sticker_wrap"):
        image = sticker.css_first(".tgme_widget_message_sticker")
        attrs = image.attributes if image is not None else {}
        emoji = attrs.get("data-emoji") or attrs.get("alt") or sticker.attributes.get("title")
        items.append({"type": "sticker", "emoji": emoji, "set": sticker.attributes.get("href")})
    for video in _own(message, ".tgme_widget_message_roundvideo_player"):
        duration = _text_of(video.css_first(".tgme_widget_message_roundvideo_duration"))
        items.append({"type": "round_video", "duration": _duration(duration)})
    return items


def _link_preview(message: LexborNode) -> dict[str, Any] | None:
    node = message.css_first("a.tgme_widget_message_link_preview")
    if node is None:
        return None
    image = node.css_first(".link_preview_image, .link_preview_right_image")
    preview = {
        "url": node.attributes.get("href"),
        "site_name": _text_of(node.css_first(".link_preview_site_name")),
        "title": _text_of(node.css_first(".link_preview_title")),
        "description": _text_of(node.css_first(".link_preview_description")),
        "image": style_url(image.attributes.get("style")) if image is not None else None,
    }
    return {k: v for k, v in preview.items() if v}


def _references(message: LexborNode) -> tuple[str | None, str | None, dict[str, Any]]:
    """(repost_of, reply_to, extra) from the forwarded-from line and the reply block."""
    extra: dict[str, Any] = {}
    repost_of = reply_to = None
    forwarded = message.css_first(".tgme_widget_message_forwarded_from")
    if forwarded is not None:
        name = forwarded.css_first(".tgme_widget_message_forwarded_from_name")
        href = (name.attributes.get("href") or "") if name is not None else ""
        extra["forwarded_from"] = {"name": _text_of(name) or _text_of(forwarded), "url": href}
        if link := _POST_LINK.match(href):
            repost_of = post_id(link.group(1), link.group(2))
    reply = message.css_first("a.tgme_widget_message_reply")
    if reply is not None:
        href = reply.attributes.get("href") or ""
        if link := _POST_LINK.match(href):
            reply_to = post_id(link.group(1), link.group(2))
        extra["reply_to_text"] = _text_of(reply.css_first(".js-message_reply_text"))
    return repost_of, reply_to, extra


def _entities(text_node: LexborNode | None, text: str) -> tuple[list[str], list[str]]:
    """(links, mentions) of the message text: web links, and ``@name`` links to t.me."""
    links, mentions = [], []
    for anchor in anchors(text_node) if text_node is not None else []:
        channel = _CHANNEL_LINK.match(anchor.href)
        if anchor.text.startswith("@") and channel:
            mentions.append(channel.group(1))
        elif anchor.is_web_link and not anchor.text.startswith("#"):
            links.append(anchor.href)
    mentions += [m for m in re.findall(r"(?<![\w@])@(\w{4,})", text) if m not in mentions]
    return list(dict.fromkeys(links)), list(dict.fromkeys(mentions))


def post_from_message(message: LexborNode) -> PostRecord:
    """One ``.tgme_widget_message`` as a post; ValueError when its markup is broken."""
    data_post = message.attributes.get("data-post") or ""
    channel, number = split_post_id(data_post)
    created = _message_time(message)
    media = _media(message)
    texts = _own(message, ".tgme_widget_message_text")
    text_node = texts[0] if texts else None
    text = node_text(text_node) if text_node is not None else ""
    links, mentions = _entities(text_node, text)
    repost_of, reply_to, extra = _references(message)
    preview = _link_preview(message)
    if preview:
        extra["link_preview"] = preview
        if preview.get("url", "").startswith(("http://", "https://")):
            links = list(dict.fromkeys([*links, preview["url"]]))
        if preview.get("image"):
            media.append(MediaRef(preview["image"], len(media), "other", platform_key="preview"))
    metrics: dict[str, Any] = {}
    views = message.css_first(".tgme_widget_message_views")
    if views is not None:
        metrics["views"] = parse_count(node_text(views))
        extra["views_text"] = node_text(views)
    meta = message.css_first(".tgme_widget_message_meta")
    if meta is not None and "edited" in node_text(meta).lower():
        extra["edited"] = True
    if (author := message.css_first(".tgme_widget_message_from_author")) is not None:
        extra["signed_by"] = node_text(author)
    owner = message.css_first(".tgme_widget_message_owner_name")
    account = AccountRecord(PLATFORM, channel.lower(), handle=channel, display_name=_text_of(owner))
    return PostRecord(
        platform=PLATFORM,
        platform_id=post_id(channel, number),
        account=account,
        created_at=created,
        kind=PostKind.REPOST
        if "forwarded_from" in extra
        else PostKind.REPLY
        if reply_to
        else PostKind.POST,
        text=text,
        url=f"{WEB}/{channel}/{number}",
        repost_of=repost_of,
        reply_to=reply_to,
        links=links,
        hashtags=list(dict.fromkeys(_HASHTAG.findall(text))),
        mentions=mentions,
        metrics={k: v for k, v in metrics.items() if v is not None},
        extra=extra,
        media=media,
        content=_content(message),
    )


def warc_location(capture: CaptureRecord | None, url: str) -> str:
    """Where the raw bytes of a page are kept, for messages that point an investigator there."""
    if capture is None or not capture.warc_file:
        return f"the page {url}"
    return f"the page {url}, kept in {capture.warc_file} (WARC record {capture.warc_record_id})"


@dataclass
class PreviewPage:
    posts: list[PostRecord]  # newest first
    before: str | None  # the "more" link's data-before: the cursor of the older page
    problems: list[str] = field(default_factory=list)


def parse_preview(html: str, where: str) -> PreviewPage:
    """The messages of a ``t.me/s/CHANNEL`` page; broken ones become problems naming ``where``."""
    tree = LexborHTMLParser(html)
    if tree.css_first(".tgme_channel_history") is None:
        raise ValueError("the page has no message history (.tgme_channel_history)")
    posts, problems = [], []
    for message in tree.css(".tgme_widget_message[data-post]"):
        if "service_message" in _classes(message):
            continue
        try:
            posts.append(post_from_message(message))
        except ValueError as exc:
            label = message.attributes.get("data-post") or "without data-post"
            problems.append(f"skipped Telegram message {label}: {exc}; its raw HTML is in {where}")
    more = tree.css_first("a.tme_messages_more[data-before]")
    before = (more.attributes.get("data-before") or "").strip() if more is not None else ""
    posts.sort(key=lambda p: split_post_id(p.platform_id)[1], reverse=True)
    return PreviewPage(posts, before if before.isdigit() else None, problems)


# == client =================================================================================
def _telegram_page(content: bytes) -> None:
    """A t.me page is whole (ends with ``</html>``) and is Telegram's (``tgme_`` markup)."""
    if b"</html>" not in content[-2048:].lower():
        raise ValueError("the HTML page is cut short (no </html>)")
    if b"tgme_" not in content:
        raise ValueError("not a Telegram page (no tgme_ markup; maintenance or error page)")


class TelegramCollector(Collector):
    """t.me's public pages: ``/CHANNEL``, ``/s/CHANNEL?before=``, ``/CHANNEL/ID?embed=1``."""

    platform = PLATFORM
    title = "Telegram"
    base_url_setting = "telegram_url"
    target_pattern = re.compile(r"[a-z][a-z0-9_]{3,31}")
    profile_url = _TARGET
    example_target = "dia_diarra_news"
    target_label = "CHANNEL"

    def _page(self, path: str, bucket: str, params: dict[str, str | int] | None = None) -> Response:
        response = self.http.get(
            self.url(path), params=params, bucket=f"telegram:{bucket}", check=_telegram_page
        )
        if response.status_code == 404:
            raise AccountNotFound(f"t.me answered HTTP 404 for /{path}")
        if not 200 <= response.status_code < 300:
            raise CollectError(
                f"t.me answered HTTP {response.status_code} for /{path}",
                hint="check OSINT_TELEGRAM_URL; run the same command again later",
            )
        return response

    def fetch_profile(self, target: str, *, known_id: str | None = None) -> ProfileResult:
        response = self._page(target, "channel")
        profile = channel_profile(response.text, target)
        if profile is None:
            raise AccountNotFound(
                f"Telegram shows no channel @{target} (its page is the generic 'Contact' card)",
                hint="check the spelling; a deleted or blocked channel looks the same on t.me",
            )
        return ProfileResult(profile, response.capture)

    def fetch_page(self, profile: ProfileRecord, query: PageQuery) -> PostPage:
        channel = profile.account.platform_id
        params: dict[str, str | int] | None = {"before": query.cursor} if query.cursor else None
        response = self._page(f"s/{channel}", "preview", params)
        if response.redirects and "/s/" not in urlsplit(response.url).path:
            raise AccountUnavailable(
                f"Telegram @{channel} has no public preview: t.me/s/{channel} redirects to "
                f"{response.url} (a private channel, a group or a user)",
                status="no_preview",
                hint="its messages are visible only in the Telegram app; an export made with "
                "Telegram Desktop can be imported instead",
            )
        where = warc_location(response.capture, response.url)
        try:
            page = parse_preview(response.text, where)
        except ValueError as exc:
            raise CollectError(f"t.me/s/{channel} is not a channel preview: {exc}") from exc
        posts, next_cursor = page.posts, page.before
        if query.since_id:
            since = split_post_id(query.since_id)[1]
            newer = [p for p in posts if split_post_id(p.platform_id)[1] > since]
            if len(newer) < len(posts):
                next_cursor = None
            posts = newer
        return PostPage(posts, next_cursor, response.capture, page.problems)

    def lookup_posts(self, post_ids: list[str]) -> PostLookup:
        """The single-message widget of each post: "Post not found" (or the like) = gone."""
        lookup = PostLookup()
        for wanted, (channel, number) in parse_post_ids(post_ids, split_post_id):
            response = self._page(f"{channel}/{number}", "embed", {"embed": 1})
            lookup.answered([wanted], response.capture)
            tree = LexborHTMLParser(response.text)
            error = tree.css_first(".tgme_widget_message_error")
            message = tree.css_first(".tgme_widget_message[data-post]")
            if error is not None:
                lookup.missing[wanted] = node_text(error) or "not found"
            elif message is not None:
                try:
                    lookup.found.append(post_from_message(message))
                except ValueError:
                    continue  # present but unreadable: neither found nor missing
        return lookup

    @staticmethod
    def newest_id(ids: list[str]) -> str | None:
        return newest_numbered(ids, lambda value: split_post_id(value)[1])
