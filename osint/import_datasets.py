"""Importing the datasets investigators and researchers already hold, on the importer base.

X's information-operations archive (tweets and users files of each release, plain, gzip or
zip), CrowdTangle CSV (Facebook and Instagram), Zeeschuimer NDJSON (X and TikTok) and 4CAT's
Telegram CSV go through :func:`osint.imports.run_import` like every import: streamed, in
batches, idempotent, the file's SHA-256 in the chain of custody. :func:`detect_format` names
the format of a file from its content; :data:`IMPORTERS` maps format names to importers.

An import that gets nothing at all out of its file (every row a problem) is an error; one that
imports something reports its problems and succeeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from osint.analyzers.contentkeys import MIN_TEXT_KEY_CHARS, normalize_text
from osint.cases import get_case
from osint.collectors.importers import ImportFormatError, ImportProblem
from osint.collectors.importers.files import TextMember, open_members
from osint.config import Settings
from osint.errors import InputError
from osint.import_reader import child_pays, read_keyed
from osint.imports import (
    ImportSummary,
    import_shares,
    import_telegram_export,
    import_twarc,
    run_import,
)
from osint.progress import Progress
from osint.storage.db import Store
from osint.storage.records import PostRecord, ProfileRecord
from osint.storage.types import utcnow


def import_x_io(
    store: Store,
    settings: Settings,
    *,
    case: str,
    path: Path,
    release: str | None = None,
    exact_times: bool = True,
    progress: Progress | None = None,
    read_in_child: bool | None = None,
) -> ImportSummary:
    """Import a tweets or users file of X's information-operations archive (or a zip of them).

    ``release`` names the release when the file name does not; ``exact_times=False`` keeps
    ``tweet_time`` (minute resolution) even where the tweet id encodes the exact time.
    """
    from osint import io_archive
    from osint.collectors.importers.x_io import describe_io_file

    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    try:
        members = describe_io_file(path, release)
    except ImportFormatError as exc:
        raise InputError(f"{path}: {exc}") from exc
    ahead = child_pays(io_archive.SOURCE, path) if read_in_child is None else read_in_child
    options = {"release": release, "exact_times": exact_times}
    started = utcnow()
    minute = [0]

    def check(session: Any, records: list[PostRecord], result: Any) -> list[ImportProblem]:
        minute[0] += sum(1 for r in records if r.time_precision == "minute")
        return io_archive.tweet_collisions(session, records, result)

    summary = run_import(
        store,
        settings,
        case=case,
        source=io_archive.SOURCE,
        path=path,
        records=lambda: read_keyed(io_archive.SOURCE, path, in_child=ahead, options=options),
        params={
            "members": [{"name": n, "release": r, "kind": k} for n, r, k in members],
            "exact_times": exact_times,
        },
        progress=progress,
        keyed=True,
        checked=True,
        check_batch=check,
    )
    if minute[0]:
        summary.notes.append(
            f"{minute[0]:,} posts keep tweet_time's minute resolution"
            + (" (their tweet ids hold no finer time)" if exact_times else "")
            + ": coordination windows under 60 s are refused on them"
        )
    with store.reader() as session:
        case_id = get_case(session, case).id
        summary.notes += io_archive.release_notes(session, case_id, members, started)
        for name in dict.fromkeys(r for _, r, _ in members):
            summary.notes += io_archive.shared_userids(session, case_id, name)
    users_file = any(kind == "users" for _, _, kind in members)
    return _something_imported(summary, profiles_count=users_file)


def import_crowdtangle(
    store: Store, settings: Settings, *, case: str, path: Path, progress: Progress | None = None
) -> ImportSummary:
    """Import a CrowdTangle CSV export (Facebook pages or groups, or Instagram accounts)."""
    from osint.collectors.importers.crowdtangle import read_crowdtangle

    return _import_members(store, settings, case, path, "crowdtangle", read_crowdtangle, progress)


def import_zeeschuimer(
    store: Store, settings: Settings, *, case: str, path: Path, progress: Progress | None = None
) -> ImportSummary:
    """Import a Zeeschuimer NDJSON export of X or TikTok items."""
    from osint.collectors.importers.zeeschuimer import read_zeeschuimer

    return _import_members(store, settings, case, path, "zeeschuimer", read_zeeschuimer, progress)


def import_fourcat_telegram(
    store: Store, settings: Settings, *, case: str, path: Path, progress: Progress | None = None
) -> ImportSummary:
    """Import 4CAT's CSV of a Telegram dataset (times from its ``unix_*`` columns)."""
    from osint.collectors.importers.fourcat_telegram import read_fourcat_telegram

    return _import_members(
        store, settings, case, path, "4cat-telegram", read_fourcat_telegram, progress
    )


