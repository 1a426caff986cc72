from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from osint.storage.media import FileMediaStore, MediaIntegrityError, MediaTooLarge


@pytest.fixture
def media(tmp_path: Path) -> FileMediaStore:
    return FileMediaStore(tmp_path / "media")


def test_content_addressed_layout(media: FileMediaStore) -> None:
    data = b"staged photo bytes"
    stored = media.put(data)
    sha = hashlib.sha256(data).hexdigest()
    assert stored.sha256 == sha and stored.size == len(data) and stored.created
    assert media.path_for(sha) == media.root / sha[:2] / sha[2:4] / sha
    assert media.read(sha) == data


def test_dedup(media: FileMediaStore) -> None:
    a = media.put(b"same")
    b = media.put(b"same")
    assert a.sha256 == b.sha256 and a.created and not b.created
    files = [p for p in media.root.rglob("*") if p.is_file()]
    assert len(files) == 1


def test_corruption_detected_on_read(media: FileMediaStore) -> None:
    sha = media.put(b"evidence").sha256
    path = media.path_for(sha)
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    assert not media.verify(sha)
    with pytest.raises(MediaIntegrityError, match="corrupted"):
        media.read(sha)
    # storing the right bytes again repairs the file
    assert media.put(b"evidence").created
    assert media.read(sha) == b"evidence"


def test_missing_file_is_an_integrity_error(media: FileMediaStore) -> None:
    with pytest.raises(MediaIntegrityError, match="missing"):
        media.read("0" * 64)


def test_failed_stream_leaves_nothing(media: FileMediaStore) -> None:
    def chunks():
        yield b"partial"
        raise ConnectionError("dropped mid-body")

    with pytest.raises(ConnectionError):
        media.put_stream(chunks())
    assert [p for p in media.root.rglob("*") if p.is_file()] == []


def test_size_cap(media: FileMediaStore) -> None:
    with pytest.raises(MediaTooLarge):
        media.put_stream(iter([b"x" * 600, b"x" * 600]), max_bytes=1000)
    assert [p for p in media.root.rglob("*") if p.is_file()] == []


def test_concurrent_writers_of_same_bytes(media: FileMediaStore) -> None:
    data = os.urandom(200_000)
    results = []
    threads = [threading.Thread(target=lambda: results.append(media.put(data))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({r.sha256 for r in results}) == 1
    assert media.verify(results[0].sha256)


def test_rejects_non_hash_names(media: FileMediaStore) -> None:
    with pytest.raises(ValueError):
        media.path_for("../../etc/passwd")
