"""Importers: data investigators already hold (files), turned into storage records, streamed."""

from __future__ import annotations

from dataclasses import dataclass


class ImportFormatError(ValueError):
    """The file cannot be read on as this format (wrong columns, malformed or truncated JSON)."""


@dataclass(frozen=True)
class ImportProblem:
    """A part of the input that could not be imported; the rest goes on.

    ``line`` numbers the place in the file's own terms: a line of a CSV or JSONL file, a
    message id of a Telegram export (``unit="message"``).
    """

    line: int
    message: str
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.message}"
