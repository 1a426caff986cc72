from __future__ import annotations

import hashlib
import json
import stat
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from osint.bundle import export_bundle
from osint.config import load_settings
from osint.errors import InputError, VerifyError
from osint.store import open_store
from osint.verify import VerifyLimits, verify_bundle
from tests.casebuild import build_case
from tests.conftest import CliRun

Change = Callable[[str, bytes], bytes | None]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bundle for the module (these tests tamper with copies; the database does not matter)."""
    home = tmp_path_factory.mktemp("verify-home")
    settings = load_settings(home=home, db=f"sqlite:///{home / 'osint.db'}", environ={})
    store = open_store(settings)
    try:
        built = build_case(store, settings)
        return export_bundle(store, settings, built.name, home / "case.zip").path
    finally:
        store.dispose()


def rewrite(
    source: Path, target: Path, change: Change | None = None, extra: dict[str, bytes] | None = None
) -> Path:
    """Copy a zip member by member, letting ``change`` alter (or drop, with None) members."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            data = change(info.filename, data) if change else data
            if data is not None:
                out.writestr(info, data)
        for name, data in (extra or {}).items():
            out.writestr(name, data)
    return target


def flip_one_byte(data: bytes) -> bytes:
    at = len(data) // 2
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_an_untouched_bundle_verifies(bundle: Path) -> None:
    result = verify_bundle(bundle)
    assert result.ok and result.problems == []
    with zipfile.ZipFile(bundle) as zf:
        assert result.files_checked == len(zf.namelist()) - 1  # all but manifest.json
    assert result.case == "gossi" and result.timestamp is None


def test_flipping_one_byte_of_any_file_is_caught_and_named(bundle: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(bundle) as zf:
        names = [n for n in zf.namelist() if n != "manifest.json"]
    assert len(names) > 30
    for name in names:
        tampered = rewrite(
            bundle, tmp_path / "t.zip", lambda n, d, name=name: flip_one_byte(d) if n == name else d
        )
        problems = verify_bundle(tampered).problems
        assert [(p.kind, p.path) for p in problems] == [("altered", name)], name
        assert "SHA-256 is" in problems[0].detail


def test_a_byte_flipped_inside_the_zip_file_itself_is_caught(bundle: Path, tmp_path: Path) -> None:
    """Stored members are hashed straight from the file: corruption there must show too."""
    with zipfile.ZipFile(bundle) as zf:
        info = next(i for i in zf.infolist() if i.filename.startswith("media/"))
    raw = bytearray(bundle.read_bytes())
    raw[info.header_offset + 30 + len(info.filename) + 40] ^= 0xFF
    tampered = tmp_path / "raw.zip"
    tampered.write_bytes(bytes(raw))
    problems = verify_bundle(tampered).problems
    assert [(p.kind, p.path) for p in problems] == [("altered", info.filename)]


def test_a_changed_manifest_entry_is_caught(bundle: Path, tmp_path: Path) -> None:
    def change(name: str, data: bytes) -> bytes:
        return data.replace(b'"size": ', b'"size": 1', 1) if name == "manifest.json" else data

    problems = verify_bundle(rewrite(bundle, tmp_path / "m.zip", change)).problems
    assert len(problems) == 1 and problems[0].kind == "altered"
    assert "the manifest says 1" in problems[0].detail


def test_a_deleted_file_is_named(bundle: Path, tmp_path: Path) -> None:
    tampered = rewrite(
        bundle, tmp_path / "d.zip", lambda n, d: None if n == "data/posts.csv" else d
    )
    problems = verify_bundle(tampered).problems
    assert [(p.kind, p.path) for p in problems] == [("missing", "data/posts.csv")]


def test_an_added_file_is_named(bundle: Path, tmp_path: Path) -> None:
    tampered = rewrite(bundle, tmp_path / "a.zip", extra={"media/planted.jpg": b"\xff\xd8fake"})
    problems = verify_bundle(tampered).problems
    assert [(p.kind, p.path) for p in problems] == [("extra", "media/planted.jpg")]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.sh", "climbs out"),
        ("data/../../evil.sh", "climbs out"),
        ("/etc/cron.d/evil", "absolute path"),
        ("C:/Windows/evil.bat", "absolute path"),
        ("data\\..\\..\\evil.bat", "backslash"),
    ],
)
def test_unsafe_member_names_are_refused(
    bundle: Path, tmp_path: Path, name: str, reason: str
) -> None:
    tampered = rewrite(bundle, tmp_path / "slip.zip", extra={name: b"echo owned"})
    with zipfile.ZipFile(tampered) as zf:
        assert name in [i.orig_filename for i in zf.infolist()]
    with pytest.raises(VerifyError, match=reason):
        verify_bundle(tampered)
    assert not (tmp_path.parent / "evil.sh").exists()


