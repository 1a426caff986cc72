"""Importers: data investigators already hold (files), turned into storage records, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from osint.storage.checks import Unfit, fit_post
from osint.storage.records import PostRecord


class ImportFormatError(ValueError):
    """The file cannot be read on as this format (wrong columns, malformed or truncated JSON)."""


@dataclass(frozen=True)
class ImportProblem:
    """A part of the input that could not be imported; the rest goes on.

    ``line`` numbers the place in the file's own terms: a line of a CSV or JSONL file, a
    message id of a Telegram export (``unit="message"``). ``kept``: the row was imported all
    the same, without the bad part or with it repaired (an attachment refused, a bad byte
    replaced): a note, not a lost row.
    """

    line: int
    message: str
    unit: str = "line"
    kept: bool = False  # the record was imported all the same (without the bad part)

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.message}"


def checked(
    rec: PostRecord, line: int, unit: str = "line", *, label: str | None = None
) -> Iterator[PostRecord | ImportProblem]:
    """``rec`` made fit for the store (:func:`storage.checks.fit_post`), with its notes; or why not.

    ``label`` names the record in the messages (the post id, unless said otherwise).
    """
    label = label or f"post {rec.platform_id}"
    try:
        notes = fit_post(rec)
    except Unfit as exc:
        yield ImportProblem(line, f"{str(label)[:80]}: {exc}: skipped", unit)
        return
    for note in notes:
        yield ImportProblem(line, f"{label}: {note}", unit, kept=True)
    yield rec
