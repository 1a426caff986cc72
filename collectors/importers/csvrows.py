"""Reading the CSV files of research tools row by row, with problems named by line.

The shared part of the CSV importers (X's information-operations archive, CrowdTangle, 4CAT):
the header checked against the columns a format needs (a clear message naming what was found
and what was expected), then each row with its line number. A row that breaks the CSV syntax,
has the wrong number of cells or held bytes that are not UTF-8 becomes an
:class:`ImportProblem`; a file that breaks off (a cut-short gzip or zip) ends the rows with one,
after every row before the break.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from osint.collectors.importers import ImportFormatError, ImportProblem
from osint.collectors.importers.files import TextMember, TruncatedFile

# One cell limit for every CSV importer (the csv module's limit is process-wide, so it is set
# here, once, and every CSV reader imports this module): no platform's post text or profile
# comes near 1 MiB; a larger cell is refused as one problem, its row alone.
FIELD_LIMIT = 1 << 20
csv.field_size_limit(FIELD_LIMIT)
MAX_LISTED = 40  # columns named in a message


class ColumnsError(ImportFormatError):
    """The header lacks columns the format needs."""


def describe_columns(names: Iterable[str]) -> str:
    listed = [n for n in names]
    shown = ", ".join(listed[:MAX_LISTED])
    return shown + (f" and {len(listed) - MAX_LISTED} more" if len(listed) > MAX_LISTED else "")


def require_columns(
    header: Sequence[str], required: Iterable[str], what: str, *, expected: Iterable[str] = ()
) -> None:
    """Raise :class:`ColumnsError` unless every required column is in the header."""
    missing = [c for c in required if c not in header]
    if missing:
        raise ColumnsError(
            f"not {what}: missing column(s) {describe_columns(missing)}; "
            f"found: {describe_columns(header) or 'no header'}; "
            f"expected: {describe_columns(expected or required)}"
        )


def read_header(member: TextMember) -> tuple[Any, list[str]]:
    """A reader positioned after the header, and the header's names (stripped)."""
    reader = csv.reader(member.stream)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        header = []
    except (csv.Error, TruncatedFile) as exc:
        raise ImportFormatError(f"{member.name}: the header cannot be read ({exc})") from exc
    return reader, header


def rows(
    member: TextMember,
    reader: Any,
    width: int,
    *,
    unit: str = "line",
) -> Iterator[tuple[int, list[str]] | ImportProblem]:
    """``(line, cells)`` for each well-formed row, an :class:`ImportProblem` for each other one.

    ``line`` is the row's first line in the file (a quoted cell can span several).
    """
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield ImportProblem(line, f"not valid CSV ({exc})", unit)
            line = reader.line_num + 1
            continue
        except TruncatedFile as exc:
            yield ImportProblem(
                line, f"the file breaks off here ({exc}); the rows before it were read", unit
            )
            return
        # Text is decoded ahead of the rows, so the counter says only that the file has such
        # bytes; the rows that held them show U+FFFD.
        if member.bad_bytes and any("\ufffd" in cell for cell in row):
            yield ImportProblem(line, "bytes that are not UTF-8, read as U+FFFD", unit, kept=True)
        if len(row) != width:
            if any(cell.strip() for cell in row):
                yield ImportProblem(line, _width_message(width, len(row)), unit)
        else:
            yield line, row
        line = reader.line_num + 1


def _width_message(width: int, found: int) -> str:
    return f"expected {width} cells, found {found}" + (
        " (a quote left open, or the file cut short?)" if found < width else ""
    )


def parse_count(value: str) -> int | None:
    """A count as research exports write it: ``12``, ``12.0``, ``1,234``; None when blank."""
    text = value.strip()
    if not text or text.lower() in ("absent", "n/a", "nan", "none", "null"):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return int(float(text.replace(",", "")))
    except (ValueError, OverflowError):
        return None


def parse_day(value: str) -> datetime | None:
    """A ``YYYY-MM-DD`` date (any time after it ignored) as midnight UTC; None when blank."""
    text = value.strip()
    if not text:
        return None
    try:
        if text[4] != "-" or text[7] != "-" or (len(text) > 10 and text[10] not in " T"):
            raise ValueError(text)
        return datetime(int(text[0:4]), int(text[5:7]), int(text[8:10]), tzinfo=UTC)
    except (ValueError, IndexError):
        raise ValueError(f"not a date (YYYY-MM-DD): {text[:40]!r}") from None
