"""The one media inspector: status, size, EXIF; never raises on bad bytes."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from osint.analyzers.mediainspect import inspect_media


def jpeg(width: int = 120, height: int = 80, **save: object) -> bytes:
    image = Image.new("RGB", (width, height), (120, 30, 200))
    for x in range(0, width, 3):
        image.putpixel((x, x % height), (x % 256, 255 - x % 256, 0))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **save)
    return buffer.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def test_a_sound_jpeg_with_exif() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Canon"  # Make
    exif[0x0132] = "2022:04:21 09:15:00"  # DateTime
    info = inspect_media(io.BytesIO(jpeg(exif=exif.tobytes())), declared_type="image/jpeg")
    assert (info.status, info.mime, info.width, info.height) == ("ok", "image/jpeg", 120, 80)
    assert info.exif == {"make": "Canon", "modified_at": "2022-04-21T09:15:00"}


@pytest.mark.parametrize(
    ("data", "declared", "status"),
    [
        (jpeg()[:400], "image/jpeg", "truncated"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "image/jpeg", "not_image"),
        (b'{"errors": []}', "application/json", "not_image"),
        (b"\x00\x01garbage" * 20, "image/jpeg", "unsupported"),
        (b"", "image/jpeg", "empty"),
        (png_bomb(40_000, 40_000), "image/png", "bomb"),  # past 2x Pillow's limit: error
        (png_bomb(10_000, 10_000), "image/png", "bomb"),  # between 1x and 2x: warning
    ],
    ids=["truncated", "html", "json", "garbage", "empty", "bomb", "bomb-warning"],
)
def test_bad_bytes_get_a_status(data: bytes, declared: str, status: str) -> None:
    info = inspect_media(io.BytesIO(data), declared_type=declared)
    assert info.status == status, info.problem


def test_the_bomb_limit_is_pillows() -> None:
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # osint never raises Pillow's default limit


def test_exif_stored_by_the_old_inspectors_reads_in_the_one_shape() -> None:
    from osint.analyzers.imagemeta import stored_exif

    old_collect = {"Make": "Canon", "DateTime": "2022:04:21 09:15:00", "tag59932": "00"}
    old_import = {
        "Model": "EOS 80D",
        "DateTimeOriginal": "2022:04:20 18:00:00",
        "GPS": {"GPSLatitude": [12, 39, 0], "GPSLatitudeRef": "N", "GPSLongitude": [8, 0, 0],
                "GPSLongitudeRef": "W"},
    }  # fmt: skip
    assert stored_exif(old_collect) == {"make": "Canon", "modified_at": "2022-04-21T09:15:00"}
    assert stored_exif(old_import) == {
        "model": "EOS 80D",
        "taken_at": "2022-04-20T18:00:00",
        "gps": {"latitude": 12.65, "longitude": -8.0},
    }
    new = {"make": "Canon", "gps": {"latitude": 1.0, "longitude": 2.0}}
    assert stored_exif(new) == new and stored_exif(None) == {}
