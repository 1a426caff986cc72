"""t.me's public web pages, rendered from the replay world in Telegram's own markup.

Pages: ``GET /CHANNEL`` (the channel card: ``.tgme_page_title``, ``.tgme_page_extra`` "N
subscribers", ``.tgme_page_description``, ``img.tgme_page_photo_image``), ``GET /s/CHANNEL``
(the preview: ``.tgme_channel_info`` header and ``section.tgme_channel_history`` with up to 20
``.tgme_widget_message_wrap`` messages, oldest first, and an ``a.tme_messages_more[data-before]``
link while older ones exist; ``?before=ID`` is exclusive), and ``GET /CHANNEL/ID?embed=1`` (the
single-message widget, or ``.tgme_widget_message_error`` "Post not found"). The markup follows
what public t.me parsers read: photos as ``background-image:url('...')`` of
``a.tgme_widget_message_photo_wrap`` (grouped albums inside ``.tgme_widget_message_grouped_wrap``),
video posters on ``.tgme_widget_message_video_thumb``, forwarded-from, reply quotes reusing
``tgme_widget_message_text`` (``js-message_reply_text``), link previews, views and "edited".

Accounts whose ``status`` is ``no_preview`` get a group card and ``/s/`` redirects to the card
(as t.me does for groups, users and channels without preview); unknown, ``deleted`` and
``suspended`` names get the generic "Contact @name" card. ``missing_fields`` breaks the newest
message's markup (no ``time``) and a photo's style (no URL). Post ids are ``channel/N`` counters
per channel (:data:`DEFAULT_ID_SCHEMES`); a 429 carries ``Retry-After``.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
import zlib
from collections.abc import Callable
from datetime import datetime
from urllib.parse import quote

from osint.demo.replay.server import PlatformApp, ReplayRequest, Reply
from osint.demo.replay.world import DEFAULT_ID_SCHEMES, Fault, WorldAccount, WorldPost

PAGE_SIZE = 20
WEB = "https://t.me"
_EXT = {"image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def channel_message_ids() -> Callable[[WorldAccount, datetime], str]:
    """Telegram's ids: a counter per channel, so a post is ``channel/N``."""
    counters: dict[str, int] = {}

    def make(account: WorldAccount, _created_at: datetime) -> str:
        counters[account.id] = counters.get(account.id, 0) + 1
        return f"{account.handle.lower()}/{counters[account.id]}"

    return make


DEFAULT_ID_SCHEMES["telegram"] = channel_message_ids


def message_number(post: WorldPost) -> int:
    return int(post.id.rpartition("/")[2])


