"""A strict reader of the Python list literals some research exports keep in CSV cells.

X's information-operations archive writes ``hashtags``, ``urls`` and ``user_mentions`` as the
``repr`` of a Python list: ``[]``, ``['Mali', 'Wagner']``, ``["l'armée"]``, ``[2882331822]``,
and in the oldest releases bare words (``[Mali, Wagner]``). This reads exactly that shape (one
flat list of strings, numbers or bare words) and nothing else: no ``eval``, no nesting, bounded
size, so a hostile cell costs at most :data:`MAX_CHARS` characters of work.
"""

from __future__ import annotations

import re

MAX_CHARS = 100_000  # a cell longer than this is refused, not parsed
MAX_ITEMS = 5_000

# One item then its separator: a quoted string (either quote, backslash escapes) or a bare token.
_ITEM = re.compile(
    r"""\s*(?:[uU]?'((?:[^'\\]|\\.)*)'|[uU]?"((?:[^"\\]|\\.)*)"|([^,'"\[\]\s](?:[^,'"\[\]]*[^,'"\[\]\s])?))\s*(,|\])""",
    re.DOTALL,
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {
    "\\": "\\",
    "'": "'",
    '"': '"',
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "v": "\v",
    "\n": "",  # a backslash-newline continues the string
}


class LiteralError(ValueError):
    """The cell is not a flat list literal."""


def parse_list(cell: str) -> list[str]:
    """The items of a list literal, as strings; an empty cell is an empty list."""
    text = cell.strip()
    if not text or text == "[]":
        return []
    if len(text) > MAX_CHARS:
        raise LiteralError(f"a list of {len(text):,} characters (more than {MAX_CHARS:,})")
    if text[0] != "[" or text[-1] != "]":
        raise LiteralError(f"not a list literal: {_preview(text)}")
    items: list[str] = []
    pos, end = 1, len(text)
    if not text[1:-1].strip():
        return []
    while pos < end:
        match = _ITEM.match(text, pos)
        if match is None:
            raise LiteralError(f"not a flat list of strings at character {pos}: {_preview(text)}")
        single, double, bare, separator = match.groups()
        value = single if single is not None else double if double is not None else bare
        assert value is not None
        items.append(_unescape(value) if "\\" in value and bare is None else value)
        if len(items) > MAX_ITEMS:
            raise LiteralError(f"a list of more than {MAX_ITEMS:,} items")
        pos = match.end()
        if separator == "]":
            if pos != end:
                raise LiteralError(f"text after the closing bracket: {_preview(text)}")
            return items
        if text[pos:].strip() == "]":  # a trailing comma, as Python allows
            return items
    raise LiteralError(f"no closing bracket: {_preview(text)}")


def _unescape(value: str) -> str:
    return _ESCAPE.sub(_escape_value, value)


def _escape_value(match: re.Match[str]) -> str:
    code = match.group(1)
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code]
    if code[0] in "xuU" and len(code) > 1:
        point = int(code[1:], 16)
        if point > 0x10FFFF or 0xD800 <= point <= 0xDFFF:
            raise LiteralError(f"an escape of no character: \\{code}")
        return chr(point)
    if code[0] in "01234567":
        return chr(int(code, 8))
    return "\\" + code  # Python keeps an unknown escape as written


def _preview(text: str, size: int = 60) -> str:
    return repr(text if len(text) <= size else text[:size] + "...")
