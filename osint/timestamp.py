"""RFC 3161 trusted timestamps: ask a time-stamping authority to sign the SHA-256 of some bytes.

The request (TimeStampReq, DER) is built with asn1crypto and POSTed as
``application/timestamp-query``; the whole response (TimeStampResp) is kept, which is what
``openssl ts -verify -in`` reads. :func:`check_response` checks that a response was granted and
covers exactly the given bytes; :func:`verify_signature` checks the TSA's signature and
certificate chain with ``openssl ts -verify`` against a certificate the user trusts.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
from asn1crypto import algos, core, tsp

from osint.errors import InputError, TimestampError

MAX_RESPONSE_BYTES = 1024 * 1024
TIMESTAMP_QUERY = "application/timestamp-query"
TIMESTAMP_REPLY = "application/timestamp-reply"


@dataclass(frozen=True)
class TimestampInfo:
    """What a granted token says: when, by whom, over which hash."""

    gen_time: datetime
    serial_number: int
    policy: str
    hash_algorithm: str
    hashed_message: bytes
    nonce: int | None
    tsa_name: str | None


def make_request(digest: bytes, *, nonce: int) -> bytes:
    """A DER TimeStampReq for a SHA-256 digest, asking for the TSA certificate in the reply."""
    request = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": tsp.MessageImprint(
                {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                    "hashed_message": digest,
                }
            ),
            "nonce": nonce,
            "cert_req": True,
        }
    )
    return bytes(request.dump())


def request_timestamp(url: str, data: bytes, *, timeout: float = 30.0) -> bytes:
    """The DER TimeStampResp of a TSA for ``data``; checked to be granted and to cover it."""
    if not url.lower().startswith(("http://", "https://")):
        raise InputError(
            f"not a TSA URL: {url!r}", hint="give an http(s) URL, e.g. https://freetsa.org/tsr"
        )
    nonce = secrets.randbits(63)
    query = make_request(hashlib.sha256(data).digest(), nonce=nonce)
    try:
        response = httpx.post(
            url,
            content=query,
            headers={"Content-Type": TIMESTAMP_QUERY, "Accept": TIMESTAMP_REPLY},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        raise TimestampError(
            f"cannot reach the time-stamping authority {url}: {exc}",
            hint="check the URL and the network, or export without --tsa",
        ) from exc
    if response.status_code != 200:
        raise TimestampError(
            f"the time-stamping authority {url} answered HTTP {response.status_code}"
        )
    if len(response.content) > MAX_RESPONSE_BYTES:
        raise TimestampError(f"the time-stamping authority {url} sent an oversized reply")
    info = check_response(response.content, data)
    if info.nonce != nonce:
        raise TimestampError(f"the reply of {url} does not echo our nonce: not an answer to us")
    return response.content


def parse_response(der: bytes) -> TimestampInfo:
    """The token's content; TimestampError if the response is malformed or was not granted."""
    try:
        response = tsp.TimeStampResp.load(der, strict=True)
        status = response["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            text = response["status"]["status_string"].native
            raise TimestampError(f"the time-stamping authority refused: {status} {text or ''}")
        signed = response["time_stamp_token"]["content"]
        tst = signed["encap_content_info"]["content"].parsed
        imprint = tst["message_imprint"]
        tsa = tst["tsa"]
        return TimestampInfo(
            gen_time=tst["gen_time"].native,
            serial_number=int(tst["serial_number"].native),
            policy=str(tst["policy"].native),
            hash_algorithm=str(imprint["hash_algorithm"]["algorithm"].native),
            hashed_message=bytes(imprint["hashed_message"].native),
            nonce=tst["nonce"].native,
            tsa_name=None if isinstance(tsa, core.Void) else str(tsa.chosen.human_friendly),
        )
    except TimestampError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TimestampError(f"not a valid RFC 3161 timestamp response: {exc}") from exc


def check_response(der: bytes, data: bytes) -> TimestampInfo:
    """Parse the response and check that it timestamps exactly ``data`` (SHA-256)."""
    info = parse_response(der)
    if info.hash_algorithm != "sha256":
        raise TimestampError(f"the token uses {info.hash_algorithm}, expected sha256")
    if info.hashed_message != hashlib.sha256(data).digest():
        raise TimestampError("the token does not cover these bytes: their SHA-256 differs")
    return info


def verify_signature(data_path: Path, response_path: Path, trusted_cert: Path) -> None:
    """Check the token's signature and certificate chain with ``openssl ts -verify``.

    ``trusted_cert`` is a PEM file with the TSA's root (or the TSA certificate itself).
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise TimestampError(
            "openssl is needed to check the timestamp signature but is not installed",
            hint="install openssl (apt-get install openssl) or verify without --tsa-cert",
        )
    if not Path(trusted_cert).is_file():
        raise InputError(f"no such certificate file: {trusted_cert}")
    result = subprocess.run(
        [
            openssl,
            "ts",
            "-verify",
            "-data",
            str(data_path),
            "-in",
            str(response_path),
            "-CAfile",
            str(trusted_cert),
            "-partial_chain",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0 or "Verification: OK" not in result.stdout:
        detail = " ".join((result.stdout + " " + result.stderr).split())[:500]
        raise TimestampError(f"the timestamp token does not verify: {detail}")
