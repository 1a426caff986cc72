"""The media store: content-addressed files, written atomically, deduplicated, verified on read.

Layout: ``<root>/ab/cd/<sha256>`` where ``ab`` and ``cd`` are the first two byte pairs of the hash.
Bytes go to a temporary file in ``<root>/.tmp`` (same filesystem), are fsynced, then renamed into
place, so a crash never leaves a partial file under a hash name. :class:`MediaStore` is the small
interface another backend (object storage, say) implements; :class:`FileMediaStore` is the local one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024
_HEX = frozenset("0123456789abcdef")


class MediaIntegrityError(Exception):
    """Stored bytes no longer match their SHA-256, or the file is missing."""


class MediaTooLarge(Exception):
    """A stream exceeded the size cap; nothing was stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than the {limit:,}-byte cap")
        self.limit = limit


@dataclass(frozen=True)
class StoredMedia:
    sha256: str
    size: int
    created: bool  # False when the store already held these bytes


class MediaStore(Protocol):
    def put_stream(
        self, chunks: Iterable[bytes], *, max_bytes: int | None = None
    ) -> StoredMedia: ...

    def read(self, sha256: str, *, verify: bool = True) -> bytes: ...

    def open(self, sha256: str) -> BinaryIO: ...

    def exists(self, sha256: str) -> bool: ...

    def verify(self, sha256: str) -> bool: ...

    def local_path(self, sha256: str) -> Path | None: ...


def _check_hash(sha256: str) -> str:
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"not a lowercase SHA-256 hex digest: {sha256!r}")
    return sha256


class FileMediaStore:
    """Content-addressed files under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        _check_hash(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def local_path(self, sha256: str) -> Path | None:
        return self.path_for(sha256)

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

    def put(self, data: bytes) -> StoredMedia:
        return self.put_stream([data])

    def put_file(self, path: Path, *, max_bytes: int | None = None) -> StoredMedia:
        with Path(path).open("rb") as fh:
            return self.put_stream(iter(lambda: fh.read(CHUNK), b""), max_bytes=max_bytes)

    def put_stream(self, chunks: Iterable[bytes], *, max_bytes: int | None = None) -> StoredMedia:
        tmp_dir = self.root / ".tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="incoming-")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise MediaTooLarge(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            final = self.path_for(sha)
            if final.is_file() and self.verify(sha):
                tmp.unlink()
                return StoredMedia(sha, size, created=False)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(tmp, 0o444)
            os.replace(tmp, final)
            return StoredMedia(sha, size, created=True)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.path_for(sha256).open("rb")
        except FileNotFoundError as exc:
            raise MediaIntegrityError(f"media {sha256} is missing from {self.root}") from exc

    def read(self, sha256: str, *, verify: bool = True) -> bytes:
        with self.open(sha256) as fh:
            data = fh.read()
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            raise MediaIntegrityError(
                f"media {sha256} is corrupted: its bytes no longer match their SHA-256"
            )
        return data

    def verify(self, sha256: str) -> bool:
        digest = hashlib.sha256()
        try:
            with self.path_for(sha256).open("rb") as fh:
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            return False
        return digest.hexdigest() == sha256
