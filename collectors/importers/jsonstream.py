"""A JSON byte stream whose over-long strings are cut before a parser has to hold them.

A streaming parser still holds each value whole, and yajl (ijson's fastest backend) re-reads a
string that spans its buffers from the start at every buffer: a 16 MB text took 8 s, a 400 MB
one did not finish. :class:`CappedStrings` wraps the file and ends any string after
:data:`MAX_STRING_BYTES` of it (at a character and escape boundary), with :data:`CUT_MARK`
before the closing quote; the rest of the string is read past, never kept. The JSON stays valid
and every other value is untouched, so the parse goes on.

It follows where strings start and end from the quotes of each chunk, counted in C
(``bytes.count``; the rare backslash-quote pairs by regular expression), so it costs a few
operations per chunk, not per character.
"""

from __future__ import annotations

import re
from typing import BinaryIO

MAX_STRING_BYTES = 1024 * 1024
CUT_MARK = "[cut by osint: longer than 1 MiB]"
_CUT_BYTES = b" " + CUT_MARK.encode() + b'"'
_CHUNK = 1024 * 1024
_BACKSLASH = 0x5C
_ESCAPED_QUOTES = re.compile(rb'\\+"')
_UNESCAPED_QUOTE = re.compile(rb'(?<!\\)(?:\\\\)*"')
_HIGH_SURROGATE_END = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}$")
_PARTIAL_UNICODE = re.compile(rb"\\u[0-9a-fA-F]{0,3}$")


class CappedStrings:
    """``read()`` of the wrapped stream, with every JSON string cut at ``cap`` bytes."""

    def __init__(self, raw: BinaryIO, cap: int = MAX_STRING_BYTES) -> None:
        self.raw = raw
        self.cap = cap
        self.cuts = 0  # strings cut so far
        self._pos = 0  # offset in the file of the next byte read
        self._in_string = False
        self._string_start = 0  # offset of the current string's first byte
        self._carry = 0  # backslashes ending the last chunk (inside a string)
        self._skipping = False  # reading past the rest of a cut string

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson asks for nothing to learn whether the stream gives bytes
            return b""
        size = _CHUNK if size is None or size < 0 else size
        while True:
            chunk = self.raw.read(size)
            if not chunk:
                return b""
            start = self._pos
            self._pos += len(chunk)
            if self._skipping:
                end = self._closing_quote(chunk)
                if end < 0:
                    self._carry = _trailing_backslashes(chunk, self._carry)
                    continue
                self._skipping, self._in_string, self._carry = False, False, 0
                chunk, start = chunk[end + 1 :], start + end + 1
                if not chunk:
                    continue
            return self._scan(chunk, start)

    def _scan(self, chunk: bytes, start: int) -> bytes:
        before = self._carry
        quotes = chunk.count(b'"') - self._escaped(chunk)
        if quotes:
            last = self._last_unescaped(chunk)
            if quotes % 2:
                self._in_string = not self._in_string
            if self._in_string:
                self._string_start = start + last + 1
        if not self._in_string:
            self._carry = 0
            return chunk
        self._carry = _trailing_backslashes(chunk, self._carry if not quotes else 0)
        if start + len(chunk) - self._string_start <= self.cap:
            return chunk
        # this string is too long: end it here, read past the rest
        self.cuts += 1
        self._skipping = True
        floor = max(0, self._string_start - start)
        carry = before if floor == 0 else 0
        keep, double = _safe_end(chunk, floor, carry)
        return chunk[:keep] + (b"\\" if double else b"") + _CUT_BYTES

    def _escaped(self, chunk: bytes) -> int:
        """How many quotes of the chunk are escaped (preceded by an odd run of backslashes)."""
        count = 0
        for match in _ESCAPED_QUOTES.finditer(chunk):
            run = match.end() - match.start() - 1
            if match.start() == 0:
                run += self._carry
            count += run % 2
        if self._carry % 2 and chunk[:1] == b'"':
            count += 1
        return count

    def _last_unescaped(self, chunk: bytes) -> int:
        at = len(chunk)
        while (at := chunk.rfind(b'"', 0, at)) >= 0:
            run, i = 0, at
            while i > 0 and chunk[i - 1] == _BACKSLASH:
                run, i = run + 1, i - 1
            if i == 0:
                run += self._carry
            if run % 2 == 0:
                return at
        return -1

    def _closing_quote(self, chunk: bytes) -> int:
        """Where the string being read past ends in this chunk; -1 if it goes on."""
        if b'"' not in chunk:  # most of a long string: one memchr, no regular expression
            return -1
        lead = len(chunk) - len(chunk.lstrip(b"\\"))  # continues the last chunk's run
        start = 0
        if chunk[lead : lead + 1] == b'"':
            if (lead + self._carry) % 2 == 0:
                return lead
            start = lead + 1
        match = _UNESCAPED_QUOTE.search(chunk, start)
        return -1 if match is None else match.end() - 1


def _trailing_backslashes(chunk: bytes, carry: int) -> int:
    stripped = chunk.rstrip(b"\\")
    run = len(chunk) - len(stripped)
    return run + carry if not stripped else run


def _safe_end(chunk: bytes, floor: int, carry: int) -> tuple[int, bool]:
    """Where to end ``chunk`` inside a string without splitting a character or an escape.

    Returns the end and whether a backslash must be added (the kept part ends in an escape
    character with nothing after it: doubled, it stands for itself). ``carry`` counts the
    backslashes just before the chunk.
    """
    end = len(chunk)
    lead = end
    while lead > floor and chunk[lead - 1] & 0xC0 == 0x80:
        lead -= 1
    if lead > floor and chunk[lead - 1] >= 0xC0:
        width = 2 if chunk[lead - 1] < 0xE0 else 3 if chunk[lead - 1] < 0xF0 else 4
        if lead - 1 + width > end:
            end = lead - 1
    partial = _PARTIAL_UNICODE.search(chunk, max(floor, end - 5), end)
    if partial and _escapes(chunk, partial.start(), floor, carry):
        end = partial.start()
    high = _HIGH_SURROGATE_END.search(chunk, max(floor, end - 6), end)
    if high and _escapes(chunk, high.start(), floor, carry):
        end = high.start()
    run, i = 0, end
    while i > floor and chunk[i - 1] == _BACKSLASH:
        run, i = run + 1, i - 1
    if i == 0:
        run += carry
    return end, run % 2 == 1


def _escapes(chunk: bytes, at: int, floor: int, carry: int) -> bool:
    """Whether the backslash at ``at`` starts an escape (an even run of backslashes before it)."""
    run, i = 0, at
    while i > floor and chunk[i - 1] == _BACKSLASH:
        run, i = run + 1, i - 1
    if i == 0:
        run += carry
    return run % 2 == 0
