"""Hash lists investigators share: PDQ hashes of known pictures, read, written and matched.

The format is ThreatExchange's (Meta's python-threatexchange, the library behind
hasher-matcher-actioner), so lists move between osint and those tools:

- CSV with a header, as ``threatexchange dataset -P --csv`` writes it:
  ``signal_type,signal_str,collab,category,tags`` (``signal_type`` ``pdq``, ``signal_str`` the
  64 hex digits, ``category`` one of ``NEGATIVE_CLASS``, ``INVESTIGATION_SEED``,
  ``POSITIVE_CLASS``, ``tags`` space-separated). osint adds its own columns after those
  (``sha256``, ``first_post_url``, ``first_posted_at``, ``accounts``); readers that look
  columns up by name, as ThreatExchange's do, ignore them.
- Plain text, as its ``LocalFileSignalExchangeAPI`` reads a signal file: one ``pdq <hash>``
  (or a bare hash) a line; ``#`` starts a comment.

Reading is hostile-input safe: a malformed line becomes a line-numbered problem and the rest
go on; metadata text is stripped of control characters and cut to a bounded length (the
writers make CSV cells formula-safe and the report escapes HTML).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from osint.analyzers.findings import EvidenceRef, FindingDraft, FindingKind
from osint.analyzers.imagereuse import ImageUsage
from osint.analyzers.pdq import MATCH_THRESHOLD, is_pdq_hex

TE_COLUMNS = ("signal_type", "signal_str", "collab", "category", "tags")
OSINT_COLUMNS = ("sha256", "first_post_url", "first_posted_at", "accounts")
COLUMNS = TE_COLUMNS + OSINT_COLUMNS
CATEGORIES = ("NEGATIVE_CLASS", "INVESTIGATION_SEED", "POSITIVE_CLASS")
EXPORT_CATEGORY = "INVESTIGATION_SEED"  # a case's pictures are leads to verify, not verdicts
PDQ_SIGNAL = "pdq"
MAX_TEXT = 300  # characters kept of one metadata value
MAX_LINE = 20_000  # a longer line is refused (no real entry comes near)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class HashListEntry:
    """One PDQ hash of a list, with the line it came from and what the list says about it."""

    line: int
    pdq: str
    collab: str = ""
    category: str = ""
    tags: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)  # osint's columns, and any others


@dataclass(frozen=True)
class HashListProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ParsedHashList:
    entries: list[HashListEntry] = field(default_factory=list)
    problems: list[HashListProblem] = field(default_factory=list)
    format: str = "text"  # "csv" (ThreatExchange dataset CSV) or "text" (a signal file)


def clean_text(value: object) -> str:
    """Metadata as safe plain text: no control or bidi characters, bounded length."""
    text = _CONTROL.sub("", str(value or "")).strip()
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def parse_hashlist(lines: Iterable[str]) -> ParsedHashList:
    """Read a hash list (CSV with a header, or one hash a line) from its lines."""
    numbered = [(n, line.rstrip("\r\n")) for n, line in enumerate(lines, start=1)]
    first = next(((n, line) for n, line in numbered if _is_content(line)), None)
    if first is not None and "signal_str" in first[1].lower().split(",")[:8]:
        return _parse_csv(numbered, first[0])
    parsed = ParsedHashList(format="text")
    for number, line in numbered:
        if _is_content(line):
            _text_line(parsed, number, line)
    return parsed


def _is_content(line: str) -> bool:
    stripped = line.strip().lstrip("\ufeff")
    return bool(stripped) and not stripped.startswith("#")


def _text_line(parsed: ParsedHashList, number: int, line: str) -> None:
    if len(line) > MAX_LINE:
        parsed.problems.append(HashListProblem(number, f"longer than {MAX_LINE:,} characters"))
        return
    parts = line.strip().lstrip("\ufeff").split()
    signal_type, signal = (PDQ_SIGNAL, parts[0]) if len(parts) == 1 else (parts[0], parts[1])
    if len(parts) > 2:
        parsed.problems.append(HashListProblem(number, "expected 'pdq <hash>' or a bare hash"))
        return
    _add(parsed, number, signal_type, signal, {})


def _parse_csv(numbered: Sequence[tuple[int, str]], header_line: int) -> ParsedHashList:
    parsed = ParsedHashList(format="csv")
    rows = [(n, line) for n, line in numbered if n > header_line and line.strip()]
    header = next(csv.reader([numbered[header_line - 1][1].lstrip("\ufeff")]))
    names = [clean_text(name).lower() for name in header]
    for number, line in rows:
        if len(line) > MAX_LINE:
            parsed.problems.append(HashListProblem(number, f"longer than {MAX_LINE:,} characters"))
            continue
        try:
            cells = next(csv.reader([line], strict=True))
        except csv.Error as error:
            parsed.problems.append(HashListProblem(number, f"not a CSV row ({error})"))
            continue
        if len(cells) > len(names):  # fewer is fine: the missing cells are empty
            parsed.problems.append(
                HashListProblem(number, f"{len(cells)} cells where the header has {len(names)}")
            )
            continue
        record = dict(zip(names, cells + [""] * (len(names) - len(cells)), strict=True))
        signal_type = record.pop("signal_type", PDQ_SIGNAL) or PDQ_SIGNAL
        _add(parsed, number, signal_type, record.pop("signal_str", ""), record)
    return parsed


def _add(
    parsed: ParsedHashList, number: int, signal_type: str, signal: str, record: dict[str, str]
) -> None:
    kind = clean_text(signal_type).lower()
    if kind != PDQ_SIGNAL:
        parsed.problems.append(HashListProblem(number, f"not a PDQ signal ({kind!r}): skipped"))
        return
    value = signal.strip().lower()
    if not is_pdq_hex(value):
        shown = clean_text(value)[:80]
        parsed.problems.append(
            HashListProblem(number, f"not a PDQ hash (64 hex digits): {shown!r}")
        )
        return
    category = clean_text(record.pop("category", "")).upper()
    if category and category not in CATEGORIES:
        parsed.problems.append(
            HashListProblem(number, f"unknown category {category!r}: kept, not trusted")
        )
    parsed.entries.append(
        HashListEntry(
            line=number,
            pdq=value,
            collab=clean_text(record.pop("collab", "")),
            category=category,
            tags=tuple(clean_text(tag) for tag in record.pop("tags", "").split() if tag)[:50],
            extra={clean_text(k): clean_text(v) for k, v in record.items() if k and v},
        )
    )


@dataclass(frozen=True)
class CaseImageHash:
    """A case picture's PDQ hashes (as analysed), to match against a list."""

    media_id: int
    pdq: str
    pdq_mirror: str | None = None


