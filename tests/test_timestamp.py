"""RFC 3161 timestamps against a real local TSA (``openssl ts -reply`` on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import tsp

from osint.bundle import export_bundle
from osint.config import Settings, load_settings
from osint.errors import InputError, TimestampError
from osint.storage.db import Store
from osint.store import open_store
from osint.timestamp import (
    check_response,
    make_request,
    request_timestamp,
    verify_signature,
)
from osint.verify import verify_bundle
from tests.casebuild import build_case
from tests.conftest import CliRun
from tests.test_verify import rewrite
from tests.tsa import OPENSSL, LocalTSA, TsaPki, make_tsa_pki

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="the openssl command is not installed")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TsaPki:
    return make_tsa_pki(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def tsa(pki: TsaPki) -> Iterator[LocalTSA]:
    server = LocalTSA(pki)
    yield server
    server.close()


@pytest.fixture(scope="module")
def stamped(tsa: LocalTSA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One timestamped bundle for the module, made on a private SQLite store."""
    home = tmp_path_factory.mktemp("stamped-home")
    settings = load_settings(home=home, db=f"sqlite:///{home / 'osint.db'}", environ={})
    store = open_store(settings)
    try:
        built = build_case(store, settings)
        before = tsa.requests
        summary = export_bundle(store, settings, built.name, home / "case.zip", tsa_url=tsa.url)
    finally:
        store.dispose()
    assert summary.timestamped and tsa.requests == before + 1
    return summary.path


def test_token_covers_the_manifest_and_verifies_against_the_tsa_certificate(
    stamped: Path, pki: TsaPki
) -> None:
    with zipfile.ZipFile(stamped) as zf:
        manifest, token = zf.read("manifest.json"), zf.read("manifest.json.tsr")
    info = check_response(token, manifest)
    assert info.hashed_message == hashlib.sha256(manifest).digest()
    assert info.policy == "1.2.3.4.1" and "osint test TSA" in (info.tsa_name or "")
    result = verify_bundle(stamped, tsa_cert=pki.ca_cert)
    assert result.ok and result.timestamp_signature_checked
    assert verify_bundle(stamped, tsa_cert=pki.tsa_cert).ok  # the TSA certificate itself


def test_a_changed_manifest_fails_the_timestamp(stamped: Path, pki: TsaPki, tmp_path: Path) -> None:
    def change(name: str, data: bytes) -> bytes:
        return (
            data.replace(b'"case": "gossi"', b'"case": "g0ssi"')
            if name == "manifest.json"
            else data
        )

    tampered = rewrite(stamped, tmp_path / "t.zip", change)
    problems = verify_bundle(tampered, tsa_cert=pki.ca_cert).problems
    assert [(p.kind, p.path) for p in problems] == [("timestamp", "manifest.json.tsr")]
    assert "does not cover these bytes" in problems[0].detail
    # Even without the certificate, the imprint check alone catches it.
    assert [p.kind for p in verify_bundle(tampered).problems] == ["timestamp"]


