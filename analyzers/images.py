"""Safe image loading, fast perceptual hashing and EXIF, one image or a whole case at a time.

Loading never trusts the file: the header checks (sniffing, the decompression-bomb limit, PNG
CRCs) and the status words are the media inspector's (``analyzers.mediainspect``), so a file
gets the same status here as when it was collected or imported.

Speed: a JPEG is decoded in the DCT domain at 1/8 scale (``Image.draft``), which costs a fraction
of a full decode; other formats are decoded fully and shrunk with ``reduce()``. Hashes are then
computed from one 64x64 thumbnail (see ``analyzers.perceptual``); on 1-3 MP JPEGs they stay
within a few bits of ``imagehash.phash(Image.open(path))`` (measured by bench/hashing.py).

Hashes per image (``HashRecord.hashes``, keyed ``(algorithm, variant)``, 16 hex digits each):

- ``phash``/``dhash`` x ``orig``, ``mirror``: the whole picture and its left-right mirror.
- ``phash``/``dhash`` x ``trim``, ``trim_mirror``: after cutting uniform borders (letterbox bars,
  frames); only when a border was found.
- ``phash``/``dhash`` x ``grid_v1`` (GRID_VARIANT): GRID_SIZE (51) hashes concatenated (the whole picture, then 5x5
  windows at 90% and 75% of its side) for recognising crops.
- ``pdq`` x ``orig``, ``mirror`` (64 hex digits, ThreatExchange's hex order; ``analyzers.pdq``,
  numpy only) when asked for (``pdq=True``); it needs a 1/4-scale decode, so it costs more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from osint.analyzers import perceptual
from osint.analyzers.imagemeta import exif_summary
from osint.analyzers.mediainspect import (
    DECODE_ERRORS,
    MediaProblem,
    MediaStatus,
    decode_problem,
    frame_count,
    open_checked,
    read_source,
)
from osint.analyzers.pdq import pdq_from_image

MIN_REDUCED_SIDE = 96  # reduced images keep at least this many pixels on their short side
PDQ_MIN_SIDE = 256
PDQ_AVAILABLE = True  # analyzers.pdq, numpy only (kept for callers that still ask)

HashKey = tuple[str, str]  # (algorithm, variant)


# The status words and the header checks are the one media inspector's (analyzers.mediainspect):
# the same bytes get the same status here as when they were collected or imported.
ImageStatus = MediaStatus
ImageLoadError = MediaProblem


@dataclass(frozen=True)
class ReducedImage:
    """A decoded picture shrunk to a few hundred pixels, greyscale, and what we learnt."""

    gray: Image.Image  # mode "L", short side >= MIN_REDUCED_SIDE unless the original is smaller
    width: int  # original size
    height: int
    format: str
    mime: str | None
    mode: str  # original pixel mode (RGB, CMYK, I;16, P ...)
    notes: tuple[str, ...] = ()
    exif: dict[str, Any] = field(default_factory=dict)
    rgb: np.ndarray | None = None  # only when PDQ was asked for
    block: int = 1  # original pixels per reduced pixel, per side


@dataclass(frozen=True)
class HashRecord:
    """The outcome of hashing one image: a status, notes, and (if ok) hashes and metadata."""

    status: ImageStatus
    note: str = ""
    width: int | None = None
    height: int | None = None
    format: str | None = None
    mime: str | None = None
    mode: str | None = None
    exif: dict[str, Any] = field(default_factory=dict)
    hashes: dict[HashKey, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is ImageStatus.OK


def load_reduced(
    source: Path | bytes, *, pdq: bool = False, max_pixels: int | None = None
) -> ReducedImage:
    """Decode ``source`` as small as hashing allows. Raises ImageLoadError for bad input."""
    data = read_source(source)
    image = open_checked(data, max_pixels)
    notes: list[str] = []
    width, height, fmt, mode = image.width, image.height, image.format or "?", image.mode
    mime = image.get_format_mimetype() if hasattr(image, "get_format_mimetype") else None
    frames = frame_count(image)
    if frames > 1:
        notes.append(f"animated ({frames} frames): the first frame was hashed")
    exif = exif_summary(image)
    min_side = PDQ_MIN_SIDE if pdq else MIN_REDUCED_SIDE
    try:
        decoded = _decode_small(image, min_side, colour=pdq)
        # JPEGs are already at most 1/8; other formats keep >= 2 x min_side (closer hashes).
        factor = 1 if image.format == "JPEG" else max(1, min(decoded.size) // (2 * min_side))
        block = max(1, round(width / decoded.width)) * factor
        gray = _shrink(_to_gray(decoded, notes), factor)
        rgb = np.asarray(_shrink(_to_rgb(decoded, gray), factor)) if pdq else None
    except ImageLoadError:
        raise
    except DECODE_ERRORS as error:
        raise decode_problem(error) from error
    gray = _apply_orientation(gray, exif.get("orientation"), notes)
    return ReducedImage(gray, width, height, fmt, mime, mode, tuple(notes), exif, rgb, block)


def _decode_small(image: Image.Image, min_side: int, *, colour: bool = False) -> Image.Image:
    """JPEG: decode in the DCT domain at up to 1/8 scale (greyscale unless ``colour``).

    Other formats: a full decode (Pillow has no cheaper path for them).
    """
    if image.format == "JPEG":
        scale = next((s for s in (8, 4, 2) if min(image.size) // s >= min_side), 1)
        if scale > 1:
            image.draft(
                "L" if image.mode == "RGB" and not colour else image.mode,
                (image.width // scale, image.height // scale),
            )
    image.load()
    return image


def _shrink(image: Image.Image, factor: int) -> Image.Image:
    """Box-reduce by ``factor`` (chosen to keep at least MIN_REDUCED_SIDE pixels)."""
    return image.reduce(factor) if factor >= 2 else image


def _to_rgb(decoded: Image.Image, gray: Image.Image) -> Image.Image:
    if decoded.mode in ("RGB", "CMYK", "P", "RGBA", "YCbCr"):
        return decoded.convert("RGB")
    return gray.convert("RGB")


def _to_gray(image: Image.Image, notes: list[str]) -> Image.Image:
    """Greyscale with the quirks handled: CMYK, 16-bit, transparency, palettes."""
    mode = image.mode
    if mode == "L":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or pixels.max() > 255 else 255.0
        notes.append(f"{mode} image ({'16' if top > 255 else '8'}-bit range) scaled to 8 bits")
        return Image.fromarray(np.clip(pixels * (255.0 / top), 0, 255).astype(np.uint8), "L")
    if mode == "CMYK":
        notes.append("CMYK image converted to RGB before hashing")
        return image.convert("RGB").convert("L")
    if mode in ("RGBA", "LA", "PA", "P", "RGBa", "La") and _has_transparency(image):
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, "white")
        flat.alpha_composite(rgba)
        notes.append("transparent areas flattened on white")
        return flat.convert("L")
    return image.convert("L")


def _has_transparency(image: Image.Image) -> bool:
    if image.mode == "P":
        return "transparency" in image.info
    low, _ = image.getchannel("A").getextrema()
    return isinstance(low, int | float) and low < 255


_ORIENTATION_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}


def _apply_orientation(gray: Image.Image, orientation: Any, notes: list[str]) -> Image.Image:
    """Turn the picture the way viewers show it (re-uploads usually bake the turn in)."""
    steps = _ORIENTATION_TRANSPOSE.get(orientation) if isinstance(orientation, int) else None
    if not steps:
        return gray
    notes.append(f"EXIF orientation {orientation} applied before hashing")
    for step in steps:
        gray = gray.transpose(step)
    return gray


def hashes_of(reduced: ReducedImage) -> dict[HashKey, str]:
    """Every hash variant of a reduced image (see the module docstring)."""
    hex_ = perceptual.to_hex
    gray = reduced.gray
    turned = reduced.exif.get("orientation") in (5, 6, 7, 8)
    full_size = (reduced.height, reduced.width) if turned else (reduced.width, reduced.height)
    phash, dhash, phash_m, dhash_m = perceptual.whole_image_hashes(gray, reduced.block, full_size)
    hashes: dict[HashKey, str] = {
        ("phash", "orig"): hex_(phash),
        ("dhash", "orig"): hex_(dhash),
        ("phash", "mirror"): hex_(phash_m),
        ("dhash", "mirror"): hex_(dhash_m),
    }
    box = perceptual.content_box(np.asarray(gray))
    if box is not None:
        trimmed = gray.crop(box)
        t_phash, t_dhash, t_phash_m, t_dhash_m = perceptual.whole_image_hashes(
            trimmed, reduced.block
        )
        hashes |= {
            ("phash", "trim"): hex_(t_phash),
            ("dhash", "trim"): hex_(t_dhash),
            ("phash", "trim_mirror"): hex_(t_phash_m),
            ("dhash", "trim_mirror"): hex_(t_dhash_m),
        }
    grid_p, grid_d = perceptual.grid_hashes(gray)
    hashes[("phash", perceptual.GRID_VARIANT)] = perceptual.hex_of_array(grid_p)
    hashes[("dhash", perceptual.GRID_VARIANT)] = perceptual.hex_of_array(grid_d)
    if reduced.rgb is not None:
        hashes |= _pdq_hashes(reduced.rgb)
    return hashes


def _pdq_hashes(rgb: np.ndarray) -> dict[HashKey, str]:
    found = pdq_from_image(Image.fromarray(rgb))
    return {("pdq", "orig"): found.hex, ("pdq", "mirror"): found.mirror_hex}


def hash_image(
    source: Path | bytes, *, pdq: bool = False, max_pixels: int | None = None
) -> HashRecord:
    """Hash one image. Never raises for bad input: the status and note say what was wrong."""
    try:
        reduced = load_reduced(source, pdq=pdq, max_pixels=max_pixels)
        hashes = hashes_of(reduced)
    except ImageLoadError as error:
        return HashRecord(status=error.status, note=error.note)
    return HashRecord(
        status=ImageStatus.OK,
        note="; ".join(reduced.notes),
        width=reduced.width,
        height=reduced.height,
        format=reduced.format,
        mime=reduced.mime,
        mode=reduced.mode,
        exif=reduced.exif,
        hashes=hashes,
    )
