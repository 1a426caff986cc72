"""Evidence bundles: one zip with everything a case holds, and a manifest that proves it intact.

``export_bundle`` streams into the zip: the case's records as JSONL and CSV, the media files, the
WARC files of every capture, the HTML report, the chain-of-custody log and a README on checking
it all by hand; then ``SHA256SUMS`` and ``manifest.json`` (every file with its size and SHA-256),
optionally with an RFC 3161 timestamp of the manifest (``manifest.json.tsr``). The zip is written
to a temporary name and renamed when complete (:func:`osint.writers.atomic_output`), so a failed
or killed export leaves no half bundle behind, and a full disk says so.
Secrets are never in the store; as a second line of defence every byte written is searched for
the configured tokens (see :mod:`osint.hashzip`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from zipfile import ZipFile

from sqlalchemy import select
from sqlalchemy.orm import Session

import osint
from osint.bundle_readme import README
from osint.cases import get_case
from osint.config import Secret, Settings
from osint.errors import InputError, MediaError
from osint.hashzip import HashingZip, MemberDigest
from osint.progress import NullProgress, Progress
from osint.report import ReportLimits, build_report, write_html
from osint.report.data import load_runs
from osint.storage.casetables import EXPORT_TABLES, ExportTable, case_media_ids
from osint.storage.db import Store
from osint.storage.models import Capture, Media
from osint.storage.types import utcnow
from osint.tables import CsvWriter, iter_rows, jsonl_line
from osint.timestamp import request_timestamp
from osint.writers import atomic_output, utc_iso

MANIFEST = "manifest.json"
TIMESTAMP = "manifest.json.tsr"
SUMS = "SHA256SUMS"
BUNDLE_FORMAT = "osint-evidence-bundle"
BUNDLE_FORMAT_VERSION = 1


@dataclass
class BundleSummary:
    path: Path
    files: int
    bytes: int
    manifest_sha256: str
    omitted: list[dict[str, str]] = field(default_factory=list)
    timestamped: bool = False


def settings_secrets(settings: Settings) -> list[bytes]:
    """Every secret value the settings hold (API tokens), as bytes to search for."""
    found = []
    for value in vars(settings).values():
        if isinstance(value, Secret) and value.reveal():
            found.append(value.reveal().encode("utf-8"))
    return found


def export_bundle(
    store: Store,
    settings: Settings,
    case_name: str,
    out_path: Path,
    *,
    tsa_url: str | None = None,
    limits: ReportLimits | None = None,
    progress: Progress | None = None,
) -> BundleSummary:
    """Write the evidence bundle of a case to ``out_path`` (a .zip)."""
    progress = progress or NullProgress()
    out_path = Path(out_path)
    with store.reader() as session:
        case = get_case(session, case_name)
        case_id = case.id
    if out_path.is_dir():
        raise InputError(f"{out_path} is a folder", hint="give a file name such as case.zip")
    with atomic_output(out_path) as out, ZipFile(out, "w", allowZip64=True) as zf:
        bundle = HashingZip(zf, settings_secrets(settings), spool_dir=out_path.parent)
        summary = _write_bundle(
            bundle, store, settings, case_name, case_id, tsa_url, limits, progress
        )
    summary.path = out_path
    summary.bytes = out_path.stat().st_size
    return summary


def _write_bundle(
    bundle: HashingZip,
    store: Store,
    settings: Settings,
    case_name: str,
    case_id: int,
    tsa_url: str | None,
    limits: ReportLimits | None,
    progress: Progress,
) -> BundleSummary:
    created_at = utcnow()
    readme = README.format(
        case=case_name,
        version=osint.__version__,
        created_at=created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        operator=settings.operator,
        hostname=settings.hostname,
    )
    bundle.write_bytes("README.txt", readme.encode("utf-8"))
    _write_tables(bundle, store, case_id, progress)
    _write_custody(bundle, store, settings, case_id, created_at)
    omitted = _write_media(bundle, store, case_id, progress)
    omitted += _write_warcs(bundle, store, settings, case_id, progress)
    report = build_report(store, settings, case_name, limits)
    with bundle.spooled("report.html", compress=True) as member:
        write_html(report, member)
    progress.update("report", advance=1)
    sums = "".join(f"{m.sha256}  {m.path}\n" for m in bundle.members)
    bundle.write_bytes(SUMS, sums.encode("utf-8"))
    manifest = _manifest_bytes(bundle.members, settings, case_name, created_at, omitted)
    token = request_timestamp(tsa_url, manifest) if tsa_url else None
    listed = len(bundle.members)
    bundle.write_bytes(MANIFEST, manifest)
    if token is not None:
        bundle.write_bytes(TIMESTAMP, token, compress=False)
    digest = next(m for m in bundle.members if m.path == MANIFEST).sha256
    return BundleSummary(Path(), listed, 0, digest, omitted, token is not None)


def _manifest_bytes(
    members: list[MemberDigest],
    settings: Settings,
    case_name: str,
    created_at: datetime,
    omitted: list[dict[str, str]],
) -> bytes:
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "case": case_name,
        "created_at": utc_iso(created_at),
        "created_by": {
            "tool": f"osint {osint.__version__}",
            "operator": settings.operator,
            "hostname": settings.hostname,
        },
        "hash_algorithm": "sha256",
        "files": [
            {"path": m.path, "size": m.size, "sha256": m.sha256}
            for m in sorted(members, key=lambda m: m.path)
        ],
        "omitted": omitted,
    }
    return (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def _write_tables(bundle: HashingZip, store: Store, case_id: int, progress: Progress) -> None:
    """Each table as JSONL and CSV from one pass over its rows (the CSV waits in a temp file)."""
    for table in EXPORT_TABLES:
        with store.reader() as session, tempfile.TemporaryFile() as csv_file:
            csv_out = CsvWriter(csv_file, table)

            def jsonl(table: ExportTable = table, csv_out: CsvWriter = csv_out) -> Iterator[bytes]:
                for row in iter_rows(session, table, case_id):
                    csv_out.write(row)
                    yield jsonl_line(row)

            bundle.write_chunks(f"data/{table.name}.jsonl", jsonl(), compress=True)
            csv_out.finish()
            csv_file.seek(0)
            bundle.write_file(f"data/{table.name}.csv", csv_file, compress=True)
        progress.update("tables", advance=1, total=len(EXPORT_TABLES))


def _custody_entries(
    store: Store, settings: Settings, case_id: int, created_at: datetime
) -> Iterator[dict[str, Any]]:
    with store.reader() as session:
        runs = load_runs(session, case_id)
    for run in runs:
        yield {
            "event": "collection_run",
            "run_id": run.id,
            "kind": run.kind,
            "asked": {"platform": run.platform, "target": run.target, "params": run.params},
            "started_at": utc_iso(run.started_at),
            "finished_at": utc_iso(run.finished_at),
            "status": run.status,
            "osint_version": run.osint_version,
            "hostname": run.hostname,
            "operator": run.operator,
            "captures": run.captures,
            "counts": run.counts,
            "errors": run.errors,
        }
    yield {
        "event": "bundle_export",
        "at": utc_iso(created_at),
        "osint_version": osint.__version__,
        "hostname": settings.hostname,
        "operator": settings.operator,
    }


def _custody_line(entry: dict[str, Any]) -> str:
    if entry["event"] == "bundle_export":
        return (
            f"{entry['at']}  bundle exported by {entry['operator']} on {entry['hostname']} "
            f"with osint {entry['osint_version']}\n"
        )
    asked = entry["asked"]
    errors = entry["errors"]
    lines = [
        f"{entry['started_at']}  run #{entry['run_id']} {entry['kind']} {asked['platform']} "
        f"{asked['target']!r} params={json.dumps(asked['params'], ensure_ascii=False)}\n",
        f"    status {entry['status']}, finished {entry['finished_at'] or 'never'}, "
        f"{entry['captures']} captures, counts {json.dumps(entry['counts'])}\n",
        f"    osint {entry['osint_version']}, operator {entry['operator']}, "
        f"machine {entry['hostname']}, {len(errors)} errors\n",
    ]
    lines += [f"    error: {e}\n" for e in errors]
    return "".join(lines)


def _write_custody(
    bundle: HashingZip, store: Store, settings: Settings, case_id: int, created_at: datetime
) -> None:
    entries = list(_custody_entries(store, settings, case_id, created_at))
    bundle.write_chunks(
        "custody.jsonl",
        ((json.dumps(e, ensure_ascii=False) + "\n").encode("utf-8") for e in entries),
        compress=True,
    )
    text = "Chain of custody (times in UTC)\n\n" + "".join(_custody_line(e) for e in entries)
    bundle.write_bytes("custody.txt", text.encode("utf-8"))


def _write_media(
    bundle: HashingZip, store: Store, case_id: int, progress: Progress
) -> list[dict[str, str]]:
    """The case's media files and imported files (captures kept in the media store)."""
    with store.reader() as session:
        media = set(
            session.execute(select(Media.sha256).where(Media.id.in_(case_media_ids(case_id))))
            .scalars()
            .all()
        )
        # Imported files: captures without a WARC record whose bytes the media store keeps.
        imported = set(
            session.execute(
                select(Capture.sha256).where(
                    Capture.case_id == case_id, Capture.warc_file.is_(None)
                )
            )
            .scalars()
            .all()
        )
    shas = media | imported
    omitted = []
    for sha in sorted(shas):
        if not store.media.exists(sha):
            if sha in media:
                omitted.append({"path": f"media/{sha}", "reason": "not in the media store"})
            continue
        with store.media.open(sha) as source:
            written = bundle.write_file(f"media/{sha}", source)
        if written.sha256 != sha:
            raise MediaError(
                f"media {sha} is corrupted in the media store (its bytes now hash to "
                f"{written.sha256}); nothing was exported",
                hint="restore the file from a backup, or re-collect it",
            )
        progress.update("media", advance=1, total=len(shas))
    return omitted


