"""Rendering hostile text safely: the Jinja environment, link checks, visible control characters.

Everything a platform gave us (post texts, names, bios, URLs) is hostile input. The environment
autoescapes every value; :func:`show_controls` runs on every printed value (Jinja's ``finalize``)
and turns bidirectional overrides and invisible characters into visible markers such as
``[U+202E]``, so a right-to-left override cannot reorder the text around it; :func:`safe_href`
lets only http(s) URLs become links. The report page carries a Content-Security-Policy with no
script source at all, so even markup that slipped through could not run.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import jinja2

# Bidirectional embeddings, overrides, isolates and marks; zero-width and other invisible
# characters that can hide or reorder text. Shown as [U+XXXX] wherever they occur.
_CONTROL_CHARS = (
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\u00ad"
)
_CONTROLS = re.compile(f"[{_CONTROL_CHARS}\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]")
_WHITESPACE = re.compile(r"\s")
_SAFE_SCHEMES = frozenset({"http", "https"})
_MAX_URL = 4000

CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def show_controls(value: Any) -> Any:
    """Replace invisible and direction-changing characters by a visible ``[U+XXXX]`` marker."""
    if value is None:
        return ""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return _CONTROLS.sub(lambda m: f"[U+{ord(m.group()):04X}]", value)
    return value


def safe_href(url: str | None) -> str | None:
    """The URL if it may be a link (http or https, with a host); None otherwise."""
    if not url or len(url) > _MAX_URL or _CONTROLS.search(url) or _WHITESPACE.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in _SAFE_SCHEMES or not parts.hostname:
        return None
    return url


def format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def format_count(value: int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return f"{int(value):,}"


def make_environment() -> jinja2.Environment:
    """The report's Jinja environment: package templates, autoescaping, visible controls."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("osint.report", "templates"),
        autoescape=True,
        finalize=show_controls,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["href"] = safe_href
    env.filters["time"] = format_time
    env.filters["count"] = format_count
    env.globals["csp"] = CSP
    return env