@dataclass(frozen=True)
class HashListMatch:
    media_id: int
    entry: HashListEntry
    distance: int
    mirrored: bool  # the list entry matches the picture's left-right mirror


def _bits(hashes: Sequence[str]) -> np.ndarray:
    return np.frombuffer(bytes.fromhex("".join(hashes)), dtype=np.uint8).reshape(-1, 32)


_CELLS_PER_CHUNK = 1_000_000
_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint16)


def match_hashlist(
    images: Sequence[CaseImageHash],
    entries: Sequence[HashListEntry],
    threshold: int = MATCH_THRESHOLD,
) -> list[HashListMatch]:
    """Every (image, entry) pair within ``threshold`` bits, the picture or its mirror."""
    if not images or not entries:
        return []
    chunk = max(1, _CELLS_PER_CHUNK // len(images))  # bounds memory: images x chunk x 32 bytes
    plain = _bits([image.pdq for image in images])
    mirror = _bits([image.pdq_mirror or image.pdq for image in images])
    found: list[HashListMatch] = []
    for start in range(0, len(entries), chunk):
        part = entries[start : start + chunk]
        listed = _bits([entry.pdq for entry in part])
        direct = _POPCOUNT[plain[:, None, :] ^ listed[None, :, :]].sum(axis=2)
        flipped = _POPCOUNT[mirror[:, None, :] ^ listed[None, :, :]].sum(axis=2)
        for i, j in zip(*np.nonzero(np.minimum(direct, flipped) <= threshold), strict=True):
            is_mirror = bool(flipped[i, j] < direct[i, j])
            distance = int(min(direct[i, j], flipped[i, j]))
            found.append(HashListMatch(images[i].media_id, part[j], distance, is_mirror))
    return sorted(found, key=lambda m: (m.media_id, m.distance, m.entry.line))


def hashlist_findings(
    matches: Sequence[HashListMatch],
    usages: Sequence[ImageUsage],
    sha256_of: dict[int, str],
    *,
    list_name: str,
    threshold: int = MATCH_THRESHOLD,
) -> list[FindingDraft]:
    """One finding per case picture found in the list, citing its posts, accounts and entries."""
    by_media: dict[int, list[HashListMatch]] = {}
    for match in matches:
        by_media.setdefault(match.media_id, []).append(match)
    drafts = []
    for media_id, found in sorted(by_media.items()):
        seen = sorted(
            (u for u in usages if u.media_id == media_id),
            key=lambda u: (u.posted_at is None, u.posted_at or 0, u.post_id or 0),
        )
        best = min(found, key=lambda m: m.distance)
        drafts.append(_finding(media_id, found, best, seen, sha256_of, list_name, threshold))
    return drafts


def _finding(
    media_id: int,
    found: list[HashListMatch],
    best: HashListMatch,
    seen: list[ImageUsage],
    sha256_of: dict[int, str],
    list_name: str,
    threshold: int,
) -> FindingDraft:
    sha = sha256_of.get(media_id, "")
    accounts = tuple(dict.fromkeys(u.account_id for u in seen))
    posts = tuple(dict.fromkeys(u.post_id for u in seen if u.post_id is not None))
    labels = list(dict.fromkeys(u.account_label for u in seen))
    entry = best.entry
    said = ", ".join(
        part
        for part in (
            f"collaboration {entry.collab!r}" if entry.collab else "",
            f"category {entry.category}" if entry.category else "",
            f"tags {' '.join(entry.tags)!r}" if entry.tags else "",
        )
        if part
    )
    how = "its left-right mirror" if best.mirrored else "the picture"
    explanation = (
        f"The PDQ hash of {how} is {best.distance} bits of 256 from line {entry.line} of the "
        f"hash list {list_name!r} (a match is at most {threshold} bits, ThreatExchange's "
        f"default){'; the list says: ' + said if said else ''}. It was posted by "
        f"{', '.join(labels[:5]) or 'no account of the case'}"
        f"{f' and {len(labels) - 5} more' if len(labels) > 5 else ''} in {len(posts)} post(s). "
        "A list entry is a lead from whoever made the list: compare the pictures before "
        "concluding they are the same."
    )
    return FindingDraft(
        kind=FindingKind.HASHLIST_MATCH,
        score=round(1.0 - best.distance / (threshold + 1), 3),
        title=f"Image {sha[:12]} is on the hash list {list_name!r} ({best.distance} bits)",
        explanation=explanation,
        accounts=accounts,
        posts=posts,
        media=(media_id,),
        details={
            "list": list_name,
            "sha256": sha,
            "threshold": threshold,
            "entries": [
                {
                    "line": m.entry.line,
                    "pdq": m.entry.pdq,
                    "distance": m.distance,
                    "mirrored": m.mirrored,
                    "collab": m.entry.collab,
                    "category": m.entry.category,
                    "tags": list(m.entry.tags),
                    "metadata": m.entry.extra,
                }
                for m in found[:20]
            ],
            "entries_matched": len(found),
        },
        roles={EvidenceRef.media(media_id): "listed_image"},
    )
