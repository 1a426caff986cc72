"""A first look at downloaded media: what it is, its size in pixels, its EXIF, whether it is sound.

Small on purpose: the full image analysis (perceptual hashes, clusters, EXIF forensics) lives in
``analyzers/images.py``. This only decides the ``Media.status`` a download gets: ``ok``,
``not_image`` (an HTML page or other bytes where an image was expected), ``corrupt``,
``truncated``, ``bomb`` (more pixels than Pillow's decompression-bomb limit, which is kept),
or ``unsupported``. It never raises on bad bytes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import IO, Any

from PIL import ExifTags, Image, UnidentifiedImageError

MAX_EXIF_VALUE = 200  # characters kept of one EXIF value
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<svg")


@dataclass
class ImageInfo:
    status: str = "ok"
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    exif: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


def _sniff_text(head: bytes) -> str | None:
    text = head.lstrip().lower()
    if any(text.startswith(marker) for marker in _HTML_MARKERS):
        return "image/svg+xml" if b"<svg" in text[:200] else "text/html"
    if text.startswith((b"{", b"[")):
        return "application/json"
    return None


def _exif_summary(image: Image.Image) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    try:
        exif = image.getexif()
    except Exception:  # broken EXIF blocks are common and never fatal
        return summary
    for tag, value in exif.items():
        name = ExifTags.TAGS.get(tag, f"tag{tag}")
        if isinstance(value, bytes):
            value = value[:MAX_EXIF_VALUE].hex()
        elif not isinstance(value, int | float | str):
            value = str(value)
        if isinstance(value, float) and value != value:  # NaN is not JSON
            value = None
        summary[name] = value[:MAX_EXIF_VALUE] if isinstance(value, str) else value
    return summary


def inspect_image(source: IO[bytes], *, declared_type: str | None = None) -> ImageInfo:
    """Identify and fully decode the image in ``source`` (a binary file positioned anywhere)."""
    source.seek(0)
    head = source.read(512)
    source.seek(0)
    if not head:
        return ImageInfo(status="corrupt", mime=declared_type, note="empty body")
    with warnings.catch_warnings():
        # Pillow warns between 1x and 2x its pixel limit and raises past 2x: both are bombs here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(source) as image:
                info = ImageInfo(
                    mime=Image.MIME.get(image.format or ""),
                    width=image.width,
                    height=image.height,
                )
                info.exif = _exif_summary(image)
                _decode_fully(image, info)
                return info
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            return ImageInfo(status="bomb", mime=declared_type, note=str(exc)[:300])
        except UnidentifiedImageError:
            sniffed = _sniff_text(head)
            if sniffed and sniffed != "image/svg+xml":
                return ImageInfo(status="not_image", mime=sniffed, note=f"got {sniffed}")
            if declared_type and not declared_type.startswith("image/"):
                return ImageInfo(
                    status="not_image", mime=declared_type, note=f"got {declared_type}"
                )
            status = "unsupported" if sniffed else "corrupt"
            return ImageInfo(status=status, mime=sniffed or declared_type, note="not decodable")
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            return ImageInfo(status=_failure(exc), mime=declared_type, note=str(exc)[:300])


def _decode_fully(image: Image.Image, info: ImageInfo) -> None:
    """Decode every pixel: truncated or corrupt data only shows at this point."""
    try:
        image.load()
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        info.status = _failure(exc)
        info.note = str(exc)[:300]


def _failure(exc: Exception) -> str:
    return "truncated" if "truncated" in str(exc).lower() else "corrupt"
