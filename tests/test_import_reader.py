"""Reading an import file in a child process: the same stream as the serial reader, errors too."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from osint import import_reader, imports
from osint.analyzers.contentkeys import add_content_keys
from osint.cases import create_case
from osint.collectors.importers import ImportProblem
from osint.collectors.importers.twarc import read_twarc
from osint.config import Settings
from osint.import_reader import ReaderFailed, open_binary, read_ahead
from osint.storage.db import Store
from osint.storage.models import Account, Case, CollectionRun, Post, PostObject, SharedObject
from osint.storage.records import PostRecord
from osint.synth.twarc import write_twarc_jsonl
from tests.collectors.importers.test_twarc import sample


def serial_items(path: Path) -> tuple[list[PostRecord | ImportProblem], BaseException | None]:
    """What the serial reader yields (keyed, as the importer keys them), and how it stops."""
    items: list[PostRecord | ImportProblem] = []
    try:
        with open_binary(path) as fh:
            for item in read_twarc(fh):
                items.append(item if isinstance(item, ImportProblem) else add_content_keys(item))
    except Exception as exc:
        return items, exc
    return items, None


def ahead_items(path: Path) -> tuple[list[PostRecord | ImportProblem], BaseException | None]:
    items: list[PostRecord | ImportProblem] = []
    try:
        items.extend(read_ahead("twarc", path))
    except Exception as exc:
        return items, exc
    return items, None


def twarc_file(tmp_path: Path, tail: bytes = b"") -> Path:
    """Several reader messages' worth of pages, the sample's odd lines, then ``tail``."""
    path = tmp_path / "big.jsonl"
    write_twarc_jsonl(path, 2_500)
    with path.open("ab") as fh:
        fh.write(sample().encode())
        fh.write(tail)
    return path


def test_read_ahead_yields_the_serial_stream_with_a_truncated_last_line(tmp_path: Path) -> None:
    path = twarc_file(tmp_path, tail=b'{"data": [{"id": "1", "text": "cut off')
    serial, stopped = serial_items(path)
    ahead, ahead_stopped = ahead_items(path)
    assert stopped is None and ahead_stopped is None
    problems = [i for i in serial if isinstance(i, ImportProblem)]
    assert len(serial) > 2 * import_reader.CHUNK and problems[-1].message.startswith("not JSON")
    assert ahead == serial
    assert all(isinstance(a, PostRecord) and a.objects for a in ahead[:10])


def test_a_byte_that_is_not_utf8_costs_its_line_only_either_way(tmp_path: Path) -> None:
    path = twarc_file(tmp_path, tail=b'{"data": [], "note": "bad \xff byte"}\n' + sample().encode())
    serial, stopped = serial_items(path)
    ahead, ahead_stopped = ahead_items(path)
    assert stopped is None and ahead_stopped is None
    offset = path.read_bytes().index(b"\xff")
    notes = [i for i in serial if isinstance(i, ImportProblem) and "not UTF-8" in i.message]
    assert [n.message.split(" (")[0] for n in notes] == [f"not UTF-8 at byte offset {offset:,}"]
    assert notes[0].kept  # the line was read, with U+FFFD for the bad byte
    assert len(serial) > 2_000 and ahead == serial
    # the sample after the bad line is read whole: its posts are there
    # (each sample: four tweets and the parent its flattened reply expands, seen through it)
    assert sum(isinstance(i, PostRecord) for i in serial) == 2 * (4 + 1) + 2_500


def test_read_ahead_reports_a_child_that_dies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = twarc_file(tmp_path)
    monkeypatch.setattr(import_reader.sys, "executable", "/bin/false")
    with pytest.raises(ReaderFailed, match="exit code 1"):
        list(read_ahead("twarc", path))


def stored(store: Store, case: str) -> dict[str, object]:
    case_id = select(Case.id).where(Case.name == case).scalar_subquery()
    with store.reader() as s:
        posts = s.execute(
            select(Post.platform_id, Post.kind, Post.text, Post.links, Post.extra, Account.handle)
            .join(Account, Account.id == Post.account_id)
            .where(Post.case_id == case_id)
            .order_by(Post.platform_id)
        ).all()
        keys = s.execute(
            select(Post.platform_id, SharedObject.modality, SharedObject.key)
            .join(PostObject, PostObject.post_id == Post.id)
            .join(SharedObject, SharedObject.id == PostObject.object_id)
            .where(Post.case_id == case_id)
            .order_by(Post.platform_id, SharedObject.modality, SharedObject.key)
        ).all()
        runs = s.execute(
            select(CollectionRun.status, CollectionRun.errors, CollectionRun.counts)
            .where(CollectionRun.case_id == case_id)
            .order_by(CollectionRun.id)
        ).all()
    return {"posts": posts, "keys": keys, "runs": runs}


@pytest.mark.parametrize("tail", [b"", b"\n\xff broken\n"], ids=["whole", "bad-utf8"])
def test_import_twarc_stores_the_same_either_way(
    store: Store, settings: Settings, tmp_path: Path, tail: bytes
) -> None:
    path = twarc_file(tmp_path, tail=tail)
    for case, in_child in (("serial", False), ("ahead", True)):
        create_case(store, case)
        for run in range(2):  # the second import finds every post known
            summary = imports.import_twarc(
                store, settings, case=case, path=path, read_in_child=in_child
            )
            problems = 3 + bool(tail)  # the bad line is not JSON once its byte is replaced
            assert summary.rows == 2_504 + problems and summary.problem_count == problems
            assert summary.posts_repeated == 1  # the sample has one tweet twice
            assert (summary.posts_new, summary.posts_known) == ((2_503, 0), (0, 2_503))[run]
            assert summary.rows == (
                summary.posts_new + summary.posts_known + summary.posts_repeated + problems
            )
    serial, ahead = stored(store, "serial"), stored(store, "ahead")
    assert len(serial["posts"]) == 2_503 + 1  # type: ignore[arg-type]  # + the replied-to parent
    assert ahead == serial


def test_import_twarc_reads_here_when_no_child_starts(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = twarc_file(tmp_path)
    monkeypatch.setattr(import_reader.sys, "executable", "/bin/false")
    create_case(store, "c")
    summary = imports.import_twarc(store, settings, case="c", path=path, read_in_child=True)
    assert summary.rows == 2_507 and summary.posts_new == 2_503 and summary.problem_count == 3
    assert len(stored(store, "c")["keys"]) > 2_503  # type: ignore[arg-type]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found.extend(int(c) for c in text.split())
    return found


def test_the_child_reader_imports_nothing_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = twarc_file(tmp_path)
    planted = tmp_path / "dataset"
    planted.mkdir()
    marker = tmp_path / "planted-code-ran"
    for name in ("orjson", "ijson", "osint"):  # what the reader imports, and its own package
        (planted / f"{name}.py").write_text(f"open({str(marker)!r}, 'w').write('{name}')\n")
    monkeypatch.chdir(planted)
    monkeypatch.setenv("PYTHONPATH", str(planted))
    ahead, stopped = ahead_items(path)
    assert stopped is None and len(ahead) > 2_500
    assert not marker.exists()


KILLED = r"""
import sys
from osint.config import load_settings
from osint.store import open_store
from osint import imports
store = open_store(load_settings(home=sys.argv[1], db=sys.argv[2], environ={}))
imports.import_twarc(store, load_settings(home=sys.argv[1], db=sys.argv[2], environ={}),
                     case="c", path=sys.argv[3], read_in_child=True)
