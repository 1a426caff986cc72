"""Quality of global hashes + local features on edits the hashes alone miss (issue 20).

Thresholds of analyzers.localmatch were chosen on ``TUNING_PHOTOS`` with seeds 0-1; this test
reports on other photographs and seed 100, never used for choosing. Recall per edit = share
of (original, copy) pairs judged the same picture by either stage; false merges = same-picture
pairs between images of different photographs (every image is a query of the local index, so
this checks far more than the pairs a case would try). Run with ``pytest -s`` for the table.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from osint.analyzers import localmatch
from osint.analyzers.imagematch import ImageFingerprint, find_matches
from osint.analyzers.images import hash_image
from osint.synth import photos

HELD_OUT = ("coins", "retina", "clock_motion", "china", "flower", "grace_hopper")
SEED = 100
# Measured here 0.83-1.0 per edit, 63 of 66 copies (module docstring of analyzers.localmatch);
# goal 0.95. With 6 copies per edit a bar above 0.67 means 5 of 6: the same on every run (OpenCV's
# USAC and FLANN use fixed seeds), so no margin is kept per edit, one copy is kept overall.
MIN_RECALL = 0.8
MIN_TOTAL_RECALL = 0.93


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str, bytes]]:
    items = []
    for name in HELD_OUT:
        image = photos.load_any_photo(name)
        items.append((name, "original", photos.encode(image, quality=95)))
        for edit, copies in photos.local_copies(image, SEED).items():
            items += [(name, edit, data) for data in copies]
    return items


@pytest.fixture(scope="module")
def same_picture(corpus) -> set[tuple[int, int]]:
    prints, features = [], {}
    for media_id, (_, _, data) in enumerate(corpus):
        record = hash_image(data)
        prints.append(ImageFingerprint.from_hex(media_id, record.hashes))
        outcome = localmatch.extract_features(media_id, data)
        assert outcome.features is not None, outcome.note
        features[media_id] = outcome.features
    found = {(m.left_id, m.right_id) for m in find_matches(prints)}
    local = localmatch.match_locally(features, (), features)
    found |= {
        (min(m.left_id, m.right_id), max(m.left_id, m.right_id))
        for m in local
        if m.relation == "same_picture"
    }
    return found


def test_recall_per_edit_and_no_false_merge(corpus, same_picture) -> None:
    original = {name: i for i, (name, edit, _) in enumerate(corpus) if edit == "original"}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, (name, edit, _) in enumerate(corpus):
        if edit != "original":
            counts[edit][0] += tuple(sorted((original[name], i))) in same_picture
            counts[edit][1] += 1
    false = [(a, b) for a, b in same_picture if corpus[a][0] != corpus[b][0]]
    print()
    for edit, (hit, total) in counts.items():
        print(f"{edit:16s} {hit / total:.2f} ({hit}/{total})")
    print(f"false merges: {len(false)}")
    assert false == []
    low = {edit: hit / total for edit, (hit, total) in counts.items() if hit / total < MIN_RECALL}
    assert low == {}
    hits, copies = (sum(c[i] for c in counts.values()) for i in (0, 1))
    assert hits / copies >= MIN_TOTAL_RECALL, f"{hits} of {copies}"


def test_stereo_pair_is_same_scene_not_same_picture() -> None:
    left = localmatch.extract_features(1, photos.encode(photos.load_photo("motorcycle_left")))
    right = localmatch.extract_features(2, photos.encode(photos.load_photo("motorcycle_right")))
    assert left.features is not None and right.features is not None
    match = localmatch.verify_pair(left.features, right.features)
    assert match is not None and match.relation == "same_scene"


def test_screenshot_match_carries_region_and_transform() -> None:
    image = photos.load_any_photo("china")
    shot = photos.local_copies(image, SEED)["screenshot"][0]
    left = localmatch.extract_features(1, photos.encode(image)).features
    right = localmatch.extract_features(2, shot).features
    assert left is not None and right is not None
    match = localmatch.verify_pair(left, right)
    assert match is not None and match.relation == "same_picture"
    assert 0.3 < match.fill_right < 0.8 and match.fill_left > 0.9
    assert abs(match.rotation_deg) < 2 and len(match.region_right) >= 4
    assert "% of this image, rotated 0 deg" in match.describe(2)
