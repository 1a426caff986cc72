"""Photometric checks of a local match (``analyzers.localmatch``): do the pixels agree?

A homography found from keypoints says where one image would lie in the other. ``agreement``
warps each image's grey thumbnail onto the other and compares them cell by cell (``GRID`` cells
per side of the overlap): the share of textured cells that correlate (NCC >= ``AGREE_NCC``),
the smaller of the two frames' figures. A shared overlay (one meme template, app chrome or
caption on two different photos) gives many consistent keypoints, but only on the overlay: the
photos' own cells disagree, or one is textured where the other is blank.
Flat, disagreeing rows at the top or bottom (an added caption bar) are left out only if they are
a bar of one colour (``BAND_LEVELS``), at most ``MAX_TRIM_ROWS`` of them.

When the cells disagree, ``moved`` tells another shot of one scene from a different picture:
a disagreeing cell "moved" if it correlates strongly (>= ``MOVED_NCC``) with the other image a few
pixels away (``MAX_SHIFT``). Depth parallax moves the near objects of a stereo pair by a few
pixels against the plane the homography fits; a different photo's cell matches nothing nearby.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.linalg import inv

GRID = 12  # cells per side of the overlap
MIN_TEXTURE = 6.0  # grey-level std of a cell worth comparing
BLANK_TEXTURE = 3.0  # below this a cell is blank (flat colour and JPEG noise)
AGREE_NCC = 0.5
# rows of cells at the top and bottom together, left out as overlay bands: a 25 % caption bar
# and a partial row (6 let the disagreeing photo of a screenshot pass for a caption bar)
MAX_TRIM_ROWS = 4
BAND_TEXTURE = 0.85  # an overlay band's row: textured cells below this share in one image
BAND_LEVELS = 10.0  # grey levels: spread of an overlay band's flat cells (one bar colour)
MIN_CELLS = 24  # compared cells before agreement means anything
MAX_SHIFT = 10  # thumbnail px searched around a disagreeing cell for ``moved``
MOVED_NCC = 0.8
MIN_MOVE = 2  # thumbnail px: a cell found in place is not "moved"
LEVEL_TOLERANCE = 12.0  # grey levels off the fitted line, for two flat cells to agree
REFIT_PX = 1.5  # thumbnail px, RANSAC threshold of the re-fit from found cells


def agreement(left: np.ndarray, right: np.ndarray, homography: np.ndarray) -> float | None:
    """Agreement of grey thumbnails ``left``/``right``, the smaller of the two frames' figures
    (None when either has fewer than ``MIN_CELLS`` cells to compare: too flat to tell);
    ``homography`` maps left thumbnail px to right thumbnail px."""
    forward = _Frame(left, right, homography).share()
    backward = _Frame(right, left, inv(homography)).share() if forward is not None else None
    return None if forward is None or backward is None else min(forward, backward)


def refined(left: np.ndarray, right: np.ndarray, homography: np.ndarray) -> np.ndarray | None:
    """The homography re-fitted to where each textured cell of right is found in left.

    A homography from few keypoints (a repetitive texture, a small copy) can be off by a few
    pixels in parts of the frame, enough for fine texture to decorrelate; the cells, each
    searched a few pixels around, tell where it should be. None if too few cells are found.
    """
    source, target = _Frame(left, right, homography).found()
    if len(source) < MIN_CELLS:
        return None
    back = cv2.perspectiveTransform(source.reshape(-1, 1, 2), inv(homography)).reshape(-1, 2)
    fitted, _ = cv2.findHomography(back, target, cv2.RANSAC, REFIT_PX)
    return fitted


def moved_cells(left: np.ndarray, right: np.ndarray, homography: np.ndarray) -> int:
    """Disagreeing cells found a few px away, the smaller of the two frames' counts."""
    forward = _Frame(left, right, homography).moved()
    return min(forward, _Frame(right, left, inv(homography)).moved()) if forward else 0


def _mean(cells: np.ndarray) -> np.ndarray:
    return np.asarray(cells.sum(axis=(2, 3)) / (cells.shape[2] * cells.shape[3]))


