"""The same bytes get the same status and EXIF whether collected, imported or analysed (issue 15).

Each sample goes through the real collection (served by the loopback replay server), the real
Telegram-export import and the real image analysis; the ``media`` rows must agree, by SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import delete, select

from osint.analysis.images_pass import analyze_images
from osint.analyzers.images import hash_image
from osint.analyzers.mediainspect import MediaStatus, inspect_media
from osint.cases import create_case
from osint.collect import collect_account
from osint.config import Settings
from osint.demo.replay import ReplayServer
from osint.storage.db import Store
from osint.storage.models import Media
from osint.synth.photos import encode, load_photo
from tests.conftest import CliRun


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS 80D"  # Make, Model
    exif[0x0131], exif[0x0132] = "GIMP 2.10", "2022:04:21 09:58:00"  # Software, DateTime
    return exif.tobytes()


def samples() -> dict[str, tuple[bytes, str, MediaStatus]]:
    """name -> (bytes, the Content-Type a server would declare, the status they must get)."""
    photo = load_photo("chelsea")
    jpeg = encode(photo)
    with_exif = io.BytesIO()
    photo.save(with_exif, "JPEG", quality=90, exif=_exif())
    png_exif = io.BytesIO()
    photo.save(png_exif, "PNG", exif=_exif())
    gif = io.BytesIO()
    frames = [photo.rotate(angle).quantize(64) for angle in (0, 10, 20)]
    frames[0].save(gif, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\0"))
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'
    return {
        "photo": (jpeg, "image/jpeg", MediaStatus.OK),
        "photo_exif": (with_exif.getvalue(), "image/jpeg", MediaStatus.OK),
        "png_exif": (png_exif.getvalue(), "image/png", MediaStatus.OK),
        "animated": (gif.getvalue(), "image/gif", MediaStatus.OK),
        "truncated": (jpeg[: len(jpeg) // 2], "image/jpeg", MediaStatus.TRUNCATED),
        "corrupt": (b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR" + b"garbage" * 20, "image/png", "corrupt"),
        "bomb": (bomb, "image/png", MediaStatus.BOMB),
        "svg": (svg, "image/svg+xml", MediaStatus.NOT_AN_IMAGE),
        "unknown": (b"\x00\x01\x02 not a known format " * 8, "image/jpeg", "unsupported"),
        "empty": (b"", "image/jpeg", MediaStatus.EMPTY),
    }  # type: ignore[dict-item]


def media_rows(store: Store) -> dict[str, tuple[str, dict]]:
    with store.reader() as s:
        rows = s.execute(select(Media.sha256, Media.status, Media.exif)).all()
    return {sha: (status, exif or {}) for sha, status, exif in rows}


def collected(store: Store, settings: Settings, replay: ReplayServer) -> dict[str, tuple]:
    world = replay.world
    dia = world.add_account("x", "dia_diarra")
    for name, (data, declared, _status) in samples().items():
        world.add_post(dia, f"with {name}", media=[world.add_media(data, declared)])
    create_case(store, "collected")
    summary = collect_account(store, settings, platform="x", target="dia_diarra", case="collected")
    assert summary.status == "completed"
    return media_rows(store)


def imported(run_cli: CliRun, tmp_path: Path) -> Path:
    folder = tmp_path / "ChatExport"
    (folder / "photos").mkdir(parents=True)
    messages = []
    for number, (name, (data, _declared, _status)) in enumerate(samples().items(), start=1):
        extension = {"svg": "svg", "png_exif": "png", "animated": "gif"}.get(name, "jpg")
        (folder / "photos" / f"{name}.{extension}").write_bytes(data)
        unix = 1650535200 + 60 * number
        messages.append(
            {
                "id": number,
                "type": "message",
                "date": "2022-04-21T12:00:00",
                "date_unixtime": str(unix),
                "from": "Dia Diarra",
                "from_id": "channel1234",
                "text": name,
                "text_entities": [{"type": "plain", "text": name}],
                "photo": f"photos/{name}.{extension}",
            }
        )
    result = {"name": "Dia", "type": "public_channel", "id": 1234, "messages": messages}
    (folder / "result.json").write_text(json.dumps(result))
    run_cli("case", "new", "imported")
    run_cli("import", "telegram-export", str(folder), "--case", "imported")
    return folder


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_collected_imported_and_analysed_bytes_agree(
    store: Store,
    x_settings: Settings,
    replay: ReplayServer,
    run_cli: CliRun,
    tmp_path: Path,
) -> None:
    expected = {hashlib.sha256(d).hexdigest(): (n, s) for n, (d, _, s) in samples().items()}
    by_collect = collected(store, x_settings, replay)
    for sha, (name, status) in expected.items():
        assert by_collect[sha][0] == status, name
    with store.session() as s:  # forget the rows: the import must describe the bytes itself
        s.execute(delete(Media))
    imported(run_cli, tmp_path)
    by_import = media_rows(store)
    assert by_import.keys() == expected.keys()
    for sha, (name, _status) in expected.items():
        assert by_import[sha] == by_collect[sha], name
    data_by_sha = {hashlib.sha256(d).hexdigest(): d for d, _, _ in samples().values()}
    for sha, (name, status) in expected.items():
        record = hash_image(data_by_sha[sha])  # the analysis path, as a pure function
        assert record.status == status, name
        if record.ok:
            assert record.exif == by_collect[sha][1], name
    analyze_images(store, case="imported", workers=1)
    assert media_rows(store) == by_import  # the analysis stores what the first look found


def test_the_samples_cover_what_the_inspector_tells_apart() -> None:
    found = {name: inspect_media(data) for name, (data, _, _) in samples().items()}
    assert {f.status for f in found.values()} == set(MediaStatus) - {MediaStatus.UNREADABLE}
    assert found["animated"].animated and found["animated"].frames == 3
    assert not found["photo"].animated and found["photo"].exif == {}
    for name in ("photo_exif", "png_exif"):
        assert found[name].exif == {
            "make": "Canon",
            "model": "EOS 80D",
            "software": "GIMP 2.10",
            "modified_at": "2022-04-21T09:58:00",
        }, name
    assert found["truncated"].width == 451 and found["truncated"].problem
    assert found["svg"].mime == "image/svg+xml" and found["empty"].size == 0