def test_symlink_members_are_refused(bundle: Path, tmp_path: Path) -> None:
    tampered = rewrite(bundle, tmp_path / "link.zip")
    with zipfile.ZipFile(tampered, "a") as zf:
        link = zipfile.ZipInfo("media/link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(VerifyError, match="symbolic link"):
        verify_bundle(tampered)


def test_zip_bombs_are_refused(bundle: Path, tmp_path: Path) -> None:
    tampered = rewrite(bundle, tmp_path / "bomb.zip")
    with zipfile.ZipFile(tampered, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data/zeros.bin", bytes(8 * 1024 * 1024))
    with pytest.raises(VerifyError, match=r"expands .* times"):
        verify_bundle(tampered)
    with pytest.raises(VerifyError, match="bytes uncompressed"):
        verify_bundle(bundle, limits=VerifyLimits(max_total_bytes=10_000))
    with pytest.raises(VerifyError, match="members"):
        verify_bundle(bundle, limits=VerifyLimits(max_members=5))


def test_overlapping_members_are_refused(tmp_path: Path) -> None:
    """The non-recursive zip bomb: many directory entries pointing at the same data."""
    path = tmp_path / "overlap.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", b'{"files": []}')
        zf.writestr("b", b"x" * 100)
    raw = bytearray(path.read_bytes())
    central = raw.rfind(b"PK\x01\x02")  # the last directory entry is "b"
    raw[central + 42 : central + 46] = (0).to_bytes(4, "little")  # point it at the first member
    path.write_bytes(bytes(raw))
    with pytest.raises(VerifyError, match="overlap"):
        verify_bundle(path)


def test_duplicate_names_are_refused(bundle: Path, tmp_path: Path) -> None:
    tampered = rewrite(bundle, tmp_path / "dup.zip")
    with (
        pytest.warns(UserWarning, match="Duplicate name"),
        zipfile.ZipFile(tampered, "a") as zf,
    ):
        zf.writestr("report.html", b"<p>another report</p>")
    with pytest.raises(VerifyError, match="appears twice"):
        verify_bundle(tampered)


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        verify_bundle(tmp_path / "absent.zip")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(VerifyError, match="cannot open"):
        verify_bundle(junk)
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as zf:
        zf.writestr("a.txt", b"a")
    with pytest.raises(VerifyError, match=r"no manifest\.json"):
        verify_bundle(tmp_path / "plain.zip")


def test_verify_command_exit_codes(bundle: Path, run_cli: CliRun, tmp_path: Path) -> None:
    ok = run_cli("verify", str(bundle))
    assert ok.stdout.strip().splitlines()[-1].startswith("OK: manifest.json sha256 ")
    tampered = rewrite(
        bundle,
        tmp_path / "t.zip",
        lambda n, d: flip_one_byte(d) if n == "report.html" else d,
        extra={"notes.txt": b"planted"},
    )
    bad = run_cli("verify", str(tampered), expect=1)
    assert "ALTERED report.html: SHA-256 is" in bad.stdout
    assert "EXTRA notes.txt: in the bundle but not in the manifest" in bad.stdout
    assert "failed verification: 2 problem(s)" in bad.stderr
    assert "OK" not in bad.stdout.split()
    slip = rewrite(bundle, tmp_path / "s.zip", extra={"../x": b"x"})
    assert "path climbs out" in run_cli("verify", str(slip), expect=1).stderr


# -- attacks of issue 21: each bad input is made here --------------------------------------
def forge(source: Path, target: Path, change: Change) -> Path:
    """A consistent forgery: members changed by ``change``, then manifest and SHA256SUMS re-hashed
    to match (what an attacker who can rewrite the whole bundle would do)."""
    with zipfile.ZipFile(source) as src:
        data = {i.filename: src.read(i) for i in src.infolist()}
        infos = {i.filename: i for i in src.infolist()}
    for name in list(data):
        changed = change(name, data[name])
        if changed is None:
            del data[name]
        else:
            data[name] = changed
    manifest = json.loads(data["manifest.json"])
    for entry in manifest["files"]:
        if entry["path"] in data:
            entry["sha256"] = hashlib.sha256(data[entry["path"]]).hexdigest()
            entry["size"] = len(data[entry["path"]])
    sums = "".join(
        f"{e['sha256']}  {e['path']}\n" for e in manifest["files"] if e["path"] != "SHA256SUMS"
    )
    data["SHA256SUMS"] = sums.encode()
    for entry in manifest["files"]:
        if entry["path"] == "SHA256SUMS":
            entry["sha256"] = hashlib.sha256(data["SHA256SUMS"]).hexdigest()
            entry["size"] = len(data["SHA256SUMS"])
    data["manifest.json"] = json.dumps(manifest, indent=1).encode()
    with zipfile.ZipFile(target, "w") as out:
        for name, content in data.items():
            out.writestr(infos[name], content)
    return target


def _patch_declared_size(path: Path, name: str, size: int, crc: int) -> None:
    """Make the zip declare ``size`` bytes and ``crc`` for a member (local and central headers)."""
    raw = bytearray(path.read_bytes())
    encoded = name.encode()
    local = raw.find(b"PK\x03\x04")  # the first local header; walk on to ours
    while True:
        name_len = int.from_bytes(raw[local + 26 : local + 28], "little")
        if raw[local + 30 : local + 30 + name_len] == encoded:
            break
        local = raw.find(b"PK\x03\x04", local + 4)
    raw[local + 14 : local + 18] = crc.to_bytes(4, "little")
    raw[local + 22 : local + 26] = size.to_bytes(4, "little")
    central = raw.find(b"PK\x01\x02")
    while raw[central + 46 : central + 46 + len(encoded)] != encoded:
        central = raw.find(b"PK\x01\x02", central + 4)
    raw[central + 16 : central + 20] = crc.to_bytes(4, "little")
    raw[central + 24 : central + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(raw))


def test_a_member_that_inflates_past_its_declared_size_is_caught(
    bundle: Path, tmp_path: Path, run_cli: CliRun
) -> None:
    """Only the first bytes match the (forged) manifest; the deflate stream goes on past them."""
    name = "data/posts.jsonl"
    with zipfile.ZipFile(bundle) as zf:
        full = zf.read(name)
        assert zf.getinfo(name).compress_type == zipfile.ZIP_DEFLATED
    head = full[: len(full) // 2]

    def change(member: str, data: bytes) -> bytes:
        if member != "manifest.json":
            return data
        manifest = json.loads(data)
        for entry in manifest["files"]:
            if entry["path"] == name:
                entry["size"], entry["sha256"] = len(head), hashlib.sha256(head).hexdigest()
        return json.dumps(manifest).encode()

    tampered = rewrite(bundle, tmp_path / "long.zip", change)
    _patch_declared_size(tampered, name, len(head), zlib.crc32(head))
    unzip = subprocess.run(["unzip", "-t", str(tampered)], capture_output=True, text=True)
    assert unzip.returncode != 0 and name in unzip.stdout  # the real tool sees it too
    problems = verify_bundle(tampered).problems
    assert [(p.kind, p.path) for p in problems] == [("altered", name)]
    assert "inflates past its declared size" in problems[0].detail
    bad = run_cli("verify", str(tampered), expect=1)
    assert f"ALTERED {name}" in bad.stdout


def test_a_bad_crc_and_a_cut_deflate_stream_are_caught(bundle: Path, tmp_path: Path) -> None:
    name = "data/accounts.jsonl"
    with zipfile.ZipFile(bundle) as zf:
        info = zf.getinfo(name)
        data = zf.read(name)
    crc_path = rewrite(bundle, tmp_path / "crc.zip")
    _patch_declared_size(crc_path, name, len(data), info.CRC ^ 0xFFFF)
    problems = verify_bundle(crc_path).problems
    assert [(p.kind, p.path) for p in problems] == [("altered", name)]
    assert "bad CRC-32" in problems[0].detail

    cut = tmp_path / "cut.zip"
    with zipfile.ZipFile(bundle) as src, zipfile.ZipFile(cut, "w") as out:
        for item in src.infolist():
            content = src.read(item)
            if item.filename == name:  # a stored copy of half the deflate stream, named deflated
                stream = zlib.compressobj(6, zlib.DEFLATED, -15)
                half = (stream.compress(content) + stream.flush())[:-20]
                out.writestr(zipfile.ZipInfo(name), half)
            else:
                out.writestr(item, content)
    raw = bytearray(cut.read_bytes())
    for magic, method_at in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = raw.find(magic)
        while at >= 0:
            offset = 30 if magic == b"PK\x03\x04" else 46
            if raw[at + offset : at + offset + len(name)] == name.encode():
                raw[at + method_at : at + method_at + 2] = (8).to_bytes(2, "little")
            at = raw.find(magic, at + 4)
    cut.write_bytes(bytes(raw))
    problems = verify_bundle(cut).problems
    assert [(p.kind, p.path) for p in problems] == [("altered", name)]


def test_a_manifest_nested_100000_levels_deep_is_refused_clearly(
    tmp_path: Path, run_cli: CliRun
) -> None:
    path = tmp_path / "deep.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", '{"files": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(VerifyError, match="nested too deeply"):
        verify_bundle(path)
    failed = run_cli("verify", str(path), expect=1)
    assert "nested too deeply" in failed.stderr and "unexpected" not in failed.stderr
    omitted = tmp_path / "omitted.zip"
    with zipfile.ZipFile(omitted, "w") as zf:
        zf.writestr("manifest.json", '{"files": [], "omitted": [' + "[" * 500 + "]" * 500 + "]}")
    failed = run_cli("verify", str(omitted), expect=1)
    assert "bad list of omitted files" in failed.stderr


def test_a_consistent_forgery_passes_only_without_expect_and_says_what_is_not_proven(
    bundle: Path, tmp_path: Path, run_cli: CliRun
) -> None:
    original = hashlib.sha256(zipfile.ZipFile(bundle).read("manifest.json")).hexdigest()
    forged = forge(
        bundle,
        tmp_path / "forged.zip",
        lambda n, d: d.replace(b"gossi", b"g0ssi") if n == "data/posts.jsonl" else d,
    )
    plain = run_cli("verify", str(forged))  # internally consistent: exit 0 ...
    assert "not proven: that this manifest is the original" in plain.stdout  # ... but it says so
    assert "proven: every file is exactly as manifest.json lists it" in plain.stdout
    caught = run_cli("verify", str(forged), "--expect", original, expect=1)
    assert f"not the {original} you expected" in caught.stdout
    assert "NOT proven: this manifest.json is not the one" in caught.stdout
    good = run_cli("verify", str(bundle), "--expect", original.upper())
    assert "proven: manifest.json is the one whose SHA-256 you expected" in good.stdout
    assert "not proven: that this manifest is the original" not in good.stdout
    wrong = run_cli("verify", str(bundle), "--expect", "abc", expect=2)
    assert "is not a SHA-256" in wrong.stderr
