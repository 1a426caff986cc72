"""Reading an import file in a second process, so that parsing runs beside the store's writes.

The child starts isolated (``python -I``: nothing from the current folder, ``PYTHONPATH`` or the
user's site can be imported: an ``orjson.py`` in a downloaded dataset folder is never run) and
ends as soon as its parent does (``PR_SET_PDEATHSIG`` on Linux, and a watch on its parent's id
elsewhere), so a killed import leaves no reader behind.

An import is two jobs of about equal weight: reading the file into records (JSON parsing, the
platform normaliser, content keys) and writing them. One Python process does them in turn; with
:func:`read_ahead`, a child process reads and keys the records while this one writes, a few
batches ahead. Records cross as plain tuples (:func:`storage.records.post_to_tuple`): pickling
dataclasses costs more than building them. They come checked, keyed and encoded
(:func:`storage.columns.encode_post`): the writer only assigns ids.

What the importer sees is the serial reader's stream, item for item: the same records, the same
line-numbered problems in the same places, and an error that stops the reader (a truncated file)
raised after every item read before it.
"""

from __future__ import annotations

import contextlib
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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO

from osint.collectors.importers import ImportProblem
from osint.collectors.importers.twarc import read_twarc
from osint.errors import InputError
from osint.keys import add_content_keys
from osint.storage.columns import attach_encoded, encode_post, encoded_post
from osint.storage.records import PostRecord, post_from_tuple, post_to_tuple

Reader = Callable[[BinaryIO], Iterator[PostRecord | ImportProblem]]
READERS: dict[str, Reader] = {"twarc": read_twarc}  # file readers that may run in a child

CHUNK = 1_000  # items per message from the child
AHEAD = 40  # messages the child may have waiting: two import batches
MIN_BYTES = 8_000_000  # smaller files: starting a process costs more than it saves
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


def worth_reading_ahead(path: Path) -> bool:
    """A second core to use, and a file big enough to repay starting a process."""
    try:
        big = path.stat().st_size >= MIN_BYTES
    except OSError:
        return False
    return big and (os.cpu_count() or 1) > 1


def read_keyed(source: str, path: Path, *, in_child: bool) -> Iterator[PostRecord | ImportProblem]:
    """The items of ``READERS[source]`` over ``path``, records with their content keys added.

    Read in a child process when ``in_child`` (:func:`read_ahead`), here otherwise, and here too
    when no child could start (no usable interpreter, as in a frozen build): before the first
    item, switching changes nothing of what the importer sees.
    """
    if in_child:
        started = False
        try:
            for item in read_ahead(source, path):
                started = True
                yield item
            return
        except ReaderFailed:
            if started:
                raise
    with open_binary(path) as stream:
        for item in READERS[source](stream):
            yield item if isinstance(item, ImportProblem) else encode_post(add_content_keys(item))


def read_ahead(source: str, path: Path) -> Iterator[PostRecord | ImportProblem]:
    """The items of ``READERS[source]`` over ``path``, read and keyed in a child process.

    Records come with their content keys already added (:func:`osint.keys.add_content_keys`).
    """
    if source not in READERS:
        raise ValueError(f"no reader {source!r} (known: {', '.join(READERS)})")
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
                    for item in payload:
                        if type(item) is tuple:
                            yield attach_encoded(post_from_tuple(item[0]), item[1])
                        else:
                            yield item
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


def _produce(source: str, path: Path, out: IO[bytes]) -> None:
    """The child: read, key and send the items, then ``end`` or the error that stopped it."""
    from osint.imports import fewer_gc_pauses  # here: osint.imports imports this module

    def send(kind: str, payload: Any) -> None:
        frame = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(frame)))
        out.write(frame)
        out.flush()

    chunk: list[Any] = []
    try:
        with fewer_gc_pauses(), open_binary(path) as stream:
            for item in READERS[source](stream):
                if isinstance(item, ImportProblem):
                    chunk.append(item)
                else:
                    rec = encode_post(add_content_keys(item))
                    chunk.append((post_to_tuple(rec), encoded_post(rec)))
                if len(chunk) >= CHUNK:
                    send("items", chunk)
                    chunk = []
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
    _die_with_parent(parent)
    frames = sys.stdout.buffer
    sys.stdout = sys.stderr  # stdout carries frames only: a stray print goes to stderr
    _produce(source, path, frames)


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
