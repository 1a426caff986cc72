"""Importing files investigators already hold: streamed, batched, idempotent, with provenance.

The imported file itself is evidence: its bytes go into the media store (content-addressed) and a
Capture row records its path, size and SHA-256; every imported post points to that capture.
Bad parts of a file are reported with their line number and skipped; the rest is imported. A file
that breaks off (truncated JSON) stops the import with a clear error, after everything before the
break is stored.

Records go to the store in batches of :data:`BATCH`, one transaction each. On PostgreSQL the next
batch is read and prepared while the server stores the previous one (a writer thread): the
server's per-row work (constraint checks, indexes) then runs beside the parsing instead of after
it. SQLite runs in this process, so there the batches are simply written in turn. A big twarc2
file, shares CSV or archive release is read, normalised, checked, keyed and encoded in a child
process (:mod:`osint.import_reader`) when the reading time of the rest of the file repays
starting one (measured for twarc2, told by the file's size for the others), so that on either
store the reading runs on a second core beside the writing.

The accounting adds up: every row read is a new post, an already known one, one repeated within
the file, or a problem (with its line or message id); a row imported with a part refused or
repaired is a note. A batch that loses a deadlock or a serialization conflict (PostgreSQL) is
written again. An import whose rows were all problems fails; a run left ``running`` by a killed
import is closed (``abandoned``) by the next import into the case.

Profiles among the records (a users file, the authors of a release) become profile snapshots,
a batch at a time (:mod:`storage.profiles`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from osint.analyzers.contentkeys import add_content_keys
from osint.cases import get_case
from osint.collectors.importers import ImportFormatError, ImportProblem
from osint.collectors.importers.telegram_export import locate_export, read_export
from osint.config import Settings
from osint.errors import InputError
from osint.import_reader import child_pays, read_keyed
from osint.mediafacts import MediaFacts, store_local_file
from osint.progress import NullProgress, Progress
from osint.runs import close_stale_runs, finish_run, start_run
from osint.storage.checks import NUL, PLATFORM_CHARS
from osint.storage.columns import encode_post
from osint.storage.db import Store, is_write_conflict
from osint.storage.ingest import CaseWriter, PostWriteResult
from osint.storage.kinds import RunKind, RunStatus
from osint.storage.profiles import write_profiles
from osint.storage.records import SEEN_VIA_REFERENCE, CaptureRecord, PostRecord, ProfileRecord
from osint.storage.runstate import RunState
from osint.storage.types import utcnow

BATCH = 20_000  # posts per transaction: fewer, larger commits rewrite fewer index pages
MAX_REPORTED_PROBLEMS = 50
WRITE_TRIES = 5  # a batch that lost a deadlock or a serialization conflict is written again
_CONTENT_TYPES = {".csv": "text/csv", ".json": "application/json", ".jsonl": "application/jsonl"}
# Bytes per post of the big formats (1M-post files: shares 45, flattened twarc2 468, IO archive
# 429): a file's size over these tells about how many posts it holds, which decides whether the
# load defers some indexes (storage.indexes). Bigger posts only make the estimate smaller.
BYTES_PER_POST = {"shares": 45, "twarc": 470, "x-io": 430}


@dataclass
class ImportSummary:
    """What an import did. Its accounting adds up: ``rows`` = ``posts_new`` + ``posts_known`` +
    ``posts_repeated`` (a post that came again within the file) + ``problem_count`` (rows that
    could not be imported). ``note_count`` counts rows imported with a part refused or repaired.
    """

    case: str
    source: str
    path: str
    sha256: str
    run_id: int
    rows: int = 0
    posts_new: int = 0
    posts_known: int = 0
    media_files: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    posts_repeated: int = 0
    note_count: int = 0
    profiles: int = 0  # profile rows read (users files, authors of a release)
    referenced_new: int = 0  # posts others reposted, quoted or replied to, stored as such
    snapshots_new: int = 0
    notes: list[str] = field(default_factory=list)  # what the file means for the case


# After a batch is written: problems that need the store to be seen (ids known from elsewhere).
BatchCheck = Callable[[Session, list[PostRecord], PostWriteResult], list[ImportProblem]]


@dataclass
class _Batch:
    """Posts ready to write, with the files already stored for them."""

    records: list[PostRecord]
    media: list[MediaFacts]
    profiles: list[ProfileRecord] = field(default_factory=list)
    # posts seen through a reference (what the file's posts amplified): not rows of the file
    referenced: list[PostRecord] = field(default_factory=list)


def _file_capture(store: Store, path: Path) -> CaptureRecord:
    """Keep the imported file in the media store and describe it as a capture."""
    try:
        stored = store.media.put_file(path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return CaptureRecord(
        url=path.resolve().as_uri(),
        fetched_at=utcnow(),
        sha256=stored.sha256,
        size=stored.size,
        status_code=None,
        content_type=_CONTENT_TYPES.get(path.suffix.lower()),
        method="IMPORT",
    )


def run_import(
    store: Store,
    settings: Settings,
    *,
    case: str,
    source: str,
    path: Path,
    records: Callable[[], Iterable[PostRecord | ProfileRecord | ImportProblem]],
    params: dict[str, object] | None = None,
    progress: Progress | None = None,
    keyed: bool = False,
    checked: bool = False,
    check_batch: BatchCheck | None = None,
) -> ImportSummary:
    """Stream ``records()`` into the case in batches, one transaction per batch.

    ``keyed``: the records come with their content keys already added (read ahead in a child).
    ``checked``: they already went through :func:`storage.checks.fit_post` (the reader could
    name their line); otherwise the writer checks them and names the refused ones by post id.
    Raises :class:`InputError` when rows were read but none could be imported.
    Profiles among the records become profile snapshots; ``check_batch`` runs after each batch.
    """
    progress = progress or NullProgress()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    capture = _file_capture(store, path)
    with store.session() as session:
        case_id = get_case(session, case).id
        for stale in close_stale_runs(session, settings, case_id=case_id, kind=RunKind.IMPORT):
            progress.log(f"run {stale} was left unfinished by a process that is gone: abandoned")
        run = start_run(
            session,
            settings,
            case_id=case_id,
            kind=RunKind.IMPORT,
            platform=source,
            target=str(path),
            params={"sha256": capture.sha256, **(params or {})},
            state=RunState(pid=os.getpid(), host=settings.hostname),
        )
        writer = CaseWriter(session, case_id, source=f"import:{source}")
        capture_id = writer.capture(capture, run_id=run.id)
    summary = ImportSummary(case, source, str(path), capture.sha256, run.id)
    status = RunStatus.FAILED
    try:
        expected = _expected_posts(source, path)
        with store.pinned(trusted_rows=True, expected_rows=expected) as pinned, fewer_gc_pauses():
            importer = _Importer(
                pinned, writer, capture_id, summary, progress, keyed=keyed, checked=checked
            )
            importer.check_batch = check_batch
            importer.run(records())
        status = RunStatus.COMPLETED
        _nothing_imported(summary)
    except (ImportFormatError, UnicodeDecodeError) as exc:
        summary.problems.append(str(exc))
        raise InputError(f"{path}: {exc}") from exc
    except InputError:
        status = RunStatus.FAILED
        raise
    finally:
        with store.session() as session:
            finish_run(
                session,
                run.id,
                status=status,
                errors=summary.problems,
                counts={
                    "rows": summary.rows,
                    "posts_new": summary.posts_new,
                    "posts_known": summary.posts_known,
                    "posts_repeated": summary.posts_repeated,
                    "media_files": summary.media_files,
                    "problems": summary.problem_count,
                    "notes": summary.note_count,
                    **({"profiles": summary.profiles} if summary.profiles else {}),
                },
            )
    return summary


def _expected_posts(source: str, path: Path) -> int | None:
    """About how many posts the file holds, for the formats whose files run to millions."""
    per_post = BYTES_PER_POST.get(source)
    try:
        return path.stat().st_size // per_post if per_post else None
    except OSError:
        return None


def _nothing_imported(summary: ImportSummary) -> None:
    """Rows were read, and every one of them was a problem: that is a failed import."""
    imported = summary.posts_new + summary.posts_known + summary.posts_repeated
    if summary.rows and not imported:
        first = f"; the first: {summary.problems[0]}" if summary.problems else ""
        raise InputError(
            f"nothing could be imported from {summary.path}: "
            f"{summary.problem_count:,} of {summary.rows:,} rows are problems{first}",
            hint="check that the file is of the kind this import command reads",
        )


# Net new container objects between two collections of the youngest generation while records
# stream through: more than one batch of records keeps alive (20,000 twarc2 posts are about
# 600,000 objects), so that a collection comes about once per batch, not every few hundred posts.
YOUNG_OBJECTS_PER_COLLECTION = 1_000_000


@contextlib.contextmanager
def fewer_gc_pauses() -> Iterator[None]:
    """Collect garbage less often while millions of short-lived records stream through.

    Records hold no reference cycles (a 1M-post twarc2 import left none to collect), but the
    collector counts every new container: with the default thresholds it started a collection
    every 700 of them, and each walked every record of the batch in flight (a third of the time
    spent reading a CSV). Even at 100,000, a writer holding a batch of 20,000 posts collected
    about 200 times per million twarc2 posts, 15 s of its CPU time (bench/imports.py);
    :data:`YOUNG_OBJECTS_PER_COLLECTION` makes that one or two. The collector still runs, so
    garbage with cycles stays bounded. Objects alive before the import are frozen out of the
    collector's walks; the previous settings come back afterwards.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS_PER_COLLECTION, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class _Importer:
    """Reads items into batches (problems noted, files stored) and writes each batch."""

    def __init__(
        self,
        store: Store,
        writer: CaseWriter,
        capture_id: int,
        summary: ImportSummary,
        progress: Progress,
        *,
        keyed: bool = False,
        checked: bool = False,
    ) -> None:
        self.store = store
        self.keyed = keyed
        self.checked = checked
        self.seen_at = utcnow()  # one time for the whole run: what it saw twice is a repeat
        self.writer = writer
        self.capture_id = capture_id
        self.summary = summary
        self.progress = progress
        self._stored: dict[Path, MediaFacts] = {}  # files of this import already stored
        self._referenced: set[str] = set()  # referenced posts already queued by this import
        self.check_batch: BatchCheck | None = None

    def run(self, items: Iterable[PostRecord | ProfileRecord | ImportProblem]) -> None:
        batches = self._batches(items)
        if self.store.dialect == "postgresql":
            _write_overlapped(batches, self.write)
        else:
            for batch in batches:
                self.write(batch)

    def write(self, batch: _Batch) -> None:
        for attempt in range(1, WRITE_TRIES + 1):
            try:
                with self.store.session() as session:
                    self.writer.session = session
                    self.writer.check_case()  # the rows below refer to it
                    for facts in batch.media:
                        self.writer.media(**facts.__dict__)
                    snapshots = 0
                    if batch.profiles:
                        snapshots = write_profiles(
                            self.writer,
                            batch.profiles,
                            captured_at=utcnow(),
                            capture_id=self.capture_id,
                        )
                    seen = (
                        self.writer.posts(
                            batch.referenced, seen_at=self.seen_at, checked=self.checked
                        )
                        if batch.referenced
                        else None
                    )
                    result = self.writer.posts(
                        batch.records, seen_at=self.seen_at, checked=self.checked
                    )
                    found = (
                        self.check_batch(session, batch.records, result) if self.check_batch else []
                    )
                break
            except Exception as exc:
                if attempt == WRITE_TRIES or not is_write_conflict(exc):
                    raise
                # rolled back: ids cached in that transaction may name rows never stored
                self.writer.reset_caches()
                time.sleep(0.05 * attempt)
        summary = self.summary
        for problem in found:
            self._note(problem)
        summary.snapshots_new += snapshots
        summary.profiles += len(batch.profiles)
        summary.posts_new += len(result.new)
        summary.posts_known += len(result.edited) + len(result.unchanged)
        summary.posts_repeated += result.repeated
        summary.referenced_new += len(seen.new) if seen else 0
        for platform_id, why in result.refused:  # already counted as rows when read
            summary.rows -= 1
            self._note(ImportProblem(0, f"post {platform_id}: {why}: skipped", "record"))
        self.progress.update("posts", advance=len(batch.records))

    def _batches(
        self, items: Iterable[PostRecord | ProfileRecord | ImportProblem]
    ) -> Iterator[_Batch]:
        """Batches of prepared records; what was read before an error is still yielded."""
        batch: list[PostRecord] = []
        media: list[MediaFacts] = []
        profiles: list[ProfileRecord] = []
        referenced: list[PostRecord] = []
        try:
            for item in items:
                if isinstance(item, ImportProblem):
                    self._note(item)
                    continue
                if isinstance(item, ProfileRecord):
                    profiles.append(item)
                    if len(profiles) >= BATCH:
                        yield _Batch(batch, media, profiles, referenced)
                        batch, media, profiles, referenced = [], [], [], []
                    continue
                if item.seen_via == SEEN_VIA_REFERENCE:
                    if item.platform_id not in self._referenced:
                        self._referenced.add(item.platform_id)
                        item.capture_id, item.objects = self.capture_id, []
                        if self.checked:
                            encode_post(item)
                        referenced.append(item)
                    continue
                self.summary.rows += 1
                item.capture_id = self.capture_id
                if not self.keyed:
                    add_content_keys(item)
                    if self.checked:  # final now: encode it here, not in the writer's lane
                        encode_post(item)
                if item.media:
                    media.extend(self._store_files(item))
                batch.append(item)
                if len(batch) >= BATCH:
                    yield _Batch(batch, media, profiles, referenced)
                    batch, media, profiles, referenced = [], [], [], []
        except Exception:
            if batch or profiles or referenced:  # a read error: store what came before it
                yield _Batch(batch, media, profiles, referenced)
            raise
        if batch or profiles or referenced:
            yield _Batch(batch, media, profiles, referenced)

    def _note(self, problem: ImportProblem) -> None:
        if not problem.kept:
            self.summary.problem_count += 1
            self.summary.rows += 1
        else:
            self.summary.note_count += 1
        if len(self.summary.problems) < MAX_REPORTED_PROBLEMS:
            self.summary.problems.append(str(problem))
            says = problem.message.endswith("skipped") or problem.kept
            self.progress.log(str(problem) if says else f"skipped {problem}")

    def _store_files(self, rec: PostRecord) -> list[MediaFacts]:
        """Copy the files a record names into the media store; the facts of new ones."""
        new = []
        for ref in rec.media:
            if ref.local_path is None:
                continue
            facts = self._stored.get(ref.local_path)
            if facts is None:
                try:
                    facts = store_local_file(
                        self.store.media, ref.local_path, source_url=ref.local_path.as_uri()
                    )
                except OSError as exc:
                    ref.error = f"cannot read the file: {exc.strerror or exc}"
                    continue
                self._stored[ref.local_path] = facts
                self.summary.media_files += 1
                new.append(facts)
                if facts.status != "ok":
                    self.progress.log(f"{ref.source_url}: {facts.status} ({facts.note})")
            ref.sha256 = facts.sha256
        return new


