"""Reading a text file line by line as bytes: bounded lines, decoding faults reported, not fatal.

A text stream decodes the file in chunks: one invalid byte raises for the whole chunk and the
rows before it in that chunk are lost, and one huge line is read into memory whole. Here each
line is read as bytes, at most :data:`MAX_LINE_BYTES` of it: a longer line is skipped (read on
in bounded pieces, never held) and a line that is not UTF-8 is reported with the byte offset
of the fault in the file. Both become problems of that line; the lines around them are read.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

MAX_LINE_BYTES = 64 * 1024 * 1024
_PIECE = 1024 * 1024


@dataclass(frozen=True)
class Line:
    """One line of the file: its number, the byte offset where it starts, its bytes."""

    number: int
    offset: int
    data: bytes


@dataclass
class Handover:
    """Asks :func:`iter_lines` to stop before its next line and says where that line starts."""

    requested: bool = False
    line: int | None = None  # the first line not read
    offset: int | None = None


@dataclass(frozen=True)
class BadLine:
    """A line that could not be read as text; ``message`` says why."""

    number: int
    offset: int
    message: str


def iter_lines(
    stream: BinaryIO,
    *,
    start_line: int = 1,
    start_offset: int = 0,
    limit: int | None = None,
    handover: Handover | None = None,
) -> Iterator[Line | BadLine]:
    """The lines of ``stream`` (a BOM at the very start dropped), or why one was skipped.

    ``handover``: once it is requested, stop at the next line boundary and note where.
    """
    limit = limit or MAX_LINE_BYTES
    number, offset = start_line, start_offset
    first = start_offset == 0
    while True:
        if handover is not None and handover.requested:
            handover.line, handover.offset = number, offset
            return
        data = stream.readline(limit + 1)
        if not data:
            return
        if first:
            first = False
            if data.startswith(codecs.BOM_UTF8):
                offset += len(codecs.BOM_UTF8)
                data = data[len(codecs.BOM_UTF8) :]
        if len(data) > limit and not data.endswith(b"\n"):
            size = len(data) + _skip_rest(stream)
            yield BadLine(
                number,
                offset,
                f"a line of {size:,} bytes, over the limit of {limit:,}: skipped",
            )
            offset += size
        else:
            yield Line(number, offset, data)
            offset += len(data)
        number += 1


def _skip_rest(stream: BinaryIO) -> int:
    skipped = 0
    while piece := stream.readline(_PIECE):
        skipped += len(piece)
        if piece.endswith(b"\n"):
            break
    return skipped


def decode_line(line: Line) -> str | BadLine:
    """The line as text, or a :class:`BadLine` naming the byte offset of the first fault."""
    try:
        return line.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return BadLine(
            line.number,
            line.offset,
            f"not UTF-8 at byte offset {line.offset + exc.start:,} ({exc.reason}): skipped",
        )
