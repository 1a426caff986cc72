"""WACZ export: a case's captures as a Web Archive Collection Zipped (WACZ 1.1.1) package.

ReplayWeb.page and other web-archive tools open it. Layout: ``archive/*.warc.gz`` (the case's
WARC files, gzipped per record, stored uncompressed in the zip so a reader can seek into them),
``indexes/index.cdx`` (a CDXJ index built by reading every record back with warcio),
``pages/pages.jsonl`` (one entry per successful capture) and ``datapackage.json`` with the size
and SHA-256 of each file, whose own hash is in ``datapackage-digest.json``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO, Any
from zipfile import ZipFile

from sqlalchemy import select
from surt import surt as surt_of
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.warcwriter import WARCWriter

import osint
from osint.bundle import case_warc_files, resolve_warc, settings_secrets
from osint.cases import get_case
from osint.config import Settings
from osint.errors import ExportError, InputError
from osint.hashzip import HashingZip
from osint.storage.db import Store
from osint.storage.models import Capture
from osint.storage.types import utcnow
from osint.writers import atomic_output

WACZ_VERSION = "1.1.1"
INDEXED_TYPES = ("response", "resource", "revisit")
_RESOURCE_NAME = re.compile(r"[^-a-z0-9._]+")  # frictionless: ^([-a-z0-9._/])+$


def urlkey(url: str) -> str:
    """The CDX key of a URL: its SURT form as the ``surt`` library (and so pywb) computes it."""
    return str(surt_of(url))


@dataclass(frozen=True)
class CdxEntry:
    urlkey: str
    timestamp: str
    fields: dict[str, str]

    def line(self) -> str:
        return f"{self.urlkey} {self.timestamp} {json.dumps(self.fields, sort_keys=True)}\n"


def _warc_timestamp(date: str) -> str:
    digits = "".join(c for c in date if c.isdigit())
    return (digits + "00000000000000")[:14]


def index_warc(stream: IO[bytes], filename: str) -> Iterator[CdxEntry]:
    """CDXJ entries for the response, resource and revisit records of one WARC file."""
    iterator = ArchiveIterator(stream)
    for record in iterator:
        if record.rec_type not in INDEXED_TYPES:
            continue
        url = record.rec_headers.get_header("WARC-Target-URI") or ""
        date = record.rec_headers.get_header("WARC-Date") or ""
        fields = {"url": url, "filename": filename}
        if record.rec_type == "revisit":
            fields["mime"] = "warc/revisit"
        elif record.http_headers is not None:
            fields["status"] = record.http_headers.get_statuscode() or "200"
            ctype = record.http_headers.get_header("Content-Type") or ""
            fields["mime"] = ctype.split(";")[0].strip() or "unk"
        else:
            fields["status"] = "200"
            fields["mime"] = (record.rec_headers.get_header("Content-Type") or "unk").split(";")[0]
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        if digest:
            fields["digest"] = digest
        iterator.read_to_end(record)  # the record's length is known once it is read
        fields["offset"] = str(iterator.get_record_offset())
        fields["length"] = str(iterator.get_record_length())
        yield CdxEntry(urlkey(url), _warc_timestamp(date), fields)


def _as_gzip_warc(source: Path, tmp_dir: Path) -> Path:
    """The WARC file itself when gzipped per record; else a gzipped copy, record by record."""
    with source.open("rb") as fh:
        if fh.read(2) == b"\x1f\x8b":
            return source
    target = tmp_dir / (source.name + ".gz")
    with source.open("rb") as src, target.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for record in ArchiveIterator(src):
            writer.write_record(record)
    return target


@dataclass
class WaczSummary:
    path: Path
    warc_files: int
    records: int
    pages: int
    size: int


def _archive_name(rel: str, taken: set[str]) -> str:
    """A WARC file's name in ``archive/``: lower case, as datapackage resource names must be."""
    base = _RESOURCE_NAME.sub("-", rel.replace("\\", "/").strip("/").replace("/", "-").lower())
    if not base.endswith(".gz"):
        base += ".gz"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{n}-{base}"
    taken.add(name)
    return name


