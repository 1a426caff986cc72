"""PDQ, Meta's 256-bit perceptual hash, in numpy: no compiler, no optional package.

Follows the published algorithm (ThreatExchange ``pdq/README.md`` and its reference hashers,
``pdq/cpp`` and ``pdq/python``): luminance (0.299 R + 0.587 G + 0.114 B); two passes of a
Jarosz tent filter (box filters along rows then columns, window ``ceil(side / 128)``);
decimation to 64x64 by sampling the cell centres; the 16x16 lowest non-constant DCT
coefficients; one bit per coefficient above their median. Hex digits as ThreatExchange writes
them: the 16 rows of 16 bits, last row first, each row's bit ``j`` worth ``2**j``.

The reference's Python hasher first shrinks a picture to fit 512x512 (``Image.thumbnail``);
:func:`pdq_from_image` does the same so hashes agree with lists made by ThreatExchange tools.
Measured against the reference hashes of ThreatExchange's test images in
``tests/analyzers/test_pdq.py`` (fixtures and licence in tests/data/pdq/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

HASH_BITS = 256
HEX_DIGITS = 64
MATCH_THRESHOLD = 31  # ThreatExchange's PDQ_CONFIDENT_MATCH_THRESHOLD (bits of 256)
QUALITY_THRESHOLD = 50  # below this the reference treats a hash as unreliable (flat pictures)
THUMBNAIL_SIDE = 512

_LUMA = np.array([0.299, 0.587, 0.114])
_DCT = np.cos(
    (np.pi / 2 / 64.0) * np.outer(np.arange(1, 17), 2 * np.arange(64) + 1)
)  # 16x64: rows 1..16 of the 64-point DCT-II (its scale does not change the bits)


@dataclass(frozen=True)
class PdqHash:
    """A PDQ hash (64 hex digits), its left-right mirror's, and the reference's quality score."""

    hex: str
    mirror_hex: str
    quality: int


def pdq_from_image(image: Image.Image) -> PdqHash:
    """PDQ of a decoded picture, as ThreatExchange's hasher computes it."""
    small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return pdq_from_rgb(np.asarray(small))


def pdq_from_rgb(rgb: np.ndarray) -> PdqHash:
    """PDQ of an RGB (or greyscale) pixel array, rows x columns (x 3)."""
    pixels = np.asarray(rgb, dtype=np.float64)
    luma = pixels @ _LUMA if pixels.ndim == 3 else pixels
    rows, cols = luma.shape
    for _ in range(2):  # two X,Y passes of box filters make a tent filter
        luma = _box_filter(luma, _window(cols), axis=1)
        luma = _box_filter(luma, _window(rows), axis=0)
    centres_r = ((np.arange(64) + 0.5) * rows / 64).astype(int)
    centres_c = ((np.arange(64) + 0.5) * cols / 64).astype(int)
    block = luma[np.ix_(centres_r, centres_c)]
    dct = _DCT @ block @ _DCT.T
    # Mirroring left-right negates the columns of odd horizontal frequency (the reference's
    # "flip y"): coefficients of even index j (frequency j + 1 odd) change sign.
    mirrored = dct * np.where(np.arange(16) % 2 == 0, -1.0, 1.0)[np.newaxis, :]
    return PdqHash(_bits_hex(dct), _bits_hex(mirrored), _quality(block))


def _window(side: int) -> int:
    return (side + 127) // 128


def _box_filter(values: np.ndarray, window: int, axis: int) -> np.ndarray:
    """The reference's 1-D box filter: a centred window, shortened (not padded) at the ends."""
    n = values.shape[axis]
    half = (window + 2) // 2
    starts = np.clip(np.arange(n) - (window - half), 0, None)
    ends = np.clip(np.arange(n) + half - 1, None, n - 1)
    moved = np.moveaxis(values, axis, 0)
    sums = np.concatenate([np.zeros((1, *moved.shape[1:])), np.cumsum(moved, axis=0)])
    counts = (ends - starts + 1).reshape((n,) + (1,) * (moved.ndim - 1))
    out = (sums[ends + 1] - sums[starts]) / counts
    return np.moveaxis(out, 0, axis)


def _bits_hex(dct: np.ndarray) -> str:
    flat = dct.ravel()
    median = np.sort(flat)[(flat.size + 1) // 2 - 1]  # Torben's median: the lower middle
    bits = (dct > median).astype(np.uint32)  # 16 rows x 16 columns
    words = bits @ (1 << np.arange(16, dtype=np.uint32))
    return "".join(f"{int(word):04x}" for word in words[::-1])


def _quality(block: np.ndarray) -> int:
    """The reference's gradient-count heuristic, 0..100 (flat or blank pictures score low)."""
    vertical = np.trunc((block[:-1, :] - block[1:, :]) * 100 / 255)
    horizontal = np.trunc((block[:, :-1] - block[:, 1:]) * 100 / 255)
    total = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(100, total // 90)


def is_pdq_hex(text: str) -> bool:
    return len(text) == HEX_DIGITS and all(c in "0123456789abcdef" for c in text)


def pdq_distance(first: str, second: str) -> int:
    """Hamming distance in bits between two PDQ hashes written in hex."""
    return (int(first, 16) ^ int(second, 16)).bit_count()
