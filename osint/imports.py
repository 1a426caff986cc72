"""Importing files investigators already hold: streamed, batched, idempotent, with provenance.

The imported file itself is evidence: its bytes go into the media store (content-addressed) and a
Capture row records its path, size and SHA-256; every imported post points to that capture.
Bad parts of a file are reported with their line number and skipped; the rest is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from collectors.importers import ImportProblem
from collectors.importers.shares import SharesFormatError, read_shares
from collectors.importers.twarc import read_twarc
from osint.cases import get_case
from osint.config import Settings
from osint.errors import InputError
from osint.keys import add_content_keys
from osint.progress import NullProgress, Progress
from osint.runs import finish_run, start_run
from storage.db import Store
from storage.ingest import CaseWriter
from storage.records import CaptureRecord, PostRecord
from storage.types import utcnow

BATCH = 5000
MAX_REPORTED_PROBLEMS = 50


@dataclass
class ImportSummary:
    case: str
    source: str
    path: str
    sha256: str
    run_id: int
    rows: int = 0
    posts_new: int = 0
    posts_known: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0


def _open_text(path: Path) -> TextIO:
    try:
        return path.open(newline="", encoding="utf-8-sig", errors="strict")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


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
        content_type="text/csv" if path.suffix.lower() == ".csv" else None,
        method="IMPORT",
    )


def run_import(
    store: Store,
    settings: Settings,
    *,
    case: str,
    source: str,
    path: Path,
    records: Callable[[], Iterable[PostRecord | ImportProblem]],
    params: dict[str, object] | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Stream ``records()`` into the case in batches, one transaction per batch."""
    progress = progress or NullProgress()
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    capture = _file_capture(store, path)
    with store.session() as session:
        case_id = get_case(session, case).id
        run = start_run(
            session,
            settings,
            case_id=case_id,
            kind="import",
            platform=source,
            target=str(path),
            params={"sha256": capture.sha256, **(params or {})},
        )
        writer = CaseWriter(session, case_id, source=f"import:{source}")
        capture_id = writer.capture(capture, run_id=run.id)
    summary = ImportSummary(case, source, str(path), capture.sha256, run.id)
    status = "failed"
    try:
        _write_batches(store, writer, records(), capture_id, summary, progress)
        status = "completed"
    except (SharesFormatError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: {exc}") from exc
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
                    "problems": summary.problem_count,
                },
            )
    return summary


def _write_batches(
    store: Store,
    writer: CaseWriter,
    items: Iterable[PostRecord | ImportProblem],
    capture_id: int,
    summary: ImportSummary,
    progress: Progress,
) -> None:
    for batch in _batched(items, summary, progress):
        for rec in batch:
            rec.capture_id = capture_id
            add_content_keys(rec)
        with store.session() as session:
            writer.session = session
            result = writer.posts(batch)
        summary.posts_new += len(result.new)
        summary.posts_known += len(result.edited) + len(result.unchanged)
        progress.update("posts", advance=len(batch))


def _batched(
    items: Iterable[PostRecord | ImportProblem], summary: ImportSummary, progress: Progress
) -> Iterator[list[PostRecord]]:
    batch: list[PostRecord] = []
    for item in items:
        if isinstance(item, ImportProblem):
            summary.problem_count += 1
            if len(summary.problems) < MAX_REPORTED_PROBLEMS:
                summary.problems.append(str(item))
                progress.log(f"skipped {item}")
            continue
        summary.rows += 1
        batch.append(item)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def import_shares(
    store: Store,
    settings: Settings,
    *,
    case: str,
    path: Path,
    platform: str = "imported",
    modality: str = "object",
    progress: Progress | None = None,
) -> ImportSummary:
    def records() -> Iterator[PostRecord | ImportProblem]:
        with _open_text(path) as fh:
            yield from read_shares(fh, platform=platform, modality=modality)

    return run_import(
        store,
        settings,
        case=case,
        source="shares",
        path=path,
        records=records,
        params={"platform": platform, "modality": modality},
        progress=progress,
    )


def import_twarc(
    store: Store,
    settings: Settings,
    *,
    case: str,
    path: Path,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import twarc2 JSONL (API pages or ``twarc2 flatten`` output) through the X normaliser."""

    def records() -> Iterator[PostRecord | ImportProblem]:
        with _open_text(path) as fh:
            yield from read_twarc(fh)

    return run_import(
        store, settings, case=case, source="twarc", path=path, records=records, progress=progress
    )
