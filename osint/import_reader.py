"""Reading an import file in a second process, so that parsing runs beside the store's writes.

The child starts isolated (``python -I``: nothing from the current folder, ``PYTHONPATH`` or the
user's site can be imported: an ``orjson.py`` in a downloaded dataset folder is never run) and
ends as soon as its parent does (``PR_SET_PDEATHSIG`` on Linux, and a watch on its parent's id
elsewhere), so a killed import leaves no reader behind.

An import is two jobs of about equal weight: reading the file into records (JSON parsing, the
platform normaliser, content keys) and writing them. One Python process does them in turn; with
:func:`read_ahead`, a child process reads and keys the records while this one writes, a few
batches ahead. Records come checked, keyed and encoded (:func:`storage.columns.encode_post`):
the writer only assigns ids. They cross as their encoded values (:mod:`storage.wire`): pickling
dataclasses costs more than building them, and the writer's record reads its fields from those
values when asked (:class:`storage.wire.WirePost`).

What the importer sees is the serial reader's stream, item for item: the same records, the same
line-numbered problems in the same places, and an error that stops the reader (a truncated file)
raised after every item read before it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from osint.analyzers.contentkeys import add_content_keys
from osint.collectors.importers import ImportProblem
from osint.collectors.importers.lines import Handover
from osint.collectors.importers.twarc import read_twarc
from osint.errors import InputError
from osint.storage.columns import encode_post
from osint.storage.records import AccountRecord, PostRecord
from osint.storage.wire import post_from_wire, post_to_wire

# (stream, *, start_line=1, start_offset=0, handover=None) -> items, as read_twarc
Reader = Callable[..., Iterator[PostRecord | ImportProblem]]
READERS: dict[str, Reader] = {"twarc": read_twarc}  # file readers that may run in a child
# Readers of a whole file (compressed, in several members, with options), named
# "module:function" and imported when used: a child imports only the one it runs. They may
# yield other records (profiles) too; those pass through unkeyed.
FILE_READERS: dict[str, str] = {
    "x-io": "osint.collectors.importers.x_io:read_io_file",
    "shares": "osint.collectors.importers.shares:read_shares_file",
}
# A whole-file reader cannot hand over mid-file (compressed members): a child is chosen by the
# file's size. It costs about a second to start and saves the writer the reading (half of a
# shares import's time, a quarter of an archive's: bench/imports.py); it pays from about
# CHILD_PAYS_AFTER_SECONDS of reading, this many bytes of each format.
CHILD_PAYS_FROM_BYTES: dict[str, int] = {"x-io": 64 * 2**20, "shares": 16 * 2**20}

PROBE_SECONDS = 0.25  # of reading here before choosing whether a child takes over
IDLE_SAMPLE_SECONDS = 0.1  # how long idle time is sampled before a child is started
SPARE_CORE_IDLE = 0.5  # idle cores (of all of them together) that make one spare
# A child costs its start (about 1 s on a quiet 2-core machine: the X normaliser's imports) and
# the parent a third of the reading time it saves (unpickling and rebuilding the records):
# it pays when the rest of the file takes longer than this to read here. See bench/imports.py.
CHILD_PAYS_AFTER_SECONDS = 3.0
CHUNK = 1_000  # items per message from the child
AHEAD = 40  # messages the child may have waiting: two import batches
_HEADER = struct.Struct("<Q")  # each frame: its length, then a pickle
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class ReaderFailed(InputError):
    """The reading process ended without saying why (killed, out of memory, a crash)."""


def open_binary(path: Path) -> BinaryIO:
    """The file to read; the readers decode it line by line (a bad byte costs its line only)."""
    try:
        return path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_keyed(
    source: str,
    path: Path,
    *,
    in_child: bool | None = None,
    options: dict[str, Any] | None = None,
) -> Iterator[PostRecord | ImportProblem]:
    """The items of ``READERS[source]`` over ``path``: records checked, keyed and encoded.

    ``in_child``: True reads in a child process (:func:`read_ahead`), False here; None (the
    default) starts here and measures: once :data:`PROBE_SECONDS` of reading tell how long the
    rest of the file would take, a child takes over at the next line if that is more than
    :data:`CHILD_PAYS_AFTER_SECONDS` (what starting it and receiving its records costs), so
    small files never start one, and nor does a machine with no core to spare (:func:`spare_core`). Here too when no child can start (no usable interpreter, as in
    a frozen build): before its first item, switching changes nothing of what the importer sees.
    A whole-file reader (:data:`FILE_READERS`, given ``options``) reads here unless ``in_child``.
    """
    if source in FILE_READERS:
        yield from _file_items(source, path, in_child=bool(in_child), options=options or {})
        return
    if in_child:
        yield from _ahead_or_here(source, path, 1, 0)
        return
    handover = Handover()
    with open_binary(path) as stream:
        size = _size(stream)
        items = READERS[source](stream, handover=handover)
        reading, clock = 0.0, time.perf_counter
        decided = in_child is False or (os.cpu_count() or 1) < 2
        while True:
            began = clock()
            item = next(items, None)
            reading += clock() - began
            if item is None:
                break
            yield item if isinstance(item, ImportProblem) else encode_post(add_content_keys(item))
            if not decided and reading >= PROBE_SECONDS:
                decided = True
                done = max(stream.tell(), 1)
                rest = reading * (size - done) / done  # seconds of reading left, here
                handover.requested = rest > CHILD_PAYS_AFTER_SECONDS and spare_core()
    if handover.line is not None and handover.offset is not None:
        yield from _ahead_or_here(source, path, handover.line, handover.offset)


def spare_core() -> bool:
    """Whether a second process would run beside this one now: another core, idle enough.

    A child on a busy machine only adds its cost (its start, pickling and unpickling the
    records) to the CPU time the import competes for: a 600,000-row shares CSV took 1.46x the
    CPU time with a child on a 2-core machine at load 6, and ran slower. Idle time is sampled for a moment (the load
    average lags by a minute and counts the import that just ended); where the system does not
    say (no ``/proc/stat``), another core is taken as spare.
    """
    cores = os.cpu_count() or 1
    if cores < 2:
        return False
    try:
        idle, total = _cpu_times()
        time.sleep(IDLE_SAMPLE_SECONDS)
        idle_after, total_after = _cpu_times()
    except (OSError, ValueError, IndexError):
        return True
    if total_after <= total:
        return True
    return (idle_after - idle) / (total_after - total) * cores >= SPARE_CORE_IDLE


def _cpu_times() -> tuple[int, int]:
    """(idle, total) clock ticks of all cores since boot, from ``/proc/stat``."""
    with open("/proc/stat", encoding="ascii") as fh:
        ticks = [int(v) for v in fh.readline().split()[1:9]]
    return ticks[3] + ticks[4], sum(ticks)  # idle + iowait, of user..steal


def child_pays(source: str, path: Path) -> bool:
    """Whether reading ``path`` (a :data:`FILE_READERS` format) in a child repays starting it."""
    if not spare_core():
        return False
    try:
        return path.stat().st_size >= CHILD_PAYS_FROM_BYTES[source]
    except OSError:
        return False


def _from_child(items: Iterator[Any]) -> Generator[Any, None, bool]:
    """The child's items; False when it failed before its first one (then read here instead)."""
    started = False
    try:
        for item in items:
            started = True
            yield item
    except ReaderFailed:
        if started:
            raise
        return False
    return True


