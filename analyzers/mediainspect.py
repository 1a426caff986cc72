"""One media inspector: what a file's bytes are, whichever way they came in.

Collected downloads (``osint.collect_media``), imported files (``osint.mediafacts``) and the
image analysis (``analyzers.images``) all read media through this module, so the same bytes get
the same :class:`MediaStatus`, the same dimensions and the same EXIF (``analyzers.imagemeta``'s
``exif_summary``, the one EXIF cleaner). The status depends on the bytes only, never on a
declared Content-Type or a file name (those only fill ``mime`` when the bytes say nothing).

Reading never trusts the file: the first bytes are sniffed (an HTML page or an SVG saved as
.jpg is reported, not decoded), the pixel count is checked against Pillow's decompression-bomb
limit from the header alone (a bomb is never decoded), PNG chunk CRCs are checked, and decoder
errors become a status with a plain-language note instead of an exception.

It lives in ``analyzers/`` (pure: bytes in, a record out; no DB, no network) and is called by the
services; collectors only fetch bytes, so no collector needs it.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

from PIL import Image, UnidentifiedImageError

from osint.analyzers.imagemeta import exif_summary

NOTE_LIMIT = 300  # characters kept of a decoder's own message
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError)  # what Pillow raises


class MediaStatus(StrEnum):
    """What reading a file found (stored as ``Media.status``). Only ``ok`` is hashed."""

    OK = "ok"
    EMPTY = "empty"  # 0-byte file
    NOT_AN_IMAGE = "not_image"  # HTML, SVG, JSON, text saved under an image name
    UNSUPPORTED = "unsupported"  # bytes Pillow cannot identify (video, PDF, unknown formats)
    TRUNCATED = "truncated"  # the file stops before the picture ends
    CORRUPT = "corrupt"  # broken structure or checksums
    BOMB = "bomb"  # above the decompression-bomb pixel limit: never decoded
    UNREADABLE = "unreadable"  # the file itself could not be read


class MediaProblem(Exception):
    """Bad input found while reading a picture: its status and a plain-language note."""

    def __init__(self, status: MediaStatus, note: str) -> None:
        super().__init__(note)
        self.status = status
        self.note = note


@dataclass(frozen=True)
class MediaInspection:
    """The one record of what a file is; ``problem`` says what is wrong when status is not ok."""

    status: MediaStatus
    size: int
    mime: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    frames: int = 1
    exif: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is MediaStatus.OK

    @property
    def animated(self) -> bool:
        return self.frames > 1


_SNIFF_MARKERS = (
    (b"<svg", "an SVG drawing", "image/svg+xml"),
    (b"<?xml", "an XML/SVG document", "application/xml"),
    (b"<!doctype html", "an HTML page", "text/html"),
    (b"<html", "an HTML page", "text/html"),
    (b"<head", "an HTML page", "text/html"),
    (b"{", "JSON or text", "application/json"),
    (b"[", "JSON or text", "application/json"),
)


# Magic numbers of the picture formats platforms serve: bytes that start so are a broken picture.
_IMAGE_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"II*\0",
    b"MM\0*",
)


def sniff_document(head: bytes) -> tuple[str, str] | None:
    """(description, mime) if ``head`` (first bytes of a file) is markup or text, else None."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    for marker, name, mime in _SNIFF_MARKERS:
        if text.startswith(marker):
            if marker == b"<?xml" and b"<svg" in text[:1024]:
                return "an SVG drawing", "image/svg+xml"
            return name, mime
    # Text with markup further in (a comment or doctype first); never binary image headers.
    textual = all(32 <= byte < 127 or byte in b"\t\r\n" for byte in text[:64])
    if textual and b"<svg" in text[:1024]:
        return "an SVG drawing", "image/svg+xml"
    if textual and b"<html" in text[:1024]:
        return "an HTML page", "text/html"
    return None


def sniff_non_image(head: bytes) -> str | None:
    """Name the document type if ``head`` is markup or text, else None."""
    found = sniff_document(head)
    return found[0] if found else None


def read_source(source: Path | bytes | IO[bytes]) -> bytes:
    """The bytes of ``source``; an unreadable file is a MediaProblem, not an OSError."""
    if isinstance(source, bytes):
        return source
    try:
        if isinstance(source, Path | str):
            return Path(source).read_bytes()
        source.seek(0)
        data = source.read()
        source.seek(0)
        return data
    except OSError as error:
        raise MediaProblem(MediaStatus.UNREADABLE, f"cannot read the file: {error}") from error


