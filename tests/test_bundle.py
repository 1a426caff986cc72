from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from osint.bundle import export_bundle
from osint.cases import create_case
from osint.config import Settings, load_settings
from osint.errors import ExportError, MediaError
from osint.storage.db import Store
from osint.storage.ingest import CaseWriter
from osint.store import open_store
from tests.casebuild import T0, BuiltCase, WarcSink, build_case
from tests.conftest import CliRun
from tests.factories import make_post

TOKEN = "AAAAAAAAAAAAAAAAAAAAAOsintTestBearerToken%2Fdo-not-leak-7f3e9c1b5a"


@pytest.fixture
def built(store: Store, settings: Settings) -> BuiltCase:
    return build_case(store, settings)


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_bundle_holds_everything_and_the_manifest_lists_it(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    summary = export_bundle(store, settings, built.name, tmp_path / "case.zip")
    files = members(summary.path)
    manifest = json.loads(files["manifest.json"])
    assert summary.manifest_sha256 == hashlib.sha256(files["manifest.json"]).hexdigest()
    listed = {entry["path"]: entry for entry in manifest["files"]}
    assert set(files) - set(listed) == {"manifest.json"}
    for name, entry in listed.items():
        assert entry["size"] == len(files[name])
        assert entry["sha256"] == hashlib.sha256(files[name]).hexdigest()
    assert {f"media/{sha}" for sha in built.media_sha256} <= set(files)
    assert files["warc/gossi/run-1.warc.gz"] == built.warc_path.read_bytes()
    for table in (
        "accounts",
        "account_snapshots",
        "posts",
        "post_versions",
        "media",
        "captures",
        "findings",
        "finding_evidence",
        "events",
        "collection_runs",
    ):
        assert f"data/{table}.jsonl" in files and f"data/{table}.csv" in files
    assert files["report.html"].startswith(b"<!DOCTYPE html>")
    sums = files["SHA256SUMS"].decode().splitlines()
    assert len(sums) == len(listed) - 1  # every file but SHA256SUMS itself
    assert "sha256sum -c --strict SHA256SUMS" in files["README.txt"].decode()
    assert summary.omitted == [] and manifest["case"] == "gossi"


def test_data_files_hold_the_case_records(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    files = members(export_bundle(store, settings, built.name, tmp_path / "c.zip").path)
    posts = [json.loads(line) for line in files["data/posts.jsonl"].decode().splitlines()]
    assert sorted(p["id"] for p in posts) == sorted(built.post_ids)
    assert any(p["text"].startswith("<script>") for p in posts)  # exact text in JSONL
    rows = list(csv.DictReader(io.StringIO(files["data/posts.csv"].decode())))
    assert len(rows) == len(posts)
    captures = [json.loads(x) for x in files["data/captures.jsonl"].decode().splitlines()]
    assert {c["warc_file"] for c in captures} == {built.warc_relative}
    evidence = files["data/finding_evidence.jsonl"].decode().splitlines()
    assert len(evidence) == 4 + 4 + 3


def test_csv_cells_cannot_run_as_spreadsheet_formulas(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    case_id = create_case(store, "formulas").id
    with store.session() as session:
        CaseWriter(session, case_id, source="test").posts(
            [make_post(text='=HYPERLINK("http://evil.example","x")')]
        )
    files = members(export_bundle(store, settings, "formulas", tmp_path / "f.zip").path)
    (row,) = csv.DictReader(io.StringIO(files["data/posts.csv"].decode()))
    assert row["text"] == '\'=HYPERLINK("http://evil.example","x")'
    (post,) = [json.loads(x) for x in files["data/posts.jsonl"].decode().splitlines()]
    assert post["text"] == '=HYPERLINK("http://evil.example","x")'


def test_chain_of_custody_log(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    files = members(export_bundle(store, settings, built.name, tmp_path / "c.zip").path)
    entries = [json.loads(x) for x in files["custody.jsonl"].decode().splitlines()]
    run, export = entries
    assert run["asked"] == {
        "platform": "x",
        "target": "@dia_diarra",
        "params": {"since": "2022-04-20"},
    }
    assert run["captures"] == len(built.capture_ids)
    assert run["operator"] == settings.operator and run["hostname"] == settings.hostname
    assert run["osint_version"] and run["errors"] == ["https://pbs.example/media/404.jpg: HTTP 404"]
    assert export["event"] == "bundle_export" and export["operator"] == settings.operator
    text = files["custody.txt"].decode()
    assert "run #" in text and "'@dia_diarra'" in text and "error: https://pbs.example" in text


def test_no_secret_from_the_environment_ends_up_in_the_bundle(
    home: Path, db_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        home=home, db=db_url, environ={"OSINT_X_BEARER_TOKEN": TOKEN, "OSINT_OPERATOR": "ana"}
    )
    assert settings.x_bearer_token is not None
    store = open_store(settings)
    try:
        built = build_case(store, settings)
        path = export_bundle(store, settings, built.name, tmp_path / "c.zip").path
    finally:
        store.dispose()
    needles = [TOKEN.encode(), TOKEN.encode("utf-16-le"), TOKEN[:24].encode()]
    raw = path.read_bytes()
    assert not any(n in raw for n in needles)
    for name, data in members(path).items():
        assert not any(n in data for n in needles), name
        if name.endswith(".gz"):
            assert TOKEN.encode() not in gzip.decompress(data), name
    assert b'"operator": "ana"' in members(path)["manifest.json"]


def test_a_token_inside_a_capture_stops_the_export(home: Path, db_url: str, tmp_path: Path) -> None:
    settings = load_settings(home=home, db=db_url, environ={"OSINT_X_BEARER_TOKEN": TOKEN})
    store = open_store(settings)
    try:
        built = build_case(store, settings)
        sink = WarcSink(tmp_path / "leak.warc.gz")
        sink.response(
            "https://api.x.com/echo", f"Authorization: Bearer {TOKEN}".encode(), "text/plain", T0
        )
        sink.close()
        with built.warc_path.open("ab") as fh:  # gzip members: appending one is still valid
            fh.write((tmp_path / "leak.warc.gz").read_bytes())
        out = tmp_path / "c.zip"
        with pytest.raises(ExportError, match=r"secret .* appears in warc/gossi/run-1\.warc\.gz"):
            export_bundle(store, settings, built.name, out)
    finally:
        store.dispose()
    assert not out.exists() and not list(tmp_path.glob(".c.zip*")), "no partial bundle left"


def test_missing_media_is_listed_and_corrupt_media_stops_the_export(
    built: BuiltCase, store: Store, settings: Settings, tmp_path: Path
) -> None:
    gone, spoiled = built.media_sha256[1], built.media_sha256[0]
    path = store.media.path_for(gone)
    path.chmod(0o644)
    path.unlink()
    summary = export_bundle(store, settings, built.name, tmp_path / "c.zip")
    assert summary.omitted == [{"path": f"media/{gone}", "reason": "not in the media store"}]
    manifest = json.loads(members(summary.path)["manifest.json"])
    assert manifest["omitted"] == summary.omitted
    target = store.media.path_for(spoiled)
    target.chmod(0o644)
    target.write_bytes(b"not the original bytes")
    with pytest.raises(MediaError, match=f"media {spoiled} is corrupted"):
        export_bundle(store, settings, built.name, tmp_path / "d.zip")


def test_export_bundle_command_prints_the_manifest_hash_last(
    built: BuiltCase, run_cli: CliRun, tmp_path: Path
) -> None:
    out = tmp_path / "case.zip"
    result = run_cli("export", "bundle", "--case", built.name, "-o", str(out))
    last = result.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(out) as zf:
        expected = hashlib.sha256(zf.read("manifest.json")).hexdigest()
    assert last == f"manifest.json sha256 {expected}"
    assert run_cli("verify", str(out)).stdout.strip().splitlines()[-1] == (
        f"OK: manifest.json sha256 {expected}"
    )