MemberReader = Callable[[TextMember], Iterator[PostRecord | ProfileRecord | ImportProblem]]


def _import_members(
    store: Store,
    settings: Settings,
    case: str,
    path: Path,
    source: str,
    reader: MemberReader,
    progress: Progress | None,
) -> ImportSummary:
    """Every text file ``path`` holds read by ``reader``, image texts keyed, into the case."""

    def records() -> Iterator[PostRecord | ProfileRecord | ImportProblem]:
        for member in open_members(Path(path)):
            for item in reader(member):
                if isinstance(item, PostRecord) and item.extra.get("image_text"):
                    image_text_key(item, item.extra["image_text"])
                yield item

    summary = run_import(
        store, settings, case=case, source=source, path=path, records=records, progress=progress
    )
    return _something_imported(summary)


def image_text_key(post: PostRecord, image_text: str) -> None:
    """The text read in a post's image as a content key: one meme pushed by many pages."""
    key = normalize_text(image_text)
    if len(key) >= MIN_TEXT_KEY_CHARS:
        post.objects.append(("image_text", key))


def _something_imported(summary: ImportSummary, *, profiles_count: bool = True) -> ImportSummary:
    """The summary, or an error when the file gave nothing at all (every row a problem).

    ``profiles_count``: profiles alone are something (a users file); else only posts are.
    """
    if summary.rows or (profiles_count and summary.profiles):
        return summary
    first = f"; first: {summary.problems[0]}" if summary.problems else ""
    raise InputError(
        f"nothing could be imported from {summary.path}: {summary.problem_count:,} problem(s)"
        f"{first}",
        hint="see 'osint import --help' for the formats and their columns",
    )


def detect_format(path: Path) -> tuple[str, str, str]:
    """(format, what kind of file, what gave it away) of the file or folder at ``path``."""
    from osint.collectors.importers.detect import detect

    if not Path(path).exists():
        raise InputError(f"no such file: {path}")
    try:
        found = detect(Path(path))
    except ImportFormatError as exc:
        raise InputError(str(exc), hint="name the format: osint import FORMAT FILE") from exc
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return found.format, found.detail, found.evidence


def import_any(
    store: Store,
    settings: Settings,
    *,
    case: str,
    path: Path,
    format: str,
    progress: Progress | None = None,
    **options: Any,
) -> ImportSummary:
    """Import ``path`` with the importer named ``format`` (a key of ``IMPORTERS``)."""
    if format not in IMPORTERS:
        raise InputError(f"no importer {format!r} (known: {', '.join(IMPORTERS)})")
    importer = IMPORTERS[format]
    return importer(store, settings, case=case, path=Path(path), progress=progress, **options)


IMPORTERS: dict[str, Callable[..., ImportSummary]] = {
    "x-io": import_x_io,
    "crowdtangle": import_crowdtangle,
    "zeeschuimer": import_zeeschuimer,
    "4cat-telegram": import_fourcat_telegram,
    "twarc": import_twarc,
    "shares": import_shares,
    "telegram-export": import_telegram_export,
}

# The options each importer takes beyond case, path and progress (what the CLI passes on).
OPTIONS: dict[str, tuple[str, ...]] = {"x-io": ("release", "exact_times")}