def _write_overlapped(batches: Iterator[_Batch], write: Callable[[_Batch], None]) -> None:
    """Write batches in a second thread while this one reads the next (one batch ahead)."""
    pending: queue.Queue[_Batch | None] = queue.Queue(maxsize=1)
    failures: list[BaseException] = []

    def consume() -> None:
        while (batch := pending.get()) is not None:
            if not failures:  # after a failure, only drain
                try:
                    write(batch)
                except BaseException as exc:
                    failures.append(exc)

    worker = threading.Thread(target=consume, name="osint-import-writer", daemon=True)
    worker.start()
    try:
        for batch in batches:
            if failures:
                break
            pending.put(batch)
    finally:
        pending.put(None)
        worker.join()
    if failures:
        raise failures[0]


def import_shares(
    store: Store,
    settings: Settings,
    *,
    case: str,
    path: Path,
    platform: str = "imported",
    modality: str = "object",
    progress: Progress | None = None,
    read_in_child: bool | None = None,
) -> ImportSummary:
    """Import a shares CSV; a big one is read in a child process while this one writes
    (:mod:`osint.import_reader`, chosen by the file's size; ``read_in_child`` forces it)."""
    path = Path(path)
    if not platform.strip() or len(platform) > PLATFORM_CHARS or NUL in platform:
        raise InputError(
            f"--platform {platform[:60]!r}: a platform name is 1 to {PLATFORM_CHARS} characters",
            hint="name the platform the shares come from, e.g. --platform x",
        )
    ahead = child_pays("shares", path) if read_in_child is None else read_in_child
    options: dict[str, Any] = {"platform": platform, "modality": modality}
    return run_import(
        store,
        settings,
        case=case,
        source="shares",
        path=path,
        records=lambda: read_keyed("shares", path, in_child=ahead, options=options),
        params=options,
        progress=progress,
        keyed=True,
        checked=True,
    )


