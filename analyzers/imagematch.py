"""Is this the same picture? Candidate pairs from hash indexes, then a decision per pair.

Stage 1 (``candidate_pairs``) finds pairs cheaply with ``analyzers.neardup``: whole-image
pHash and dHash within ``radius`` bits (plain and border-trimmed variants, against each
other's mirrors too), and a picture's whole-image hash within ``GRID_RADIUS`` of one of the
other's sub-window hashes (a crop looks like a window of its original).

Stage 2 (``compare``) runs only on those candidates and decides with both hashes together.
Thresholds come from the corpus of tests/analyzers/test_image_quality.py (18 real photographs
and 4 drawings, each with 19 edited copies: 92,400 pairs of different pictures). In bits of 64:

- same picture, whole image (recompress q30, resize to 25-50%, caption, mirror, letterbox after
  trimming, brightness +30%): worst pHash/dHash seen 12/2 (caption), 10/9 (brightness), 6/7
  (letterbox); different pictures: closest 16/12 (sum 28), smallest pHash 14. Whole-image rule:
  ``pHash <= WHOLE_MAX_PHASH (12) and pHash + dHash <= WHOLE_MAX_SUM (20)``.
- crops against sub-windows: 10% crops at random positions mostly within 8+8; different
  pictures never closer than 14/11 (sum 25), smallest pHash 12. Crop rule:
  ``pHash <= GRID_MAX_PHASH (10) and pHash + dHash <= GRID_MAX_SUM (18)``.

Both rules demand agreement of two independent hashes, which is what keeps flat or textured
pictures (whose dHash alone collides easily) apart. Results on that corpus: recall 1.0 for
recompression, resizing, captions, mirrors, letterboxes and brightness; 0.99 for 10% crops,
0.83 for 25% crops, 0.44 for 5-degree rotations; no false match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from osint.analyzers import neardup
from osint.analyzers.perceptual import GRID_ANCHORS, GRID_SCALES, GRID_VARIANT, hamming

WHOLE_MAX_PHASH = 12
WHOLE_MAX_SUM = 20
GRID_MAX_PHASH = 10
GRID_MAX_SUM = 18
DEFAULT_RADIUS = 10  # stage-1 radius for whole-image pHash/dHash candidates
GRID_RADIUS = 8  # stage-1 radius between a whole image and another's sub-windows
TRIM_MARGIN = 6  # bits a border-trimmed pairing must gain to be preferred (and say "letterboxed")
# A sub-window this close while another is OVERLAY_LOCAL_CHANGE away: part of the picture was
# painted over (caption, sticker, logo). A hint, not proof: on the test corpus it names 11 of 18
# captions and none of 54 recompressed, resized or brightened copies (their worst window: 8).
# From this pHash + dHash distance on, a whole-image or crop match is a "gray zone" match that the
# local stage checks (analyzers.localmatch): two shots of one scene (scikit-image's stereo pair,
# 4 + 9) or two different photos in one app's screenshot frame (8 + 9) come that close, while a
# recompressed or resized copy stays below (tuning photos of localmatch, seeds 0-1).
GRAY_ZONE_SUM = 8
OVERLAY_LOCAL_MATCH = 4
OVERLAY_LOCAL_CHANGE = 10
_WINDOWS_PER_SCALE = GRID_ANCHORS * GRID_ANCHORS


@dataclass(frozen=True)
class HashPair:
    phash: int
    dhash: int


@dataclass(frozen=True)
class ImageFingerprint:
    """The hashes of one stored image (see analyzers.images for the variants)."""

    media_id: int
    plain: HashPair
    mirror: HashPair
    grid_phash: tuple[int, ...]
    grid_dhash: tuple[int, ...]
    trim: HashPair | None = None
    trim_mirror: HashPair | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None

    @classmethod
    def from_hex(
        cls,
        media_id: int,
        hashes: Mapping[tuple[str, str], str],
        *,
        width: int | None = None,
        height: int | None = None,
        sha256: str | None = None,
    ) -> ImageFingerprint:
        """Build from ``{(algorithm, variant): hex}`` as analyzers.images produces it."""

        def pair(variant: str) -> HashPair | None:
            if ("phash", variant) not in hashes:
                return None
            return HashPair(
                int(hashes[("phash", variant)], 16), int(hashes[("dhash", variant)], 16)
            )

        def grid(algorithm: str) -> tuple[int, ...]:
            text = hashes[(algorithm, GRID_VARIANT)]
            return tuple(int(text[i : i + 16], 16) for i in range(0, len(text), 16))

        plain, mirror = pair("orig"), pair("mirror")
        if plain is None or mirror is None:
            raise ValueError(f"media {media_id}: plain and mirror hashes are required")
        return cls(
            media_id,
            plain,
            mirror,
            grid("phash"),
            grid("dhash"),
            pair("trim"),
            pair("trim_mirror"),
            width,
            height,
            sha256,
        )

    @property
    def informative(self) -> bool:
        """False for blank (uniform) pictures, whose pHash is 0: they all look alike."""
        return self.plain.phash != 0

    def upright(self) -> list[tuple[str, HashPair]]:
        return [("orig", self.plain)] + ([("trim", self.trim)] if self.trim else [])

    def mirrored(self) -> list[tuple[str, HashPair]]:
        found = [("mirror", self.mirror)]
        return found + ([("trim_mirror", self.trim_mirror)] if self.trim_mirror else [])


@dataclass(frozen=True)
class ImageMatch:
    """Two images judged to be the same picture, and how they relate.

    ``relation`` is ``whole`` (same framing, maybe mirrored or letterboxed) or ``crop``
    (``cropped_id`` is a crop of the other). Distances are in bits of 64.
    """

    left_id: int
    right_id: int
    relation: str
    phash_distance: int
    dhash_distance: int
    mirrored: bool = False
    trimmed: bool = False
    cropped_id: int | None = None
    window: int | None = None


def candidate_pairs(
    prints: Sequence[ImageFingerprint], radius: int = DEFAULT_RADIUS
) -> set[tuple[int, int]]:
    """Index pairs (i < j) into ``prints`` worth comparing; never all n^2 of them."""
    found: set[tuple[int, int]] = set()
    for algorithm in ("phash", "dhash"):
        found |= _whole_candidates(prints, algorithm, radius)
        found |= _grid_candidates(prints, algorithm, min(radius, GRID_RADIUS))
    return found


def _whole_candidates(
    prints: Sequence[ImageFingerprint], algorithm: str, radius: int
) -> set[tuple[int, int]]:
    values, owners, flipped = [], [], []
    for position, fingerprint in enumerate(prints):
        for is_mirror, variants in ((False, fingerprint.upright()), (True, fingerprint.mirrored())):
            for _, pair in variants:
                values.append(getattr(pair, algorithm))
                owners.append(position)
                flipped.append(is_mirror)
    if len(values) < 2:
        return set()
    owner, mirror = np.array(owners), np.array(flipped)
    pairs = neardup.near_duplicate_pairs(np.array(values, dtype=np.uint64), radius)
    left, right = owner[pairs.left], owner[pairs.right]
    keep = (left != right) & ~(mirror[pairs.left] & mirror[pairs.right])
    return _ordered(left[keep], right[keep])


def _grid_candidates(
    prints: Sequence[ImageFingerprint], algorithm: str, radius: int
) -> set[tuple[int, int]]:
    grids = [getattr(fingerprint, f"grid_{algorithm}") for fingerprint in prints]
    if len(grids) < 2:
        return set()
    wholes = np.array([grid[0] for grid in grids], dtype=np.uint64)
    windows = np.array([value for grid in grids for value in grid[1:]], dtype=np.uint64)
    window_owner = np.repeat(np.arange(len(grids)), [len(grid) - 1 for grid in grids])
    pairs = neardup.pairs_between(wholes, windows, radius)
    left, right = pairs.left, window_owner[pairs.right]
    keep = left != right
    return _ordered(left[keep], right[keep])


def _ordered(left: np.ndarray, right: np.ndarray) -> set[tuple[int, int]]:
    low, high = np.minimum(left, right), np.maximum(left, right)
    return set(zip(low.tolist(), high.tolist(), strict=True))


def compare(left: ImageFingerprint, right: ImageFingerprint) -> ImageMatch | None:
    """The best explanation of ``right`` as a copy of ``left``, or None if they differ."""
    if not (left.informative and right.informative):
        return None
    whole = _best_whole(left, right)
    if whole and not _acceptable_whole(whole):
        whole = None
    crop = _best_crop(left, right)
    if crop and (crop.phash_distance > GRID_MAX_PHASH or _total(crop) > GRID_MAX_SUM):
        crop = None
    if whole and crop:  # both fit: the closer explanation says what was done
        return crop if _total(crop) < _total(whole) else whole
    return whole or crop


def in_gray_zone(match: ImageMatch) -> bool:
    """Close enough to be judged the same picture, not so close that pixels need no look."""
    return _total(match) >= GRAY_ZONE_SUM


def is_frame_match(match: ImageMatch) -> bool:
    """The two whole frames correspond (no crop, no letterbox trimmed off)."""
    return match.relation == "whole" and not match.trimmed


def _total(match: ImageMatch) -> int:
    return match.phash_distance + match.dhash_distance


def _best_whole(left: ImageFingerprint, right: ImageFingerprint) -> ImageMatch | None:
    """Closest whole-image relation; a trimmed pairing must beat the untrimmed by TRIM_MARGIN.

    The margin keeps an ordinary copy of a picture with a flat sky or dark edge (which trimming
    also cuts) from being reported as "letterboxed".
    """
    untrimmed: ImageMatch | None = None
    trimmed: ImageMatch | None = None
    for left_name, left_pair in left.upright():
        for is_mirror, variants in ((False, right.upright()), (True, right.mirrored())):
            for right_name, right_pair in variants:
                uses_trim = "trim" in left_name or "trim" in right_name
                match = ImageMatch(
                    left.media_id,
                    right.media_id,
                    "whole",
                    hamming(left_pair.phash, right_pair.phash),
                    hamming(left_pair.dhash, right_pair.dhash),
                    mirrored=is_mirror,
                    trimmed=uses_trim,
                )
                if uses_trim:
                    trimmed = _closer(trimmed, match)
                else:
                    untrimmed = _closer(untrimmed, match)
    if trimmed is None or untrimmed is None:
        return untrimmed or trimmed
    if _total(trimmed) + TRIM_MARGIN <= _total(untrimmed) or not _acceptable_whole(untrimmed):
        return trimmed
    return untrimmed


def _closer(best: ImageMatch | None, match: ImageMatch) -> ImageMatch:
    if best is None or (_total(match), match.phash_distance) < (_total(best), best.phash_distance):
        return match
    return best


def _acceptable_whole(match: ImageMatch) -> bool:
    return match.phash_distance <= WHOLE_MAX_PHASH and _total(match) <= WHOLE_MAX_SUM


def _best_crop(left: ImageFingerprint, right: ImageFingerprint) -> ImageMatch | None:
    best: ImageMatch | None = None
    for source, copy in ((left, right), (right, left)):
        windows_p = np.array(source.grid_phash[1:], dtype=np.uint64)
        windows_d = np.array(source.grid_dhash[1:], dtype=np.uint64)
        p = np.bitwise_count(windows_p ^ np.uint64(copy.grid_phash[0])).astype(int)
        d = np.bitwise_count(windows_d ^ np.uint64(copy.grid_dhash[0])).astype(int)
        k = int(np.argmin((p + d) * 64 + p))
        if best is None or (p[k] + d[k], p[k]) < (_total(best), best.phash_distance):
            best = ImageMatch(
                left.media_id,
                right.media_id,
                "crop",
                int(p[k]),
                int(d[k]),
                cropped_id=copy.media_id,
                window=k + 1,
            )
    return best


def transforms_between(
    source: ImageFingerprint, copy: ImageFingerprint, match: ImageMatch
) -> tuple[str, ...]:
    """What was done to ``source`` to get ``copy``, as far as the hashes and sizes tell."""
    if source.sha256 and source.sha256 == copy.sha256:
        return ("identical",)
    found: list[str] = []
    if match.mirrored:
        found.append("mirrored")
    if match.trimmed:
        found.append("letterboxed")
    if match.relation == "crop":
        scale = GRID_SCALES[(match.window - 1) // _WINDOWS_PER_SCALE] if match.window else None
        found.append("cropped" if scale is None else f"cropped (~{round((1 - scale) * 100)}%)")
    elif not match.mirrored and not match.trimmed and _locally_changed(source, copy):
        found.append("captioned/overlay")
    if _resized(source, copy) and match.relation == "whole" and not match.trimmed:
        found.append("resized")
    if not found or found == ["resized"]:
        found.append("recompressed")
    return tuple(found)


def _locally_changed(source: ImageFingerprint, copy: ImageFingerprint) -> bool:
    """Some sub-windows still match while others changed a lot: part was painted over."""
    window_distances = [
        hamming(a, b) for a, b in zip(source.grid_phash[1:], copy.grid_phash[1:], strict=False)
    ]
    if not window_distances:
        return False
    return (
        min(window_distances) <= OVERLAY_LOCAL_MATCH
        and max(window_distances) >= OVERLAY_LOCAL_CHANGE
    )


def _resized(source: ImageFingerprint, copy: ImageFingerprint) -> bool:
    if not (source.width and source.height and copy.width and copy.height):
        return False
    return abs(copy.width / source.width - 1) > 0.02 or abs(copy.height / source.height - 1) > 0.02


def find_matches(
    prints: Sequence[ImageFingerprint], radius: int = DEFAULT_RADIUS
) -> list[ImageMatch]:
    """Every pair of ``prints`` judged to be the same picture (stage 1, then stage 2).

    Blank pictures (``informative`` False) are never matched.
    """
    prints = [fingerprint for fingerprint in prints if fingerprint.informative]
    matches = []
    for i, j in sorted(candidate_pairs(prints, radius)):
        match = compare(prints[i], prints[j])
        if match is not None:
            matches.append(match)
    return matches
