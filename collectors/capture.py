"""Evidence capture: every HTTP exchange kept raw in a WARC file (ISO 28500, written by warcio).

One WARC file per collection process, under ``<OSINT_HOME>/cases/<case-id>/warc/``. Each fetch
becomes a ``response`` record (status line, headers and the body exactly as received) followed by
its ``request`` record (``WARC-Concurrent-To`` the response), each one gzip member, flushed as
soon as it is written: a killed process leaves only complete records behind, and a resumed run
writes a new file rather than appending after a possibly torn member. A fetch that got no
response is kept as its request plus a ``metadata`` record naming the error.

Digests are SHA-256 (``WARC-Payload-Digest: sha256:<base32>``), the same hash the database keeps
as hex in ``Capture.sha256``. Request headers arrive already redacted by :mod:`collectors.http`:
no Authorization header or token is ever written here. A response in which the server echoed a
secret (an error quoting the token, a media URL carrying it) arrives with the secret replaced;
a ``metadata`` record concurrent to it says so, so the record is known not to be the exact bytes
received. ``WARC-Target-URI`` is the URL exactly as it went over the wire, secret values aside.
"""

from __future__ import annotations

import base64
import os
import threading
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import IO, Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

import osint
from osint.collectors.http import Exchange, capture_record
from osint.collectors.redact import REDACTED
from osint.storage.records import CaptureRecord

_HOP_BY_HOP = frozenset({"transfer-encoding", "connection", "keep-alive"})


class _Sha256WARCWriter(WARCWriter):  # type: ignore[misc]  # warcio ships no types
    """warcio's writer with SHA-256 block and payload digests instead of SHA-1."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def warc_sha256(hex_digest: str) -> str:
    """``sha256:<base32>``, the WARC digest form of a hex SHA-256."""
    return "sha256:" + base64.b32encode(bytes.fromhex(hex_digest)).decode("ascii")


def case_warc_dir(home: Path, case_id: int) -> Path:
    return Path(home) / "cases" / str(case_id) / "warc"


class WarcRecorder:
    """The capture hook of a run: writes each exchange to this process's WARC file."""

    def __init__(self, home: Path, case_id: int, *, run_id: int, operator: str = "") -> None:
        self.home = Path(home)
        self.directory = case_warc_dir(self.home, case_id)
        self.run_id = run_id
        self.operator = operator
        self._lock = threading.Lock()
        self._fh: IO[bytes] | None = None
        self._writer: _Sha256WARCWriter | None = None
        self.path: Path | None = None
        self.records = 0

    @property
    def relative_path(self) -> str | None:
        return self.path.relative_to(self.home).as_posix() if self.path else None

    def _open(self) -> _Sha256WARCWriter:
        if self._writer is not None:
            return self._writer
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self.path = self.directory / f"osint-run{self.run_id}-{stamp}-{os.getpid()}.warc.gz"
        self._fh = self.path.open("xb")
        self._writer = _Sha256WARCWriter(self._fh, gzip=True, warc_version="1.1")
        info = self._writer.create_warcinfo_record(
            self.path.name,
            {
                "software": f"osint/{osint.__version__}",
                "format": "WARC File Format 1.1",
                "operator": self.operator,
                "description": f"osint collection run {self.run_id}",
            },
        )
        self._write(info)
        return self._writer

    def _write(self, record: Any) -> tuple[int, int]:
        assert self._fh is not None and self._writer is not None
        offset = self._fh.tell()
        self._writer.write_record(record)
        self._fh.flush()
        self.records += 1
        return offset, self._fh.tell() - offset

    def __call__(self, exchange: Exchange) -> CaptureRecord:
        with self._lock:
            writer = self._open()
            capture = capture_record(exchange)
            capture.warc_file = self.relative_path
            date = _warc_date(exchange.started_at)
            request = _request_record(writer, exchange, date)
            if exchange.status_code is None:
                offset, length = self._write(request)
                request_id = request.rec_headers.get_header("WARC-Record-ID")
                self._write(_error_record(writer, exchange, date, request_id))
                capture.warc_offset, capture.warc_length = offset, length
                capture.warc_record_id = request_id
                return capture
            response = _response_record(writer, exchange, date)
            response_id = response.rec_headers.get_header("WARC-Record-ID")
            request.rec_headers.add_header("WARC-Concurrent-To", response_id)
            offset, length = self._write(response)
            self._write(request)
            if exchange.redactions:
                self._write(_redaction_record(writer, exchange, date, response_id))
            capture.warc_offset, capture.warc_length = offset, length
            capture.warc_record_id = response_id
            return capture

    def sync(self) -> None:
        """Make the records written so far durable (called before the database commit)."""
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                self._fh = None
                self._writer = None


def _warc_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _request_record(writer: WARCWriter, exchange: Exchange, date: str) -> Any:
    target = exchange.url.split("://", 1)[-1]
    path = "/" + target.split("/", 1)[1] if "/" in target else "/"
    http_headers = StatusAndHeaders(
        f"{exchange.method} {path} HTTP/1.1",
        list(exchange.request_headers),
        protocol="",
        is_http_request=True,
    )
    return writer.create_warc_record(
        exchange.url,
        "request",
        payload=BytesIO(),
        length=0,
        http_headers=http_headers,
        warc_headers_dict={"WARC-Date": date},
    )


def _response_record(writer: WARCWriter, exchange: Exchange, date: str) -> Any:
    headers = [(k, v) for k, v in exchange.response_headers if k.lower() not in _HOP_BY_HOP]
    version = exchange.http_version if exchange.http_version.startswith("HTTP/") else "HTTP/1.1"
    http_headers = StatusAndHeaders(
        f"{exchange.status_code} {exchange.reason}".strip(), headers, protocol=version
    )
    warc_headers = {
        "WARC-Date": date,
        "WARC-Payload-Digest": warc_sha256(exchange.sha256),
    }
    if exchange.truncated:
        warc_headers["WARC-Truncated"] = exchange.truncated
    exchange.body.seek(0)
    return writer.create_warc_record(
        exchange.url,
        "response",
        payload=exchange.body,
        length=exchange.size,
        http_headers=http_headers,
        warc_headers_dict=warc_headers,
    )


def _redaction_record(writer: WARCWriter, exchange: Exchange, date: str, response_id: str) -> Any:
    """Says that the response record is not byte-for-byte what the server sent, and why."""
    body = (
        f"redaction: {exchange.redactions} occurrence(s) of a secret configured in osint (an API "
        f"token) that the server echoed were replaced by {REDACTED!r} in the headers and "
        f"{exchange.redaction_note or 'body'} of the concurrent response record; its digests "
        "are those of the redacted bytes\r\n"
    ).encode()
    return _metadata_record(writer, exchange.url, body, date, response_id)


def _error_record(writer: WARCWriter, exchange: Exchange, date: str, request_id: str) -> Any:
    body = f"error: {exchange.error or 'no response'}\r\n".encode()
    return _metadata_record(writer, exchange.url, body, date, request_id)


def _metadata_record(
    writer: WARCWriter, url: str, body: bytes, date: str, concurrent_to: str
) -> Any:
    """A WARC metadata record (application/warc-fields) about the record ``concurrent_to``."""
    return writer.create_warc_record(
        url,
        "metadata",
        payload=BytesIO(body),
        length=len(body),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": concurrent_to},
    )
