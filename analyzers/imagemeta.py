"""EXIF as evidence: camera, capture time, GPS and software, as a JSON-safe dict, plus notes.

Platforms strip EXIF on upload, so its absence is normal for a re-post and worth saying for
a file that claims to come straight from a camera; contradictions (a capture time after the
post, a "modified" time before the capture, an editor in ``Software``, GPS at 0,0) are noted.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from PIL import Image

_TAG_MAKE, _TAG_MODEL, _TAG_SOFTWARE, _TAG_DATETIME, _TAG_ORIENTATION = 271, 272, 305, 306, 274
_TAG_ARTIST = 315
_IFD_EXIF, _IFD_GPS = 0x8769, 0x8825
_EXIF_DATETIME_ORIGINAL, _EXIF_OFFSET_ORIGINAL, _EXIF_LENS = 36867, 36881, 42036
_EDITORS = (
    "photoshop",
    "gimp",
    "lightroom",
    "snapseed",
    "picsart",
    "canva",
    "facetune",
    "affinity",
    "pixelmator",
    "paint.net",
    "faceapp",
)


def _clean(value: Any) -> Any:
    """EXIF values as JSON-safe Python: text without NULs, rationals as floats, no NaN."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value.replace("\x00", "").strip() or None
    if isinstance(value, tuple):
        return [_clean(item) for item in value]
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return str(value)
    if math.isnan(number) or math.isinf(number):
        return None
    return int(number) if isinstance(value, int) else number


def _gps_degrees(parts: Any, ref: Any) -> float | None:
    try:
        degrees, minutes, seconds = (float(part) for part in parts)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    if math.isnan(value) or math.isinf(value):
        return None
    return round(-value if str(ref).upper().startswith(("S", "W")) else value, 7)


def _exif_time(text: Any, offset: Any = None) -> str | None:
    """'2021:05:04 13:22:01' (+ '+02:00') -> ISO 8601; None if unparseable."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    iso = moment.isoformat()
    if isinstance(offset, str) and len(offset.strip()) == 6:
        iso += offset.strip()
    return iso


def exif_summary(image: Image.Image) -> dict[str, Any]:
    """The EXIF fields investigators use, JSON-safe; empty dict when there is no EXIF."""
    try:
        exif = image.getexif()
    except Exception:  # a broken EXIF block must not lose the picture
        return {"error": "unreadable EXIF block"}
    if not exif:
        return {}
    summary: dict[str, Any] = {}
    for key, tag in (
        ("make", _TAG_MAKE),
        ("model", _TAG_MODEL),
        ("software", _TAG_SOFTWARE),
        ("artist", _TAG_ARTIST),
        ("orientation", _TAG_ORIENTATION),
    ):
        value = _clean(exif.get(tag))
        if value is not None:
            summary[key] = value
    details = _safe_ifd(exif, _IFD_EXIF)
    taken = _exif_time(
        _clean(details.get(_EXIF_DATETIME_ORIGINAL)), _clean(details.get(_EXIF_OFFSET_ORIGINAL))
    )
    modified = _exif_time(_clean(exif.get(_TAG_DATETIME)))
    lens = _clean(details.get(_EXIF_LENS))
    summary |= {
        k: v for k, v in (("taken_at", taken), ("modified_at", modified), ("lens", lens)) if v
    }
    gps = _gps(_safe_ifd(exif, _IFD_GPS))
    if gps:
        summary["gps"] = gps
    return summary


def _safe_ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # malformed sub-IFDs are common in the wild
        return {}


def _gps(gps: dict[int, Any]) -> dict[str, Any]:
    latitude = _gps_degrees(gps.get(2), gps.get(1, "N"))
    longitude = _gps_degrees(gps.get(4), gps.get(3, "E"))
    if latitude is None or longitude is None:
        return {}
    found: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    altitude = _clean(gps.get(6))
    if isinstance(altitude, float | int):
        found["altitude_m"] = round(float(altitude), 1)
    date = _clean(gps.get(29))
    if isinstance(date, str):
        found["date"] = date
    return found


# Tag-name keys the collection and the import stored before the one media inspector (their own
# EXIF cleaners): read as the summary's keys, so old cases show and flag EXIF the same way.
_LEGACY_KEYS = {"Make": "make", "Model": "model", "Software": "software", "Artist": "artist"}
_LEGACY_TIMES = {"DateTimeOriginal": "taken_at", "DateTime": "modified_at"}


def stored_exif(exif: dict[str, Any] | None) -> dict[str, Any]:
    """EXIF as stored on a ``media`` row, in :func:`exif_summary`'s shape (old rows included)."""
    if not exif or not any(key in exif for key in (*_LEGACY_KEYS, *_LEGACY_TIMES, "GPS")):
        return dict(exif or {})
    summary = {new: _clean(exif[old]) for old, new in _LEGACY_KEYS.items() if old in exif}
    if isinstance(exif.get("Orientation"), int):
        summary["orientation"] = exif["Orientation"]
    for old, new in _LEGACY_TIMES.items():
        if moment := _exif_time(exif.get(old)):
            summary[new] = moment
    gps = exif.get("GPS")
    if isinstance(gps, dict):
        found = _gps({2: gps.get("GPSLatitude"), 1: gps.get("GPSLatitudeRef", "N"),
                      4: gps.get("GPSLongitude"), 3: gps.get("GPSLongitudeRef", "E")})  # fmt: skip
        if found:
            summary["gps"] = found
    return {key: value for key, value in summary.items() if value is not None}


def exif_notes(exif: dict[str, Any], posted_at: datetime | None = None) -> list[str]:
    """Plain-language remarks on stripped, edited or contradictory EXIF."""
    notes: list[str] = []
    if not exif:
        return ["no EXIF (stripped, as platforms do on upload)"]
    software = str(exif.get("software", ""))
    if any(editor in software.lower() for editor in _EDITORS):
        notes.append(f"edited with {software} (EXIF Software)")
    taken, modified = _parse_iso(exif.get("taken_at")), _parse_iso(exif.get("modified_at"))
    if taken and modified and modified < taken:
        notes.append(
            f"EXIF says modified ({exif['modified_at']}) before captured "
            f"({exif['taken_at']}): contradictory clock or edited metadata"
        )
    if taken and posted_at and _naive_utc(taken) > _naive_utc(posted_at):
        notes.append(
            f"EXIF capture time {exif['taken_at']} is after the post "
            f"({posted_at.isoformat()}): the camera clock or the metadata is wrong"
        )
    gps = exif.get("gps") or {}
    if gps and gps.get("latitude") == 0 and gps.get("longitude") == 0:
        notes.append("GPS at 0,0 (a placeholder, not a place)")
    return notes


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _naive_utc(moment: datetime) -> datetime:
    """Compare clocks roughly: aware times in UTC, naive ones taken as they are."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
