"""WARC capture: valid ISO 28500 records, SHA-256 digests, offsets, redaction, torn tails."""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from osint.collectors.capture import WarcRecorder, warc_sha256
from osint.collectors.http import HttpClient
from osint.config import Settings
from osint.demo.replay import ReplayServer
from tests.conftest import X_TOKEN


def read_records(path: Path) -> list[tuple[str, dict[str, str], bytes, str]]:
    records = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh, check_digests="raise"):
            headers = dict(record.rec_headers.headers)
            http = record.http_headers.to_str() if record.http_headers else ""
            records.append((record.rec_type, headers, record.content_stream().read(), http))
    return records


def test_each_fetch_becomes_a_response_and_a_request_record(
    x_settings: Settings, replay: ReplayServer, home: Path
) -> None:
    replay.world.add_account("x", "someone")
    recorder = WarcRecorder(home, 7, run_id=3, operator="tester")
    with HttpClient(x_settings, capture=recorder, secrets=[X_TOKEN]) as http:
        response = http.get(
            f"{replay.base_url('x')}/2/users/by/username/someone",
            headers={"Authorization": f"Bearer {X_TOKEN}"},
        )
        capture = http.drain_captures()[0]
    recorder.close()
    assert recorder.path is not None and recorder.path.parent == home / "cases" / "7" / "warc"
    assert capture.warc_file == recorder.path.relative_to(home).as_posix()
    records = read_records(recorder.path)  # digests verified while reading
    assert [r[0] for r in records] == ["warcinfo", "response", "request"]
    info, resp, req = records
    assert b"osint/" in info[2] and b"tester" in info[2]
    assert resp[2] == response.content and resp[1]["WARC-Payload-Digest"] == warc_sha256(
        hashlib.sha256(response.content).hexdigest()
    )
    assert "x-rate-limit-remaining" in resp[3].lower()
    assert req[1]["WARC-Concurrent-To"] == resp[1]["WARC-Record-ID"] == capture.warc_record_id
    assert "authorization: [redacted]" in req[3].lower() and X_TOKEN not in req[3]
    # the offset and length address exactly the response record
    with recorder.path.open("rb") as fh:
        fh.seek(capture.warc_offset or 0)
        member = fh.read(capture.warc_length or 0)
    record = next(iter(ArchiveIterator(io.BytesIO(member))))
    assert record.rec_headers.get_header("WARC-Record-ID") == capture.warc_record_id
    assert hashlib.sha256(record.content_stream().read()).hexdigest() == capture.sha256


def test_failed_fetches_and_truncated_bodies_are_recorded(
    x_settings: Settings, replay: ReplayServer, home: Path
) -> None:
    image = replay.world.add_image()
    replay.world.faults.add("slow", delay=3.0, platform="media")
    replay.world.faults.add("endless", platform="media", length=None)
    recorder = WarcRecorder(home, 1, run_id=1)
    with HttpClient(x_settings, capture=recorder) as http:
        download = http.download(f"{replay.url}/media/{image.id}.jpg", max_bytes=30_000)
        timeout, cut = http.drain_captures()
    recorder.close()
    assert download.truncated and cut.error and "30,000-byte cap" in cut.error
    records = read_records(recorder.path)  # type: ignore[arg-type]
    kinds = [r[0] for r in records]
    assert kinds == ["warcinfo", "request", "metadata", "response", "request"]
    assert b"Timeout" in records[2][2] and timeout.status_code is None
    assert records[3][1]["WARC-Truncated"] == "length" and len(records[3][2]) == 30_000


def test_a_killed_writer_leaves_whole_records(
    x_settings: Settings, replay: ReplayServer, home: Path
) -> None:
    image = replay.world.add_image()
    recorder = WarcRecorder(home, 1, run_id=1)
    with HttpClient(x_settings, capture=recorder) as http:
        for _ in range(3):
            http.download(f"{replay.url}/media/{image.id}.jpg", max_bytes=10**6)
    # not closed, as after kill -9: every record is already flushed to the file
    assert recorder.path is not None
    data = recorder.path.read_bytes()
    assert len([r for r in read_records(recorder.path) if r[0] == "response"]) == 3
    torn = recorder.path.with_name("torn.warc.gz")
    torn.write_bytes(data + gzip.compress(b"WARC/1.1\r\nWARC-Type: resp")[:20])
    with torn.open("rb") as fh:
        complete = []
        try:
            for record in ArchiveIterator(fh):
                complete.append(record.rec_type)
        except Exception:
            pass
    assert complete.count("response") == 3
    recorder.close()


def test_warc_target_uri_is_the_url_that_went_over_the_wire(
    x_settings: Settings, replay: ReplayServer, home: Path
) -> None:
    """Issue 16 item 4: no re-serialised query (``%2C``, a bare ``?flag``, ``%20`` stay), only
    the secret parts redacted."""
    image = replay.world.add_image()
    recorder = WarcRecorder(home, 1, run_id=1)
    query = "ids=1%2C2&flag&q=a%20b+c&access_token=s3cr3t-value-42&tilde=%7Ex"
    with HttpClient(x_settings, capture=recorder, secrets=["s3cr3t-value-42"]) as http:
        http.download(f"{replay.url}/media/{image.id}.jpg?{query}", max_bytes=10**6)
    recorder.close()
    wire = next(r.target for r in replay.requests if r.platform == "media")
    assert wire == f"/media/{image.id}.jpg?{query}"  # what the server received, byte for byte
    assert recorder.path is not None
    records = read_records(recorder.path)
    uris = {r[1]["WARC-Target-URI"] for r in records if r[0] in ("request", "response")}
    redacted = wire.replace("s3cr3t-value-42", "[redacted]")
    assert uris == {f"{replay.url}{redacted}"}
    request_line = next(r[3] for r in records if r[0] == "request").splitlines()[0]
    assert request_line == f"GET {redacted} HTTP/1.1"
    assert not any(b"s3cr3t-value-42" in r[2] or "s3cr3t-value-42" in r[3] for r in records)
