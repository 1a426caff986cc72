"""Opening an import file as text, streamed: plain, gzip (``.gz``) or zip (``.zip``).

Research datasets travel compressed (X's information-operations releases as ``.zip`` or
``.csv.gz``, several GB once inflated): nothing here reads a whole file into memory. A zip is read
member by member, in name order. A zip cut short (its central directory, at the end, missing)
is still read from its first local header on, so a truncated download keeps what it holds.

Bytes that are not UTF-8 are replaced by U+FFFD and counted (:attr:`TextMember.bad_bytes`), so
the importer can name the lines they were on instead of giving up on the whole file.
"""

from __future__ import annotations

import codecs
import gzip
import io
import struct
import zipfile
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, BinaryIO, TextIO

from osint.collectors.importers import ImportFormatError

TEXT_SUFFIXES = (".csv", ".tsv", ".ndjson", ".jsonl", ".json", ".txt")
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_CHUNK = 1 << 20


class TruncatedFile(ImportFormatError):
    """The compressed stream ends before its end marker: the file was cut short."""


@dataclass
class DecodeCounter:
    """Counts the bytes replaced while decoding (one counter per member)."""

    count: int = 0


@dataclass
class TextMember:
    """One text file to read: the file itself, the inflated ``.gz``, or one member of a zip."""

    name: str  # the file's own name (a zip member's name, a .gz without its suffix)
    stream: TextIO
    counter: DecodeCounter = field(default_factory=DecodeCounter)

    @property
    def bad_bytes(self) -> int:
        return self.counter.count


def inner_name(path: Path) -> str:
    """The name of what ``path`` holds: ``x.csv.gz`` holds ``x.csv``."""
    return path.name[:-3] if path.name.lower().endswith(".gz") else path.name


def is_zip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == _LOCAL_SIGNATURE


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def open_members(path: Path) -> Generator[TextMember, None, None]:
    """The text files ``path`` holds, opened one after the other (each closed after use)."""
    try:
        zipped, gzipped = is_zip(path), is_gzip(path)
    except OSError as exc:
        raise ImportFormatError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if zipped:
        yield from _zip_members(path)
    elif gzipped:
        with gzip.open(path, "rb") as raw:
            yield text_member(inner_name(path), _Guarded(raw, inner_name(path)))
    else:
        with path.open("rb") as raw:
            yield text_member(path.name, _Guarded(raw, path.name))


def text_member(name: str, raw: io.RawIOBase) -> TextMember:
    counter = DecodeCounter()
    stream = io.TextIOWrapper(
        io.BufferedReader(raw, _CHUNK),
        encoding="utf-8-sig",
        errors=_counting_handler(counter),
        newline="",
    )
    return TextMember(name, stream, counter)


def _counting_handler(counter: DecodeCounter) -> str:
    name = f"osint-import-{id(counter)}"

    def replace(error: UnicodeError) -> tuple[str, int]:
        if not isinstance(error, UnicodeDecodeError):
            raise error
        counter.count += error.end - error.start
        return "\ufffd", error.end

    codecs.register_error(name, replace)
    return name


def _zip_members(path: Path) -> Iterator[TextMember]:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        yield from _truncated_zip(path)  # no central directory: read what the file holds
        return
    with archive:
        names = sorted(
            info.filename
            for info in archive.infolist()
            if not info.is_dir()
            and not info.filename.startswith("__MACOSX/")
            and info.filename.lower().endswith(TEXT_SUFFIXES)
        )
        if not names:
            listed = ", ".join(i.filename for i in archive.infolist()[:10]) or "nothing"
            raise ImportFormatError(f"the zip holds no CSV or JSON file (it holds {listed})")
        for name in names:
            with archive.open(name) as raw:
                yield text_member(Path(name).name, _Guarded(raw, name))


def _truncated_zip(path: Path) -> Iterator[TextMember]:
    """The first member of a zip without its central directory, streamed from its local header."""
    with path.open("rb") as fh:
        head = fh.read(_LOCAL_HEADER.size)
        if len(head) < _LOCAL_HEADER.size:
            raise TruncatedFile("the zip file ends inside its first header")
        fields = _LOCAL_HEADER.unpack(head)
        method, name_len, extra_len = fields[3], fields[9], fields[10]
        name = fh.read(name_len).decode("utf-8", "replace")
        fh.read(extra_len)
        if method not in (0, 8):
            raise ImportFormatError(f"zip member {name} uses compression method {method}")
        raw: IO[bytes] | io.RawIOBase = _Inflating(fh) if method == 8 else fh
        yield text_member(Path(name).name, _Guarded(raw, name))


class _Inflating(io.RawIOBase):
    """A raw-deflate stream read incrementally (what a zip member holds)."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._pending = b""
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._ended:
            compressed = self._source.read(_CHUNK)
            if not compressed:
                raise TruncatedFile("the zip member breaks off (the file was cut short)")
            self._pending = self._inflater.decompress(compressed)
            if self._inflater.eof:
                self._ended = True
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _Guarded(io.RawIOBase):
    """Turns the stream errors of a cut-short gzip or zip into :class:`TruncatedFile`."""

    def __init__(self, raw: IO[bytes] | io.RawIOBase | gzip.GzipFile, name: str) -> None:
        self._raw = raw
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        try:
            # read1: one step of inflating at a time, so that the bytes before a break are
            # handed on before the step that meets the break raises
            read = getattr(self._raw, "read1", None) or self._raw.read
            data = read(len(buffer))
        except (EOFError, zlib.error, zipfile.BadZipFile) as exc:
            raise TruncatedFile(f"{self._name} breaks off: {exc}") from exc
        size = len(data)
        buffer[:size] = data
        return size