"""


def test_a_killed_import_leaves_no_reader_and_its_run_is_closed_next_time(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "big.jsonl"
    write_twarc_jsonl(path, 60_000)
    create_case(store, "c")
    parent = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(settings.home), settings.db, str(path)],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (children := _children(parent.pid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert children, "the import never started its reader"
    with store.reader() as s:  # wait until the run is recorded
        while time.monotonic() < deadline and not s.execute(select(CollectionRun)).first():
            time.sleep(0.05)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    gone_by = time.monotonic() + 5
    while any(Path(f"/proc/{c}").exists() for c in children) and time.monotonic() < gone_by:
        time.sleep(0.05)
    alive = [
        c
        for c in children
        if Path(f"/proc/{c}/status").exists()
        and "zombie" not in Path(f"/proc/{c}/status").read_text()
    ]
    assert alive == []  # the reader ended with its parent
    with store.reader() as s:
        assert s.execute(select(CollectionRun.status)).scalar_one() == "running"
    small = tmp_path / "small.jsonl"
    small.write_text(sample())
    imports.import_twarc(store, settings, case="c", path=small, read_in_child=False)
    with store.reader() as s:
        runs = s.execute(select(CollectionRun).order_by(CollectionRun.id)).scalars().all()
    assert [r.status for r in runs] == ["abandoned", "completed"]
    assert f"(pid {parent.pid}) ended without finishing" in runs[0].errors[-1]


def test_a_child_takes_over_at_a_line_when_the_rest_is_long(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = twarc_file(tmp_path, tail=b'{"data": [], "note": "bad \xff byte"}\n' + sample().encode())
    serial, _ = serial_items(path)
    monkeypatch.setattr(import_reader, "PROBE_SECONDS", 0.0)
    monkeypatch.setattr(import_reader, "CHILD_PAYS_AFTER_SECONDS", 0.0)
    monkeypatch.setattr(import_reader, "spare_core", lambda: True)  # the test machine may be busy
    calls: list[tuple[int, int]] = []
    real = import_reader.read_ahead

    def spy(source: str, path: Path, *, start_line: int, start_offset: int) -> object:
        calls.append((start_line, start_offset))
        return real(source, path, start_line=start_line, start_offset=start_offset)

    monkeypatch.setattr(import_reader, "read_ahead", spy)
    measured = list(import_reader.read_keyed("twarc", path))
    assert calls == [(2, len(path.read_bytes().split(b"\n")[0]) + 1)]  # after the first line
    assert measured == serial  # the same items, line numbers and offsets included


def test_a_small_file_is_read_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = twarc_file(tmp_path)
    monkeypatch.setattr(import_reader, "PROBE_SECONDS", 0.0)

    def never(*args: object, **kwargs: object) -> object:
        raise AssertionError("no child for a file this small")

    monkeypatch.setattr(import_reader, "read_ahead", never)
    assert list(import_reader.read_keyed("twarc", path)) == serial_items(path)[0]


def shares_file(tmp_path: Path) -> Path:
    """A shares CSV of several reader messages, with the bad rows an export can hold."""
    path = tmp_path / "shares.csv"
    lines = [b"object_id,account_id,content_id,timestamp_share"]
    lines += [b"o%d,a%d,c%d,%d" % (i % 97, i % 13, i, 1_600_000_000 + i) for i in range(2_600)]
    lines[40] = b"o1,a1,c39"  # a missing cell
    lines[900] = b"o1,a\xff1,c899,1600000899"  # a byte that is not UTF-8
    lines[1_500] = b"o1,a1,c1499,not a time"
    lines[2_000] = b"o1,a1," + b"x" * 300 + b",1600002000"  # a post id longer than the store's
    lines.append(b"o1,a1,c5,1600000005")  # a post the file already had
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_import_shares_stores_the_same_either_way(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    path = shares_file(tmp_path)
    for case, in_child in (("serial", False), ("ahead", True)):
        create_case(store, case)
        for run in range(2):  # the second import finds every post known
            summary = imports.import_shares(
                store, settings, case=case, path=path, modality="repost", read_in_child=in_child
            )
            assert summary.problem_count == 4 and summary.rows == 2_601
            assert (summary.posts_new, summary.posts_known) == ((2_596, 0), (0, 2_596))[run]
            assert summary.posts_repeated == 1
            assert "line 2001: post xxxx" in summary.problems[-1]
    serial, ahead = stored(store, "serial"), stored(store, "ahead")
    assert len(serial["posts"]) == 2_596  # type: ignore[arg-type]
    assert ahead == serial
    # each post its reposted object, and c5 the one of its second row too
    assert len(serial["keys"]) == 2_596 + 1  # type: ignore[arg-type]


def test_a_big_shares_file_is_read_in_a_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shares_file(tmp_path)
    monkeypatch.setattr(import_reader, "spare_core", lambda: True)
    monkeypatch.setitem(import_reader.CHILD_PAYS_FROM_BYTES, "shares", path.stat().st_size)
    assert import_reader.child_pays("shares", path)
    monkeypatch.setitem(import_reader.CHILD_PAYS_FROM_BYTES, "shares", path.stat().st_size + 1)
    assert not import_reader.child_pays("shares", path)
    monkeypatch.setattr(import_reader, "spare_core", lambda: False)  # a busy machine
    monkeypatch.setitem(import_reader.CHILD_PAYS_FROM_BYTES, "shares", 0)
    assert not import_reader.child_pays("shares", path)


def test_a_shares_file_without_its_columns_fails_the_same_in_a_child(tmp_path: Path) -> None:
    from osint.collectors.importers.shares import SharesFormatError

    path = tmp_path / "odd.csv"
    path.write_text("a,b,c\n1,2,3\n")
    options = {"platform": "x", "modality": "url"}
    for in_child in (False, True):
        with pytest.raises(SharesFormatError, match="no account column"):
            list(import_reader.read_keyed("shares", path, in_child=in_child, options=options))


def test_no_core_to_spare_when_the_others_are_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    ticks = iter([])

    def sampled() -> tuple[int, int]:
        return next(ticks)

    monkeypatch.setattr(import_reader, "_cpu_times", sampled)
    monkeypatch.setattr(import_reader, "IDLE_SAMPLE_SECONDS", 0.0)
    monkeypatch.setattr(import_reader.os, "cpu_count", lambda: 2)
    ticks = iter([(1_000, 5_000), (1_010, 5_100)])  # 10% idle of 2 cores: 0.2 of a core
    assert not import_reader.spare_core()
    ticks = iter([(1_000, 5_000), (1_045, 5_100)])  # 45% idle: most of the other core
    assert import_reader.spare_core()
    monkeypatch.setattr(import_reader.os, "cpu_count", lambda: 1)
    assert not import_reader.spare_core()


def test_equal_accounts_cross_from_the_child_as_one_record(tmp_path: Path) -> None:
    # the twarc normaliser makes an account record per tweet; the child sends equal ones once
    path = tmp_path / "t.jsonl"
    write_twarc_jsonl(path, 2_000)
    serial = [i for i in serial_items(path)[0] if isinstance(i, PostRecord)]
    ahead = [i for i in ahead_items(path)[0] if isinstance(i, PostRecord)]
    assert ahead == serial

    def by_account(posts: list[PostRecord]) -> dict[tuple[object, ...], set[int]]:
        found: dict[tuple[object, ...], set[int]] = {}
        for post in posts[: import_reader.CHUNK // 2]:  # all from the child's first message
            a = post.account
            key = (a.platform, a.platform_id, a.handle, a.display_name, a.created_at, a.status)
            found.setdefault(key, set()).add(id(a))
        return found

    assert any(len(ids) > 1 for ids in by_account(serial).values())
    assert all(len(ids) == 1 for ids in by_account(ahead).values())
