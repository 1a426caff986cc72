"""Writing a zip one streamed member at a time, hashing every byte and refusing secrets.

:class:`HashingZip` records each member's size and SHA-256 as it is written (for the manifest),
never holds a whole file in memory, and stores already-compressed data (images, ``.warc.gz``)
without recompressing it. Members are written with their size known (files as they are, streams
spooled to a temporary file first), so ZIP64 headers appear only on a member that needs them
(over 2 GiB): ReplayWeb.page and other readers reject forced ZIP64 local headers. Every byte written is also searched for the configured secrets (API
tokens), and gzip members are searched after decompression too: a token that slipped into a
capture makes the export fail, naming the file, instead of leaving in a bundle.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO
from zipfile import ZIP_DEFLATED, ZIP_STORED, ZipFile, ZipInfo

from osint.errors import ExportError

CHUNK = 1024 * 1024
MIN_SECRET_LEN = 12  # shorter values would match random bytes of images by chance


@dataclass(frozen=True)
class MemberDigest:
    path: str
    size: int
    sha256: str


class SecretScanner:
    """Finds any of ``secrets`` in a stream fed in pieces (matches across piece boundaries too)."""

    def __init__(self, secrets: Iterable[bytes]) -> None:
        self.secrets = [s for s in secrets if len(s) >= MIN_SECRET_LEN]
        self._keep = max((len(s) for s in self.secrets), default=1) - 1
        self._tail = b""

    def feed(self, data: bytes) -> bool:
        if not self.secrets or not data:
            return False
        window = self._tail + data
        found = any(secret in window for secret in self.secrets)
        self._tail = window[-self._keep :] if self._keep else b""
        return found


class _GzipScanner:
    """Decompresses a (multi-member) gzip stream on the fly and scans what comes out."""

    def __init__(self, secrets: Iterable[bytes]) -> None:
        self.scanner = SecretScanner(secrets)
        self._inflate: zlib._Decompress | None = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes) -> bool:
        while data and self._inflate is not None:
            try:
                out = self._inflate.decompress(data, CHUNK)
                data = self._inflate.unconsumed_tail
            except zlib.error:
                self._inflate = None  # not gzip after all: the raw bytes were scanned anyway
                return False
            if self.scanner.feed(out):
                return True
            if self._inflate.eof:
                data = self._inflate.unused_data + data
                self._inflate = zlib.decompressobj(wbits=31)
        return False


class MemberWriter:
    """A writable member of the zip: buffered, hashed, scanned for secrets."""

    def __init__(self, owner: HashingZip, path: str, raw: IO[bytes], gzip_inside: bool) -> None:
        self.owner = owner
        self.path = path
        self._raw = raw
        self._digest = hashlib.sha256()
        self._size = 0
        self._buffer = bytearray()
        self._scanner = SecretScanner(owner.secrets)
        self._gzip = _GzipScanner(owner.secrets) if gzip_inside and owner.secrets else None

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= CHUNK:
            self._flush()
        return len(data)

    def _flush(self) -> None:
        if not self._buffer:
            return
        data = bytes(self._buffer)
        self._buffer.clear()
        if self._scanner.feed(data) or (self._gzip is not None and self._gzip.feed(data)):
            raise ExportError(
                f"a configured secret (API token) appears in {self.path}; nothing was exported",
                hint="remove the token from that capture or file, or rotate the token",
            )
        self._digest.update(data)
        self._size += len(data)
        self._raw.write(data)

    def __enter__(self) -> MemberWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self._flush()
        finally:
            self._raw.close()
        if exc_type is None:
            self.owner.members.append(MemberDigest(self.path, self._size, self._digest.hexdigest()))


class HashingZip:
    """A zip being written; ``members`` lists every member written, with its size and SHA-256."""

    def __init__(
        self, zf: ZipFile, secrets: Iterable[bytes] = (), *, spool_dir: Path | None = None
    ) -> None:
        self.zf = zf
        self.secrets = [s for s in secrets if s]
        self.members: list[MemberDigest] = []
        self.spool_dir = spool_dir
        self._date = time.gmtime()[:6]

    def open(
        self, path: str, *, compress: bool, size: int | None, gzip_inside: bool = False
    ) -> MemberWriter:
        """A member of ``size`` bytes (None: unknown, written with ZIP64 headers)."""
        info = ZipInfo(path, date_time=self._date)
        info.compress_type = ZIP_DEFLATED if compress else ZIP_STORED
        info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
        if size is not None:
            info.file_size = size  # zipfile adds ZIP64 extras only if this needs them
        raw = self.zf.open(info, "w", force_zip64=size is None)
        return MemberWriter(self, path, raw, gzip_inside)

    @contextmanager
    def spooled(self, path: str, *, compress: bool) -> Iterator[IO[bytes]]:
        """A temporary file to write a member of unknown size into; added when the block ends."""
        with tempfile.TemporaryFile(dir=self.spool_dir) as spool:
            yield spool
            spool.flush()
            spool.seek(0)
            self.write_file(path, spool, compress=compress)

    def write_chunks(self, path: str, chunks: Iterable[bytes], *, compress: bool) -> MemberDigest:
        with self.spooled(path, compress=compress) as spool:
            for chunk in chunks:
                spool.write(chunk)
        return self.members[-1]

    def write_file(self, path: str, source: IO[bytes], *, compress: bool = False) -> MemberDigest:
        try:
            size = os.fstat(source.fileno()).st_size - source.tell()
        except (AttributeError, OSError, ValueError):  # not a file on disk: learn its size first
            return self.write_chunks(path, iter(lambda: source.read(CHUNK), b""), compress=compress)
        with self.open(
            path, compress=compress, size=size, gzip_inside=path.endswith(".gz")
        ) as member:
            while chunk := source.read(CHUNK):
                member.write(chunk)
        return self.members[-1]

    def write_bytes(self, path: str, data: bytes, *, compress: bool = True) -> MemberDigest:
        with self.open(path, compress=compress, size=len(data)) as member:
            member.write(data)
        return self.members[-1]
