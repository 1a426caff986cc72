"""Secrets never leave osint: redaction of URLs, headers and messages before anything is kept.

:mod:`collectors.http` passes every URL and request header through these before the capture
hook, the logs or an error message see them.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[redacted]"
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
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """The URL with token-like query parameters and known secret values blanked."""
    parts = urlsplit(url)
    if parts.query:
        pairs = [
            (k, REDACTED if k.lower() in SECRET_PARAMS else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        parts = parts._replace(query=urlencode(pairs, safe=",:[]"))
    if parts.password:
        parts = parts._replace(netloc=f"{parts.username}:{REDACTED}@{parts.hostname}")
    return scrub(urlunsplit(parts), secrets)


def redact_headers(
    headers: Iterable[tuple[str, str]], secrets: Iterable[str] = ()
) -> list[tuple[str, str]]:
    secrets = list(secrets)
    return [
        (name, REDACTED if name.lower() in SECRET_HEADERS else scrub(value, secrets))
        for name, value in headers
    ]
