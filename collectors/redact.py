"""Secrets never leave osint: redaction of URLs, headers and messages before anything is kept.

:mod:`collectors.http` passes every URL and request header through these before the capture
hook, the logs or an error message see them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields, is_dataclass
from typing import Any
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
# A secret shorter than this is not searched for in texts and bodies: "tok" would blank every
# "next_token" (real API tokens run to dozens of characters). It still never leaves in a header
# or a token-like query parameter, which are blanked by name.
MIN_SECRET_CHARS = 8
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token", "x-csrf-token"}
)
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "token",
        "api_key",
        "apikey",
        "key",
        "secret",
        "client_secret",
        "password",
        "auth",
        "bearer_token",
        "oauth_token",
        "oauth_signature",
        "signature",
        "sig",
    }
)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced."""
    for secret in secrets:
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, REDACTED)
    return text


def scrub_bytes(data: bytes, secrets: Iterable[str]) -> tuple[bytes, int]:
    """``data`` with every secret value replaced, and how many replacements were made."""
    count = 0
    for secret in secrets:
        if len(secret) < MIN_SECRET_CHARS:
            continue
        needle = secret.encode("utf-8")
        found = data.count(needle)
        if found:
            data = data.replace(needle, REDACTED.encode("ascii"))
            count += found
    return data, count


def _redact_query(query: str) -> str:
    # Piece by piece, as sent: only the value of a secret parameter changes, every other byte
    # (``%2C``, ``%20``, a bare ``?flag``) stays exactly as it went over the wire.
    pieces = []
    for piece in query.split("&"):
        name, sep, _ = piece.partition("=")
        if sep and unquote_plus(name).lower() in SECRET_PARAMS:
            piece = f"{name}={REDACTED}"
        pieces.append(piece)
    return "&".join(pieces)


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """The URL exactly as given, with token-like query values and known secret values blanked."""
    url = scrub(url, secrets)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    path, qmark, query = tail.partition("?")
    if "?" in authority:  # no path: https://host?query
        authority, qmark, query = authority.partition("?")
        slash = ""
    query, hash_, fragment = query.partition("#")
    if "@" in authority:
        userinfo, _, hostport = authority.rpartition("@")
        if ":" in userinfo:
            authority = f"{userinfo.partition(':')[0]}:{REDACTED}@{hostport}"
    if qmark:
        query = _redact_query(query)
    return f"{scheme}://{authority}{slash}{path}{qmark}{query}{hash_}{fragment}"


def scrub_value(value: Any, secrets: list[str]) -> Any:
    """``value`` (text, list, dict, or a dataclass record, changed in place) with secrets blanked."""
    secrets = [s for s in secrets if len(s) >= MIN_SECRET_CHARS]
    if not secrets:
        return value
    return _scrub_value(value, secrets)


def _scrub_value(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return scrub(value, secrets) if any(s in value for s in secrets) else value
    if isinstance(value, list):
        return [_scrub_value(v, secrets) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub_value(v, secrets) for v in value)
    if isinstance(value, dict):
        return {_scrub_value(k, secrets): _scrub_value(v, secrets) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            current = getattr(value, item.name)
            cleaned = _scrub_value(current, secrets)
            if cleaned is not current:
                setattr(value, item.name, cleaned)
    return value


def redact_headers(
    headers: Iterable[tuple[str, str]], secrets: Iterable[str] = ()
) -> list[tuple[str, str]]:
    secrets = list(secrets)
    return [
        (name, REDACTED if name.lower() in SECRET_HEADERS else scrub(value, secrets))
        for name, value in headers
    ]