def safe_relative(path: str) -> PurePosixPath | None:
    """A relative path without ``..`` or absolute parts, or None."""
    pure = PurePosixPath(path.replace("\\", "/"))
    if not path or pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        return None
    return pure


def case_warc_files(session: Session, case_id: int) -> list[str]:
    """The WARC files (paths relative to OSINT_HOME) holding the case's captures."""
    rows = session.execute(
        select(Capture.warc_file)
        .where(Capture.case_id == case_id, Capture.warc_file.is_not(None))
        .distinct()
    ).scalars()
    return sorted(rel for rel in rows if rel)


def resolve_warc(home: Path, rel: str) -> Path | None:
    """Where a WARC file is on disk; None when its stored path would lead out of OSINT_HOME."""
    relative = safe_relative(rel)
    if relative is None:
        return None
    root = home.resolve()
    source = (root / relative).resolve()
    return source if source.is_relative_to(root) else None


def warc_member(relative: PurePosixPath) -> str:
    """Where a WARC file goes in the bundle: its path under OSINT_HOME, inside ``warc/``."""
    return str(relative) if relative.parts[0] == "warc" else f"warc/{relative}"


def _write_warcs(
    bundle: HashingZip, store: Store, settings: Settings, case_id: int, progress: Progress
) -> list[dict[str, str]]:
    with store.reader() as session:
        files = case_warc_files(session, case_id)
    omitted = []
    for rel in files:
        source, relative = resolve_warc(settings.home, rel), safe_relative(rel)
        if source is None or relative is None:
            omitted.append({"path": rel, "reason": "WARC path leads out of OSINT_HOME"})
            continue
        if not source.is_file():
            omitted.append({"path": warc_member(relative), "reason": "WARC file is missing"})
            continue
        with source.open("rb") as fh:
            bundle.write_file(warc_member(relative), fh, compress=not rel.endswith(".gz"))
        progress.update("warc", advance=1, total=len(files))
    return omitted