def _case_warcs(
    store: Store, settings: Settings, case_name: str
) -> tuple[tuple[str, str | None, str | None], list[Path], list[Any]]:
    with store.reader() as session:
        case = get_case(session, case_name)
        rels = case_warc_files(session, case.id)
        pages = session.execute(
            select(Capture.id, Capture.url, Capture.fetched_at, Capture.content_type)
            .where(
                Capture.case_id == case.id,
                Capture.warc_file.is_not(None),
                Capture.status_code.between(200, 399),
            )
            .order_by(Capture.fetched_at, Capture.id)
        ).all()
        facts = (case.name, case.title, case.description)
    paths = []
    for rel in rels:
        source = resolve_warc(settings.home, rel)
        if source is None or not source.is_file():
            raise ExportError(
                f"the WARC file {rel!r} of case {case_name} is missing or outside OSINT_HOME",
                hint="restore it from a backup; the bundle export lists what is missing",
            )
        paths.append(source)
    return facts, paths, list(pages)


def export_wacz(store: Store, settings: Settings, case_name: str, out_path: Path) -> WaczSummary:
    """Write the case's captures as a WACZ file."""
    (name, title, description), warcs, pages = _case_warcs(store, settings, case_name)
    out_path = Path(out_path)
    if out_path.is_dir():
        raise InputError(f"{out_path} is a folder", hint="give a file name such as case.wacz")
    with (
        tempfile.TemporaryDirectory(prefix="osint-wacz-") as tmp,
        atomic_output(out_path) as out,
        ZipFile(out, "w", allowZip64=True) as zf,
    ):
        wacz = HashingZip(zf, settings_secrets(settings), spool_dir=out_path.parent)
        entries = _write_archives(wacz, warcs, Path(tmp))
        index = "".join(e.line() for e in sorted(entries, key=lambda e: (e.urlkey, e.timestamp)))
        wacz.write_bytes("indexes/index.cdx", index.encode("utf-8"))
        wacz.write_bytes("pages/pages.jsonl", _pages_jsonl(pages))
        package = _datapackage(wacz, name, title, description, pages)
        wacz.write_bytes("datapackage.json", package)
        digest = {
            "path": "datapackage.json",
            "hash": "sha256:" + hashlib.sha256(package).hexdigest(),
        }
        wacz.write_bytes("datapackage-digest.json", json.dumps(digest, indent=2).encode())
    return WaczSummary(out_path, len(warcs), len(entries), len(pages), out_path.stat().st_size)


def _write_archives(wacz: HashingZip, warcs: list[Path], tmp: Path) -> list[CdxEntry]:
    entries: list[CdxEntry] = []
    taken: set[str] = set()
    for source in warcs:
        gz = _as_gzip_warc(source, tmp)
        filename = _archive_name(source.name, taken)
        try:
            with gz.open("rb") as fh:
                entries.extend(index_warc(fh, filename))
        except ArchiveLoadFailed as exc:
            raise ExportError(f"the WARC file {source} cannot be read: {exc}") from exc
        with gz.open("rb") as fh:
            wacz.write_file(f"archive/{filename}", fh, compress=False)
    return entries


def _pages_jsonl(pages: list[Any]) -> bytes:
    lines = [{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}]
    for page in pages:
        lines.append(
            {
                "id": f"capture-{page.id}",
                "url": page.url,
                "ts": page.fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "title": f"{page.url} ({page.content_type or 'unknown type'})",
            }
        )
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")


def _datapackage(
    wacz: HashingZip, name: str, title: str | None, description: str | None, pages: list[Any]
) -> bytes:
    package: dict[str, Any] = {
        "profile": "data-package",
        "wacz_version": WACZ_VERSION,
        "title": title or name,
        "description": description or f"Captures of the osint case {name}",
        "created": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "modified": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "software": f"osint {osint.__version__}",
        "resources": [
            {
                "name": _RESOURCE_NAME.sub("-", PurePath(m.path).name.lower()),
                "path": m.path,
                "hash": f"sha256:{m.sha256}",
                "bytes": m.size,
            }
            for m in wacz.members
        ],
    }
    if pages:
        package["mainPageURL"] = pages[0].url
        package["mainPageDate"] = pages[0].fetched_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(package, indent=2, ensure_ascii=False).encode("utf-8")
