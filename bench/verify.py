"""Benchmark: ``osint verify`` on a 1 GB evidence bundle, beside ``openssl dgst -sha256`` of the
same bytes.

Builds a real bundle (a case whose posts attach 16 random 64 MiB files, exported with
``export_bundle``), then times ``verify_bundle`` on it (2 threads, as by default; it also
checks each member's CRC-32 and length) and ``openssl dgst -sha256`` on the same media files, in
two processes at once (the same parallelism), each best of two runs with the files in the page
cache. openssl uses the CPU's SHA extensions where it has them: it is the floor for SHA-256 here
(coreutils' sha256sum does not, and would flatter the ratio). Everything is deleted afterwards.
Last line: ``verify: <MB/s> (<ratio>x openssl dgst -sha256)``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from osint.bundle import export_bundle
from osint.cases import create_case
from osint.config import load_settings
from osint.storage.ingest import CaseWriter
from osint.storage.records import AccountRecord, MediaRef, PostRecord
from osint.storage.types import utcnow
from osint.store import open_store
from osint.verify import verify_bundle

FILES = 16
FILE_BYTES = 64 * 1024 * 1024
MB = 1_000_000


def _random_chunks(size: int) -> list[bytes]:
    step = 8 * 1024 * 1024
    return [os.urandom(min(step, size - i)) for i in range(0, size, step)]


def _build_case(home: Path) -> tuple[Path, list[Path]]:
    settings = load_settings(home=home, db=f"sqlite:///{home / 'osint.db'}", environ={})
    store = open_store(settings)
    try:
        case_id = create_case(store, "bench").id
        account = AccountRecord("x", "1", handle="bench")
        posts, media_paths = [], []
        with store.session() as session:
            writer = CaseWriter(session, case_id, source="bench")
            for n in range(FILES):
                stored = store.media.put_stream(_random_chunks(FILE_BYTES))
                writer.media(sha256=stored.sha256, size=stored.size, mime="video/mp4")
                media_paths.append(store.media.path_for(stored.sha256))
                posts.append(
                    PostRecord(
                        "x",
                        f"p{n}",
                        account,
                        utcnow(),
                        text=f"video {n}",
                        media=[MediaRef(f"https://video.example/{n}.mp4", sha256=stored.sha256)],
                    )
                )
            writer.posts(posts)
        bundle = export_bundle(store, settings, "bench", home / "bench.zip").path
    finally:
        store.dispose()
    return bundle, media_paths


def _openssl_dgst(paths: list[Path], *, processes: int) -> None:
    """SHA-256 of every file with openssl, the files shared among ``processes`` at once."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("the openssl command is needed for this benchmark's baseline")
    shares = [paths[i::processes] for i in range(processes)]
    running = [
        subprocess.Popen([openssl, "dgst", "-sha256", *map(str, share)], stdout=subprocess.PIPE)
        for share in shares
        if share
    ]
    for proc in running:
        out, _ = proc.communicate()
        if proc.returncode != 0 or out.count(b"SHA2-256(") + out.count(b"SHA256(") == 0:
            raise SystemExit(f"openssl dgst failed: {out[:200]!r}")


def _best_of(runs: int, action: object) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def run() -> str:
    home = Path(tempfile.mkdtemp(prefix="osint-bench-verify-"))
    try:
        started = time.perf_counter()
        bundle, media_paths = _build_case(home)
        print(
            f"   built a {bundle.stat().st_size / MB:,.0f} MB bundle in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        checked = verify_bundle(bundle)
        assert checked.ok, checked.problems
        verify_s = _best_of(2, lambda: verify_bundle(bundle))
        sha_s = _best_of(2, lambda: _openssl_dgst(media_paths, processes=2))
        media_bytes = sum(p.stat().st_size for p in media_paths)
        verify_rate = checked.bytes_checked / MB / verify_s
        sha_rate = media_bytes / MB / sha_s
        print(
            f"   osint verify: {checked.bytes_checked / MB:,.0f} MB in {verify_s:.2f} s; "
            f"openssl dgst -sha256: {media_bytes / MB:,.0f} MB in {sha_s:.2f} s",
            flush=True,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return f"verify: {verify_rate:.0f} MB/s ({verify_rate / sha_rate:.2f}x openssl dgst -sha256)"


if __name__ == "__main__":
    print(run())
