"""Writing exports: one record writer for every JSONL/CSV export, and files that appear whole.

:class:`RecordWriter` is the one writer behind ``osint export posts|events|images|coordination|
network --format csv`` and the bundle's ``data/`` tables. Its rules, the same everywhere:

- times are ISO 8601 UTC with a ``Z`` (``2022-04-21T08:14:00Z``, microseconds when non-zero);
- JSONL holds the exact values, one JSON object a line (UTF-8, not ASCII-escaped);
- in CSV, lists and objects are JSON text, booleans ``true``/``false``, missing values empty;
  a text cell that a spreadsheet would run as a formula (it starts with ``=`` ``+`` ``-`` ``@``,
  a tab or a carriage return) gets a leading ``'``, so it shows as text (the JSONL stays exact).

:func:`atomic_output` writes a file under a hidden temporary name in the same folder, fsyncs it
and renames it into place, so a failed or killed export leaves nothing under the final name. A
full disk becomes :class:`~osint.errors.DiskFullError` ("disk full: N bytes needed at PATH").
The partial files of writers that died (killed exports) are removed by the next export to the
same name: only files with our naming, idle for a while, whose writer no longer holds their lock.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TextIO, cast

from osint.errors import DiskFullError, InputError

FORMATS = ("jsonl", "csv")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
STALE_AFTER = 10.0  # seconds a partial file must be idle before another export may remove it
_PARTIAL = re.compile(r"^\.(?P<final>.+)\.[a-z0-9_]{8}\.partial$")


# -- values ----------------------------------------------------------------------------------
def utc_iso(value: datetime | None) -> str | None:
    """The one time format of every export: ISO 8601 in UTC, ending in ``Z``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # the store keeps naive times as UTC
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def formula_safe(text: str) -> str:
    """Text a spreadsheet would run as a formula, with a leading ``'`` (shown as text)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def json_value(value: Any) -> Any:
    """``json.dumps`` default: times in the one format, sets and tuples as lists."""
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=json_value, sort_keys=True)


def csv_cell(value: Any) -> Any:
    """One CSV cell by the rules above."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, datetime):
        return utc_iso(value)
    if isinstance(value, str):
        return formula_safe(value)
    return formula_safe(json_text(value))


def jsonl_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=json_value) + "\n"


class RecordWriter:
    """Writes records (dicts) as JSON lines or CSV to a text stream; ``count`` says how many."""

    def __init__(self, out: TextIO, fmt: str, fields: Sequence[str]) -> None:
        if fmt not in FORMATS:
            raise InputError(
                f"unknown export format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}"
            )
        self.out, self.fmt, self.fields, self.count = out, fmt, list(fields), 0
        self._csv: Any = None
        if fmt == "csv":
            self._csv = csv.writer(out, lineterminator="\r\n")
            self._csv.writerow(self.fields)

    def write(self, record: dict[str, Any]) -> None:
        if self._csv is None:
            self.out.write(jsonl_line(record))
        else:
            self._csv.writerow([csv_cell(record.get(name)) for name in self.fields])
        self.count += 1

    def write_all(self, records: Iterable[dict[str, Any]]) -> int:
        for record in records:
            self.write(record)
        return self.count


