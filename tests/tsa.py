"""A real RFC 3161 time-stamping authority on 127.0.0.1: ``openssl ts -reply`` behind HTTP.

:func:`make_tsa_pki` creates a root CA and a TSA certificate (extendedKeyUsage critical
timeStamping) with the openssl command; :class:`LocalTSA` serves POSTed
``application/timestamp-query`` bodies by running ``openssl ts -reply`` on them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

OPENSSL = shutil.which("openssl")

_CERT_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = osint test root CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_tsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""

_TSA_CONFIG = """\
[tsa]
default_tsa = tsa_config
[tsa_config]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
certs = {dir}/ca.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class TsaPki:
    folder: Path
    ca_cert: Path  # the root a verifier trusts
    tsa_cert: Path
    config: Path


def _openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_tsa_pki(folder: Path, *, name: str = "osint test") -> TsaPki:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "certs.cnf").write_text(_CERT_CONFIG.replace("osint test", name))
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-config",
        "certs.cnf",
        "-extensions",
        "v3_ca",
        cwd=folder,
    )
    _openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "tsa.key",
        "-out",
        "tsa.csr",
        "-subj",
        f"/CN={name} TSA",
        cwd=folder,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        "tsa.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "tsa.pem",
        "-days",
        "30",
        "-extfile",
        "certs.cnf",
        "-extensions",
        "v3_tsa",
        cwd=folder,
    )
    (folder / "serial").write_text("01\n")
    config = folder / "tsa.cnf"
    config.write_text(_TSA_CONFIG.format(dir=folder))
    return TsaPki(folder, folder / "ca.pem", folder / "tsa.pem", config)


class LocalTSA:
    """Serves RFC 3161 replies on 127.0.0.1 until closed; ``requests`` counts the queries."""

    def __init__(self, pki: TsaPki) -> None:
        self.pki = pki
        self.requests = 0
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                query = self.rfile.read(min(length, 64 * 1024))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415)
                    return
                with lock, tempfile.TemporaryDirectory() as tmp:
                    owner.requests += 1
                    Path(tmp, "q.tsq").write_bytes(query)
                    done = subprocess.run(
                        [
                            OPENSSL or "openssl",
                            "ts",
                            "-reply",
                            "-config",
                            str(pki.config),
                            "-queryfile",
                            "q.tsq",
                            "-out",
                            "r.tsr",
                        ],
                        cwd=tmp,
                        capture_output=True,
                        timeout=60,
                        check=False,
                    )
                    reply = Path(tmp, "r.tsr").read_bytes() if done.returncode == 0 else b""
                if not reply:
                    self.send_error(500)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