def import_twarc(
    store: Store,
    settings: Settings,
    *,
    case: str,
    path: Path,
    progress: Progress | None = None,
    read_in_child: bool | None = None,
) -> ImportSummary:
    """Import twarc2 JSONL (API pages or ``twarc2 flatten`` output) through the X normaliser.

    A big file is read in a child process while this one writes (:mod:`osint.import_reader`),
    chosen by the measured reading time of the file's start; ``read_in_child`` forces the
    choice either way.
    """
    path = Path(path)

    return run_import(
        store,
        settings,
        case=case,
        source="twarc",
        path=path,
        records=lambda: read_keyed("twarc", path, in_child=read_in_child),
        progress=progress,
        keyed=True,
        checked=True,
    )


def import_telegram_export(
    store: Store,
    settings: Settings,
    *,
    case: str,
    path: Path,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import a Telegram Desktop JSON export (its folder, or its result.json)."""
    result_json, folder = locate_export(Path(path))
    if not result_json.is_file():
        raise InputError(
            f"no result.json in {path}",
            hint="export the chat from Telegram Desktop as JSON, then pass its folder",
        )

    def records() -> Iterator[PostRecord | ImportProblem]:
        with result_json.open("rb") as fh:
            yield from read_export(fh, folder)

    return run_import(
        store,
        settings,
        case=case,
        source="telegram-export",
        path=result_json,
        records=records,
        params={"folder": str(folder.resolve())},
        progress=progress,
        checked=True,
    )
