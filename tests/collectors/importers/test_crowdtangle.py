"""CrowdTangle CSV: Facebook pages and groups (current and historical exports) and Instagram."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.crowdtangle import parse_created, read_crowdtangle
from osint.collectors.importers.files import open_members
from osint.storage.db import Store
from osint.storage.models import (
    Account,
    AccountSnapshot,
    CollectionRun,
    Post,
    PostMedia,
    SharedObject,
)
from osint.storage.records import PostRecord, ProfileRecord
from tests.conftest import CliRun

FIXTURES = Path(__file__).parent / "fixtures" / "crowdtangle"
PAGES = FIXTURES / "facebook_pages.csv"
GROUPS = FIXTURES / "facebook_groups_historical.csv"
INSTAGRAM = FIXTURES / "instagram.csv"
PAGE_ROWS = PAGES.read_text(encoding="utf-8").count(" CEST,") + 2  # the EDT and XYZT rows too


def _read(path: Path) -> list[object]:
    return [item for member in open_members(path) for item in read_crowdtangle(member)]


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2022-04-21 18:02:10 CEST", datetime(2022, 4, 21, 16, 2, 10, tzinfo=UTC)),
        ("2021-07-06 16:45:20 EDT", datetime(2021, 7, 6, 20, 45, 20, tzinfo=UTC)),
        ("2021-01-06 16:45:20 EST", datetime(2021, 1, 6, 21, 45, 20, tzinfo=UTC)),
        ("2022-04-21 16:00:11 UTC", datetime(2022, 4, 21, 16, 0, 11, tzinfo=UTC)),
        ("2022-04-21 16:00:11 +0530", datetime(2022, 4, 21, 10, 30, 11, tzinfo=UTC)),
        ("2022-04-21 16:00:11", datetime(2022, 4, 21, 16, 0, 11, tzinfo=UTC)),
    ],
)
def test_post_created_carries_its_zone(value: str, expected: datetime) -> None:
    assert parse_created(value) == expected


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'XYZT'"):
        parse_created("2022-04-24 08:00:00 XYZT")


def test_facebook_pages_export() -> None:
    items = _read(PAGES)
    posts = [i for i in items if isinstance(i, PostRecord)]
    problems = [i for i in items if isinstance(i, ImportProblem)]
    profiles = [i for i in items if isinstance(i, ProfileRecord)]
    assert len(problems) == 1 and problems[0].message.startswith("Post Created: unknown time zone")
    assert len(posts) == PAGE_ROWS - 1 and len(profiles) == 12  # 5 + 6 + the radio
    first = posts[0]
    assert first.platform == "facebook" and first.platform_id == "104512345678901_67890100"
    assert first.account.handle == "SahelVerite" and first.account.display_name == "Sahel Vérité"
    assert first.links == ["https://sahel-verite.example/gossi-charnier"]  # Final Link wins
    assert first.extra["link"] == "https://bit.ly/3gossi" and first.hashtags == ["Gossi"]
    assert first.metrics["total_interactions"] == 1532 and first.metrics["likes"] == 10
    assert first.metrics["overperforming_score"] == pytest.approx(1.23)
    assert first.created_at == datetime(2022, 4, 21, 16, 2, 10, tzinfo=UTC)
    video = next(p for p in posts if p.extra.get("type") == "Native Video")
    assert video.text == 'Journal du soir:\n"Les nouvelles" du jour'
    assert video.extra["video_length"] == "00:03:12" and video.metrics["post_views"] == 4210
    assert video.created_at == datetime(2022, 4, 21, 15, 30, tzinfo=UTC)  # 11:30 EDT
    assert profiles[1].extra["page_admin_top_country"] == "RU"
    assert profiles[0].followers_count == 1877 and profiles[0].bio == "L'info vraie du Sahel"
    meme = [p for p in posts if p.extra.get("image_text")]
    assert len(meme) == 5 and "CHARNIERS" in meme[0].extra["image_text"]


def test_historical_group_export() -> None:
    posts = [i for i in _read(GROUPS) if isinstance(i, PostRecord)]
    assert [p.platform_id for p in posts] == [
        "512345678901234_771", "512345678901234_881", "598765432101234_772", "598765432101234_882",
    ]  # fmt: skip
    assert posts[0].account.display_name == "Les Amis de la Russie au Mali"
    assert posts[0].created_at == datetime(2022, 4, 21, 16, 0, 11, tzinfo=UTC)
    assert posts[0].metrics["total_interactions"] == 98 and posts[0].metrics["shares"] == 30


def test_instagram_export() -> None:
    items = _read(INSTAGRAM)
    posts = [i for i in items if isinstance(i, PostRecord)]
    assert [p.platform_id for p in posts] == ["CcXy1Ab2Cd3", "CcXz9Ef8Gh7", "CcAa0Zz9Yy8"]
    first = posts[0]
    assert first.platform == "instagram" and first.account.platform_id == "sahel.verite"
    assert first.hashtags == ["Gossi", "Mali"] and first.mentions == ["malidebout"]
    assert first.links == []  # the post's own link is not something it shares
    assert first.media[0].source_url.startswith("https://scontent-cdg2-1.cdninstagram.com/")
    assert first.created_at == datetime(2022, 4, 22, 8, 0, 40, tzinfo=UTC)
    assert [p.followers_count for p in items if isinstance(p, ProfileRecord)] == [12004, 2340, 2340]


def test_import_recognises_each_export_and_keys_links_and_image_texts(
    run_cli: CliRun, store: Store
) -> None:
    run_cli("case", "new", "c")
    out = run_cli("import", str(PAGES), str(GROUPS), str(INSTAGRAM), "--case", "c")
    assert "Facebook export (40 columns) (crowdtangle)" in out.stderr
    assert "Facebook export (historical data) (crowdtangle)" in out.stderr
    assert "Instagram export (13 columns) (crowdtangle)" in out.stderr
    pages = PAGE_ROWS - 1
    assert f"{pages} new posts" in out.stdout and "4 new posts" in out.stdout
    again = run_cli("import", "crowdtangle", str(PAGES), "--case", "c")
    assert f"0 new posts, {pages} already known" in again.stdout
    with store.reader() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == pages + 4 + 3
        image_texts = (
            s.execute(select(SharedObject.key).where(SharedObject.modality == "image_text"))
            .scalars()
            .all()
        )
        urls = set(
            s.execute(select(SharedObject.key).where(SharedObject.modality == "url")).scalars()
        )
        snapshot = s.execute(
            select(AccountSnapshot).join(Account).where(Account.handle == "MaliDebout223")
        ).scalar_one()
        photos = s.execute(select(PostMedia.source_url)).scalars().all()
        run = s.execute(select(CollectionRun).order_by(CollectionRun.id)).scalars().first()
    assert len(image_texts) == 1  # the same meme, whatever its case
    assert "https://sahel-verite.example/gossi-charnier" in urls
    assert snapshot.followers_count == 1877 and snapshot.extra["page_category"] == "COMMUNITY"
    assert len(photos) == 3 and run is not None and run.platform == "crowdtangle"
    # the last row, after the header, the rows before it and the video's two-line message
    assert run.errors == [
        f"line {PAGE_ROWS + 2}: Post Created: unknown time zone 'XYZT' in '2022-04-24 08:00:00 XYZT'"
    ]


def test_pages_sharing_links_and_a_meme_are_a_group(run_cli: CliRun) -> None:
    run_cli("case", "new", "c")
    run_cli("import", str(PAGES), str(GROUPS), "--case", "c")
    out = run_cli("analyze", "coordination", "--case", "c", "--window", "300").stdout
    assert "  image_text: 10 pairs" in out and "  url: " in out
    assert "1 coordinated group(s)" in out
    findings = [
        json.loads(line)
        for line in run_cli("export", "findings", "--case", "c").stdout.splitlines()
    ]
    (group,) = [f for f in findings if f["kind"] == "coordinated_group"]
    handles = {a["handle"] for a in group["accounts"]}
    assert "SahelVerite" in handles
    assert not handles & {"ActuAfrique", "radiobamakofm"}


def test_missing_columns_are_named(run_cli: CliRun, tmp_path: Path) -> None:
    bad = tmp_path / "export.csv"
    bad.write_text("Page Name,User Name,Facebook Id,Message\nA,a,1,hello\n")
    run_cli("case", "new", "c")
    result = run_cli("import", "crowdtangle", str(bad), "--case", "c", expect=2)
    assert "missing column(s) URL, Post Created" in result.stderr
    assert "found: Page Name, User Name, Facebook Id, Message" in result.stderr
    assert "expected: Page Name, User Name, Facebook Id, Page Category" in result.stderr