def short_count(value: int) -> str:
    """Counts as the preview prints them: 950, 12.3K, 1.2M."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M".replace(".0M", "M")
    if value >= 10_000:
        return f"{value / 1_000:.1f}K".replace(".0K", "K")
    return str(value)


def _page(title: str, body: str, body_class: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        '<meta property="og:site_name" content="Telegram">\n</head>\n'
        f'<body class="{body_class}">\n{body}\n</body>\n</html>\n'
    )


class TelegramApp(PlatformApp):
    name = "telegram"
    setting = "telegram_url"

    quota_fallback = (10_000, 60.0)  # channel, preview or embed pages (t.me answers 429 beyond)

    # -- dispatch -----------------------------------------------------------------------------
    def handle(self, request: ReplayRequest) -> Reply:
        path = request.path.rstrip("/")
        routes: list[tuple[str, str, Callable[..., Reply]]] = [
            (r"^/s/(\w+)$", "preview", self.preview),
            (r"^/(\w+)/(\d+)$", "embed", self.embed),
            (r"^/(\w+)$", "channel", self.channel),
        ]
        for pattern, endpoint, method in routes:
            match = re.match(pattern, path)
            if match:
                quota = self.quotas.take(endpoint)
                if not quota.allowed:
                    return self._429(max(int(quota.reset_at - time.time() + 0.999), 1))
                return method(request, *match.groups())
        return Reply(404, _page("Telegram", "<h1>Not Found</h1>").encode(), "text/html")

    @staticmethod
    def _429(wait: int) -> Reply:
        body = _page("Too Many Requests", "<h1>Too Many Requests</h1><p>Retry later</p>")
        return Reply(429, body.encode(), "text/html; charset=utf-8", [("Retry-After", str(wait))])

    def rate_limited(self, request: ReplayRequest, fault: Fault) -> Reply:
        return self._429(max(int(fault.reset_in + 0.999), 0))

    def error(self, request: ReplayRequest, status: int) -> Reply:
        body = _page(f"{status}", f"<h1>{status}</h1><p>Server error</p>")
        return Reply(status, body.encode(), "text/html; charset=utf-8")

    @staticmethod
    def _html(text: str) -> Reply:
        return Reply(200, text.encode("utf-8"), "text/html; charset=utf-8")

    def _account(self, name: str) -> WorldAccount | None:
        account = self.world.account_by_handle(self.name, name)
        if account is None or account.status in ("deleted", "suspended"):
            return None
        return account

    def _avatar(self, account: WorldAccount, request: ReplayRequest) -> str:
        if account.avatar and account.avatar in self.world.media:
            media = self.world.media[account.avatar]
            return f"{request.media_base}/{media.id}.{_EXT.get(media.content_type, 'jpg')}"
        return ""

    # -- the channel card ---------------------------------------------------------------------
    def channel(self, request: ReplayRequest, name: str) -> Reply:
        account = self._account(name)
        if account is None:
            return self._html(self._contact_card(name))
        avatar = self._avatar(account, request)
        handle = html.escape(account.handle)
        photo = (
            f'<div class="tgme_page_photo"><a href="tg://resolve?domain={handle}">'
            f'<img class="tgme_page_photo_image" src="{html.escape(avatar)}"></a></div>'
            if avatar
            else ""
        )
        group = account.status == "no_preview"
        counter = f"{account.followers:,}".replace(",", " ")
        extra = f"{counter} members" if group else f"{counter} subscribers"
        context = (
            ""
            if group
            else '<div class="tgme_page_context_link_wrap">'
            f'<a href="/s/{handle}" class="tgme_page_context_link">Preview channel</a></div>'
        )
        verified = '<i class="verified-icon"></i>' if account.verified else ""
        body = (
            '<div class="tgme_page_wrap"><div class="tgme_body_wrap"><div class="tgme_page">\n'
            f"{photo}\n"
            f'<div class="tgme_page_title" dir="auto"><span dir="auto">'
            f"{html.escape(account.display_name)}</span>{verified}</div>\n"
            f'<div class="tgme_page_extra">{extra}</div>\n'
            f'<div class="tgme_page_description" dir="auto">{_text_html(account.bio)}</div>\n'
            '<div class="tgme_page_action"><a class="tgme_action_button_new shine" '
            f'href="tg://resolve?domain={handle}">{"View in Telegram" if not group else "Join"}'
            f"</a></div>\n{context}\n</div></div></div>"
        )
        return self._html(_page(f"Telegram: Contact @{account.handle}", body))

    @staticmethod
    def _contact_card(name: str) -> str:
        escaped = html.escape(name)
        body = (
            '<div class="tgme_page_wrap"><div class="tgme_body_wrap"><div class="tgme_page">\n'
            '<div class="tgme_page_icon"><i class="tgme_icon_user"></i></div>\n'
            '<div class="tgme_page_description">If you have <strong>Telegram</strong>, you can '
            f'contact <a class="tgme_username_link" href="tg://resolve?domain={escaped}">'
            f"@{escaped}</a> right away.</div>\n"
            '<div class="tgme_page_action"><a class="tgme_action_button_new shine" '
            f'href="tg://resolve?domain={escaped}">Send Message</a></div>\n</div></div></div>'
        )
        return _page(f"Telegram: Contact @{name}", body)

    # -- the preview --------------------------------------------------------------------------
    def preview(self, request: ReplayRequest, name: str) -> Reply:
        account = self._account(name)
        if account is None or account.status == "no_preview":
            location = f"{request.base_url}/{name}"
            return Reply(302, b"", "text/html; charset=utf-8", [("Location", location)])
        posts = self.world.timeline(account)
        before = request.query.get("before", "")
        if before.isdigit():
            posts = [p for p in posts if message_number(p) < int(before)]
        posts = sorted(posts, key=message_number, reverse=True)
        page = posts[:PAGE_SIZE]
        older = len(posts) > len(page)
        broken = request.fault is not None and request.fault.kind == "missing_fields"
        # broken markup: the newest message loses its date, the next one with a photo its URL
        victim = next((p for p in page[1:] if p.media), None) if broken else None
        messages = [self.message(p, account, request, p is victim) for p in reversed(page)]
        if broken and messages:
            messages[-1] = re.sub(r"<time datetime=[^>]*>[^<]*</time>", "", messages[-1])
        more = ""
        if older:
            oldest = message_number(page[-1])
            fault = request.fault
            if fault is not None and fault.kind == "repeat_cursor" and before.isdigit():
                oldest = int(before)
            more = (
                '<div class="tgme_widget_message_centered js-messages_more_wrap">'
                f'<a href="/s/{html.escape(account.handle)}?before={oldest}" '
                f'class="tme_messages_more js-messages_more" data-before="{oldest}"></a></div>'
            )
        body = (
            '<main class="tgme_main"><div class="tgme_container">\n'
            f"{self._channel_info(account, request)}\n"
            '<section class="tgme_channel_history js-message_history">\n'
            f"{more}\n" + "\n".join(messages) + "\n</section>\n</div></main>"
        )
        title = f"{account.display_name} – Telegram"
        return self._html(_page(title, body, "widget_frame_base tgme_webpage emoji_image"))

    def _channel_info(self, account: WorldAccount, request: ReplayRequest) -> str:
        handle = html.escape(account.handle)
        photos = sum(len(p.media) for p in self.world.timeline(account))
        return (
            '<section class="tgme_right_column"><div class="tgme_channel_info">\n'
            '<div class="tgme_channel_info_header">'
            f'<i class="tgme_page_photo_image bgcolor0"><img src="'
            f'{html.escape(self._avatar(account, request))}"></i>'
            '<div class="tgme_channel_info_header_title"><span dir="auto">'
            f"{html.escape(account.display_name)}</span></div>"
            f'<div class="tgme_channel_info_header_username"><a href="{WEB}/{handle}">@{handle}'
            "</a></div></div>\n"
            '<div class="tgme_channel_info_counters">'
            '<div class="tgme_channel_info_counter"><span class="counter_value">'
            f'{short_count(account.followers)}</span> <span class="counter_type">subscribers'
            "</span></div>"
            '<div class="tgme_channel_info_counter"><span class="counter_value">'
            f'{photos}</span> <span class="counter_type">photos</span></div></div>\n'
            f'<div class="tgme_channel_info_description">{_text_html(account.bio)}</div>\n'
            "</div></section>"
        )

    # -- one message --------------------------------------------------------------------------
    def message(
        self, post: WorldPost, account: WorldAccount, request: ReplayRequest, broken: bool = False
    ) -> str:
        handle = html.escape(account.handle)
        number = message_number(post)
        channel_id = int(account.id) if account.id.isdigit() else zlib.crc32(account.id.encode())
        view = base64.b64encode(
            json.dumps({"c": -channel_id, "p": number, "t": int(post.created_at.timestamp())})
            .replace(" ", "")
            .encode()
        ).decode()
        original = self.world.post(self.name, post.repost_of) if post.repost_of else None
        text = post.text or (original.text if original is not None else "")
        parts = [
            f'<div class="tgme_widget_message_wrap js-widget_message_wrap">'
            f'<div class="tgme_widget_message text_not_supported_wrap js-widget_message" '
            f'data-post="{handle}/{number}" data-view="{view}">',
            f'<div class="tgme_widget_message_user"><a href="{WEB}/{handle}">'
            '<i class="tgme_widget_message_user_photo bgcolor0"></i></a></div>',
            '<div class="tgme_widget_message_bubble">',
            '<div class="tgme_widget_message_author accent_color">'
            f'<a class="tgme_widget_message_owner_name" href="{WEB}/{handle}"><span dir="auto">'
            f"{html.escape(account.display_name)}</span></a></div>",
            self._forwarded(post, original),
            self._reply(post),
            self._media(post, handle, number, request, broken),
            f'<div class="tgme_widget_message_text js-message_text" dir="auto">'
            f"{_text_html(text, post)}</div>",
            self._link_preview(post, request),
            self._footer(post, handle, number),
            "</div></div></div>",
        ]
        return "\n".join(p for p in parts if p)

    def _forwarded(self, post: WorldPost, original: WorldPost | None) -> str:
        if post.kind != "repost":
            return ""
        source = self.world.account(self.name, original.account_id) if original else None
        if original is None or source is None:
            name = html.escape(str(post.extra.get("forwarded_from", "Hidden user")))
            return (
                '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
                f'<span class="tgme_widget_message_forwarded_from_name">{name}</span></div>'
            )
        link = f"{WEB}/{html.escape(source.handle)}/{message_number(original)}"
        return (
            '<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from '
            f'<a class="tgme_widget_message_forwarded_from_name" href="{link}">'
            f'<span dir="auto">{html.escape(source.display_name)}</span></a></div>'
        )

    def _reply(self, post: WorldPost) -> str:
        if not post.reply_to:
            return ""
        target = self.world.post(self.name, post.reply_to)
        author = self.world.account(self.name, target.account_id) if target else None
        channel, _, number = post.reply_to.rpartition("/")
        name = author.display_name if author else channel
        excerpt = "Deleted message" if target is None or target.deleted else target.text[:80]
        return (
            f'<a class="tgme_widget_message_reply" href="{WEB}/{html.escape(channel)}/{number}">'
            '<div class="tgme_widget_message_author accent_color">'
            f'<span class="tgme_widget_message_author_name" dir="auto">{html.escape(name)}'
            "</span></div>"
            '<div class="tgme_widget_message_text js-message_reply_text" dir="auto">'
            f"{html.escape(excerpt)}</div></a>"
        )

    def _media(
        self, post: WorldPost, handle: str, number: int, request: ReplayRequest, broken: bool
    ) -> str:
        """Photos and videos in album order (t.me keeps the order they were sent in), round
        videos, then what else the message holds (post.extra: poll, location, document, audio,
        voice, sticker)."""
        items = [self.world.media[m] for m in post.media if m in self.world.media]
        out = []
        for media in items:
            url = f"{request.media_base}/{media.id}.{_EXT.get(media.content_type, 'jpg')}"
            if media.kind == "photo":
                style = "width:800px" if broken else f"width:800px;background-image:url('{url}')"
                grouped = " grouped_media_wrap blured js-message_photo" if len(items) > 1 else ""
                out.append(
                    f'<a class="tgme_widget_message_photo_wrap{grouped} 5294383783689789758 '
                    f'1232694784_460005694" href="{WEB}/{handle}/{number}?single" '
                    f'style="{style}"><div class="tgme_widget_message_photo" '
                    'style="padding-top:75%"></div></a>'
                )
                broken = False  # only the message's first photo loses its URL
            elif media.kind == "round":
                out.append(
                    '<div class="tgme_widget_message_roundvideo_player js-message_roundvideo_player">'
                    f'<i class="tgme_widget_message_roundvideo_thumb" style="background-image:url(\'{url}\')"></i>'
                    f'<video class="tgme_widget_message_roundvideo js-message_roundvideo" '
                    f'src="{request.media_base}/{media.id}.mp4"></video>'
                    '<div class="tgme_widget_message_roundvideo_duration">0:09</div></div>'
                )
            else:
                out.append(
                    '<a class="tgme_widget_message_video_player blured js-message_video_player" '
                    f'href="{WEB}/{handle}/{number}?single"><i class="tgme_widget_message_video_thumb" '
                    f"style=\"background-image:url('{url}')\"></i>"
                    f'<video src="{request.media_base}/{media.id}.mp4?token=replay" '
                    'class="tgme_widget_message_video js-message_video" width="100%" height="100%">'
                    "</video>"
                    '<time class="message_video_duration js-message_video_duration">0:12</time></a>'
                )
        if len(items) > 1:
            out = [
                '<div class="tgme_widget_message_grouped_wrap js-message_grouped_wrap">'
                '<div class="tgme_widget_message_grouped js-message_grouped">',
                *out,
                "</div></div>",
            ]
        out.append(_extras(post, handle, number))
        return "\n".join(x for x in out if x)

    def _link_preview(self, post: WorldPost, request: ReplayRequest) -> str:
        if not post.links:
            return ""
        link = post.links[0]
        site = re.sub(r"^https?://(www\.)?", "", link).split("/")[0]
        image = ""
        media_id = post.extra.get("link_preview_image")
        if media_id in self.world.media:
            image = (
                '<i class="link_preview_right_image" '
                f"style=\"background-image:url('{request.media_base}/{media_id}.jpg')\"></i>"
            )
        title = html.escape(str(post.extra.get("link_title", site)))
        return (
            f'<a class="tgme_widget_message_link_preview" href="{html.escape(link)}">{image}'
            f'<div class="link_preview_site_name accent_color" dir="auto">{html.escape(site)}'
            f'</div><div class="link_preview_title" dir="auto">{title}</div>'
            '<div class="link_preview_description" dir="auto">'
            f"{html.escape(str(post.extra.get('link_description', '')))}</div></a>"
        )

    @staticmethod
    def _footer(post: WorldPost, handle: str, number: int) -> str:
        when = post.created_at.isoformat()
        edited = "edited " if post.edits else ""
        views = short_count(int(post.metrics.get("views", 0)))
        return (
            '<div class="tgme_widget_message_footer compact js-message_footer">'
            '<div class="tgme_widget_message_info short js-message_info">'
            f'<span class="tgme_widget_message_views">{views}</span>'
            '<span class="copyonly"> views</span>'
            f'<span class="tgme_widget_message_meta">{edited}'
            f'<a class="tgme_widget_message_date" href="{WEB}/{handle}/{number}">'
            f'<time datetime="{when}" class="time">{post.created_at:%H:%M}</time></a></span>'
            "</div></div>"
        )

    # -- the single-message widget ------------------------------------------------------------
    def embed(self, request: ReplayRequest, name: str, number: str) -> Reply:
        account = self._account(name)
        post = None
        if account is not None:
            post = next(
                (p for p in self.world.timeline(account) if message_number(p) == int(number)),
                None,
            )
        inner = (
            self.message(post, account, request)
            if post is not None and account is not None
            else '<div class="tgme_widget_message_error">Post not found</div>'
        )
        body = f'<div class="tgme_widget_message_wrap js-widget_message_wrap">{inner}</div>'
        return self._html(_page("Telegram Widget", body, "widget_frame_base emoji_image nodark"))


def _text_html(text: str, post: WorldPost | None = None) -> str:
    """A message text as t.me marks it up: line breaks, linked #tags, @names and URLs."""
    escaped = html.escape(text)
    if post is not None:
        for tag in post.hashtags:
            if f"#{tag}" not in text:
                escaped += f" #{html.escape(tag)}"
        for handle in post.mentions:
            if f"@{handle}" not in text:
                escaped = f"@{html.escape(handle)} {escaped}"
        for link in post.links:
            safe = html.escape(link)
            escaped += (
                f' <a href="{safe}" target="_blank" rel="noopener" '
                f"onclick=\"return confirm('Open this link?\\n\\n'+this.href);\">{safe}</a>"
            )
    escaped = re.sub(
        r"(?<![\w#&])#(\w+)",
        lambda m: f'<a href="?q={quote("#" + m.group(1))}">#{m.group(1)}</a>',
        escaped,
    )
    escaped = re.sub(
        r"(?<![\w@/])@(\w{4,})",
        lambda m: f'<a href="{WEB}/{m.group(1)}">@{m.group(1)}</a>',
        escaped,
    )
    return escaped.replace("\n", "<br/>")


