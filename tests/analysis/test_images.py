"""``osint analyze images`` and ``osint export images`` on a small case (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from osint.analysis.images_pass import analyze_images, export_images
from osint.cases import create_case
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.storage.models import Finding, FindingEvidence, ImageClusterMember, ImageHash, Media
from osint.synth import photos
from tests.factories import make_account, make_media_ref, make_post, make_profile

T0 = datetime(2022, 4, 21, 8, 14, tzinfo=UTC)


def _pictures() -> dict[str, bytes]:
    rocket, face = photos.load_photo("rocket"), photos.load_photo("astronaut")
    return {
        "rocket": photos.encode(rocket),
        "rocket_caption": photos.encode(photos.caption(rocket)),
        "rocket_mirror": photos.encode(photos.mirror(rocket), quality=50),
        "coffee": photos.encode(photos.load_photo("coffee")),
        "html": b"<!DOCTYPE html><html><body>429 Too Many Requests</body></html>",
        "missing": photos.encode(photos.load_photo("camera")),  # never put in the store
        "face": photos.encode(face),
        "face_small": photos.encode(photos.resize(face, 0.4)),
    }


@pytest.fixture
def case(store: Store) -> dict[str, int]:
    """Four accounts; a picture posted by three of them; a shared avatar; two bad files."""
    create_case(store, "c1")
    pictures = _pictures()
    shas = {key: hashlib.sha256(data).hexdigest() for key, data in pictures.items()}
    for key, data in pictures.items():
        if key != "missing":
            store.media.put(data)
    users = {name: make_account(handle=name) for name in ("src", "amp1", "amp2", "late")}
    users["amp2"].platform = "telegram"
    posts = [
        ("src", "rocket", T0),
        ("amp1", "rocket_caption", T0 + timedelta(minutes=5)),
        ("amp2", "rocket_mirror", T0 + timedelta(days=3)),
        ("late", "coffee", T0 + timedelta(hours=1)),
        ("late", "html", T0 + timedelta(hours=2)),
        ("late", "missing", T0 + timedelta(hours=3)),
    ]
    with store.session() as session:
        writer = CaseWriter(session, 1, source="test")
        media = {k: writer.media(sha256=s, size=len(pictures[k])) for k, s in shas.items()}
        writer.posts(
            [
                make_post(
                    users[who],
                    platform=users[who].platform,
                    created_at=when,
                    media=[make_media_ref(sha256=shas[key])],
                )
                for who, key, when in posts
            ]
        )
        for who, key in (("amp1", "face"), ("amp2", "face_small")):
            writer.snapshot(
                make_profile(users[who]),
                captured_at=T0 + timedelta(days=10),  # collected after the posts
                capture_id=None,
                avatar_media_id=media[key],
            )
    return media


def count(store: Store, model: type) -> int:
    with store.reader() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_analysis_hashes_clusters_and_finds(store: Store, case: dict[str, int]) -> None:
    summary = analyze_images(store, case="c1", workers=2)
    assert (summary.images, summary.hashed_now, summary.unusable, summary.missing) == (8, 6, 1, 1)
    assert summary.clusters == 2 and summary.findings == 3
    assert any("not_image" in w and "HTML" in w for w in summary.warnings)
    assert any("missing from the media store" in w for w in summary.warnings)
    with store.reader() as session:
        bad = session.get(Media, case["html"])
        assert bad is not None and bad.status == "not_image" and "HTML" in (bad.note or "")
        members = session.execute(select(ImageClusterMember)).scalars().all()
        rocket = {m.media_id: m for m in members if m.cluster_no == 1}
        assert set(rocket) == {case["rocket"], case["rocket_caption"], case["rocket_mirror"]}
        assert rocket[case["rocket"]].representative
        assert "mirrored" in rocket[case["rocket_mirror"]].transforms
        kinds = dict(session.execute(select(Finding.kind, Finding.id)).all())
        assert set(kinds) == {"image_reuse", "avatar_reuse", "image_recycled"}
        roles = session.execute(
            select(FindingEvidence.role, FindingEvidence.account_id).where(
                FindingEvidence.finding_id == kinds["image_reuse"],
                FindingEvidence.role == "first_poster",
            )
        ).all()
        assert len(roles) == 1


def test_rerun_hashes_nothing_new_and_replaces_findings(store: Store, case: dict[str, int]) -> None:
    analyze_images(store, case="c1", workers=1)
    hashes = count(store, ImageHash)
    again = analyze_images(store, case="c1", workers=1)
    assert again.hashed_now == 0 and again.already_hashed == 6
    assert count(store, ImageHash) == hashes
    assert count(store, Finding) == 3


def test_export_lists_every_image(store: Store, case: dict[str, int]) -> None:
    analyze_images(store, case="c1", workers=1)
    out = io.StringIO()
    assert export_images(store, case="c1", fmt="jsonl", out=out) == 8
    rows = {row["media_id"]: row for row in map(json.loads, out.getvalue().splitlines())}
    rocket = rows[case["rocket_mirror"]]
    assert rocket["cluster"] == 1 and rocket["accounts"] == ["@amp2 (telegram)"]
    assert rows[case["rocket"]]["first_seen"].startswith("2022-04-21T08:14")
    assert rows[case["face"]]["avatar_of"] == ["@amp1 (x)"]
    assert rows[case["face"]]["first_seen"].startswith("2022-05-01T08:14")  # avatar capture
    assert len(rows[case["coffee"]]["phash"]) == 16
    out = io.StringIO()
    export_images(store, case="c1", fmt="csv", out=out)
    table = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(table) == 8 and table[0]["sha256"]


def test_cli_analyze_and_export(run_cli, store: Store, case: dict[str, int]) -> None:
    result = run_cli("analyze", "images", "--case", "c1", "--threshold", "8")
    assert "2 clusters of copies" in result.stdout and "3 findings" in result.stdout
    exported = run_cli("export", "images", "--case", "c1", "--format", "csv")
    assert exported.stdout.splitlines()[0].startswith("media_id,sha256,status")
    bad = run_cli("analyze", "images", "--case", "c1", "--threshold", "40", expect=None)
    assert bad.exit_code != 0 and "threshold" in bad.stderr
    missing = run_cli("analyze", "images", "--case", "nope", expect=None)
    assert missing.exit_code != 0


def test_pdq_flag(store: Store, case: dict[str, int]) -> None:
    from osint.analyzers.images import PDQ_AVAILABLE
    from osint.errors import InputError

    if not PDQ_AVAILABLE:
        with pytest.raises(InputError, match="pdqhash"):
            analyze_images(store, case="c1", pdq=True)
        return
    analyze_images(store, case="c1", workers=1)
    again = analyze_images(store, case="c1", workers=1, pdq=True)
    assert again.hashed_now == 6  # the same images, for their PDQ hashes only
    with store.reader() as session:
        pdq = session.execute(
            select(func.count()).select_from(ImageHash).where(ImageHash.algorithm == "pdq")
        ).scalar_one()
    assert pdq == 12  # plain and mirror for each usable image


def test_missing_grid_is_recomputed_without_duplicates(store: Store, case: dict[str, int]) -> None:
    """A grid layout change renames the variant: images lacking it are hashed again."""
    from sqlalchemy import delete

    from osint.analyzers.perceptual import GRID_VARIANT

    analyze_images(store, case="c1", workers=1)
    total = count(store, ImageHash)
    with store.session() as session:
        session.execute(
            delete(ImageHash).where(
                ImageHash.media_id == case["coffee"], ImageHash.variant == GRID_VARIANT
            )
        )
    again = analyze_images(store, case="c1", workers=1)
    assert again.hashed_now == 1 and count(store, ImageHash) == total


def test_cli_prints_local_matches_and_same_scene_pairs(run_cli, store: Store) -> None:
    """A screenshot of a photo (a copy the hashes miss) and two crops of a stereo pair."""
    create_case(store, "c2")
    chelsea = photos.load_photo("chelsea")
    left, right = photos.load_photo("motorcycle_left"), photos.load_photo("motorcycle_right")
    pictures = {
        "photo": photos.encode(chelsea),
        "shot": photos.local_copies(chelsea, 100)["screenshot"][0],
        "scene_left": photos.encode(photos.crop(left, 0.3, 0, 0.5)),
        "scene_right": photos.encode(photos.crop(right, 0.3, 1, 0.5)),
    }
    users = {name: make_account(handle=name) for name in ("a", "b", "c")}
    posts = [("a", "photo"), ("b", "shot"), ("a", "scene_left"), ("c", "scene_right")]
    with store.session() as session:
        writer = CaseWriter(session, 1, source="test")
        media = {}
        for key, data in pictures.items():
            sha = store.media.put(data).sha256
            media[key] = writer.media(sha256=sha, size=len(data))
        writer.posts(
            [
                make_post(
                    users[who],
                    created_at=T0 + timedelta(minutes=n),
                    media=[make_media_ref(sha256=hashlib.sha256(pictures[key]).hexdigest())],
                )
                for n, (who, key) in enumerate(posts)
            ]
        )
    out = run_cli("analyze", "images", "--case", "c2").stdout
    assert "local features found 1 copy the hashes missed" in out, out
    assert f"media {media['shot']} shows media {media['photo']}: the photo fills" in out
    scene = sorted((media["scene_left"], media["scene_right"]))
    assert "same scene, not the same picture" in out
    assert f"media {scene[0]} ~ media {scene[1]}" in out
