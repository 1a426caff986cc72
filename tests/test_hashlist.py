"""``osint export hashlist`` and ``osint match hashlist``: one case's pictures found in another's."""

from __future__ import annotations

import csv
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from osint.analysis.images_pass import analyze_images
from osint.cases import create_case
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import Finding, FindingEvidence, Media
from osint.synth import photos
from tests.conftest import CliRun
from tests.factories import make_account, make_media_ref, make_post

T0 = datetime(2022, 4, 21, 8, 14, tzinfo=UTC)


def add_case(store: Store, name: str, pictures: dict[str, bytes], handle: str) -> None:
    """A case whose account posts each picture once, an hour apart, with a post URL."""
    case = create_case(store, name)
    account = make_account(handle=handle)
    with store.session() as session:
        writer = CaseWriter(session, case.id, source="test")
        posts = []
        for hour, data in enumerate(pictures.values()):
            sha = store.media.put(data).sha256
            writer.media(sha256=sha, size=len(data))
            post = make_post(
                account, created_at=T0 + timedelta(hours=hour), media=[make_media_ref(sha256=sha)]
            )
            post.url = f"https://x.com/{handle}/status/{1000 + hour}"
            posts.append(post)
        writer.posts(posts)


@pytest.fixture
def two_cases(store: Store) -> dict[str, bytes]:
    rocket, coffee = photos.load_photo("rocket"), photos.load_photo("coffee")
    known = {"rocket": photos.encode(rocket), "coffee": photos.encode(coffee)}
    new = {
        "rocket_mirror_small": photos.encode(photos.resize(photos.mirror(rocket), 0.5), 60),
        "astronaut": photos.encode(photos.load_photo("astronaut")),
        "camera": photos.encode(photos.load_photo("camera")),
    }
    add_case(store, "staged", known, "src")
    add_case(store, "new", new, "amp")
    return known | new


def test_export_then_match_another_case(
    run_cli: CliRun, store: Store, two_cases: dict[str, bytes], tmp_path: Path
) -> None:
    listed = tmp_path / "staged.pdq.csv"
    refused = run_cli("export", "hashlist", "--case", "staged", "--out", str(listed), expect=None)
    assert refused.exit_code != 0 and "--pdq" in refused.output  # no PDQ hashes yet
    for case in ("staged", "new"):
        analyze_images(store, case=case, workers=1, pdq=True)
    run_cli("export", "hashlist", "--case", "staged", "--out", str(listed))
    with listed.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["signal_type"] for r in rows] == ["pdq", "pdq"]
    shas = {hashlib.sha256(two_cases[k]).hexdigest() for k in ("rocket", "coffee")}
    assert {r["sha256"] for r in rows} == shas
    assert {r["first_post_url"] for r in rows} == {
        "https://x.com/src/status/1000",
        "https://x.com/src/status/1001",
    }
    assert {r["collab"] for r in rows} == {"staged"} and rows[0]["accounts"] == "x/src"
    assert all(r["category"] == "INVESTIGATION_SEED" for r in rows)

    # someone else's list: our export plus hostile and malformed lines
    text = listed.read_text(encoding="utf-8").splitlines()
    header, first = text[0], text[1]
    hostile = first.replace(",staged,", ',"<script>alert(1)</script>",', 1)
    listed.write_text(
        "\r\n".join([header, "pdq,zz,x,,", hostile, "pdq,1,2,3,4,5,6,7,8,9"]) + "\r\n"
    )
    result = run_cli("match", "hashlist", str(listed), "--case", "new")
    assert "line 2: not a PDQ hash" in result.stderr and "line 4: 10 cells" in result.stderr
    assert "1 of 3 pictures match" in result.stdout
    with store.reader() as s:
        findings = s.execute(select(Finding).where(Finding.analysis == "hashlist")).scalars().all()
        (finding,) = findings
        cited = s.execute(
            select(FindingEvidence.media_id, FindingEvidence.post_id).where(
                FindingEvidence.finding_id == finding.id
            )
        ).all()
        sha_of = dict(s.execute(select(Media.id, Media.sha256)).all())
    mirrored = hashlib.sha256(two_cases["rocket_mirror_small"]).hexdigest()
    assert {sha_of[m] for m, _ in cited if m} == {mirrored}
    assert any(post for _, post in cited)
    entry = finding.details["entries"][0]
    assert entry["mirrored"] and entry["distance"] <= 31 and entry["line"] == 3
    assert entry["collab"] == "<script>alert(1)</script>"  # stored as given ...
    report = tmp_path / "report.html"
    run_cli("report", "--case", "new", "-o", str(report))
    html = report.read_text(encoding="utf-8")
    assert "hash list" in html and "<script>alert(1)" not in html  # ... escaped where shown


def test_match_reports_a_missing_list(run_cli: CliRun, two_cases: dict[str, bytes]) -> None:
    result = run_cli("match", "hashlist", "/nonexistent/list.csv", "--case", "new", expect=None)
    assert result.exit_code != 0 and "cannot read the hash list" in result.output