def _file_items(
    source: str, path: Path, *, in_child: bool, options: dict[str, Any]
) -> Iterator[Any]:
    """A whole-file reader's items, in a child when asked (here when none can start)."""
    if in_child and (yield from _from_child(read_ahead(source, path, options=options))):
        return
    for item in _read_file(source, path, options):
        yield encode_post(add_content_keys(item)) if isinstance(item, PostRecord) else item


def _read_file(source: str, path: Path, options: dict[str, Any]) -> Iterator[Any]:
    module, _, name = FILE_READERS[source].partition(":")
    yield from getattr(importlib.import_module(module), name)(path, **options)


def _size(stream: BinaryIO) -> int:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, ValueError):
        return 0


def _ahead_or_here(
    source: str, path: Path, line: int, offset: int
) -> Iterator[PostRecord | ImportProblem]:
    """From ``line`` on, in a child; here when none can start (before its first item)."""
    if (yield from _from_child(read_ahead(source, path, start_line=line, start_offset=offset))):
        return
    with open_binary(path) as stream:
        stream.seek(offset)
        reader = READERS[source](stream, start_line=line, start_offset=offset)
        for item in reader:
            yield item if isinstance(item, ImportProblem) else encode_post(add_content_keys(item))


def read_ahead(
    source: str,
    path: Path,
    *,
    start_line: int = 1,
    start_offset: int = 0,
    options: dict[str, Any] | None = None,
) -> Iterator[PostRecord | ImportProblem]:
    """The items of ``READERS[source]`` over ``path``, read and keyed in a child process.

    Records come with their content keys already added (:func:`osint.analyzers.contentkeys.add_content_keys`).
    """
    if source not in READERS and source not in FILE_READERS:
        raise ValueError(f"no reader {source!r} (known: {', '.join([*READERS, *FILE_READERS])})")
    # A child of its own, not multiprocessing: nothing of the caller's main module or threads
    # is copied or re-run. Isolated (-I): its sys.path is the interpreter's own, then this
    # package's folder, never the current folder. Frames come back on its stdout.
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                _BOOTSTRAP,
                _PACKAGE_ROOT,
                source,
                str(path.resolve()),
                str(os.getpid()),
                str(start_line),
                str(start_offset),
                json.dumps(options or {}),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        frames: queue.Queue[bytes | None] = queue.Queue(maxsize=AHEAD)
        pump = threading.Thread(
            target=_pump, args=(child.stdout, frames), name="osint-import-reader", daemon=True
        )
        pump.start()
        try:
            while (frame := frames.get()) is not None:
                kind, payload = pickle.loads(frame)  # noqa: S301 (bytes from our own child)
                if kind == "items":
                    accounts: dict[int, AccountRecord] = {}  # one record per account tuple
                    for item in payload:
                        yield post_from_wire(item, accounts) if type(item) is tuple else item
                elif kind == "error":
                    raise payload
                else:
                    return
            child.wait()
            errors.seek(0)
            last = errors.read().decode(errors="replace").strip().splitlines()[-1:]
            raise ReaderFailed(
                f"the process reading the file stopped (exit code {child.returncode}"
                f"{': ' + last[0] if last else ''})",
                hint="run the import again; it resumes where the store stopped",
            )
        finally:
            if child.poll() is None:
                child.kill()
            while pump.is_alive():  # unblock the pump if it waits on a full queue
                with contextlib.suppress(queue.Empty):
                    frames.get_nowait()
                pump.join(timeout=0.05)
            child.wait()
            if child.stdout is not None:
                child.stdout.close()


