"""Quality table: real photographs and edited copies made here, matched with our pipeline.

Recall per edit = share of (original, copy) pairs judged the same picture directly.
False matches = pairs of images from different photographs judged the same (must be 0),
counted over every pair of the whole set (originals, copies and the drawings).
Run with ``pytest -s`` to see the table.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import pytest

from osint.analyzers.imagematch import ImageFingerprint, compare, find_matches
from osint.analyzers.images import hash_image
from osint.synth import photos

MUST_BE_PERFECT = ("recompress_q30", "resize_25", "resize_50", "caption", "mirror", "letterbox_15")


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str, ImageFingerprint]]:
    """(source photo, edit name, fingerprint) for every original and copy."""
    items: list[tuple[str, str, ImageFingerprint]] = []
    for seed, name in enumerate(photos.PHOTO_NAMES + photos.GRAPHIC_NAMES):
        image = photos.load_photo(name)
        variants = [("original", photos.encode(image, quality=95))]
        variants += [
            (edit, data)
            for edit, samples in photos.derived_copies(image, seed).items()
            for data in samples
        ]
        for edit, data in variants:
            record = hash_image(data)
            assert record.ok, (name, edit, record.note)
            fingerprint = ImageFingerprint.from_hex(
                len(items), record.hashes, width=record.width, height=record.height
            )
            items.append((name, edit, fingerprint))
    return items


@pytest.fixture(scope="module")
def matched_pairs(corpus: list[tuple[str, str, ImageFingerprint]]) -> set[tuple[int, int]]:
    prints = [fingerprint for _, _, fingerprint in corpus]
    return {(m.left_id, m.right_id) for m in find_matches(prints)}


def recall_by_edit(corpus, matched_pairs) -> dict[str, tuple[int, int]]:
    originals = {name: fp.media_id for name, edit, fp in corpus if edit == "original"}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, edit, fingerprint in corpus:
        if edit == "original" or name not in photos.PHOTO_NAMES:
            continue
        pair = tuple(sorted((originals[name], fingerprint.media_id)))
        counts[edit][0] += pair in matched_pairs
        counts[edit][1] += 1
    return {edit: (hit, total) for edit, (hit, total) in counts.items()}


def test_quality_table(corpus, matched_pairs) -> None:
    source = {fp.media_id: name for name, _, fp in corpus}
    false = [(a, b) for a, b in matched_pairs if source[a] != source[b]]
    recall = recall_by_edit(corpus, matched_pairs)
    different = sum(1 for a, b in itertools.combinations(corpus, 2) if a[0] != b[0])
    print(f"\n{'edit':16s} recall")
    for edit, (hit, total) in recall.items():
        print(f"{edit:16s} {hit / total:.2f} ({hit}/{total})")
    print(f"false matches: {len(false)} among {different} pairs of different pictures")
    assert false == []
    for edit in MUST_BE_PERFECT:
        assert recall[edit][0] == recall[edit][1], edit
    assert recall["crop_10"][0] / recall["crop_10"][1] >= 0.9


def test_stage_one_finds_every_pair_stage_two_accepts(corpus, matched_pairs) -> None:
    """The candidate search loses nothing: brute-force compare() finds no extra match."""
    prints = [fp for _, _, fp in corpus if fp.media_id % 3 == 0]  # a third keeps it fast
    brute = {
        (a.media_id, b.media_id) for a, b in itertools.combinations(prints, 2) if compare(a, b)
    }
    sample = {pair for pair in matched_pairs if pair[0] % 3 == 0 and pair[1] % 3 == 0}
    assert brute == sample
