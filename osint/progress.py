"""How services report progress without knowing about terminals (cli.py renders it)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def update(self, stage: str, *, advance: int = 0, total: int | None = None) -> None:
        """``advance`` more items of ``stage`` are done (``total`` when it becomes known)."""

    def log(self, message: str) -> None:
        """A line the user should see: a warning, a skipped item, a notice."""


class NullProgress:
    """Progress that goes nowhere; collects the logged lines for callers that want them."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def update(self, stage: str, *, advance: int = 0, total: int | None = None) -> None:
        return None

    def log(self, message: str) -> None:
        self.messages.append(message)