def _pump(stream: IO[bytes] | None, frames: queue.Queue[bytes | None]) -> None:
    """Move whole frames from the child's stdout into the queue (None at the end)."""
    assert stream is not None
    try:
        while len(head := stream.read(_HEADER.size)) == _HEADER.size:
            (size,) = _HEADER.unpack(head)
            frame = stream.read(size)
            if len(frame) < size:
                break
            frames.put(frame)
    finally:
        frames.put(None)


def _produce(
    source: str,
    path: Path,
    out: IO[bytes],
    line: int = 1,
    offset: int = 0,
    options: dict[str, Any] | None = None,
) -> None:
    """The child: read, key and send the items, then ``end`` or the error that stopped it."""
    from osint.imports import fewer_gc_pauses  # here: osint.imports imports this module

    def send(kind: str, payload: Any) -> None:
        frame = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(frame)))
        out.write(frame)
        out.flush()

    chunk: list[Any] = []
    accounts: dict[int, Any] = {}  # the chunk's account records: one tuple each
    # ... and one tuple for equal ones (a normaliser may make a record per post of an account):
    # pickled once, and rebuilt as one record by the writer
    same: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    try:
        with fewer_gc_pauses(), contextlib.ExitStack() as stack:
            if source in FILE_READERS:
                reader: Iterator[Any] = _read_file(source, path, options or {})
            else:
                stream = stack.enter_context(open_binary(path))
                stream.seek(offset)
                reader = READERS[source](stream, start_line=line, start_offset=offset)
            for item in reader:
                if isinstance(item, PostRecord):
                    wire = post_to_wire(encode_post(add_content_keys(item)), accounts)
                    account = same.setdefault(wire[0], wire[0])
                    if account is not wire[0]:
                        wire = (account, *wire[1:])
                    chunk.append(wire)
                else:
                    chunk.append(item)
                if len(chunk) >= CHUNK:
                    send("items", chunk)
                    chunk, accounts, same = [], {}, {}
    except Exception as exc:
        if chunk:
            send("items", chunk)
        send("error", _portable(exc))
        return
    if chunk:
        send("items", chunk)
    send("end", None)


def _portable(exc: Exception) -> Exception:
    """The exception itself when it survives pickling, else a plain one with its text."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 (checking our own bytes)
        return exc
    except Exception:
        return InputError(f"{type(exc).__name__}: {exc}")


# Run as ``python -I -c _BOOTSTRAP <package root> <source> <path> <parent pid>``: the package
# root goes last on sys.path, after the interpreter's own folders, so that nothing there can
# stand in for an installed module.
_BOOTSTRAP = (
    "import sys; sys.path.append(sys.argv[1]); "
    "from osint.import_reader import child_main; child_main(sys.argv[2:])"
)


def child_main(argv: list[str]) -> None:
    """The child's entry point: tie its life to the parent's, then read."""
    source, path, parent = argv[0], Path(argv[1]), int(argv[2])
    line, offset = (int(argv[3]), int(argv[4])) if len(argv) > 4 else (1, 0)
    options = json.loads(argv[5]) if len(argv) > 5 else {}
    _die_with_parent(parent)
    frames = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries frames only: a stray print goes to stderr
    _produce(source, path, frames, line, offset, options)


def _die_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` ends (it may already have)."""
    with contextlib.suppress(Exception):  # Linux: the kernel sends the signal
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:  # elsewhere (and as a second guard): poll the parent's id
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(1)

    threading.Thread(target=watch, name="osint-parent-watch", daemon=True).start()


if __name__ == "__main__":
    child_main(sys.argv[1:])
