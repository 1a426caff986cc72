"""Clusters of one picture across accounts, first poster, transforms, and the findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from osint.analyzers.findings import EvidenceRef
from osint.analyzers.imagematch import ImageFingerprint
from osint.analyzers.imagereuse import ImageUsage, cluster_images, image_findings
from osint.analyzers.images import hash_image
from osint.synth import photos

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def fingerprint(media_id: int, data: bytes, sha: str | None = None) -> ImageFingerprint:
    record = hash_image(data)
    return ImageFingerprint.from_hex(
        media_id,
        record.hashes,
        width=record.width,
        height=record.height,
        sha256=sha or f"sha{media_id}",
    )


@pytest.fixture(scope="module")
def case() -> tuple[list[ImageFingerprint], list[ImageUsage]]:
    rocket, cat, face = (photos.load_photo(n) for n in ("rocket", "chelsea", "astronaut"))
    prints = [
        fingerprint(1, photos.encode(rocket)),  # original, posted first by account 10
        fingerprint(2, photos.encode(photos.caption(photos.resize(rocket, 0.5)))),
        fingerprint(3, photos.encode(photos.mirror(rocket), quality=40)),
        fingerprint(4, photos.encode(photos.crop(rocket, 0.1, 0.3, 0.6))),
        fingerprint(5, photos.encode(cat)),  # unrelated picture, one account
        fingerprint(6, photos.encode(face)),  # avatar
        fingerprint(7, photos.encode(photos.resize(face, 0.25))),  # same avatar, smaller
    ]
    usages = [
        ImageUsage(2, 11, "x", T0 + timedelta(days=3), post_id=102, account_label="@b"),
        ImageUsage(1, 10, "x", T0, post_id=101, account_label="@a"),
        ImageUsage(3, 12, "telegram", T0 + timedelta(days=3, hours=1), post_id=103),
        ImageUsage(4, 13, "x", T0 + timedelta(days=4), post_id=104),
        ImageUsage(5, 10, "x", T0 + timedelta(days=1), post_id=105),
        ImageUsage(6, 11, "x", None),
        ImageUsage(6, 12, "telegram", None),
        ImageUsage(7, 13, "bluesky", None),
    ]
    return prints, usages


def test_clusters_group_copies_in_time_order(case) -> None:
    clusters = cluster_images(*case)
    by_members = {tuple(sorted(m.media_id for m in c.members)): c for c in clusters}
    assert set(by_members) == {(1, 2, 3, 4), (6, 7)}
    rocket = by_members[(1, 2, 3, 4)]
    assert rocket.number == 1 and rocket.representative_id == 1
    assert [u.post_id for u in rocket.usages] == [101, 102, 103, 104]
    assert rocket.accounts() == [10, 11, 12, 13]
    transforms = {m.media_id: m.transforms for m in rocket.members}
    assert "mirrored" in transforms[3]
    assert any(t.startswith("cropped") for t in transforms[4])
    assert "resized" in transforms[2] and "captioned/overlay" in transforms[2]
    assert transforms[1] == ("original",)


def test_findings_cite_accounts_posts_and_media(case) -> None:
    drafts = image_findings(cluster_images(*case))
    kinds = sorted(d.kind for d in drafts)
    assert kinds == ["avatar_reuse", "image_recycled", "image_reuse"]
    reuse = next(d for d in drafts if d.kind == "image_reuse")
    assert reuse.accounts == (10, 11, 12, 13) and reuse.posts == (101, 102, 103, 104)
    assert reuse.roles[EvidenceRef.account(10)] == "first_poster" and "@a" in reuse.explanation
    assert "4 accounts" in reuse.title and "across platforms" in reuse.title
    avatar = next(d for d in drafts if d.kind == "avatar_reuse")
    assert avatar.accounts == (11, 12, 13) and avatar.posts == () and set(avatar.media) == {6, 7}
    recycled = next(d for d in drafts if d.kind == "image_recycled")
    assert recycled.posts == (101, 102, 103, 104)  # the earliest copy, then the later posts


def test_event_start_decides_what_predates_the_event(case) -> None:
    clusters = cluster_images(*case)
    before = image_findings(clusters, event_start=T0 + timedelta(days=2))
    recycled = next(d for d in before if d.kind == "image_recycled")
    assert recycled.score == 0.7 and "before the event began" in recycled.explanation
    after = image_findings(clusters, event_start=T0 - timedelta(days=1))
    assert not [d for d in after if d.kind == "image_recycled"]


def test_one_file_used_by_two_accounts_is_a_cluster() -> None:
    data = photos.encode(photos.load_photo("coffee"))
    usages = [ImageUsage(1, 1, "x", T0, post_id=1), ImageUsage(1, 2, "x", T0, post_id=2)]
    clusters = cluster_images([fingerprint(1, data)], usages)
    assert len(clusters) == 1 and clusters[0].accounts() == [1, 2]
    assert image_findings(clusters)[0].kind == "image_reuse"


def test_blank_pictures_are_not_matched() -> None:
    """Uniform pictures hash alike; they must not make a reuse cluster."""
    from PIL import Image

    colours = ("white", "black", "#808080", "#2050a0")
    blanks = [Image.new("RGB", (300, 200), colour) for colour in colours]
    prints = [fingerprint(n, photos.encode(im)) for n, im in enumerate(blanks, start=1)]
    assert not any(p.informative for p in prints)
    assert fingerprint(9, photos.encode(photos.load_photo("hubble_deep_field"))).informative
    usages = [ImageUsage(p.media_id, p.media_id, "x", T0, post_id=p.media_id) for p in prints]
    assert cluster_images(prints, usages) == []
