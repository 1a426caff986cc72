"""Importers: data investigators already hold (files), turned into storage records, streamed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImportProblem:
    """A part of the input that could not be imported; the rest goes on."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"
