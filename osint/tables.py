"""A case's rows, table by table, as plain JSON-ready dicts: what bundles export as JSONL and CSV.

The rows come from ``storage.casetables`` (which tables, which rows of the case, in batches).
Values become JSON types: times ISO 8601 UTC, JSON columns as they are; in CSV, lists and dicts
are written as JSON text and formula-like text is neutralised, by the rules of
:mod:`osint.writers` (the one writer of every export).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import IO, Any

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Session

from osint.storage.casetables import ExportTable, table_rows
from osint.storage.types import UTCDateTime
from osint.writers import csv_cell, formula_safe, json_text, utc_iso
from osint.writers import jsonl_line as record_line


def _iso(value: datetime) -> str:
    return utc_iso(value) or ""


_json_text = json_text
_spreadsheet_safe = formula_safe


def _flag(value: bool) -> str:
    return str(csv_cell(bool(value)))


def _json_converters(table: ExportTable) -> list[Callable[[Any], Any] | None]:
    return [_iso if isinstance(c.type, UTCDateTime) else None for c in table.table_columns]


def _csv_converters(table: ExportTable) -> list[Callable[[Any], Any] | None]:
    converters: list[Callable[[Any], Any] | None] = []
    for column in table.table_columns:
        if isinstance(column.type, JSON):
            converters.append(lambda v: _spreadsheet_safe(_json_text(v)))
        elif isinstance(column.type, Boolean):
            converters.append(_flag)
        elif isinstance(column.type, String):
            converters.append(_spreadsheet_safe)
        else:
            converters.append(None)  # numbers; times arrive as ISO text already
    return converters


def iter_rows(session: Session, table: ExportTable, case_id: int) -> Iterator[dict[str, Any]]:
    """The case's rows of one table, as JSON-ready dicts, in primary-key order."""
    columns = table.columns
    converters = _json_converters(table)
    for row in table_rows(session, table, case_id):
        yield {
            name: (convert(value) if convert and value is not None else value)
            for name, convert, value in zip(columns, converters, row, strict=True)
        }


def jsonl_line(row: dict[str, Any]) -> bytes:
    return record_line(row).encode("utf-8")


class CsvWriter:
    """Writes a table's rows (dicts from :func:`iter_rows`) as CSV to a binary file."""

    def __init__(self, out: IO[bytes], table: ExportTable) -> None:
        self._text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._columns = table.columns
        self._converters = list(zip(self._columns, _csv_converters(table), strict=True))
        self._writer.writerow(self._columns)

    def write(self, row: dict[str, Any]) -> None:
        cells = []
        for name, convert in self._converters:
            value = row[name]
            if value is None:
                cells.append("")
            else:
                cells.append(convert(value) if convert else value)
        self._writer.writerow(cells)

    def finish(self) -> None:
        """Flush everything to the underlying file, leaving it open."""
        self._text.flush()
        self._text.detach()
