from __future__ import annotations

import gzip
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import update
from warcio.archiveiterator import ArchiveIterator

from osint.config import Settings
from osint.errors import ExportError
from osint.storage.db import Store
from osint.storage.models import Capture
from osint.wacz import export_wacz, urlkey
from tests.casebuild import BuiltCase, build_case
from tests.conftest import CliRun


@pytest.fixture
def built(store: Store, settings: Settings) -> BuiltCase:
    return build_case(store, settings)


def test_cdx_keys_are_the_surt_librarys() -> None:
    """Commas, colons and @ in queries stay as they are (pywb looks them up this way)."""
    assert urlkey("https://www.Example.com/Path?b=2&a=1") == "com,example)/path?a=1&b=2"
    assert urlkey("http://api.x.com:8080/users/1001") == "com,x,api:8080)/users/1001"
    assert urlkey("https://example.org") == "org,example)/"
    x_url = "https://api.x.com/2/users/1/tweets?tweet.fields=created_at,lang&expansions=a:b,@c"
    assert (
        urlkey(x_url)
        == "com,x,api)/2/users/1/tweets?expansions=a:b,@c&tweet.fields=created_at,lang"
    )


def test_wacz_structure_and_every_index_entry_points_at_its_record(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    summary = export_wacz(store, settings, built.name, tmp_path / "case.wacz")
    with zipfile.ZipFile(summary.path) as zf:
        names = zf.namelist()
        files = {n: zf.read(n) for n in names}
        archive_info = zf.getinfo("archive/run-1.warc.gz")
    assert set(names) == {
        "archive/run-1.warc.gz",
        "indexes/index.cdx",
        "pages/pages.jsonl",
        "datapackage.json",
        "datapackage-digest.json",
    }
    assert archive_info.compress_type == zipfile.ZIP_STORED  # replay tools seek into it
    assert files["archive/run-1.warc.gz"] == built.warc_path.read_bytes()

    package = json.loads(files["datapackage.json"])
    assert package["profile"] == "data-package" and package["wacz_version"] == "1.1.1"
    resources = {r["path"]: r for r in package["resources"]}
    assert set(resources) == {"archive/run-1.warc.gz", "indexes/index.cdx", "pages/pages.jsonl"}
    for path, resource in resources.items():
        assert resource["hash"] == "sha256:" + hashlib.sha256(files[path]).hexdigest()
        assert resource["bytes"] == len(files[path])
    digest = json.loads(files["datapackage-digest.json"])
    assert digest["hash"] == "sha256:" + hashlib.sha256(files["datapackage.json"]).hexdigest()

    lines = files["indexes/index.cdx"].decode().splitlines()
    assert len(lines) == len(built.capture_ids) == summary.records
    assert lines == sorted(lines)
    warc = files["archive/run-1.warc.gz"]
    for line in lines:
        key, timestamp, raw = line.split(" ", 2)
        entry = json.loads(raw)
        assert key == urlkey(entry["url"]) and len(timestamp) == 14
        offset, length = int(entry["offset"]), int(entry["length"])
        records = list(ArchiveIterator(io.BytesIO(warc[offset : offset + length])))
        assert len(records) == 1
        record = records[0]
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]
        assert entry["status"] == "200" and entry["mime"] in ("application/json", "image/jpeg")

    pages = [json.loads(x) for x in files["pages/pages.jsonl"].decode().splitlines()]
    assert pages[0] == {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    assert {p["url"] for p in pages[1:]} == {json.loads(x.split(" ", 2)[2])["url"] for x in lines}


def test_uncompressed_warc_is_gzipped_per_record(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    plain = settings.home / "warc" / "gossi" / "run-1.warc"
    with gzip.open(built.warc_path) as src:
        plain.write_bytes(src.read())
    with store.session() as session:
        session.execute(update(Capture).values(warc_file="warc/gossi/run-1.warc"))
    summary = export_wacz(store, settings, built.name, tmp_path / "plain.wacz")
    with zipfile.ZipFile(summary.path) as zf:
        warc = zf.read("archive/run-1.warc.gz")
        index = zf.read("indexes/index.cdx").decode().splitlines()
    assert warc[:2] == b"\x1f\x8b" and len(index) == len(built.capture_ids)
    for line in index:
        entry = json.loads(line.split(" ", 2)[2])
        start, length = int(entry["offset"]), int(entry["length"])
        (record,) = ArchiveIterator(io.BytesIO(warc[start : start + length]))
        assert record.rec_headers.get_header("WARC-Target-URI") == entry["url"]


def test_missing_warc_is_an_error(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    built.warc_path.unlink()
    with pytest.raises(ExportError, match="missing or outside OSINT_HOME"):
        export_wacz(store, settings, built.name, tmp_path / "x.wacz")
    assert not (tmp_path / "x.wacz").exists()


def test_export_wacz_command(built: BuiltCase, run_cli: CliRun, tmp_path: Path) -> None:
    out = tmp_path / "case.wacz"
    result = run_cli("export", "wacz", "--case", built.name, "-o", str(out))
    assert "1 WARC files, 6 records indexed, 6 pages" in result.stdout
    assert zipfile.is_zipfile(out)