def open_checked(data: bytes, max_pixels: int | None = None) -> Image.Image:
    """Open (header only) and refuse bombs and non-pictures before any pixel is decoded."""
    if not data:
        raise MediaProblem(MediaStatus.EMPTY, "the file is empty (0 bytes)")
    document = sniff_non_image(data[:2048])
    if document:
        raise MediaProblem(
            MediaStatus.NOT_AN_IMAGE,
            f"not an image: the bytes are {document} (saved as a file "
            "with an image name); keep it as a document, not a picture",
        )
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        with warnings.catch_warnings():
            # Pillow warns between 1x and 2x its limit and raises past 2x: both are bombs here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise MediaProblem(MediaStatus.BOMB, _bomb_note(str(error))) from error
    except UnidentifiedImageError as error:
        if data.startswith(_IMAGE_SIGNATURES) or data[8:12] == b"WEBP":
            raise MediaProblem(
                MediaStatus.CORRUPT, "broken image header: it starts like a picture but is not one"
            ) from error
        raise MediaProblem(MediaStatus.UNSUPPORTED, "not a picture format Pillow knows") from error
    except DECODE_ERRORS as error:
        found = decode_problem(error)
        if found.status is MediaStatus.CORRUPT:
            found = MediaProblem(MediaStatus.CORRUPT, f"broken image header: {error}")
        raise found from error
    if image.format == "PNG" and (damage := png_chunk_problem(data)):
        raise MediaProblem(MediaStatus.CORRUPT, damage)
    if limit is not None and image.width * image.height > limit:
        raise MediaProblem(
            MediaStatus.BOMB,
            _bomb_note(
                f"{image.width}x{image.height} = {image.width * image.height} pixels "
                f"exceeds the limit of {limit}"
            ),
        )
    return image


def png_chunk_problem(data: bytes) -> str | None:
    """Walk a PNG's chunks and check each CRC (Pillow does not check the pixel data's)."""
    position = 8
    while position + 12 <= len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        end = position + 12 + length
        if end > len(data):
            return None  # cut short: the decoder reports it as truncated
        (stored,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(data[position + 4 : end - 4]) != stored:
            name = kind.decode("latin-1", errors="replace")
            return f"PNG chunk {name} at byte {position} fails its CRC check: the file is damaged"
        if kind == b"IEND":
            return None
        position = end
    return None


def _bomb_note(detail: str) -> str:
    return (
        f"possible decompression bomb, not decoded: {detail}. Inspect it by hand if it "
        "matters (the file is kept)."
    )


def decode_problem(error: BaseException) -> MediaProblem:
    """Name a decoder's failure: the file stops early (truncated) or its data is damaged."""
    message = str(error)[:NOTE_LIMIT]
    lowered = message.lower()
    if "truncated" in lowered or isinstance(error, EOFError) or "premature end" in lowered:
        return MediaProblem(
            MediaStatus.TRUNCATED,
            f"the file ends before the picture does ({message}); "
            "re-download it if the source still has it",
        )
    return MediaProblem(MediaStatus.CORRUPT, f"the picture data is damaged ({message})")


def frame_count(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1)) if getattr(image, "is_animated", False) else 1


def inspect_media(
    source: Path | bytes | IO[bytes],
    *,
    declared_type: str | None = None,
    max_pixels: int | None = None,
) -> MediaInspection:
    """Identify and fully decode ``source``. Never raises for bad input.

    ``declared_type`` (a Content-Type or a type guessed from a file name) only fills ``mime``
    when the bytes are not a picture; it never changes the status.
    """
    try:
        data = read_source(source)
    except MediaProblem as unread:
        return MediaInspection(unread.status, 0, mime=declared_type, problem=unread.note)
    try:
        image = open_checked(data, max_pixels)
    except MediaProblem as refused:
        sniffed = sniff_document(data[:2048]) if data else None
        mime = sniffed[1] if sniffed else declared_type
        return MediaInspection(refused.status, len(data), mime=mime, problem=refused.note)
    facts: dict[str, Any] = {
        "size": len(data),
        "mime": Image.MIME.get(image.format or "") or declared_type,
        "format": image.format,
        "width": image.width,
        "height": image.height,
        "frames": frame_count(image),
        "exif": exif_summary(image),
    }
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's decoder chatter; failures still raise
            image.load()  # decodes every pixel: truncated or corrupt data only shows here
    except DECODE_ERRORS as error:
        broken = decode_problem(error)
        return MediaInspection(broken.status, **facts, problem=broken.note)
    finally:
        image.close()
    return MediaInspection(MediaStatus.OK, **facts)
