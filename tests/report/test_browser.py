"""The report in a real browser: headless Chromium renders it with no error and runs nothing.

Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it when missing). The
hostile posts in the case would, if they ran, change the page's title, add elements with ids
starting ``pwned`` or set the body's id; none of that may happen, and the console must stay clean
(a blocked load would show there as a Content-Security-Policy error).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from osint.config import Settings
from osint.report import write_report
from osint.storage.db import Store
from tests.casebuild import build_case
from tests.report.browser import HeadlessChromium, find_chromium

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed and could not be (.ci/run installs Debian's chromium "
    "package with apt-get; run it, or apt-get install chromium)",
)


def test_report_renders_in_chromium_with_hostile_texts_inert(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    built = build_case(store, settings)
    report = write_report(store, settings, built.name, tmp_path / "report.html").path
    assert CHROMIUM is not None
    browser = HeadlessChromium(CHROMIUM)
    try:
        browser.open(report.resolve().as_uri())
        title = browser.evaluate("document.title")
        injected = browser.evaluate(
            "document.querySelectorAll('[id^=pwned], script, [onerror], a[href^=javascript]')"
            ".length"
        )
        body_id = browser.evaluate("document.body.id")
        text = browser.evaluate("document.body.innerText")
        images = browser.evaluate(
            "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length"
        )
        shot = browser.screenshot(tmp_path / "report.png")
        problems = browser.problems()
    finally:
        browser.close()
    print(f"screenshot of the report: {shot}")
    assert title == "Case report: gossi"
    assert injected == 0 and body_id == ""
    assert '<script>document.title="pwned"' in text
    assert "evidence [U+202E]gnp.exe" in text
    assert images >= 4, "the inline thumbnails should display"
    assert problems == []
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