def write_rows(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """A CSV of plain rows (no records) by the same cell rules; returns the row count."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        count += 1
    return count


# -- files that appear whole -------------------------------------------------------------------
def _free_bytes(folder: Path) -> int | None:
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def disk_full(path: Path, needed: int | None, written: int | None = None) -> DiskFullError:
    free = _free_bytes(path.parent)
    parts = []
    if written is not None:
        parts.append(f"{written:,} bytes were written before the disk filled")
    if free is not None:
        parts.append(f"{free:,} bytes are free there")
    parts.append("nothing was left under that name; free space (or write elsewhere) and run again")
    return DiskFullError(path, needed, hint="; ".join(parts))


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether this error, or one it was raised from, is ENOSPC / EDQUOT."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"


def disk_full_error(exc: BaseException) -> DiskFullError | None:
    """The clear error for a full disk met anywhere (an OSError, SQLite or PostgreSQL), or None."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 20:
        if isinstance(current, DiskFullError):
            return current
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            where = current.filename or current.filename2
            return (
                disk_full(Path(os.fsdecode(where)), None)
                if where
                else DiskFullError("the data folder (OSINT_HOME) or the output folder", None)
            )
        orig = getattr(current, "orig", None)  # a database error wrapped by SQLAlchemy
        if getattr(orig, "sqlite_errorcode", None) == _SQLITE_FULL or (
            getattr(orig, "sqlstate", None) == _PG_DISK_FULL
        ):
            return DiskFullError(
                "the case store (database)",
                None,
                hint="free space where the database lives and run again; what was stored stays "
                "consistent and a re-run continues",
            )
        current = current.__cause__ or current.__context__
        seen += 1
    return None


class GuardedFile(io.RawIOBase):
    """A temporary output file that counts what is written and names a full disk clearly."""

    def __init__(self, fd: int, final: Path) -> None:
        super().__init__()
        self._fd, self.final, self.size = fd, final, 0

    def _full(self, needed: int) -> DiskFullError:
        return disk_full(self.final, needed, os.fstat(self._fd).st_size)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            try:
                done += os.write(self._fd, view[done:])
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    position = os.lseek(self._fd, 0, os.SEEK_CUR)
                    raise self._full(position + len(view) - done) from exc
                raise
        self.size = max(self.size, os.lseek(self._fd, 0, os.SEEK_CUR))
        return done

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return os.lseek(self._fd, offset, whence)

    def tell(self) -> int:
        return os.lseek(self._fd, 0, os.SEEK_CUR)

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise self._full(self.size) from exc
            raise

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def _lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def clean_stale_partials(final: Path, *, idle: float = STALE_AFTER) -> list[Path]:
    """Remove the partial files that dead writers left for ``final``; returns what went.

    Only files named as :func:`atomic_output` names them (``.NAME.xxxxxxxx.partial``, and the
    ``.NAME.xxxxxxxx`` of osint before 0.2), untouched for ``idle`` seconds, whose lock no live
    writer holds (a writer keeps an exclusive lock on its partial file until it renames it).
    """
    removed: list[Path] = []
    legacy = re.compile(rf"^\.{re.escape(final.name)}\.[a-z0-9_]{{8}}$")
    try:
        names = os.listdir(final.parent)
    except OSError:
        return removed
    for name in names:
        match = _PARTIAL.match(name)
        if not (match and match["final"] == final.name) and not legacy.match(name):
            continue
        path = final.parent / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not os.path.samestat(st, os.lstat(path)) or time.time() - st.st_mtime < idle:
                continue
            if st.st_uid == os.getuid() and _lock(fd):
                path.unlink()
                removed.append(path)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


class AtomicOutput:
    """``with AtomicOutput(path) as f``: a temporary file renamed to ``path`` only on success."""

    def __init__(self, path: Path, *, mode: int = 0o644) -> None:
        self.path = Path(path)
        self.mode = mode
        self.file: GuardedFile | None = None
        self.tmp: Path | None = None

    def __enter__(self) -> GuardedFile:
        if self.path.is_dir():
            raise InputError(f"{self.path} is a folder", hint="give a file name")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            clean_stale_partials(self.path)
            fd, name = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".partial"
            )
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(self.path, None) from exc
            raise InputError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        _lock(fd)
        self.tmp = Path(name)
        self.file = GuardedFile(fd, self.path)
        return self.file

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.file is not None and self.tmp is not None
        try:
            if exc is None:
                self.file.sync()
                os.fchmod(self.file.fileno(), self.mode)
                os.replace(self.tmp, self.path)
                _sync_folder(self.path.parent)
        except BaseException as failure:
            self._discard()
            if is_disk_full(failure) and not isinstance(failure, DiskFullError):
                raise disk_full(self.path, self.file.size) from failure
            raise
        finally:
            self.file.close()
        if exc is not None:
            self._discard()
            if is_disk_full(exc) and not isinstance(exc, DiskFullError):
                raise disk_full(self.path, self.file.size) from exc

    def _discard(self) -> None:
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_output(path: Path) -> AtomicOutput:
    """A binary file written whole or not at all (see :class:`AtomicOutput`)."""
    return AtomicOutput(path)


class Utf8Sink(io.TextIOBase):
    """Text written as UTF-8 to a binary stream through a 1 MiB buffer (dropped on failure)."""

    def __init__(self, raw: IO[bytes] | GuardedFile, *, buffer: int = 1 << 20) -> None:
        super().__init__()
        self._raw, self._limit = raw, buffer
        self._pending: list[bytes] = []
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self._pending.append(data)
        self._size += len(data)
        if self._size >= self._limit:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending, self._size = [], 0
            self._raw.write(data)
        flush = getattr(self._raw, "flush", None)
        if flush is not None:
            flush()

    def discard(self) -> None:
        self._pending, self._size = [], 0


@contextlib.contextmanager
def text_output(path: Path | str | None) -> Iterator[TextIO]:
    """A text stream for an export: stdout for None or ``-``, else an atomic UTF-8 file."""
    if path is None or str(path) == "-":
        sink = Utf8Sink(_stdout_binary())
        try:
            yield cast(TextIO, sink)
            sink.flush()
        finally:
            sink.discard()
        return
    with atomic_output(Path(path)) as raw:
        sink = Utf8Sink(raw)
        try:
            yield cast(TextIO, sink)
            sink.flush()
        finally:
            sink.discard()


def _stdout_binary() -> IO[bytes]:
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        return cast(IO[bytes], buffer)
    return cast(IO[bytes], _TextAsBinary(stream))


class _TextAsBinary(io.RawIOBase):
    """A text stream without a binary buffer (a test runner's capture) seen as bytes."""

    def __init__(self, text: TextIO) -> None:
        super().__init__()
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        raw = bytes(data)
        self._text.write(raw.decode("utf-8"))
        return len(raw)
