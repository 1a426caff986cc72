from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import update
from warcio.archiveiterator import ArchiveIterator

from osint.config import Settings
from osint.errors import ExportError
from osint.storage.db import Store
from osint.storage.models import Capture
from osint.wacz import export_wacz, urlkey
from tests.casebuild import BuiltCase, build_case
from tests.conftest import REPO, CliRun
from tests.demo.replay.worlds import dia_world
from tests.report.browser import HeadlessChromium, find_chromium
from tests.web.rangeserver import RangeServer

CHROMIUM = find_chromium()


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


# -- the real tools, on a WACZ of real collections (four platforms, on the replay server) -------
@pytest.fixture(scope="module")
def collected_wacz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the WACZ, the OSINT_HOME) of a case collected from all four platforms."""
    from osint.demo.replay import ReplayServer, World
    from tests.conftest import X_TOKEN

    home = tmp_path_factory.mktemp("wacz-home")
    world = World()
    world.tokens["x"] = {X_TOKEN}
    for name in ("x", "telegram", "bluesky", "mastodon"):
        dia_world(world, posts=4, image_every=2, platform=name)
    with ReplayServer(world) as server, pytest.MonkeyPatch.context() as env:
        for setting, url in server.settings_overrides().items():
            env.setenv(f"OSINT_{setting.upper()}", url)
        env.setenv("OSINT_X_BEARER_TOKEN", X_TOKEN)
        env.setenv("OSINT_HTTP_MIN_INTERVAL", "0")
        cli = CliRun(home, f"sqlite:///{home / 'osint.db'}")
        cli("case", "new", "c")
        cli("collect", "x", "dia_diarra", "--case", "c")
        cli("collect", "telegram", "t.me/Dia_Diarra", "--case", "c")
        cli("collect", "bluesky", "dia-diarra.bsky.social", "--case", "c")
        cli("collect", "mastodon", "dia_diarra@mastodon.example", "--case", "c")
        out = home / "c.wacz"
        cli("export", "wacz", "--case", "c", "-o", str(out))
    yield out, home


def _payloads(archive: Path) -> dict[tuple[str, str], bytes]:
    """(URL, 14-digit time) -> the payload of each response record of the WACZ's WARC files."""
    found: dict[tuple[str, str], bytes] = {}
    for warc in sorted(archive.glob("*.warc.gz")):
        with warc.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    when = "".join(
                        c for c in record.rec_headers.get_header("WARC-Date") if c.isdigit()
                    )
                    found[(url, when[:14])] = record.content_stream().read()
    return found