def test_a_token_from_another_tsa_fails(
    stamped: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    stranger = make_tsa_pki(tmp_path_factory.mktemp("other-tsa"), name="another")
    problems = verify_bundle(stamped, tsa_cert=stranger.ca_cert).problems
    assert [p.kind for p in problems] == ["timestamp"]
    assert "does not verify" in problems[0].detail


def test_verify_openssl_check_itself_fails_on_other_data(stamped: Path, pki: TsaPki) -> None:
    """The signature check (not only our imprint check) must reject bytes the token does not cover."""
    with zipfile.ZipFile(stamped) as zf:
        token = zf.read("manifest.json.tsr")
    folder = pki.folder / "sig"
    folder.mkdir(exist_ok=True)
    (folder / "m.json").write_bytes(b"{}")
    (folder / "t.tsr").write_bytes(token)
    with pytest.raises(TimestampError, match="does not verify"):
        verify_signature(folder / "m.json", folder / "t.tsr", pki.ca_cert)


def test_request_is_well_formed_and_a_non_tsa_reply_is_refused(tsa: LocalTSA) -> None:
    request = tsp.TimeStampReq.load(make_request(b"\x01" * 32, nonce=42))
    assert request["nonce"].native == 42 and request["cert_req"].native is True
    assert request["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"
    reply = request_timestamp(tsa.url, b"some bytes")
    assert check_response(reply, b"some bytes").hash_algorithm == "sha256"
    with pytest.raises(TimestampError, match="does not cover these bytes"):
        check_response(reply, b"other bytes")

    class NotATsa(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotATsa)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(TimestampError, match="not a valid RFC 3161"):
            request_timestamp(url, b"x")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(InputError, match="not a TSA URL"):
        request_timestamp("ftp://127.0.0.1/tsr", b"x")


def test_unreachable_tsa_leaves_no_bundle(store: Store, settings: Settings, tmp_path: Path) -> None:
    built = build_case(store, settings)
    out = tmp_path / "bundles" / "case.zip"
    with pytest.raises(TimestampError, match="cannot reach the time-stamping authority"):
        export_bundle(store, settings, built.name, out, tsa_url="http://127.0.0.1:9/tsr")
    assert list(out.parent.iterdir()) == []


def test_cli_bundle_with_tsa_and_verify_with_certificate(
    run_cli: CliRun, store: Store, settings: Settings, tsa: LocalTSA, pki: TsaPki, tmp_path: Path
) -> None:
    built = build_case(store, settings)
    out = tmp_path / "case.zip"
    made = run_cli("export", "bundle", "--case", built.name, "-o", str(out), "--tsa", tsa.url)
    assert "manifest timestamped" in made.stdout
    checked = run_cli("verify", str(out), "--tsa-cert", str(pki.ca_cert))
    assert "signature checked against the given certificate" in checked.stdout
    assert checked.stdout.strip().splitlines()[-1].startswith("OK: ")
    tampered = rewrite(
        out,
        tmp_path / "t.zip",
        lambda n, d: d.replace(b"gossi", b"g0ssi", 1) if n == "manifest.json" else d,
    )
    failed = run_cli("verify", str(tampered), "--tsa-cert", str(pki.ca_cert), expect=1)
    assert "TIMESTAMP manifest.json.tsr" in failed.stdout


def readme_commands(readme: str) -> list[str]:
    """The README's ``$`` command lines, continuation lines joined, exactly as written."""
    commands: list[str] = []
    lines = iter(readme.splitlines())
    for line in lines:
        text = line.strip()
        if not text.startswith("$ "):
            continue
        command = text[2:]
        while command.endswith("\\"):
            command = command[:-1] + " " + next(lines).strip()
        commands.append(command)
    return commands


@pytest.mark.parametrize("trusted", ["root CA", "TSA certificate"])
def test_the_readmes_commands_work_as_written(
    stamped: Path, pki: TsaPki, tmp_path: Path, trusted: str
) -> None:
    """Every command of the bundle's README, run in bash as it is printed there."""
    with zipfile.ZipFile(stamped) as zf:
        readme = zf.read("README.txt").decode()
        manifest_sha = hashlib.sha256(zf.read("manifest.json")).hexdigest()
    commands = readme_commands(readme)
    assert len(commands) == 9 and any("openssl ts -verify" in c for c in commands)
    work = tmp_path / "by-hand"
    work.mkdir()
    shutil.copyfile(stamped, work / "case.zip")
    shutil.copyfile(pki.ca_cert if trusted == "root CA" else pki.tsa_cert, work / "tsa-ca.pem")
    script = "set -euo pipefail\n" + "\n".join(commands) + "\n"
    done = subprocess.run(
        ["bash", "-c", script], cwd=work, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{manifest_sha}  manifest.json" in done.stdout
    checked = [line for line in done.stdout.splitlines() if line.endswith((": OK", ": FAILED"))]
    assert len(checked) > 30 and all(line.endswith(": OK") for line in checked)
    assert "Verification: OK" in done.stdout
    assert "Time stamp:" in done.stdout  # the -reply -text view
    # The same commands fail on a changed manifest.
    (work / "case" / "manifest.json").write_text("{}")
    again = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + commands[-2]],
        cwd=work / "case",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode != 0 and "Verification: OK" not in again.stdout


def test_a_certificate_that_does_not_match_says_so_not_unchecked(
    stamped: Path, tmp_path_factory: pytest.TempPathFactory, run_cli: CliRun
) -> None:
    stranger = make_tsa_pki(tmp_path_factory.mktemp("stranger-tsa"), name="stranger")
    failed = run_cli("verify", str(stamped), "--tsa-cert", str(stranger.ca_cert), expect=1)
    assert "not checked" not in failed.stdout
    assert "signature does NOT verify against the given certificate" in failed.stdout
    assert "TIMESTAMP manifest.json.tsr: the timestamp token does not verify" in failed.stdout
    unchecked = run_cli("verify", str(stamped))
    assert "its signature was not checked (pass --tsa-cert" in unchecked.stdout
