"""Plain text and links out of HTML a platform sends (Mastodon statuses, Telegram messages).

Parsed with a real HTML parser (selectolax's Lexbor, an HTML5 parser), never with regular
expressions, and never rendered: scripts, styles and embedded objects are dropped with their
content, ``<br>`` and block elements become line breaks, entities are decoded, and what comes out
is text to analyse and show escaped. The original markup is kept separately as evidence
(``PostRecord.text_html``, the WARC file). The walk uses its own stack, so hostile markup nested
thousands of levels deep cannot exhaust Python's recursion limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

_DROPPED = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "embed", "svg", "math"}
)
_BLOCKS = frozenset(
    {
        "p",
        "div",
        "li",
        "ul",
        "ol",
        "blockquote",
        "pre",
        "section",
        "article",
        "tr",
        "table",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
    }
)
_PARAGRAPHS = frozenset({"p", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"})
_SPACES = re.compile(r"[ \t\f\v\r\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
SAFE_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Anchor:
    """An ``<a href>`` in the markup: where it points, its text and its classes."""

    href: str
    text: str
    classes: tuple[str, ...]

    @property
    def is_web_link(self) -> bool:
        """True for http(s) links; ``javascript:``, ``data:`` and the like are never links."""
        return urlsplit(self.href.strip()).scheme.lower() in SAFE_SCHEMES


def parse_fragment(markup: str) -> LexborNode:
    """The ``<body>`` of an HTML fragment, as parsed by an HTML5 parser."""
    body = LexborHTMLParser(f"<!DOCTYPE html><html><body>{markup}</body></html>").body
    assert body is not None  # an HTML5 parser always makes a body
    return body


def node_text(node: LexborNode) -> str:
    """The text a reader sees in ``node``: line breaks kept, scripts and styles dropped."""
    pieces: list[str] = []
    stack: list[LexborNode | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            pieces.append(item)
            continue
        tag = item.tag or ""
        if tag == "-text":
            pieces.append(item.text_content or "")
            continue
        if tag in _DROPPED or tag.startswith("-"):  # comments, doctype
            continue
        if tag == "br":
            pieces.append("\n")
            continue
        if tag in _BLOCKS:
            pieces.append("\n\n" if tag in _PARAGRAPHS else "\n")
            stack.append("\n\n" if tag in _PARAGRAPHS else "\n")
        stack.extend(reversed(list(item.iter(include_text=True))))
    return _tidy("".join(pieces))


def _tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(markup: str | None) -> str:
    """Plain text of an HTML fragment (see the module docstring)."""
    if not markup:
        return ""
    return node_text(parse_fragment(markup))


def anchors(node: LexborNode) -> list[Anchor]:
    """Every ``<a href>`` under ``node`` (outside scripts), in document order."""
    found = []
    for link in node.css("a[href]"):
        href = (link.attributes.get("href") or "").strip()
        if not href:
            continue
        classes = tuple((link.attributes.get("class") or "").split())
        found.append(Anchor(href, node_text(link), classes))
    return found
