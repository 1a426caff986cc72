"""Perceptual-hash arithmetic on small greyscale arrays: pHash, dHash, sub-window grids, borders.

Everything here works on an image already reduced to a few hundred pixels (see
``analyzers.images`` for decoding), so it costs microseconds, not milliseconds.

Bit layout follows imagehash: the 8x8 boolean matrix is flattened row by row and the first
element is the most significant bit, so ``format(value, "016x")`` equals
``str(imagehash.phash(...))``
and ``imagehash.hex_to_hash`` reads our hex back.

- ``phash_of`` / ``dhash_of``: imagehash's pHash (DCT-II of a 32x32 image, 8x8 low frequencies
  against their median) and dHash (9x8 image, each pixel brighter than its left neighbour?).
- ``grid_hashes``: pHash and dHash of the whole image and of 5x5 anchored sub-windows at
  ``GRID_SCALES``, computed with precomputed Lanczos+DCT matrices in a few batched matmuls.
  A copy cropped by 10-25% looks like one of those windows of its original.
- ``content_box``: the box left after trimming uniform borders (letterbox bars, frames).
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

HASH_BITS = 64
THUMB_SIDE = 64  # every hash starts from one 64x64 Lanczos thumbnail of the (trimmed) image
GRID_SCALES = (0.9, 0.75)  # sub-window sides, as fractions of the image side
GRID_ANCHORS = 5  # anchors per axis: evenly from one edge to the other
GRID_SIZE = 1 + len(GRID_SCALES) * GRID_ANCHORS * GRID_ANCHORS
# Stored variant name of the grid: change it whenever GRID_SCALES or GRID_ANCHORS change, so
# stored grids of another layout are never compared (and the new one gets computed).
GRID_VARIANT = "grid_v1"

_BIT_WEIGHTS = np.left_shift(np.uint64(1), np.arange(63, -1, -1, dtype=np.uint64))
_LANCZOS = Image.Resampling.LANCZOS


def _lanczos_weights(n_in: int, n_out: int) -> NDArray[np.float64]:
    """Resampling matrix (n_out x n_in) with the same taps as Pillow's LANCZOS resize."""
    scale = n_in / n_out
    filter_scale = max(scale, 1.0)
    support = 3.0 * filter_scale
    matrix = np.zeros((n_out, n_in))
    for out_index in range(n_out):
        centre = (out_index + 0.5) * scale
        low = max(int(centre - support + 0.5), 0)
        high = min(int(centre + support + 0.5), n_in)
        offsets = (np.arange(low, high) - centre + 0.5) / filter_scale
        taps = np.sinc(offsets) * np.sinc(offsets / 3.0)
        taps[np.abs(offsets) >= 3.0] = 0.0
        matrix[out_index, low:high] = taps / taps.sum()
    return matrix


@cache
def _dct_rows(size: int, keep: int) -> NDArray[np.float64]:
    """First ``keep`` rows of the unnormalised DCT-II matrix (scipy.fftpack.dct, type 2)."""
    k = np.arange(keep)[:, None]
    n = np.arange(size)[None, :]
    return 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * size))


@cache
def _phash_projection(n_in: int) -> NDArray[np.float64]:
    """8 x n_in matrix: Lanczos down to 32 then the 8 lowest DCT frequencies."""
    return _dct_rows(32, 8) @ _lanczos_weights(n_in, 32)