def test_wacz_validate_accepts_it(collected_wacz: tuple[Path, Path]) -> None:
    """py-wacz's own validator: frictionless datapackage, paths, hashes, digest."""
    wacz_cli = shutil.which("wacz", path=str(Path(sys.executable).parent)) or shutil.which("wacz")
    assert wacz_cli, "py-wacz is in the dev extra (pip install -e '.[dev]')"
    done = subprocess.run(
        [wacz_cli, "validate", "-f", str(collected_wacz[0])],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation succeeded, the passed WACZ is valid" in done.stdout


def test_members_use_zip64_only_where_needed(collected_wacz: tuple[Path, Path]) -> None:
    raw = collected_wacz[0].read_bytes()
    with zipfile.ZipFile(collected_wacz[0]) as zf:
        for info in zf.infolist():
            start = info.header_offset
            extra_len = int.from_bytes(raw[start + 28 : start + 30], "little")
            extra = raw[
                start + 30 + len(info.filename) : start + 30 + len(info.filename) + extra_len
            ]
            assert b"\x01\x00" not in extra[:2], f"{info.filename} has a ZIP64 local header"
            assert int.from_bytes(raw[start + 18 : start + 22], "little") == info.compress_size


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pywb_replays_every_capture_byte_identical_through_our_index(
    collected_wacz: tuple[Path, Path], tmp_path: Path
) -> None:
    """pywb serves each capture from osint's own CDXJ index (no re-indexing), unchanged."""
    wacz, home = collected_wacz
    root = tmp_path / "pywb"
    coll = root / "collections" / "case"
    with zipfile.ZipFile(wacz) as zf:
        zf.extractall(tmp_path / "unpacked")
    shutil.copytree(tmp_path / "unpacked" / "archive", coll / "archive")
    (coll / "indexes").mkdir()
    shutil.copyfile(
        tmp_path / "unpacked" / "indexes" / "index.cdx", coll / "indexes" / "index.cdxj"
    )
    index = (coll / "indexes" / "index.cdxj").read_text().splitlines()
    payloads = _payloads(coll / "archive")
    with sqlite3.connect(home / "osint.db") as db:
        captures = db.execute(
            "SELECT count(*) FROM captures WHERE warc_file IS NOT NULL"
        ).fetchone()[0]
    assert len(index) == len(payloads) == captures > 20
    port = _free_port()
    wayback = shutil.which("wayback", path=str(Path(sys.executable).parent)) or "wayback"
    server = subprocess.Popen(
        [wayback, "--bind", "127.0.0.1", "-p", str(port)],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base)
        replayed = 0
        with httpx.Client(timeout=30) as client:
            for line in index:
                _, when, fields = line.split(" ", 2)
                url = json.loads(fields)["url"]
                answer = client.get(f"{base}/case/{when}id_/{url}")
                assert answer.status_code == 200, (url, answer.status_code)
                assert answer.content == payloads[(url, when)], url
                replayed += 1
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert replayed == captures
    # X's field lists (a comma, sent as %2C exactly as it went over the wire) were among them
    assert any("," in unquote(json.loads(line.split(" ", 2)[2])["url"]) for line in index)


def _wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def replaywebpage_dir() -> Path | None:
    """ReplayWeb.page's built files (ui.js, sw.js) from its npm package, as .ci/run unpacks it."""
    folder = Path(os.environ.get("OSINT_REPLAYWEBPAGE", REPO / ".ci-cache" / "replaywebpage"))
    return folder if (folder / "ui.js").is_file() and (folder / "sw.js").is_file() else None


def test_replaywebpage_lists_the_pages_and_replays_an_api_page_and_an_image(
    collected_wacz: tuple[Path, Path], tmp_path: Path
) -> None:
    package = replaywebpage_dir()
    if package is None:
        message = "ReplayWeb.page not unpacked (.ci/run runs: npm pack replaywebpage)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    if CHROMIUM is None:
        pytest.fail("Chromium is needed (.ci/run installs Debian's chromium)")
    site = tmp_path / "site"
    (site / "replay").mkdir(parents=True)
    for target in (site / "ui.js", site / "replay" / "ui.js"):
        shutil.copyfile(package / "ui.js", target)
    shutil.copyfile(package / "sw.js", site / "replay" / "sw.js")
    shutil.copyfile(collected_wacz[0], site / "case.wacz")
    (site / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><script src="/ui.js"></script>'
        '<replay-web-page source="/case.wacz" replayBase="/replay/" embed="replayonly">'
        "</replay-web-page>"
    )
    with zipfile.ZipFile(collected_wacz[0]) as zf:
        zf.extractall(tmp_path / "unpacked")
        listed = [json.loads(x) for x in zf.read("pages/pages.jsonl").splitlines()[1:]]
        index = zf.read("indexes/index.cdx").decode().splitlines()
    payloads = _payloads(tmp_path / "unpacked" / "archive")
    entries = [(line.split(" ", 2)[1], json.loads(line.split(" ", 2)[2])) for line in index]
    api = next(
        (w, e) for w, e in entries if e["mime"] == "application/json" and "," in unquote(e["url"])
    )
    image = next((w, e) for w, e in entries if e["mime"].startswith("image/"))
    server = RangeServer(site)
    browser = HeadlessChromium(CHROMIUM, timeout=60)
    try:
        browser.open(f"{server.url}/index.html")
        coll_index = f"{server.url}/replay/w/api/coll-index"
        try:
            colls = _poll_json(browser, coll_index, "colls", seconds=45)
        except AssertionError:
            # On a busy machine the first visit can race the service worker's install and
            # leave the collection unloaded ({"colls": []}); a reader reloads the page. The
            # archive must load on that second visit, or the test fails with what the page said.
            browser.navigate(f"{server.url}/index.html")
            try:
                colls = _poll_json(browser, coll_index, "colls", seconds=60)
            except AssertionError as error:
                raise AssertionError(f"{error}; the page said: {browser.problems()[-5:]}") from None
        coll = colls["colls"][0]["id"]
        pages = _poll_json(browser, f"{server.url}/replay/w/api/c/{coll}/pages", "pages")["pages"]
        fetched = {}
        for when, entry in (api, image):
            fetched[entry["url"]] = _in_frame(
                browser,
                f"{server.url}/replay/w/{coll}/{when}id_/{entry['url']}",
                ".then(r => r.arrayBuffer().then(b => crypto.subtle.digest('SHA-256', b))"
                ".then(d => [r.status, Array.from(new Uint8Array(d))"
                ".map(x => x.toString(16).padStart(2, '0')).join('')]))",
            )
    finally:
        browser.close()
        server.close()
    assert sorted(p["url"] for p in pages) == sorted(p["url"] for p in listed)
    assert len(pages) == len(listed) > 20
    for when, entry in (api, image):
        expected = hashlib.sha256(payloads[(entry["url"], when)]).hexdigest()
        assert fetched[entry["url"]] == [200, expected], entry["url"]


_IN_FRAME = (
    "(() => {{ const root = document.querySelector('replay-web-page');"
    " const frame = root && root.shadowRoot && root.shadowRoot.querySelector('iframe');"
    " if (!frame || !frame.contentWindow || !frame.contentWindow.fetch) return Promise.resolve('');"
    " return frame.contentWindow.fetch({url}){then}.catch(e => ''); }})()"
)


def _in_frame(browser: HeadlessChromium, url: str, then: str = ".then(r => r.text())") -> Any:
    """Fetch through ReplayWeb.page's own frame, which its service worker controls."""
    return browser.evaluate_async(_IN_FRAME.format(url=json.dumps(url), then=then))


def _poll_json(browser: HeadlessChromium, url: str, key: str, seconds: float = 90) -> Any:
    """Ask ReplayWeb.page's service worker (its API) until it answers with ``key``."""
    deadline = time.monotonic() + seconds
    text = ""
    while time.monotonic() < deadline:
        text = _in_frame(browser, url) or ""
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get(key):
            return data
        time.sleep(1)
    raise AssertionError(f"ReplayWeb.page did not answer {url}: {text[:300]}")
