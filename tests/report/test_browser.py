"""The report in a real browser: headless Chromium renders it with no error and runs nothing.

Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it when missing). The
hostile posts in the case would, if they ran, change the page's title, add elements with ids
starting ``pwned`` or set the body's id; none of that may happen, and the console must stay clean
(a blocked load would show there as a Content-Security-Policy error).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from osint.config import Settings
from osint.report import write_report
from osint.report.charts import network_svg
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


_BOXES = """JSON.stringify([...document.querySelectorAll('SELECTOR svg')].map(svg => {
  const frame = svg.getBoundingClientRect();
  return {frame: [frame.left, frame.top, frame.right, frame.bottom],
          texts: [...svg.querySelectorAll('text')].map(t => {
            const b = t.getBoundingClientRect();
            return [b.left, b.top, b.right, b.bottom, t.textContent]; })};
}))"""


def _layout(browser: HeadlessChromium, selector: str) -> list[dict[str, Any]]:
    return json.loads(browser.evaluate(_BOXES.replace("SELECTOR", selector)))


def _overlapping(texts: list[list[Any]]) -> list[tuple[str, str]]:
    return [
        (a[4], b[4])
        for i, a in enumerate(texts)
        for b in texts[i + 1 :]
        if a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5
    ]


def test_chart_labels_are_inside_their_charts_and_network_labels_do_not_overlap(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    """As a reader sees it: every label of the timeline and the network is whole and legible."""
    built = build_case(store, settings)
    report = write_report(store, settings, built.name, tmp_path / "report.html").path
    graph = nx.connected_caveman_graph(6, 7)  # 42 accounts in tight groups, long names
    nx.set_node_attributes(
        graph, {n: f"@coordinated_account_{n:02d} (x)" for n in graph.nodes}, "label"
    )
    picture = network_svg(graph)
    crowded = tmp_path / "network.html"
    crowded.write_text(f'<!doctype html><meta charset="utf-8"><div id="n">{picture.svg}</div>')
    assert CHROMIUM is not None
    browser = HeadlessChromium(CHROMIUM)
    try:
        browser.open(report.resolve().as_uri())
        browser.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 1000, "deviceScaleFactor": 1, "mobile": False},
        )
        charts = _layout(browser, "#timeline") + _layout(browser, "#network")
        browser.navigate(crowded.resolve().as_uri())
        network = _layout(browser, "#n")
        shot = browser.screenshot(tmp_path / "network.png")
    finally:
        browser.close()
    print(f"screenshot of a crowded network: {shot}")
    assert len(charts) == 2 and all(chart["texts"] for chart in charts)
    for chart in charts + network:
        left, top, right, bottom = chart["frame"]
        for x1, y1, x2, y2, text in chart["texts"]:
            assert left - 0.5 <= x1 and x2 <= right + 0.5, f"{text!r} runs off the chart"
            assert top - 0.5 <= y1 and y2 <= bottom + 0.5, f"{text!r} runs off the chart"
    ticks = [t for t in charts[0]["texts"] if t[4].startswith("20")]
    assert len(ticks) >= 2 and ticks[-1][4].count("-") == 2  # the last date label is whole
    (drawn,) = network
    assert _overlapping(drawn["texts"]) == []
    assert len(drawn["texts"]) + picture.labels_hidden == 42
    assert len(drawn["texts"]) >= 30  # most accounts (33 of 42 now) are named on the picture