def _extras(post: WorldPost, handle: str, number: int) -> str:
    """A message's poll, location or venue, file, audio, voice note or sticker, as t.me shows."""
    extra, out = post.extra, []
    esc = html.escape
    if isinstance(poll := extra.get("poll"), dict):
        options = "".join(
            '<div class="tgme_widget_message_poll_option">'
            f'<div class="tgme_widget_message_poll_option_percent">{percent}%</div>'
            f'<div class="tgme_widget_message_poll_option_value"><div class="'
            f'tgme_widget_message_poll_option_text" dir="auto">{esc(text)}</div></div></div>'
            for text, percent in poll.get("options", [])
        )
        out.append(
            '<div class="tgme_widget_message_poll js-poll">'
            f'<div class="tgme_widget_message_poll_question" dir="auto">{esc(poll["question"])}</div>'
            '<div class="tgme_widget_message_poll_type">Anonymous poll</div>'
            f'<div class="tgme_widget_message_poll_options">{options}</div></div>'
            f'<span class="tgme_widget_message_voters">{short_count(int(poll.get("voters", 0)))}'
            "</span>"
        )
    if isinstance(place := extra.get("location"), dict):
        lat, lon = place["lat"], place["lon"]
        out.append(
            f'<a class="tgme_widget_message_location_wrap" href="https://maps.google.com/maps?q='
            f'{lat},{lon}&ll={lat},{lon}&z=16"><div class="tgme_widget_message_location" '
            f"style=\"background-image:url('https://t.me/map?lat={lat}&lon={lon}')\"></div></a>"
        )
        if place.get("name"):
            out.append(
                '<div class="tgme_widget_message_location_info">'
                f'<div class="tgme_widget_message_venue_title" dir="auto">{esc(place["name"])}</div>'
                '<div class="tgme_widget_message_venue_address" dir="auto">'
                f"{esc(place.get('address', ''))}</div></div>"
            )
    for key, css in (("document", ""), ("audio", " audio")):
        if isinstance(doc := extra.get(key), dict):
            out.append(
                f'<a class="tgme_widget_message_document_wrap{css}" href="{WEB}/{handle}/{number}">'
                '<div class="tgme_widget_message_document_icon accent_bg"></div>'
                '<div class="tgme_widget_message_document">'
                '<div class="tgme_widget_message_document_title accent_color" dir="auto">'
                f'{esc(doc["title"])}</div><div class="tgme_widget_message_document_extra" '
                f'dir="auto">{esc(doc["extra"])}</div></div></a>'
            )
    if isinstance(voice := extra.get("voice"), dict):
        out.append(
            '<a class="tgme_widget_message_voice_player js-message_voice_player">'
            '<audio class="tgme_widget_message_voice js-message_voice" src="https://cdn.example/v.ogg">'
            f'</audio><time class="tgme_widget_message_voice_duration">{voice["duration"]}</time></a>'
        )
    if isinstance(sticker := extra.get("sticker"), dict):
        out.append(
            f'<a class="tgme_widget_message_sticker_wrap" href="{WEB}/addstickers/SahelPack">'
            '<i class="tgme_widget_message_sticker js-sticker_image" '
            f'data-emoji="{esc(sticker["emoji"])}" style="width:256px"></i></a>'
        )
    return "\n".join(out)
