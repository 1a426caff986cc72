from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import update

from osint.cases import create_case
from osint.config import Settings
from osint.report import ReportLimits, build_report, write_report
from osint.report.safe import CSP
from osint.storage.db import Store
from osint.storage.models import Media
from tests.casebuild import BuiltCase, build_case
from tests.conftest import CliRun


class _Collect(HTMLParser):
    """Every element with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    return parser


@pytest.fixture
def built(store: Store, settings: Settings) -> BuiltCase:
    return build_case(store, settings)


@pytest.fixture
def report_html(built: BuiltCase, store: Store, settings: Settings, tmp_path: Path) -> str:
    written = write_report(store, settings, built.name, tmp_path / "report.html")
    return written.path.read_text(encoding="utf-8")


def test_hostile_texts_are_text_not_markup(report_html: str) -> None:
    page = parse(report_html)
    tags = {tag for tag, _ in page.elements}
    assert "script" not in tags
    for tag, attrs in page.elements:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "pwned" not in (attrs.get("id") or "")
    text = "".join(page.text)
    assert '<script>document.title="pwned"' in text
    assert "<img src=x onerror=" in text
    assert "\u202e" not in report_html and "evidence [U+202E]gnp.exe" in text
    assert "[U+2066]isolated[U+2069]" in text


def test_only_http_links_and_a_csp_without_remote_loads(report_html: str) -> None:
    page = parse(report_html)
    hrefs = [attrs["href"] for tag, attrs in page.elements if tag == "a" and attrs.get("href")]
    assert hrefs, "the report should link to posts and captures"
    assert all(h.startswith(("https://", "http://", "#")) for h in hrefs), hrefs
    metas = [attrs for tag, attrs in page.elements if tag == "meta"]
    assert {"http-equiv": "Content-Security-Policy", "content": CSP} in metas
    assert "default-src 'none'" in CSP and "script-src" not in CSP
    sources = [attrs.get("src") for tag, attrs in page.elements if attrs.get("src")]
    assert sources and all(s.startswith("data:image/") for s in sources)
    # The javascript: URL of a post and of a profile is still shown, as text.
    assert "javascript:document.title=&#39;pwned&#39;" in report_html


def test_findings_strongest_first_with_their_evidence(report_html: str) -> None:
    titles = re.findall(
        r'<div class="card" id="finding-\d+">\s*<h3>.*?<bdi>(.*?)</bdi>', report_html
    )
    assert titles == [
        "Same grave photo posted by 2 accounts &lt;i&gt;",
        "4 accounts reposted within 5 minutes",
    ]
    first = report_html.split('id="finding-')[1]
    assert "first_poster" in first and first.count("data:image/jpeg") == 2


def test_every_listed_post_has_capture_time_source_and_hashes(
    built: BuiltCase, store: Store, settings: Settings
) -> None:
    report = build_report(store, settings, built.name)
    assert len(report.posts) == len(built.post_ids)
    for post in report.posts:
        assert post.capture_fetched_at is not None and post.capture_url
        assert re.fullmatch(r"[0-9a-f]{64}", post.capture_sha256 or "")
        assert re.fullmatch(r"[0-9a-f]{64}", post.text_sha256)


def test_accounts_show_profile_history_and_signals(
    built: BuiltCase, store: Store, settings: Settings
) -> None:
    report = build_report(store, settings, built.name)
    dia = next(a for a in report.accounts if a.platform_id == "1001")
    assert [s.handle for s in dia.snapshots] == ["dia_diarra", "dia_diarra2"]
    assert "handle" in dia.snapshots[1].changed and "bio" in dia.snapshots[1].changed
    assert "changed handle once: dia_diarra → dia_diarra2" in dia.signals
    assert "named in 2 findings" in dia.signals and "empty bio" in dia.signals
    assert dia.snapshots[0].avatar_thumb and dia.snapshots[0].avatar_thumb.startswith("data:")


def test_image_cluster_with_hashes_distance_and_first_poster(
    built: BuiltCase, store: Store, settings: Settings
) -> None:
    report = build_report(store, settings, built.name)
    (cluster,) = report.clusters
    assert [m.distance for m in cluster.members] == [0, 1]
    assert cluster.members[0].hashes == [("phash", "c3c3e1e1f0f0b0b0")]
    assert cluster.first_post is not None and cluster.first_post.account_label.startswith(
        "@dia_diarra2"
    )
    assert all(m.media.thumb for m in cluster.members)


def test_timeline_and_network_are_inline_svg(report_html: str) -> None:
    timeline = report_html.split('id="timeline"')[1].split("</section>")[0]
    network = report_html.split('id="network"')[1].split("</section>")[0]
    assert timeline.count("<rect") >= 3 and "group 1 (4 accounts)" in timeline
    assert network.count("<circle") == 4 and network.count("<line") == 3
    assert "community 1" in network and "@amp1 (x)" in network


def test_large_case_is_capped_and_says_so(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    limits = ReportLimits(max_posts=2, max_accounts=1, max_evidence=1)
    written = write_report(store, settings, built.name, tmp_path / "r.html", limits)
    html = written.path.read_text()
    assert (written.posts_listed, written.posts_total) == (2, 7)
    assert "Showing the first 2 of 7 posts" in html
    assert "Accounts: 1 of 4 are shown" in html
    assert html.count('<div class="card" id="account-') == 1


def test_report_command(built: BuiltCase, run_cli: CliRun, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    result = run_cli("report", "--case", built.name, "-o", str(out))
    assert f"wrote {out}" in result.stdout and "7 of 7 posts listed" in result.stdout
    assert out.read_text().startswith("<!DOCTYPE html>")
    missing = run_cli("report", "--case", "nope", "-o", str(out), expect=2)
    assert "no case named 'nope'" in missing.stderr


def test_an_empty_case_still_makes_a_report(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    create_case(store, "empty")
    html = write_report(store, settings, "empty", tmp_path / "e.html").path.read_text()
    assert "No posts to chart." in html and "No coordination findings" in html
    assert "No findings: run" in html and "No image clusters" in html


def test_a_shared_avatar_cluster_counts_the_accounts_that_show_it(
    built: BuiltCase, store: Store, settings: Settings
) -> None:
    """Copies of one profile picture, used by accounts as avatars and in no post."""
    from osint.storage.ingest import CaseWriter
    from osint.storage.models import ImageClusterMember
    from tests.casebuild import T0, encode, picture
    from tests.factories import make_account, make_profile

    with store.session() as session:
        writer = CaseWriter(session, built.case_id, source="x")
        members = []
        for n in range(3):
            data = encode(picture(7).resize((90 - n * 10, 70 - n * 8)))
            sha = store.media.put(data).sha256
            members.append(writer.media(sha256=sha, size=len(data), mime="image/jpeg"))
        for n in range(5):
            account = make_account(handle=f"face{n}", platform_id=f"90{n}")
            writer.snapshot(
                make_profile(account), captured_at=T0, capture_id=None,
                avatar_media_id=members[n % 3],
            )  # fmt: skip
        for n, media_id in enumerate(members):
            session.add(
                ImageClusterMember(
                    case_id=built.case_id, cluster_no=9, media_id=media_id, distance=n,
                    transforms=[], representative=n == 0,
                )
            )  # fmt: skip
    report = build_report(store, settings, built.name)
    cluster = next(c for c in report.clusters if c.cluster_no == 9)
    assert (len(cluster.members), cluster.accounts) == (3, 5)
    assert sorted(a for m in cluster.members for a in m.avatar_of) == sorted(
        f"@face{n} (x)" for n in range(5)
    )


def test_a_local_match_draws_the_matched_region_over_the_copy(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The outline comes from the image finding's stored local-match evidence."""
    from osint.storage.ingest import CaseWriter
    from osint.storage.models import Finding, ImageClusterMember
    from tests.casebuild import encode, picture

    with store.session() as session:
        writer = CaseWriter(session, built.case_id, source="x")
        ids = []
        for size in ((120, 90), (200, 300)):
            data = encode(picture(11).resize(size))
            sha = store.media.put(data).sha256
            ids.append(writer.media(sha256=sha, size=len(data), mime="image/jpeg"))
        session.flush()
        for media_id, size in zip(ids, ((120, 90), (200, 300)), strict=True):
            session.execute(
                update(Media).where(Media.id == media_id).values(width=size[0], height=size[1])
            )
        original, shot = ids
        match = {
            "left_media": original, "right_media": shot, "relation": "same_picture",
            "region_left": [[0, 0], [120, 0], [120, 90], [0, 90]],
            "region_right": [[20, 100], [180, 100], [180, 220], [20, 220]],
        }  # fmt: skip
        session.add_all(
            [
                ImageClusterMember(
                    case_id=built.case_id, cluster_no=7, media_id=original, distance=0,
                    transforms=["original"], representative=True,
                ),
                ImageClusterMember(
                    case_id=built.case_id, cluster_no=7, media_id=shot, distance=None,
                    transforms=["contains the picture (local features)"], representative=False,
                ),
                Finding(
                    case_id=built.case_id, analysis="images", kind="image_reuse", score=0.4,
                    title="t", explanation="e",
                    details={"members": [
                        {"media_id": original},
                        {"media_id": shot, "local_match": match},
                        {"media_id": original, "local_match": {"region_left": "<script>"}},
                    ]},
                ),
            ]
        )  # fmt: skip
    report = build_report(store, settings, built.name)
    cluster = next(c for c in report.clusters if c.cluster_no == 7)
    regions = {m.media.id: m.region for m in cluster.members}
    assert regions[original] is None  # no match of its own, and the hostile entry is skipped
    assert regions[shot] is not None
    assert regions[shot].points == "20.0,100.0 180.0,100.0 180.0,220.0 20.0,220.0"
    html = write_report(store, settings, built.name, tmp_path / "r.html").path.read_text()
    page = parse(html)
    svgs = [a for tag, a in page.elements if tag == "svg" and a.get("viewbox") == "0 0 200 300"]
    polygons = [a["points"] for tag, a in page.elements if tag == "polygon"]
    assert svgs and "20.0,100.0 180.0,100.0 180.0,220.0 20.0,220.0" in polygons
    assert "<script>" not in html.split("<body>", 1)[1].split("</body>")[0].replace(
        "&lt;script&gt;", ""
    )
