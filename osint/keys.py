"""Moved to ``osint.analyzers.contentkeys`` (content keys are pure); these names stay here for
the import modules until they import it from there."""

from osint.analyzers.contentkeys import (
    MIN_TEXT_KEY_CHARS,
    add_content_keys,
    normalize_text,
    normalize_url,
    url_domain,
)

__all__ = [
    "MIN_TEXT_KEY_CHARS",
    "add_content_keys",
    "normalize_text",
    "normalize_url",
    "url_domain",
]
