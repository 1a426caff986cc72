"""Loading, hashing and EXIF: the good path, and every kind of bad input a case collects."""

from __future__ import annotations

import io
import struct
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from osint.analyzers import images
from osint.analyzers.imagebatch import hash_files
from osint.analyzers.imagemeta import exif_notes
from osint.analyzers.images import ImageStatus, hash_image
from osint.analyzers.perceptual import GRID_SIZE, GRID_VARIANT, hamming
from osint.synth import photos


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return photos.load_photo("astronaut")


def phash_of(record: images.HashRecord, variant: str = "orig") -> int:
    return int(record.hashes[("phash", variant)], 16)


def test_hashes_stay_close_to_plain_imagehash(astronaut: Image.Image) -> None:
    big = astronaut.resize((1600, 1600), Image.Resampling.BICUBIC)
    data = photos.encode(big)
    record = hash_image(data)
    assert record.ok and record.format == "JPEG" and (record.width, record.height) == (1600, 1600)
    reference = int(str(imagehash.phash(Image.open(io.BytesIO(data)))), 16)
    assert hamming(phash_of(record), reference) <= 4
    reference_d = int(str(imagehash.dhash(Image.open(io.BytesIO(data)))), 16)
    assert hamming(int(record.hashes[("dhash", "orig")], 16), reference_d) <= 6
    assert len(record.hashes[("phash", GRID_VARIANT)]) == 16 * GRID_SIZE


def test_mirror_hash_is_the_hash_of_the_mirrored_picture(astronaut: Image.Image) -> None:
    record = hash_image(photos.encode(astronaut))
    mirrored = hash_image(photos.encode(photos.mirror(astronaut)))
    assert hamming(phash_of(record, "mirror"), phash_of(mirrored)) <= 4
    assert hamming(phash_of(record), phash_of(mirrored)) >= 16


def test_letterbox_is_trimmed_before_hashing(astronaut: Image.Image) -> None:
    plain = hash_image(photos.encode(astronaut))
    boxed = hash_image(photos.encode(photos.letterbox(astronaut)))
    assert ("phash", "trim") in boxed.hashes and ("phash", "trim") not in plain.hashes
    assert hamming(phash_of(boxed, "trim"), phash_of(plain)) <= 6
    assert hamming(phash_of(boxed), phash_of(plain)) > 6


def test_empty_file() -> None:
    record = hash_image(b"")
    assert record.status is ImageStatus.EMPTY and not record.hashes and "0 bytes" in record.note


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>', "SVG"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"<!DOCTYPE html><html><body>Rate limit exceeded</body></html>", "HTML"),
        (b'{"errors":[{"message":"Not found"}]}', "JSON"),
    ],
)
def test_documents_saved_as_jpg_are_not_images(tmp_path: Path, payload: bytes, named: str) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(payload)
    record = hash_image(path)
    assert record.status is ImageStatus.NOT_AN_IMAGE
    assert named in record.note and not record.hashes