def _level_misfit(source: np.ndarray, target: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """|target - (gain * source + offset)| per cell, the line fitted to the inside cells' mean
    grey levels twice (the second time without the worst half: overlays, other pictures)."""
    x, y = source[inside], target[inside]
    gain, offset = 1.0, float(np.median(y - x)) if len(x) else 0.0
    keep = np.ones(len(x), bool)
    for _ in range(2):
        if keep.sum() < 2 or np.ptp(x[keep]) < 1:
            break  # one level: the offset alone
        xs, ys = x[keep], y[keep]
        dx = xs - xs.mean()
        gain = float((dx * (ys - ys.mean())).sum() / (dx * dx).sum())
        offset = float(ys.mean() - gain * xs.mean())
        misfit = np.abs(y - (gain * x + offset))
        keep = misfit <= np.median(misfit)
    return np.asarray(np.abs(target - (gain * source + offset)))


def _spread(levels: np.ndarray) -> float:
    """Range of the middle 80 % of ``levels`` (0 for fewer than two)."""
    if len(levels) < 2:
        return 0.0
    low, high = np.percentile(levels, (10, 90))
    return float(high - low)


class _Frame:
    """``source`` warped onto ``target``'s frame, cut into cells over the overlap."""

    def __init__(self, source: np.ndarray, target: np.ndarray, h: np.ndarray) -> None:
        size = (target.shape[1], target.shape[0])
        warped = cv2.warpPerspective(source, h, size, flags=cv2.INTER_LINEAR)
        covered = cv2.warpPerspective(np.full(source.shape, 255, np.uint8), h, size) == 255
        # The grid spans the overlap, not the whole frame: a photo filling 40 % of a screenshot
        # gets as many cells as the photo itself.
        ys, xs = np.nonzero(covered.any(axis=1))[0], np.nonzero(covered.any(axis=0))[0]
        self.empty = len(ys) == 0 or len(xs) == 0
        if self.empty:
            return
        box = (slice(ys[0], ys[-1] + 1), slice(xs[0], xs[-1] + 1))
        self.origin = np.array([xs[0], ys[0]], np.float32)
        self.warped, self.target = warped[box], target[box]
        self.ch, self.cw = self.target.shape[0] // GRID, self.target.shape[1] // GRID
        self.empty = self.ch < 4 or self.cw < 4
        if self.empty:
            return
        a, b = self._cells(self.warped), self._cells(self.target)
        self.inside = self._cells(covered[box]).mean(axis=(2, 3)) >= 0.95
        ma, mb = a.mean(axis=(2, 3)), b.mean(axis=(2, 3))
        a -= ma[:, :, None, None]
        b -= mb[:, :, None, None]
        sa, sb = np.sqrt(_mean(a * a)), np.sqrt(_mean(b * b))
        both = self.inside & (sa >= MIN_TEXTURE) & (sb >= MIN_TEXTURE)
        # Texture on one side only: the other picture is blank there (a flat photo in the same
        # app frame as a textured one), which disagrees as much as different texture does.
        blank = (
            self.inside
            & (np.maximum(sa, sb) >= 2 * MIN_TEXTURE)
            & (np.minimum(sa, sb) < BLANK_TEXTURE)
        )
        ncc = _mean(a * b) / np.maximum(sa * sb, 1e-6)
        # Flat in both: no texture to correlate, but the grey level still tells (a blurred or
        # blank photo in the same app frame as another). Levels are compared after the gain and
        # offset that map the overlap's levels best (brightness, contrast and grey edits).
        flat = self.inside & (sa < MIN_TEXTURE) & (sb < MIN_TEXTURE)
        level = _level_misfit(ma, mb, self.inside) <= LEVEL_TOLERANCE
        self.agree = (both & (ncc >= AGREE_NCC)) | (flat & level)
        self.compared = both | blank | flat
        self.textured = self.inside & (sb >= MIN_TEXTURE)
        # An overlay band (a caption bar: flat colour and some text) hides the picture under it:
        # rows of cells at the top or bottom that mostly disagree and are mostly flat in one of
        # the two images may be left out; rows in the middle never, nor rows textured in both
        # (the background of a stereo pair, seen with parallax, disagrees while textured in both).
        textured_a = (self.inside & (sa >= MIN_TEXTURE)).sum(axis=1)
        textured_b = (self.inside & (sb >= MIN_TEXTURE)).sum(axis=1)
        flat = np.minimum(textured_a, textured_b) < self.inside.sum(axis=1) * BAND_TEXTURE
        agree, compared = self.agree.sum(axis=1), self.compared.sum(axis=1)
        losing = (agree * 2 < compared) & flat
        # ... and a band is a bar of one colour: the flat cells of the image it is flat in lie
        # within BAND_LEVELS grey levels (a blurred or dark photo in a screenshot frame is flat
        # too, but its levels vary). Checked only for the rows the trimming reaches.
        thin = textured_a <= textured_b

        def band(row: int) -> bool:
            if compared[row] == 0:
                return True
            if not losing[row]:
                return False
            levels, spread = (ma[row], sa[row]) if thin[row] else (mb[row], sb[row])
            return _spread(levels[self.inside[row] & (spread < MIN_TEXTURE)]) <= BAND_LEVELS

        top = bottom = 0
        while top < MAX_TRIM_ROWS and band(top):
            top += 1
        while top + bottom < MAX_TRIM_ROWS and band(GRID - 1 - bottom):
            bottom += 1
        self.rows = slice(top, GRID - bottom)

    def _cells(self, pixels: np.ndarray) -> np.ndarray:
        cut = pixels[: self.ch * GRID, : self.cw * GRID].astype(np.float32)  # a copy
        return cut.reshape(GRID, self.ch, GRID, self.cw).transpose(0, 2, 1, 3)

    def share(self) -> float | None:
        if self.empty:
            return None
        n = int(self.compared[self.rows].sum())
        return int(self.agree[self.rows].sum()) / n if n >= MIN_CELLS else None

    def found(self) -> tuple[np.ndarray, np.ndarray]:
        """(points in the warped source, points in target) of textured cells found nearby,
        in the target thumbnail's px (cell centres)."""
        if self.empty:
            return np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32)
        cells = [
            self._search(int(r), int(c)) for r, c in zip(*np.nonzero(self.textured), strict=True)
        ]
        hits = [(shift, centre) for shift, centre, score in cells if score >= MOVED_NCC]
        centres = np.array([centre for _, centre in hits], np.float32).reshape(-1, 2)
        shifts = np.array([shift for shift, _ in hits], np.float32).reshape(-1, 2)
        return centres + shifts + self.origin, centres + self.origin

    def moved(self) -> int:
        """Disagreeing textured cells of target found, shifted, in the warped source."""
        if self.empty:
            return 0
        found = 0
        for row, col in zip(*np.nonzero(self.textured & ~self.agree), strict=True):
            (dx, dy), _, score = self._search(int(row), int(col))
            found += score >= MOVED_NCC and abs(dx) + abs(dy) >= MIN_MOVE
        return found

    def _search(self, row: int, col: int) -> tuple[tuple[float, float], tuple[float, float], float]:
        """(shift, centre, NCC) of target's cell at its best place in the warped source."""
        y, x = row * self.ch, col * self.cw
        cell = self.target[y : y + self.ch, x : x + self.cw].astype(np.float32)
        top, left = max(0, y - MAX_SHIFT), max(0, x - MAX_SHIFT)
        window = self.warped[
            top : min(self.warped.shape[0], y + self.ch + MAX_SHIFT),
            left : min(self.warped.shape[1], x + self.cw + MAX_SHIFT),
        ].astype(np.float32)
        scores = cv2.matchTemplate(window, cell, cv2.TM_CCOEFF_NORMED)
        _, best, _, (bx, by) = cv2.minMaxLoc(scores)
        centre = (x + self.cw / 2, y + self.ch / 2)
        return (float(bx + left - x), float(by + top - y)), centre, float(best)
