from __future__ import annotations

import pytest

from osint.report.safe import make_environment, safe_href, show_controls


@pytest.mark.parametrize(
    "url",
    [
        "https://x.com/dia_diarra/status/1",
        "http://example.org/a?b=c#d",
        "HTTPS://EXAMPLE.ORG/",
    ],
)
def test_http_urls_are_links(url: str) -> None:
    assert safe_href(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        " javascript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "//evil.example/x",
        "https:///no-host",
        "https://example.org/\u202egnp.exe",
        "https://example.org/a b",
        "",
        None,
    ],
)
def test_other_urls_are_not_links(url: str | None) -> None:
    assert safe_href(url) is None


def test_bidi_and_invisible_characters_become_visible() -> None:
    shown = show_controls("a\u202eb\u2066c\u2069d\u200be\x07f")
    assert shown == "a[U+202E]b[U+2066]c[U+2069]d[U+200B]e[U+0007]f"
    assert show_controls("plain text, é, 日本, עברית") == "plain text, é, 日本, עברית"
    assert show_controls(None) == ""


def test_environment_escapes_and_marks_every_value() -> None:
    env = make_environment()
    html = env.from_string('<p title="{{ t }}">{{ t }}</p>{{ u|href }}').render(
        t='<script>x</script>" onerror="y \u202e', u="javascript:1"
    )
    assert "<script>" not in html
    assert '" onerror="' not in html
    assert "\u202e" not in html and "[U+202E]" in html
    assert html.endswith("</p>")  # the unsafe URL rendered as nothing
