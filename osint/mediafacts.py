"""What a media file is: its hash and size, and for pictures their format, size and EXIF.

Reading a hostile file must never crash an import: a file Pillow cannot identify is
``not_image``, a picture that fails to decode is ``corrupt`` (or ``truncated`` when its bytes stop
early), and a picture whose header claims more pixels than Pillow's decompression-bomb limit is a
``bomb``: recorded and flagged, never decoded. The bytes are stored in every case, as evidence.
"""

from __future__ import annotations

import mimetypes
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from osint.storage.media import FileMediaStore

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825


@dataclass
class MediaFacts:
    """A stored file as the ``media`` table records it."""

    sha256: str
    size: int
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    exif: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | corrupt | truncated | bomb | not_image
    note: str | None = None
    source_url: str | None = None


def store_local_file(media: FileMediaStore, path: Path, *, source_url: str) -> MediaFacts:
    """Copy ``path`` into the media store (content-addressed) and describe it."""
    stored = media.put_file(path)
    facts = MediaFacts(sha256=stored.sha256, size=stored.size, source_url=source_url)
    guessed, _ = mimetypes.guess_type(path.name)
    facts.mime = guessed
    if guessed is None or guessed.startswith("image/"):
        describe_image(media.path_for(stored.sha256), facts)
    return facts


def describe_image(path: Path, facts: MediaFacts) -> MediaFacts:
    """Fill in format, dimensions, EXIF and status from the picture at ``path``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                facts.width, facts.height = image.size
                facts.mime = Image.MIME.get(image.format or "", facts.mime)
                facts.exif = exif_dict(image)
                image.load()  # decodes every pixel: how truncated or corrupt files show
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        facts.status, facts.note = "bomb", f"not decoded: {exc}"
    except UnidentifiedImageError:
        facts.status, facts.note = "not_image", "not a picture Pillow can read"
    except OSError as exc:
        truncated = "truncated" in str(exc).lower()
        facts.status = "truncated" if truncated else "corrupt"
        facts.note = f"cannot decode: {exc}"
    except (ValueError, SyntaxError, IndexError, EOFError) as exc:  # Pillow's plugins raise these
        facts.status, facts.note = "corrupt", f"cannot decode: {exc}"
    return facts


def exif_dict(image: Image.Image) -> dict[str, Any]:
    """EXIF as JSON-safe values by tag name (camera, times, software, GPS); binary blobs left out."""
    try:
        exif = image.getexif()
        found: dict[str, Any] = {}
        for tag_id, value in exif.items():
            _put(found, ExifTags.TAGS.get(tag_id, str(tag_id)), value)
        for tag_id, value in exif.get_ifd(_EXIF_IFD).items():
            _put(found, ExifTags.TAGS.get(tag_id, str(tag_id)), value)
        gps = {
            ExifTags.GPSTAGS.get(tag_id, str(tag_id)): _json_safe(value)
            for tag_id, value in exif.get_ifd(_GPS_IFD).items()
        }
    except Exception:  # EXIF parsers raise anything on hostile files; EXIF is a bonus here
        return {}
    found.pop("ExifOffset", None)
    found.pop("GPSInfo", None)
    if gps:
        found["GPS"] = {k: v for k, v in gps.items() if v is not None}
    return found


def _put(found: dict[str, Any], name: str, value: Any) -> None:
    safe = _json_safe(value)
    if safe is not None:
        found[name] = safe


def _json_safe(value: Any) -> Any:
    if isinstance(value, bytes):
        return None  # maker notes, thumbnails: kept in the stored bytes, not in the database
    if isinstance(value, str):
        return value.replace("\x00", "").strip() or None
    if isinstance(value, tuple):
        items = [_json_safe(v) for v in value]
        return items if all(v is not None for v in items) else None
    if isinstance(value, bool | int):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return str(value)
    return number if number == number and abs(number) != float("inf") else None