@cache
def _dhash_projections(n_in: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Row (8 x n_in) and column (9 x n_in) Lanczos matrices for the 9x8 dHash image."""
    return _lanczos_weights(n_in, 8), _lanczos_weights(n_in, 9)


def pack_bits(bits: NDArray[np.bool_]) -> NDArray[np.uint64]:
    """(k, 64) booleans -> k unsigned 64-bit ints, first bit most significant."""
    return (bits.astype(np.uint64) * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint64)


def _phash_from_dct(low_freq: NDArray[np.float64]) -> NDArray[np.uint64]:
    """(k, 8, 8) low-frequency DCT blocks -> k pHashes (each block against its own median).

    A flat block (every AC coefficient ~0: a blank picture or window) gets 0 instead of bits
    drawn from rounding noise; no real picture hashes to 0, since its DC term is above the median.
    """
    flat = low_freq.reshape(len(low_freq), HASH_BITS)
    ordered = np.sort(flat, axis=1)
    medians = (ordered[:, 31] + ordered[:, 32]) / 2.0
    hashes = pack_bits(flat > medians[:, None])
    blank = np.abs(flat[:, 1:]).max(axis=1) <= 1e-6 * (np.abs(flat[:, 0]) + 1.0)
    hashes[blank] = 0
    return hashes


def phash_of(thumb32: NDArray[Any]) -> int:
    """pHash of a 32x32 greyscale array, as imagehash computes it."""
    dct8 = _dct_rows(32, 8)
    low_freq = dct8 @ np.asarray(thumb32, dtype=np.float64) @ dct8.T
    return int(_phash_from_dct(low_freq[None])[0])


def dhash_of(thumb9x8: NDArray[Any]) -> int:
    """dHash of an 8-row, 9-column greyscale array, as imagehash computes it."""
    pixels = np.asarray(thumb9x8, dtype=np.int16)
    return int(pack_bits((pixels[:, 1:] > pixels[:, :-1]).reshape(1, HASH_BITS))[0])


@lru_cache(maxsize=1024)
def _lanczos_from_blocks(n_small: int, block: int, n_out: int, n_full: int) -> NDArray[np.float64]:
    """(n_out x n_small) weights reproducing Pillow's LANCZOS from the full-size image.

    Each of the ``n_small`` inputs is the mean of ``block`` full-size pixels (a JPEG decoded
    at 1/block scale in the DCT domain, or an image box-reduced by ``block``). The kernel is
    laid out in full-size pixels exactly as Pillow does (support 3 x scale) and sampled at
    block centres, which is accurate because a block is far narrower than the kernel.
    """
    scale = n_full / n_out
    filter_scale = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale
    # Only a band of inputs per output is inside the kernel's support: evaluate just that band.
    reach = 3.0 * filter_scale / block
    band = int(np.ceil(2 * reach)) + 2
    first = np.floor(centres / block - reach - 0.5).astype(np.int64)
    columns = first[:, None] + np.arange(band)[None, :]
    offsets = ((columns + 0.5) * block - centres[:, None]) / filter_scale
    taps = _lanczos3(offsets)
    taps[(columns < 0) | (columns >= n_small)] = 0.0  # Pillow clips the window at the edges
    matrix = np.zeros((n_out, n_small + 2 * band))
    np.put_along_axis(matrix, columns + band, taps, axis=1)
    matrix = matrix[:, band : band + n_small]
    return matrix / matrix.sum(axis=1, keepdims=True)


def _lanczos3(offsets: NDArray[np.float64]) -> NDArray[np.float64]:
    """sinc(x) * sinc(x / 3) inside |x| < 3, else 0.

    Evaluated in float32, where numpy's sin is vectorised (about 20x faster than float64 here);
    weights are normalised afterwards, so the 1e-7 relative error is immaterial.
    """
    inside = np.abs(offsets) < 3.0
    x = (np.pi * np.where(inside, offsets, 1.0)).astype(np.float32)
    x[x == 0.0] = np.float32(1e-12)
    taps = np.float32(3.0) * np.sin(x) * np.sin(x / np.float32(3.0)) / (x * x)
    return np.where(inside, taps.astype(np.float64), 0.0)


def whole_image_hashes(
    image: Image.Image, block: int = 1, full_size: tuple[int, int] | None = None
) -> tuple[int, int, int, int]:
    """(pHash, dHash, mirrored pHash, mirrored dHash) of an "L" image, imagehash-compatible.

    ``block`` is how many original pixels each pixel of ``image`` averages per side; the
    resampling then matches what imagehash gets from the full-size picture (within a few bits
    on 1-3 MP JPEGs decoded at 1/8 scale; see bench/hashing.py). ``full_size`` is the
    original (width, height) when known (a decode rounds sizes up to whole blocks).
    """
    pixels = np.asarray(image, dtype=np.float64)
    rows, cols = pixels.shape
    full_cols, full_rows = full_size or (cols * block, rows * block)

    def resample(out_rows: int, out_cols: int) -> NDArray[np.float64]:
        down = _lanczos_from_blocks(rows, block, out_rows, full_rows)
        across = _lanczos_from_blocks(cols, block, out_cols, full_cols)
        return np.round(down @ pixels @ across.T)

    small32, small9x8 = resample(32, 32), resample(8, 9)
    return (
        phash_of(small32),
        dhash_of(small9x8),
        phash_of(small32[:, ::-1]),
        dhash_of(small9x8[:, ::-1]),
    )


def _grid_starts(side: int, size: int) -> list[int]:
    """Where GRID_ANCHORS windows of ``size`` start along a ``side``: edge to edge, evenly."""
    return sorted({round(i * (side - size) / (GRID_ANCHORS - 1)) for i in range(GRID_ANCHORS)})


def grid_hashes(image: Image.Image) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """pHashes and dHashes (GRID_SIZE each) of the whole image then every grid window.

    Order: whole image, then for each scale in GRID_SCALES the windows row by row (top-left,
    ..., top-right, ..., bottom-right). The projections are separable, so each scale costs one
    batched product over horizontal bands and one over their column slices.
    """
    thumb = np.asarray(image.resize((THUMB_SIDE, THUMB_SIDE), _LANCZOS), dtype=np.float64)
    phashes = [_window_phashes(thumb[None], THUMB_SIDE)]
    dhashes = [_window_dhashes(thumb[None], THUMB_SIDE)]
    for scale in GRID_SCALES:
        size = round(THUMB_SIDE * scale)
        starts = _grid_starts(THUMB_SIDE, size)
        bands = np.stack([thumb[top : top + size] for top in starts])  # (A, size, THUMB_SIDE)
        projection = _phash_projection(size)
        dct = _column_slices(projection @ bands, starts, size) @ projection.T
        phashes.append(_phash_from_dct(dct.reshape(-1, 8, 8)))
        rows, cols = _dhash_projections(size)
        pixels = np.round(_column_slices(rows @ bands, starts, size) @ cols.T).reshape(-1, 8, 9)
        bits = pixels[:, :, 1:] > pixels[:, :, :-1]
        dhashes.append(pack_bits(bits.reshape(len(pixels), HASH_BITS)))
    return np.concatenate(phashes), np.concatenate(dhashes)


def _column_slices(
    banded: NDArray[np.float64], starts: list[int], size: int
) -> NDArray[np.float64]:
    """(A, k, THUMB_SIDE) -> (A, A, k, size): every band cut at every column start."""
    return np.stack([banded[:, :, left : left + size] for left in starts], axis=1)


def _window_phashes(stack: NDArray[np.float64], size: int) -> NDArray[np.uint64]:
    projection = _phash_projection(size)
    return _phash_from_dct(projection @ stack @ projection.T)


def _window_dhashes(stack: NDArray[np.float64], size: int) -> NDArray[np.uint64]:
    rows, cols = _dhash_projections(size)
    pixels = np.round(rows @ stack @ cols.T)
    bits = pixels[:, :, 1:] > pixels[:, :, :-1]
    return pack_bits(bits.reshape(len(stack), HASH_BITS))


def hex_of_array(values: NDArray[np.uint64]) -> str:
    """Concatenated 16-digit hex of each value (as ``format(v, "016x")`` would give)."""
    return values.astype(">u8").tobytes().hex()


def content_box(
    gray: NDArray[np.uint8], *, tolerance: float = 6.0, max_trim: float = 0.45
) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the content inside uniform borders, or None if no border.

    A border row/column is one whose mean absolute difference from the outermost row/column's
    median is at most ``tolerance`` grey levels. Sides that would lose more than ``max_trim``
    of the image are left alone (a mostly uniform picture is not a letterbox).
    """
    height, width = gray.shape
    pixels = gray.astype(np.int16)
    top = _border_depth(pixels, max_trim, tolerance)
    bottom = _border_depth(pixels[::-1], max_trim, tolerance)
    left = _border_depth(pixels.T, max_trim, tolerance)
    right = _border_depth(pixels.T[::-1], max_trim, tolerance)
    if top + bottom == 0 and left + right == 0:
        return None
    kept = 1 - 2 * max_trim
    if height - top - bottom < height * kept or width - left - right < width * kept:
        return None
    return left, top, width - right, height - bottom


def _border_depth(pixels: NDArray[np.int16], max_trim: float, tolerance: float) -> int:
    """How many leading rows of ``pixels`` are uniform and close to the first row's colour.

    Rows are examined a few at a time: most pictures have no border and stop at the first.
    """
    limit = int(len(pixels) * max_trim)
    edge_colour = pixels[0].mean()
    if np.abs(pixels[0] - edge_colour).mean() > tolerance:
        return 0  # the outermost row is not uniform: no border (most pictures stop here)
    depth = 0
    step = 4
    while depth < limit:
        rows = pixels[depth : min(limit, depth + step)]
        outside = np.flatnonzero(np.abs(rows - edge_colour).mean(axis=1) > tolerance)
        if len(outside):
            depth += int(outside[0])
            break
        depth += len(rows)
        step *= 2
    if depth >= limit:
        return 0  # uniform for as far as we look: not a border but a uniform picture
    # The reduced image blends the bar into the first content row: drop one more row.
    return depth + 1 if depth else 0


def to_hex(value: int) -> str:
    return format(value, "016x")


def from_hex(text: str) -> int:
    return int(text, 16)


def hamming(left: int, right: int) -> int:
    return (left ^ right).bit_count()