def test_truncated_jpeg(astronaut: Image.Image) -> None:
    data = photos.encode(astronaut)
    record = hash_image(data[: len(data) // 2])
    assert record.status is ImageStatus.TRUNCATED and "ends before" in record.note


def test_corrupt_png_fails_its_crc(astronaut: Image.Image) -> None:
    damaged = bytearray(photos.encode(astronaut, fmt="PNG"))
    damaged[len(damaged) // 2] ^= 0xFF
    record = hash_image(bytes(damaged))
    assert record.status is ImageStatus.CORRUPT and "IDAT" in record.note


def test_garbage_bytes_are_unrecognized() -> None:
    record = hash_image(bytes(range(256)) * 4)
    assert record.status is ImageStatus.UNSUPPORTED


def test_animated_gif_hashes_first_frame(astronaut: Image.Image) -> None:
    frames = [astronaut, photos.mirror(astronaut), astronaut.rotate(90)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    record = hash_image(buffer.getvalue())
    assert record.ok and "animated (3 frames)" in record.note
    first_frame = hash_image(photos.encode(astronaut, fmt="PNG"))
    assert hamming(phash_of(record), phash_of(first_frame)) <= 6


def test_cmyk_jpeg(astronaut: Image.Image) -> None:
    buffer = io.BytesIO()
    astronaut.convert("CMYK").save(buffer, "JPEG", quality=90)
    record = hash_image(buffer.getvalue())
    assert record.ok and record.mode == "CMYK" and "CMYK" in record.note
    assert hamming(phash_of(record), phash_of(hash_image(photos.encode(astronaut)))) <= 4


def test_sixteen_bit_png_is_scaled_not_clipped(astronaut: Image.Image) -> None:
    gray8 = np.asarray(astronaut.convert("L"), dtype=np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(gray8 * 257).save(buffer, "PNG")  # full 16-bit range
    record = hash_image(buffer.getvalue())
    assert record.ok and "scaled to 8 bits" in record.note
    eight_bit = hash_image(photos.encode(astronaut.convert("L"), fmt="PNG"))
    assert hamming(phash_of(record), phash_of(eight_bit)) <= 4


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


@pytest.mark.parametrize("side", [12_000, 100_000])  # above the limit, above twice the limit
def test_decompression_bomb_is_never_decoded(side: int) -> None:
    started = time.perf_counter()
    record = hash_image(_png_header_only(side, side))
    assert record.status is ImageStatus.BOMB and "decompression bomb" in record.note
    assert time.perf_counter() - started < 0.5  # a decode of 144M+ pixels would take seconds


def test_pixel_limit_can_be_lowered(astronaut: Image.Image) -> None:
    record = hash_image(photos.encode(astronaut), max_pixels=100_000)
    assert record.status is ImageStatus.BOMB


def test_exif_camera_time_gps_and_software(astronaut: Image.Image) -> None:
    exif = Image.Exif()
    exif[271], exif[272], exif[305] = "Canon", "Canon EOS 5D", "Adobe Photoshop 24.0"
    exif[306] = "2021:05:01 10:00:00"
    exif.get_ifd(0x8769)[36867] = "2021:05:04 13:22:01"
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 29.6), 3: "W", 4: (2.0, 17.0, 40.2)})
    buffer = io.BytesIO()
    astronaut.save(buffer, "JPEG", exif=exif)
    record = hash_image(buffer.getvalue())
    assert record.exif["make"] == "Canon" and record.exif["model"] == "Canon EOS 5D"
    assert record.exif["taken_at"] == "2021-05-04T13:22:01"
    assert record.exif["gps"] == {
        "latitude": pytest.approx(48.858222),
        "longitude": pytest.approx(-2.294500),
    }
    notes = exif_notes(record.exif, posted_at=datetime(2021, 5, 1, tzinfo=UTC))
    assert any("Photoshop" in note for note in notes)
    assert any("modified" in note for note in notes)  # modified 1 May, captured 4 May
    assert any("after the post" in note for note in notes)


def test_missing_exif_is_noted(astronaut: Image.Image) -> None:
    record = hash_image(photos.encode(astronaut))
    assert record.exif == {}
    assert exif_notes(record.exif) == ["no EXIF (stripped, as platforms do on upload)"]


def test_exif_orientation_is_applied(astronaut: Image.Image) -> None:
    exif = Image.Exif()
    exif[274] = 6  # stored sideways, shown rotated 90 degrees clockwise
    buffer = io.BytesIO()
    astronaut.rotate(90, expand=True).save(buffer, "JPEG", exif=exif, quality=90)
    record = hash_image(buffer.getvalue())
    assert "orientation 6" in record.note
    assert hamming(phash_of(record), phash_of(hash_image(photos.encode(astronaut)))) <= 4


def test_batch_hasher_two_processes_keeps_every_item(
    tmp_path: Path, astronaut: Image.Image
) -> None:
    paths = {}
    for number in range(6):
        paths[number] = tmp_path / f"{number}.jpg"
        paths[number].write_bytes(photos.encode(photos.resize(astronaut, 0.5 + number / 10)))
    (tmp_path / "empty.jpg").write_bytes(b"")
    paths["empty"] = tmp_path / "empty.jpg"
    paths["missing"] = tmp_path / "missing.jpg"
    results = dict(hash_files(paths.items(), workers=2, chunk_size=2))
    assert set(results) == set(paths)
    assert results["empty"].status is ImageStatus.EMPTY
    assert results["missing"].status is ImageStatus.UNREADABLE
    firsts = {phash_of(results[number]) for number in range(6)}
    assert max(hamming(a, b) for a in firsts for b in firsts) <= 4


def test_pdq_needs_no_optional_package() -> None:
    record = hash_image(photos.encode(photos.load_photo("chelsea")), pdq=True)
    assert len(record.hashes[("pdq", "orig")]) == 64
    assert record.hashes[("pdq", "orig")] != record.hashes[("pdq", "mirror")]
    assert ("pdq", "orig") not in hash_image(photos.encode(photos.load_photo("chelsea"))).hashes
